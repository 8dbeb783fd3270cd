// cnnc's pipelines against PyTorch, tensor for tensor: from the same
// initial weights on the same batch of real MNIST images, the logits and
// loss, every gradient, the parameters after 1 and 10 optimizer steps and
// a 50-step loss trajectory. The reference files come from
// tests/reference/make_reference.py (PyTorch 1.13); CI never runs PyTorch.
#include <catch2/catch.hpp>

#include <Halide.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "Helpers.h"
#include "fuse/Winograd.h"
#include "grad/Grad.h"
#include "lower/Lower.h"
#include "lower/Pipelines.h"
#include "lower/ScheduleCpu.h"
#include "runtime/Session.h"

using namespace cnnc;
using Halide::Buffer;

namespace {

constexpr uint32_t kRefVersion = 1;
const char* kRegenerate = "regenerate with: /usr/bin/python3 tests/reference/make_reference.py";

struct RefTensor {
  uint32_t dtype = 0;  // 0 f32, 1 u8, 2 i32
  std::vector<int64_t> dims;
  std::vector<char> bytes;
  const float* f32() const { return reinterpret_cast<const float*>(bytes.data()); }
  size_t count() const {
    size_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
};

std::map<std::string, RefTensor> readRef(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO(path << ": " << kRegenerate);
  REQUIRE(in);
  char magic[8];
  uint32_t version = 0, count = 0;
  in.read(magic, 8).read(reinterpret_cast<char*>(&version), 4).read(reinterpret_cast<char*>(&count), 4);
  REQUIRE(std::memcmp(magic, "CNNCREF\0", 8) == 0);
  INFO("format version " << version << ", this test reads " << kRefVersion);
  REQUIRE(version == kRefVersion);
  std::map<std::string, RefTensor> out;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0, ndim = 0;
    in.read(reinterpret_cast<char*>(&len), 4);
    std::string name(len, '\0');
    in.read(name.data(), len);
    RefTensor t;
    in.read(reinterpret_cast<char*>(&t.dtype), 4).read(reinterpret_cast<char*>(&ndim), 4);
    t.dims.resize(ndim);
    in.read(reinterpret_cast<char*>(t.dims.data()), 8 * ndim);
    t.bytes.resize(t.count() * (t.dtype == 1 ? 1 : 4));
    in.read(t.bytes.data(), t.bytes.size());
    REQUIRE(in);
    out[name] = std::move(t);
  }
  return out;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// |ours - ref| <= max(tol * max(|ref|, 0.1 * max|ref|), absFloor):
// relative, with a floor at a tenth of the tensor's scale (and an absolute
// one where the optimizer calls for it). Prints the differences.
void compare(const std::string& name, const float* ours, const RefTensor& ref, double tol, double absFloor = 0) {
  const float* r = ref.f32();
  const size_t n = ref.count();
  double scale = 0, maxAbs = 0, maxRel = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, double(std::abs(r[i])));
  size_t worst = 0, bad = 0;
  for (size_t i = 0; i < n; ++i) {
    double diff = std::abs(double(ours[i]) - r[i]);
    if (diff > maxAbs) {
      maxAbs = diff;
      worst = i;
    }
    maxRel = std::max(maxRel, diff / (std::abs(r[i]) + 1e-30));
    if (diff > std::max(tol * std::max(double(std::abs(r[i])), 0.1 * scale), absFloor)) ++bad;
  }
  std::printf("  %-22s max abs diff %.3g, max rel diff %.3g (tolerance %.0e)\n", name.c_str(), maxAbs, maxRel, tol);
  INFO(name << ": " << bad << " of " << n << " elements off; worst [" << worst << "] ours " << ours[worst] << " vs "
            << r[worst] << ". If the reference is stale, " << kRegenerate);
  CHECK(bad == 0);
}

// The reference batch (its images, labels and a visiting order of 0..N-1),
// bound to the pipelines `Ls` as a whole batch.
struct RefBatch {
  Buffer<uint8_t> images, labels;
  Buffer<int32_t> order;
};
RefBatch bindBatch(const std::map<std::string, RefTensor>& ref, int N, std::vector<Lowered*> Ls) {
  RefBatch b{Buffer<uint8_t>(784, N), Buffer<uint8_t>(N), Buffer<int32_t>(N)};
  std::memcpy(b.images.data(), ref.at("images").bytes.data(), 784 * N);
  for (int k = 0; k < N; ++k) {
    b.labels(k) = static_cast<uint8_t>(reinterpret_cast<const int32_t*>(ref.at("labels").bytes.data())[k]);
    b.order(k) = k;
  }
  for (Lowered* L : Ls) {
    L->images.set(b.images);
    L->labels.set(b.labels);
    L->order.set(b.order);
    L->first.set(0);
    L->valid.set(N);
  }
  return b;
}

// `sgd`: the steps on one batch with SGD (lr 0.02, momentum 0.9) instead of
// the model's own optimizer (make_reference.py says why for resnet).
void checkModel(const std::string& model, bool sgd = false) {
  const std::string root = CNNC_SOURCE_DIR;
  auto ref = readRef(root + "/tests/reference/" + model + ".ref");
  auto c = test::compile(readText(root + "/models/" + model + ".cnn"));
  INFO(c.messages);
  REQUIRE(c.graph);
  Graph g = *c.graph;
  if (sgd) g.train.optimizer = Optimizer{Optimizer::Kind::Sgd, 0.01, 0};
  differentiate(g);
  const Halide::Target host = hostTarget();
  // As the trainer: one lowering per pipeline (training computes the loss
  // together with its gradient; evaluation has no gradient). Direct
  // convolutions, as PyTorch computes them (Winograd's own test below).
  const Fusion fusion = fuse(g, ConvAlgorithm::Direct);
  const MemoryPlan plan = planMemory(g, fusion);
  Lowered L = lowerGraph(g, fusion, plan, Mode::Training), E = lowerGraph(g, fusion, plan, Mode::Evaluation);
  scheduleCpu(L, g, host, PipelineKind::Training);
  scheduleCpu(E, g, host, PipelineKind::Evaluation);
  LoweredUpdate U = lowerUpdate(g);
  scheduleUpdateCpu(U, host);
  std::printf("%s vs PyTorch:\n", model.c_str());

  // Inputs: the batch, and the parameters as views into one flat arena.
  const int N = 64;
  REQUIRE(g.train.batch == N);
  const RefBatch batch = bindBatch(ref, N, {&L, &E});
  int64_t total = 0;
  std::vector<int64_t> offsets;
  for (int p : g.params) {
    offsets.push_back(total);
    total += (numElements(g.tensors[p].shape) + 31) / 32 * 32;  // 128-byte aligned, as the trainer's arenas
  }
  Buffer<float> flat(static_cast<int>(total)), flatGrads(static_cast<int>(total));
  std::vector<Buffer<float>> params, grads;
  for (size_t i = 0; i < g.params.size(); ++i) {
    const Tensor& t = g.tensors[g.params[i]];
    std::vector<int> dims(t.shape.rbegin(), t.shape.rend());
    const RefTensor& init = ref.at("init." + t.name);
    REQUIRE(init.count() == size_t(numElements(t.shape)));
    std::memcpy(flat.data() + offsets[i], init.f32(), 4 * init.count());
    params.emplace_back(flat.data() + offsets[i], dims);
    grads.emplace_back(flatGrads.data() + offsets[i], dims);
    L.params[i].set(params.back());
    E.params[i].set(params.back());
  }
  // Batch norms' running statistics, read by both pipelines and updated in
  // place by the training step.
  std::vector<Buffer<float>> buffers;
  for (size_t k = 0; k < g.buffers.size(); ++k) {
    const Tensor& t = g.tensors[g.buffers[k]];
    const RefTensor& init = ref.at("init." + t.name);
    buffers.emplace_back(static_cast<int>(init.count()));
    std::memcpy(buffers.back().data(), init.f32(), 4 * init.count());
    L.buffers[k].set(buffers.back());
    E.buffers[k].set(buffers.back());
  }
  // A model whose layers differ between the modes (batch norm, dropout)
  // is compared in evaluation after 10 steps (eval_logits); the others at
  // the start too.
  const bool modes = ref.count("eval_logits") > 0;

  // The training step: the logits (training mode; step k's dropout masks
  // from dropoutKey(0, k), as a trainer with seed 0), the loss, every
  // gradient, the running statistics' update.
  Buffer<float> logits(static_cast<int>(g.classes), N), loss = Buffer<float>::make_scalar();
  Buffer<int32_t> correct = Buffer<int32_t>::make_scalar();
  Halide::Pipeline eval({E.tensors[g.output], E.loss, E.correct});
  if (!modes) {
    eval.realize(Halide::Realization({logits, loss, correct}));
    compare("logits (evaluation)", logits.data(), ref.at("logits"), 1e-5);
    compare("loss (evaluation)", loss.data(), ref.at("loss"), 1e-5);
  }
  std::vector<Halide::Func> stepOutputs{L.loss, L.correct, L.tensors[g.logits]};
  stepOutputs.insert(stepOutputs.end(), L.grads.begin(), L.grads.end());
  stepOutputs.insert(stepOutputs.end(), L.buffersOut.begin(), L.buffersOut.end());
  Halide::Pipeline step(stepOutputs);
  int steps = 0;
  auto runStep = [&] {
    L.noise.set(cnnc_rt::dropoutKey(0, ++steps));
    std::vector<Buffer<>> outs{loss, correct, logits};
    for (auto& b : grads) outs.push_back(b);
    for (auto& b : buffers) outs.push_back(b);
    step.realize(Halide::Realization(outs));
  };
  runStep();
  compare("logits", logits.data(), ref.at("logits"), 1e-5);
  compare("loss", loss.data(), ref.at("loss"), 1e-5);
  for (size_t i = 0; i < g.params.size(); ++i) {
    const std::string& name = g.tensors[g.params[i]].name;
    compare("grad." + name, grads[i].data(), ref.at("grad." + name), 1e-4);
  }

  // The optimizer, in place over the arenas, 50 steps on the same batch.
  std::vector<Buffer<float>> state;
  for (size_t s = 0; s < U.state.size(); ++s) {
    state.emplace_back(static_cast<int>(total));
    state.back().fill(0.0f);
  }
  U.params.set(flat);
  U.grads.set(flatGrads);
  for (size_t s = 0; s < state.size(); ++s) U.state[s].set(state[s]);
  Halide::Pipeline update(U.out);
  const Optimizer& o = g.train.optimizer;
  std::vector<float> trajectory;
  for (int t = 1; t <= 50; ++t) {
    if (t > 1) runStep();
    trajectory.push_back(loss());
    setUpdateScalars(U, g, cnnc_rt::updateScalars(optimizerSpec(o), o.lr, t));  // the runtime's, as a trainer passes them
    std::vector<Buffer<>> outs{flat};
    for (auto& s : state) outs.push_back(s);
    update.realize(Halide::Realization(outs));
    if (t == 1 || t == 10) {
      // Adam divides each gradient by its own magnitude plus eps (1e-8):
      // where a gradient is within a few eps of zero, a last-bit difference
      // in the gradient moves the parameter by up to a few percent of lr
      // per step. That is the absolute floor; a wrong update rule is off
      // by a whole lr per step.
      const double floor = o.kind == Optimizer::Kind::Adam ? 0.05 * o.lr : 0.0;
      for (size_t i = 0; i < g.params.size(); ++i) {
        const std::string& name = g.tensors[g.params[i]].name;
        std::string key = "step" + std::to_string(t) + "." + name;
        compare(key, params[i].data(), ref.at(key), 1e-4, floor);
      }
      for (size_t k = 0; k < g.buffers.size(); ++k) {
        std::string key = "step" + std::to_string(t) + "." + g.tensors[g.buffers[k]].name;
        compare(key, buffers[k].data(), ref.at(key), 1e-5);
      }
    }
    if (t == 10 && modes) {
      Buffer<float> evalLoss = Buffer<float>::make_scalar();
      eval.realize(Halide::Realization({logits, evalLoss, correct}));
      compare("eval_logits (10 steps)", logits.data(), ref.at("eval_logits"), 1e-5);
    }
  }
  // Repeating one batch, the runs drift apart slowly under Adam, which
  // divides by each gradient's own magnitude: the first 20 steps agree to
  // 5e-3, all 50 to 0.1 in absolute terms (mnist's Adam at lr 0.01 drifts
  // most, to 0.043 near step 22, as the loss falls from 2.3 to 0.01). Under
  // SGD they do not drift: LeNet-5's agree to 5e-7 relative, checked to 1e-5;
  // through batch norm they drift a little (resnet's: 1.9e-5 at step 33,
  // from 1.2e-6 over the first 20), checked to 5e-5.
  const bool adam = o.kind == Optimizer::Kind::Adam;
  const double sgdTolerance = modes ? 5e-5 : 1e-5;
  compare("trajectory (50 steps)", trajectory.data(), ref.at("trajectory"), adam ? 0.0 : sgdTolerance, adam ? 0.1 : 0.0);
  RefTensor first20 = ref.at("trajectory");
  first20.dims = {20};
  compare("trajectory (20 steps)", trajectory.data(), first20, 5e-3);
}

}  // namespace

