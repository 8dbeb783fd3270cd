// One run's memory, allocated once, up front: the parameter, gradient and
// optimizer arenas, the data where the pipelines read it, the outputs, and
// Halide buffers over all of it (on the CPU, or placed on a GPU).
#pragma once

#include <HalideRuntime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <numeric>
#include <vector>

#include "Dataset.h"
#include "Memory.h"
#include "Model.h"

namespace cnnc_rt {

// A halide_buffer_t over memory owned elsewhere; dims innermost first.
// On a GPU it is the buffer's device allocation, or a crop of another's
// (freed, or released, with it).
struct View {
  halide_buffer_t buf{};
  std::vector<halide_dimension_t> dims;
  bool cropped = false;  // buf.device is a crop of another buffer's allocation
  View(void* host, halide_type_t type, const std::vector<int64_t>& extents) : dims(extents.size()) {
    int32_t stride = 1;
    for (size_t d = 0; d < extents.size(); ++d) {
      dims[d] = {0, static_cast<int32_t>(extents[d]), stride, 0};
      stride *= static_cast<int32_t>(extents[d]);
    }
    buf.host = static_cast<uint8_t*>(host);
    buf.type = type;
    buf.dimensions = static_cast<int32_t>(dims.size());
    buf.dim = dims.empty() ? nullptr : dims.data();
  }
  View(const View&) = delete;
  View& operator=(const View&) = delete;
  ~View() {
    if (buf.device) cropped ? halide_device_release_crop(nullptr, &buf) : halide_device_free(nullptr, &buf);
  }

  // On the device too, this view is floats [offset, offset + its bytes / 4) of
  // `flat` (a 1-D buffer already there): a crop of its allocation. CUDA
  // makes it a pointer into it; OpenCL an offset, which each kernel launch
  // turns into a sub-buffer, whose origin the device wants aligned
  // (cnnc's memory plan aligns every offset to 512 bytes).
  bool aliasOnDevice(const halide_buffer_t* flat, int64_t offset) {
    int64_t bytes = buf.type.bytes();
    for (const halide_dimension_t& d : dims) bytes *= d.extent;
    const int64_t floats = (bytes + 3) / 4;  // `flat`'s elements
    halide_dimension_t range = {static_cast<int32_t>(offset), static_cast<int32_t>(floats), 1, 0};
    halide_buffer_t crop = *flat;
    crop.device = 0;
    crop.device_interface = nullptr;
    crop.dim = &range;
    // (halide_device_crop does nothing for a buffer with no device memory.)
    if (!flat->device || halide_device_crop(nullptr, flat, &crop) != 0 || !crop.device) return false;
    buf.device = crop.device;
    buf.device_interface = crop.device_interface;
    cropped = true;
    return true;
  }
};


// A zeroed array aligned to 128 bytes (Halide's vector code assumes it),
// on huge pages from 2 MiB on (Memory.h).
template <typename T>
class Aligned {
 public:
  explicit Aligned(size_t count) : size_(count), data_(static_cast<T*>(allocateLarge(bytes(count)))) {
    if (!data_) throw std::bad_alloc();
    std::memset(data_.get(), 0, bytes(count));
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }

 private:
  static size_t bytes(size_t count) { return (count * sizeof(T) + 127) / 128 * 128 + 128; }
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  size_t size_;
  std::unique_ptr<T, Free> data_;
};

// The training step's dropout key: a hash of the run's seed and the step
// (splitmix64), so that a resumed run draws the masks it would have.
inline int32_t dropoutKey(int64_t seed, int64_t step) {
  uint64_t z = static_cast<uint64_t>(seed) * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(step);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<int32_t>((z ^ (z >> 31)) & 0x7fffffff);
}

// The epoch's augmentation key: the same hash of the seed and minus the
// epoch (never a step's number), so that a resumed run shifts and flips
// each sample as it would have.
inline int32_t augmentKey(int64_t seed, int64_t epoch) { return dropoutKey(seed, -epoch); }

// One run's memory: parameter, gradient and optimizer arenas, one batch of
// inputs, the outputs; and Halide buffers over all of it.
class Session {
 public:
  explicit Session(const ModelSpec& spec)
      : spec_(spec),
        features_(std::accumulate(spec.sampleShape.begin(), spec.sampleShape.end(), int64_t(1),
                                  std::multiplies<int64_t>())),
        params(spec.totalParams),
        grads(spec.totalParams),
        state(),
        buffers(std::max<int64_t>(spec.bufferFloats, 1)),
        counters(spec.counters.size(), 0),
        activations(spec.activationFloats),
        output(spec.classes * spec.batch) {
    for (int i = 0; i < spec.stateCount; ++i) state.emplace_back(spec.totalParams);
    auto view = [&](void* host, halide_type_t type, std::vector<int64_t> extents) {
      views_.push_back(std::make_unique<View>(host, type, extents));
      return &views_.back()->buf;
    };
    const halide_type_t f32{halide_type_float, 32, 1}, i32{halide_type_int, 32, 1};
    for (const ParamSpec& p : spec.params) {
      std::vector<int64_t> reversed(p.shape.rbegin(), p.shape.rend());
      b.params.push_back(view(params.data() + p.offset, f32, reversed));
      paramViews_.push_back(views_.back().get());
      b.grads.push_back(view(grads.data() + p.offset, f32, reversed));
      gradViews_.push_back(views_.back().get());
    }
    for (const ParamSpec& p : spec.buffers) {
      b.buffers.push_back(view(buffers.data() + p.offset, f32, std::vector<int64_t>(p.shape.rbegin(), p.shape.rend())));
      bufferViews_.push_back(views_.back().get());
    }
    b.flatBuffers = view(buffers.data(), f32, {static_cast<int64_t>(buffers.size())});
    b.output = view(output.data(), f32, {spec.classes, spec.batch});
    b.loss = view(&loss, f32, {});
    b.correct = view(&correct, i32, {});
    b.flatParams = view(params.data(), f32, {spec.totalParams});
    b.flatGrads = view(grads.data(), f32, {spec.totalParams});
    for (auto& s : state) b.state.push_back(view(s.data(), f32, {spec.totalParams}));
    for (const ActivationSpec& a : spec.activations) {
      b.activations.push_back(view(activations.data() + a.offset, a.type, a.extents));
      activationViews_.push_back(views_.back().get());
    }
    b.flatActivations = view(activations.data(), f32, {spec.activationFloats});
  }