TEST_CASE("models/mnist.cnn matches PyTorch tensor for tensor", "[fidelity]") { checkModel("mnist"); }

TEST_CASE("models/lenet5.cnn matches PyTorch tensor for tensor", "[fidelity]") { checkModel("lenet5"); }

TEST_CASE("models/resnet.cnn (batch norm in both modes, dropout, skip connections, a branch) matches PyTorch tensor for tensor",
          "[fidelity]") {
  checkModel("resnet", true);
}

TEST_CASE("models/inception.cnn (branches joined with concat) matches PyTorch tensor for tensor", "[fidelity]") {
  checkModel("inception");
}

namespace {

// max |ours - ref| / max |ref|: the error relative to the tensor's scale.
// `ours` is a Func's buffer: (c, x, y, n) for an activation, the
// parameter's reversed dims (PyTorch's order in memory) for a weight; ref
// is PyTorch's NCHW, of the first ref.dims[0] samples for an activation.
double scaledError(const Buffer<float>& ours, const RefTensor& ref) {
  const float* r = ref.f32();
  double scale = 0, worst = 0;
  for (size_t i = 0; i < ref.count(); ++i) scale = std::max(scale, double(std::abs(r[i])));
  if (ours.dimensions() == 4 && ref.dims.size() == 4 && ours.dim(0).extent() == ref.dims[1] &&
      ours.dim(3).extent() != ref.dims[3]) {  // an activation
    const int64_t N = ref.dims[0], C = ref.dims[1], H = ref.dims[2], W = ref.dims[3];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
          for (int64_t x = 0; x < W; ++x)
            worst = std::max(worst, std::abs(double(ours(c, x, y, n)) - r[((n * C + c) * H + y) * W + x]));
  } else {
    for (size_t i = 0; i < ref.count(); ++i) worst = std::max(worst, std::abs(double(ours.data()[i]) - r[i]));
  }
  return worst / scale;
}

struct PassError {
  std::string pass;  // "conv2.0 forward", "... data", "... weight"
  int tile = 0;      // the Winograd tile (0: direct)
  double error = 0;  // scaledError against float64
};

// Each convolution pass of one training step of `model` on the reference
// batch, against PyTorch in float64 (tests/reference/make_float64.py).
// `winograd`: the passes of that kind Winograd (the cheapest tile), the
// rest direct, so that each pass reads what direct convolution computes:
// a forward that rounds differently moves some of maxpool's maxima
// (mnist: near-ties in relu(conv2)), which routes those windows' gradients
// elsewhere, and the data pass after it would show that, not its own
// rounding (0.32 of the largest element, against 5e-6 alone).
std::vector<PassError> convPassErrors(const std::string& model, std::optional<OpKind> winograd) {
  const std::string root = CNNC_SOURCE_DIR;
  auto ref = readRef(root + "/tests/reference/" + model + ".ref");
  auto f64 = readRef(root + "/tests/reference/" + model + "_f64.ref");
  auto c = test::compile(readText(root + "/models/" + model + ".cnn"));
  REQUIRE(c.graph);
  Graph g = *c.graph;
  differentiate(g);
  Fusion fusion = fuse(g, winograd ? ConvAlgorithm::Winograd : ConvAlgorithm::Direct);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (g.ops[i].kind != winograd) fusion.winograd[i] = 0;
    // Each convolution a kernel of its own (not computed inside a pool's),
    // so that its result can be an output here.
    if (g.ops[i].kind == OpKind::Conv2d) fusion.inlined[i] = false;
  }
  Lowered L = lowerGraph(g, fusion, planMemory(g, fusion), Mode::Training);
  scheduleCpu(L, g, hostTarget(), PipelineKind::Training);
  const int N = static_cast<int>(g.train.batch);
  const RefBatch batch = bindBatch(ref, N, {&L});
  L.noise.set(cnnc_rt::dropoutKey(0, 1));
  std::vector<Buffer<float>> inputs;
  auto bind = [&](Halide::ImageParam& p, const Tensor& t) {
    const RefTensor& init = ref.at("init." + t.name);
    inputs.emplace_back(std::vector<int>(t.shape.rbegin(), t.shape.rend()));
    std::memcpy(inputs.back().data(), init.f32(), 4 * init.count());
    p.set(inputs.back());
  };
  for (size_t i = 0; i < g.params.size(); ++i) bind(L.params[i], g.tensors[g.params[i]]);
  for (size_t k = 0; k < g.buffers.size(); ++k) bind(L.buffers[k], g.tensors[g.buffers[k]]);
  // The passes: each forward convolution's result, its data gradient's
  // result (where its input needs one), its weight's gradient.
  std::vector<PassError> passes;
  std::vector<Halide::Func> funcs{L.loss};
  std::vector<Buffer<>> outs{Buffer<float>::make_scalar()};
  std::vector<std::string> keys;
  auto output = [&](const std::string& pass, int opIndex, int tensor, const std::string& key) {
    passes.push_back({pass, fusion.winograd[opIndex], 0});
    funcs.push_back(L.tensors[tensor]);
    const Shape& s = g.tensors[tensor].shape;  // an activation's Func is (c, x, y, n); a gradient's, s reversed
    const std::vector<int64_t> e = g.ops[opIndex].kind == OpKind::Conv2dBwdWeight ? Shape(s.rbegin(), s.rend())
                                                                                  : funcExtents(s);
    outs.push_back(Buffer<float>(std::vector<int>(e.begin(), e.end())));
    keys.push_back(key);
  };
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    if (op.kind != OpKind::Conv2d) continue;
    const std::string name = g.tensors[op.result].name;
    output(name + " forward", static_cast<int>(i), op.result, name);
    for (size_t j = 0; j < g.ops.size(); ++j) {
      const Op& b = g.ops[j];
      if (b.kind == OpKind::Conv2dBwdData && b.operands[1] == op.operands[1])
        output(name + " data", static_cast<int>(j), b.result, "grad_in." + name);
      if (b.kind == OpKind::Conv2dBwdWeight && g.tensors[b.result].name == "grad." + g.tensors[op.operands[1]].name)
        output(name + " weight", static_cast<int>(j), b.result, "grad." + g.tensors[op.operands[1]].name);
    }
  }
  Halide::Pipeline(funcs).realize(Halide::Realization(outs));
  for (size_t k = 0; k < passes.size(); ++k) passes[k].error = scaledError(Buffer<float>(outs[k + 1]), f64.at(keys[k]));
  return passes;
}