  // The device allocations go with it: the crops first, then what they crop.
  ~Session() {
    for (std::unique_ptr<View>& v : views_) v.reset();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int64_t features() const { return features_; }

  // Samples of a dataset where the pipelines read them: the dataset's
  // pixels and labels (its own memory, not a copy: MNIST's 47 MB once, not
  // twice, so the dataset must outlive this), and the order in which an
  // epoch visits `samples`, a subset of them.
  struct Data {
    int64_t count;                 // samples.size()
    std::vector<int32_t> samples;  // the dataset's samples in use, ascending
    const uint8_t* labels;
    Aligned<int32_t> order;
    std::shared_ptr<View> pixelsView, labelsView;
    std::unique_ptr<View> orderView;
  };

  // Visits `samples` in the order given until the order is rewritten.
  // Data attached with `sharing` reads the same dataset through its
  // buffers (on a GPU: one copy of the pixels for training and validation).
  std::unique_ptr<Data> attach(const Dataset& set, std::vector<int32_t> samples, const Data* sharing = nullptr) {
    const int64_t count = static_cast<int64_t>(samples.size());
    auto d = std::make_unique<Data>(
        Data{count, std::move(samples), set.labels.data(), Aligned<int32_t>(std::max<int64_t>(count, 1)), nullptr, nullptr, nullptr});
    std::copy(d->samples.begin(), d->samples.end(), d->order.begin());
    const halide_type_t u8{halide_type_uint, 8, 1}, i32{halide_type_int, 32, 1};
    // Halide reads inputs through non-const pointers but never writes them.
    if (sharing) {
      d->pixelsView = sharing->pixelsView;
      d->labelsView = sharing->labelsView;
    } else {
      d->pixelsView = std::make_shared<View>(const_cast<uint8_t*>(set.pixels.data()), u8,
                                             std::vector<int64_t>{features_, std::max<int64_t>(set.count, 1)});
      d->labelsView = std::make_shared<View>(const_cast<uint8_t*>(set.labels.data()), u8,
                                             std::vector<int64_t>{std::max<int64_t>(set.count, 1)});
      // On a GPU the whole dataset lives there for the run.
      if (!upload(&d->pixelsView->buf) || !upload(&d->labelsView->buf)) return nullptr;
    }
    d->orderView = std::make_unique<View>(d->order.data(), i32, std::vector<int64_t>{std::max<int64_t>(count, 1)});
    if (!upload(&d->orderView->buf)) return nullptr;
    return d;
  }

  // Every sample of `set`, in file order.
  std::unique_ptr<Data> attach(const Dataset& set) {
    std::vector<int32_t> all(set.count);
    std::iota(all.begin(), all.end(), 0);
    return attach(set, std::move(all));
  }

  // Puts the arenas on the GPU for good: parameters, gradients and
  // optimizer state live there; the per-tensor views alias the flat
  // arenas' device memory, as they alias their host memory.
  bool toDevice(const halide_device_interface_t* gpu) {
    gpu_ = gpu;
    auto place = [&](halide_buffer_t* flat, std::vector<View*> views, const std::vector<int64_t>& offsets) {
      flat->flags |= halide_buffer_flag_host_dirty;
      if (halide_copy_to_device(nullptr, flat, gpu) != 0) return false;
      for (size_t i = 0; i < views.size(); ++i)
        if (!views[i]->aliasOnDevice(flat, offsets[i])) return false;
      return true;
    };
    std::vector<int64_t> paramOffsets, activationOffsets, bufferOffsets;
    for (const ParamSpec& p : spec_.params) paramOffsets.push_back(p.offset);
    for (const ParamSpec& p : spec_.buffers) bufferOffsets.push_back(p.offset);
    for (const ActivationSpec& a : spec_.activations) activationOffsets.push_back(a.offset);
    if (!place(b.flatParams, paramViews_, paramOffsets) || !place(b.flatGrads, gradViews_, paramOffsets) ||
        !place(b.flatActivations, activationViews_, activationOffsets) ||
        !place(b.flatBuffers, bufferViews_, bufferOffsets))
      return false;
    for (halide_buffer_t* st : b.state)
      if (!place(st, {}, {})) return false;
    return true;
  }

  // Copies a buffer the host changed to the GPU (no-op on the CPU).
  bool upload(halide_buffer_t* buf) {
    if (!gpu_) return true;
    buf->flags |= halide_buffer_flag_host_dirty;
    return halide_copy_to_device(nullptr, buf, gpu_) == 0;
  }

  // Brings a buffer the GPU wrote back to the host (no-op on the CPU).
  bool download(halide_buffer_t* buf) { return !gpu_ || halide_copy_to_host(nullptr, buf) == 0; }

  // The pipelines read this split from now on.
  void use(Data& d) {
    b.images = &d.pixelsView->buf;
    b.labels = &d.labelsView->buf;
    b.order = &d.orderView->buf;
  }

  const ModelSpec& spec_;
  const int64_t features_;
  Aligned<float> params, grads;
  std::vector<Aligned<float>> state;
  Aligned<float> buffers;          // batch norms' running statistics (ModelSpec::buffers)
  std::vector<int64_t> counters;   // their num_batches_tracked (ModelSpec::counters)
  Aligned<float> activations;  // the training step's kernel results (cnnc --emit=plan)
  Aligned<float> output;
  float loss = 0;
  int32_t correct = 0;
  Buffers b;

 private:
  // Every buffer over the session's memory; the crops (views) come before
  // the flat arenas they crop, so they are released first.
  std::vector<std::unique_ptr<View>> views_;
  std::vector<View*> paramViews_, gradViews_, activationViews_, bufferViews_;
  const halide_device_interface_t* gpu_ = nullptr;
};

}  // namespace cnnc_rt