// Prints the table of both algorithms' errors and holds each to its bound.
void checkConvErrors(const std::string& model, double directBound, double winogradBound) {
  const std::vector<PassError> direct = convPassErrors(model, std::nullopt);
  std::vector<PassError> winograd = direct;
  for (OpKind kind : {OpKind::Conv2d, OpKind::Conv2dBwdData, OpKind::Conv2dBwdWeight}) {
    const std::vector<PassError> some = convPassErrors(model, kind);
    REQUIRE(some.size() == direct.size());
    for (size_t k = 0; k < some.size(); ++k)
      if (some[k].tile) winograd[k] = some[k];
  }
  std::printf("%s: each convolution pass against float64 (max error / max |value|)\n", model.c_str());
  std::printf("  %-28s %10s %10s  %s\n", "pass", "direct", "winograd", "tile");
  for (size_t k = 0; k < direct.size(); ++k) {
    const PassError& w = winograd[k];
    const std::string tile = w.tile ? winogradName(w.tile, 0).substr(0, winogradName(w.tile, 0).find(',')) + ")" : "-";
    std::printf("  %-28s %10.2e %10.2e  %s\n", direct[k].pass.c_str(), direct[k].error, w.error, tile.c_str());
    INFO(direct[k].pass);
    CHECK(direct[k].error <= directBound);
    CHECK(w.error <= winogradBound);
  }
}

}  // namespace

// Measured (2026-12-01): direct 1.6e-7 to 5.4e-6 (block1.0's weight,
// summed over 64 x 14 x 14 positions), Winograd 7.6e-7 to 4.1e-6 (F(4x4):
// its transforms' coefficients, up to 8 in A and 5.25 in B for both 3x3
// and 5x5, round on the way in and out); each bound is about twice the
// largest.
// An algorithm that is wrong anywhere, an edge tile or a channel, is off
// by the size of the values there: 1e-2 and more.
TEST_CASE("convolution passes against float64: direct and Winograd", "[fidelity][winograd]") {
  checkConvErrors("mnist", 1e-5, 1e-5);
  checkConvErrors("resnet", 1e-5, 1e-5);
}
