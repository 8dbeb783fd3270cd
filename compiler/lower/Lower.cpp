// THE ALGORITHM's frame: the pipelines' inputs and parameters, each op
// lowered by its row (compiler/ops/, through lower/LowerContext.h), the
// helpers those lowerings share, and the optimizer's update. Shapes in
// comments use the letters N (batch), C/CI/CO (channels), H, W (image),
// F (features), O (outputs), K (classes).
#include "lower/Lower.h"

#include <fmt/format.h>

#include <cstdint>
#include <functional>

#include "fuse/Fuse.h"
#include "ir/Ops.h"
#include "lower/Augment.h"
#include "lower/LowerContext.h"
#include "plan/Plan.h"
#include "runtime/Optimizer.h"
#include "support/Invariant.h"
#include "support/Text.h"

namespace cnnc {

using namespace Halide;

namespace {

// e^x for -87 <= x <= 88 as vector code: Cephes' expf (x = k ln 2 + r in two
// steps, a degree-6 polynomial in r, then 2^k from the exponent bits).
// Halide's fast_exp was 15 ulp off, which made tanh 9 ulp off.
Expr expSmall(Expr x) {
  Expr k = floor(x * 1.44269504088896341f + 0.5f);
  Expr r = x - k * 0.693359375f;
  r = r + k * 2.12194440e-4f;
  Expr r2 = r * r;
  Expr p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
             1.6666665459e-1f) * r + 5.0000001201e-1f) * r2 + r + 1.0f;
  return p * reinterpret<float>((cast<int>(k) + 127) << 23);
}

}  // namespace

int paddedChannels(int channels) {
  if (channels >= 16) return channels;
  int p = 1;
  while (p < channels) p *= 2;
  return p;
}

Expr expOf(Expr x) { return expSmall(clamp(x, -87.0f, 88.0f)); }

Expr sigmoidOf(Expr x) { return 1.0f / (1.0f + expOf(-x)); }

Expr tanhOf(Expr x) {
  // Cephes' tanhf: an odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1)
  // above, clamped where tanh is 1 in floats. Halide's tanh() is a call to
  // libm's scalar tanhf per lane: LeNet-5's c1 tanh took 1.7 ms per step.
  Expr z = min(abs(x), 9.0f);
  Expr big = 1.0f - 2.0f / (expSmall(2.0f * z) + 1.0f);
  Expr s = x * x;
  Expr small =
      ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s + 1.33314422036e-1f) * s -
       3.33332819422e-1f) * s * x + x;
  return select(z > 0.625f, select(x < 0.0f, -big, big), small);
}

Expr erfOf(Expr x) {
  Expr z = x * x;
  Expr r = (((-2.3763017452e-5f * z - 5.770270247e-3f) * z - 2.8481749818e-2f) * z - 3.2504209876e-1f) * z +
           1.2837916613e-1f;
  Expr s = ((((-3.9602282413e-6f * z + 1.3249473704e-4f) * z + 5.0813062117e-3f) * z + 6.50222525e-2f) * z +
            3.9791721106e-1f) * z + 1.0f;
  Expr small = x + x * (r / s);
  Expr a = abs(x);
  Expr t = 1.0f / (1.0f + 0.3275911f * a);
  Expr poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496739f) * t + 0.254829592f) * t;
  Expr big = 1.0f - poly * expOf(-a * a);
  return select(a < 0.84375f, small, select(x < 0.0f, -big, big));
}

std::string funcName(const std::string& tensorName) {
  std::string name = tensorName;
  for (char& ch : name)
    if (ch == '.') ch = '_';
  // GPU kernels are named after their Funcs, and pocl writes each to a
  // file of that name (255 bytes at most; a longer one aborts it): a long
  // name keeps its first 40 characters and a hash of the whole.
  constexpr size_t kLongest = 48;
  if (name.size() <= kLongest) return name;
  return fmt::format("{}_{:08x}", name.substr(0, 40), fnv1a(name));
}

LowerContext::LowerContext(const Graph& g, Lowered& L) : g_(g), L_(L) {
  using namespace loopvars;
  // Batch sample n is order(first + n); padding samples past the end of
  // the order read a real sample, and count for nothing.
  Expr position = clamp(L_.first + n, 0, L_.order.dim(0).max());
  sample_(n) = clamp(L_.order(position), 0, L_.images.dim(1).max());
  label_(n) = clamp(cast<int>(L_.labels(sample_(n))), 0, static_cast<int>(g.classes) - 1);
}

Dims LowerContext::dims(int id) const {
  const Tensor& t = tensor(id);
  Dims d;
  d.N = static_cast<int>(t.shape[0]);
  if (t.shape.size() == 4) {
    d.image = true;
    d.C = static_cast<int>(t.shape[1]);
    d.H = static_cast<int>(t.shape[2]);
    d.W = static_cast<int>(t.shape[3]);
  } else {
    d.F = static_cast<int>(t.shape[1]);
  }
  return d;
}

std::vector<Var> LowerContext::vars(int id) const {
  using namespace loopvars;
  return dims(id).image ? std::vector<Var>{c, x, y, n} : std::vector<Var>{i, n};
}

std::string LowerContext::name(const Op& op) const {
  return funcName(tensor(op.result).name) + "_" + opInfo(op.kind).name;
}

LoweredOp& LowerContext::add(const Op& op, Func out) {
  func(op.result) = out;
  LoweredOp l;
  l.op = &op;
  l.loops = opInfo(op.kind).loops;
  l.out = out;
  L_.ops.push_back(l);
  return L_.ops.back();
}

LoweredOp& LowerContext::owner(int param) {
  for (LoweredOp& l : L_.ops)
    if (l.op->phase == Phase::Forward)
      for (size_t k = l.op->inputs; k < l.op->operands.size(); ++k)
        if (l.op->operands[k] == param) return l;
  internalError(fmt::format("no forward op owns '{}'", tensor(param).name));
}

void LowerContext::setBuffer(int tensor, Func f) {
  for (size_t k = 0; k < g_.buffers.size(); ++k)
    if (g_.buffers[k] == tensor) {
      L_.buffersOut[k] = f;
      return;
    }
  internalError(fmt::format("'{}' is not a buffer", this->tensor(tensor).name));
}

ChannelSums channelSums(const Func& term, const Dims& d, Expr samples, const std::string& name) {
  using namespace loopvars;
  RDom b(0, d.N, name + "_batch");
  ChannelSums s;
  s.total = Func(name);
  s.total(c) = 0.0f;
  // Every sample, or the first `samples`.
  auto masked = [&](Expr v) { return samples.defined() ? select(b < samples, v, 0.0f) : v; };
  if (!d.image) {
    s.total(c) += masked(term(c, b));
    return s;
  }
  RDom rows(0, d.H, name + "_rows"), columns(0, d.W, name + "_columns");
  s.perColumn = Func(name + "_per_column");
  s.perSample = Func(name + "_per_sample");
  s.perColumn(c, x, n) = 0.0f;
  s.perColumn(c, x, n) += term(c, x, rows, n);
  s.perSample(c, n) = 0.0f;
  s.perSample(c, n) += s.perColumn(c, columns, n);
  s.total(c) += masked(s.perSample(c, b));
  return s;
}

std::vector<Func> NormStats::all() const {
  std::vector<Func> funcs;
  for (const Func& f : {sum.perColumn, sum.perSample, sum.total, mean, squares.perColumn, squares.perSample,
                        squares.total, invStd, scale, shift})
    if (f.defined()) funcs.push_back(f);
  return funcs;
}

std::vector<Func> WinogradStages::all() const {
  std::vector<Func> funcs;
  for (const Func& f : {xRows, x, dyRows, dy, weightRows, weight, partialAcc, partial, productAcc, product, backRows, back})
    if (f.defined()) funcs.push_back(f);
  return funcs;
}

Func LowerContext::zeroPadded(const Func& in, const Dims& d, const std::string& name) const {
  if (!L_.cpuLoops) return padded(in, d, 0.0f, name);
  using namespace loopvars;
  Func p(name);
  p(c, x, y, n) = 0.0f;
  RDom r(0, d.W, 0, d.H, name + "_r");
  p(c, r.x, r.y, n) = in(c, r.x, r.y, n);
  if (in.function().same_as(L_.tensors[g_.input].function())) prefetchNextSamples(p);
  return p;
}

// The samples come shuffled, each a random run of the dataset's lines,
// which the hardware's prefetchers cannot foresee: the first touch of
// each missed while the kernels waited. So each sample's padded copy
// prefetches the pixels of the two samples after it (its first 64 lines
// each): the next one a task takes when tasks are runs of samples, and
// when they are single samples taken in turn by two threads. (Where a
// schedule copies a whole chunk of samples at once, as Winograd's do,
// the prefetches run after the chunk's copy and help only the next
// chunk's first two samples: 28 cheap instructions a sample.) The
// prefetches are added to the copy's first pixel (each returns 0: the
// same value) in one more update of `p`, so that they run once a sample,
// not once a row: their addresses depend on a load of `order`, which
// Halide does not lift out of loops. Offsets are in the calls' units
// (4 bytes: their type); Halide's runtime issues them non-temporal.
void LowerContext::prefetchNextSamples(Func& p) const {
  using namespace loopvars;
  const int64_t bytes = numElements(g_.sampleShape);
  const Expr base = Internal::Variable::make(Handle(), L_.images.name(), L_.images.parameter());
  Expr sum = 0;
  for (int ahead : {1, 2}) {
    const Expr start = sample_(n + ahead) * L_.images.dim(1).stride();
    for (int64_t line = 0; line < std::min<int64_t>(bytes / 64 + 2, 64); ++line) {
      const Expr offset = (start + static_cast<int>(line * 64)) / 4;
      sum += Internal::Call::make(Int(32), Internal::Call::prefetch, {base, offset, 1, 1}, Internal::Call::Intrinsic);
    }
  }
  p(0, 0, 0, n) = p(0, 0, 0, n) + cast<float>(sum);
}

Expr LowerContext::label(Expr n) const { return label_(n); }
Expr LowerContext::sample(Expr n) const { return sample_(n); }

Func padded(const Func& in, const Dims& d, Expr value, const std::string& name) {
  using namespace loopvars;
  Func p(name);
  Expr inside = x >= 0 && x < d.W && y >= 0 && y < d.H;
  p(c, x, y, n) = select(inside, in(c, clamp(x, 0, d.W - 1), clamp(y, 0, d.H - 1), n), value);
  return p;
}

Type halideType(DType dtype) {
  switch (dtype) {
    case DType::F32: return Float(32);
    case DType::I32: return Int(32);
    case DType::U8: return UInt(8);
  }
  return Float(32);
}

int samplesPerChunk(int batch, int most) {
  for (int s = most; s > 1; --s)
    if (batch % s == 0) return s;
  return 1;
}

int weightGradientPartials(int chunks) {
  const int fewest = std::max(2, chunks / 4);
  for (int p = fewest; p < chunks; ++p)
    if (chunks % p == 0) return p;
  return chunks;
}

Expr maxOf(int count, const std::function<Expr(Expr)>& term, const std::string& name) {
  if (count > 64) {
    RDom r(0, count, name);
    return maximum(term(r));
  }
  Expr m = term(0);
  for (int k = 1; k < count; ++k) m = max(m, term(k));
  return m;
}

Expr argmaxOf(int count, const std::function<Expr(Expr)>& term, const std::string& name, Expr* best) {
  if (count > 64) {
    RDom r(0, count, name);
    Tuple found = argmax(term(r));
    if (best) *best = found[1];
    return found[0];
  }
  Expr most = term(0), index = 0;
  for (int k = 1; k < count; ++k) {
    Expr v = term(k);
    Expr better = v > most;
    index = select(better, k, index);
    most = select(better, v, most);
  }
  if (best) *best = most;
  return index;
}

std::vector<Func> LoweredOp::helpers() const {
  std::vector<Func> all;
  for (const Func& f : {partial, partialAcc, phases, staged, stagedDy, rowSum, lse, predicted})
    if (f.defined()) all.push_back(f);
  return all;
}

namespace {

// Every shape is known at compile time, and every buffer the runtime
// passes is dense (views into its arenas, innermost dimension first): say
// so to Halide, so that loops have constant extents (schedules may unroll
// them) and vectors load whole rows. Without the strides a kernel reading
// another's result from the activation arena gathered every vector (LeNet-5's
// c1 tanh, channels and columns fused: 0.45 ms in training against 0.08 in
// evaluation, where the same tensor is a scratch buffer of known layout).
void boundExtents(OutputImageParam b, const std::vector<int64_t>& extents) {
  int stride = 1;
  for (size_t d = 0; d < extents.size(); ++d) {
    b.dim(static_cast<int>(d)).set_bounds(0, static_cast<int>(extents[d])).set_stride(stride);
    stride *= static_cast<int>(extents[d]);
  }
}
// The same for an IR shape (outermost first).
void bound(OutputImageParam b, const Shape& irShape) { boundExtents(b, std::vector<int64_t>(irShape.rbegin(), irShape.rend())); }

// images is (F, S) bytes; the model input is CxHxW (c, x, y, n) or F (f, n).
// A pixel in [0, 1] after the train block's normalize, as
// transforms.Normalize computes it: (x - mean[c]) / std[c] in float.
Expr normalized(const TrainConfig& t, Expr x, Expr channel) {
  if (t.normalizeMean.empty()) return x;
  auto perChannel = [&](const std::vector<double>& values) {
    std::vector<Expr> v;
    for (double value : values) v.push_back(Expr(static_cast<float>(value)));
    return v.size() == 1 ? v[0] : mux(channel, v);
  };
  return (x - perChannel(t.normalizeMean)) / perChannel(t.normalizeStd);
}

void lowerInput(LowerContext& cx) {
  using namespace loopvars;
  const Graph& g = cx.graph();
  const Tensor& t = cx.tensor(g.input);
  Dims d = cx.dims(g.input);
  Func in(funcName(t.name));
  Lowered& L = cx.lowered();
  const std::vector<Augment>& augment = g.train.augment;
  if (d.image && cx.mode() == Mode::Training && !augment.empty()) {
    // Training samples only: each shifted and flipped as drawn for it this
    // epoch; the padding is black before normalize, as RandomCrop's.
    const AugmentSource s = augmentSource(augment, L.augment, cx.sample(n), x, y, d.W, d.H);
    Expr f = (c * d.H + clamp(s.y, 0, d.H - 1)) * d.W + clamp(s.x, 0, d.W - 1);
    in(c, x, y, n) = normalized(g.train, select(s.inside, cast<float>(L.images(f, cx.sample(n))) / 255.0f, 0.0f), c);
  } else if (d.image) {
    Expr f = (c * d.H + y) * d.W + x;
    in(c, x, y, n) = normalized(g.train, cast<float>(L.images(f, cx.sample(n))) / 255.0f, c);
  } else {
    in(i, n) = normalized(g.train, cast<float>(L.images(i, cx.sample(n))) / 255.0f, 0);
  }
  cx.func(g.input) = in;
}

// Lowered byKernel: from here on, ops read `op`'s result from its arena
// slot (when a kernel writes it there) instead of the Func computing it;
// likewise a parameter's gradient from the gradient arena. (Read through
// the Func, batch norm's dweight and dbias were summed again in every
// kernel computing its dx: resnet's stem's over 6.4 MB twice more, 9% of
// the step.)
void readFromArena(Lowered& L, const Graph& g, const Fusion& fusion, const MemoryPlan& plan, const Op& op,
                   std::vector<int>& writer) {
  const int index = static_cast<int>(&op - g.ops.data());
  if (fusion.inlined[index]) return;
  for (size_t s = 0; s < plan.activations.size(); ++s)
    if (plan.activations[s].tensor == op.result) {
      L.tensors[op.result] = L.arenaInputs[s];
      writer[op.result] = fusion.kernelOf[index];
    }
  for (size_t p = 0; p < g.paramGrads.size(); ++p)
    if (g.paramGrads[p] == op.result) {
      L.tensors[op.result] = L.gradInputs[p];
      writer[op.result] = fusion.kernelOf[index];
    }
}

// An op must not read from the arena what its own kernel writes: in one
// pipeline nothing orders the write before the read.
void requireEarlierKernel(const Graph& g, const Fusion& fusion, const Op& op, const std::vector<int>& writer) {
  const int kernel = fusion.kernelOf[&op - g.ops.data()];
  for (int t : op.operands)
    require(writer[t] != kernel || kernel < 0, fmt::format("'{}' reads what its own kernel writes", g.tensors[op.result].name));
}

Lowered lowerOps(const Graph& g, Mode mode, bool directOnly, const Fusion& fusion, const MemoryPlan& plan,
                 bool byKernel) {
  Lowered L;
  L.mode = mode;
  if (!directOnly) L.winograd = fusion.winograd;
  L.cpuLoops = !directOnly;
  L.tensors.resize(g.tensors.size());
  L.results.resize(g.tensors.size());
  L.images = ImageParam(UInt(8), 2, "images");
  L.labels = ImageParam(UInt(8), 1, "labels");
  L.order = ImageParam(Int(32), 1, "order");
  // Ops point into L.ops while it grows: room for every op up front.
  L.ops.reserve(g.ops.size());
  LowerContext cx(g, L);
  lowerInput(cx);
  L.images.dim(0).set_bounds(0, static_cast<int>(numElements(g.sampleShape)));
  for (int p : g.params) {
    const Tensor& t = g.tensors[p];
    ImageParam param(Float(32), static_cast<int>(t.shape.size()), funcName(t.name));
    bound(param, t.shape);
    L.params.push_back(param);
    L.tensors[p] = Func(param);
  }
  for (int t : g.buffers) {
    ImageParam buffer(Float(32), static_cast<int>(g.tensors[t].shape.size()), funcName(g.tensors[t].name));
    bound(buffer, g.tensors[t].shape);
    L.buffers.push_back(buffer);
    L.tensors[t] = Func(buffer);
  }
  L.buffersOut.resize(g.buffers.size());
  if (byKernel)
    for (const Slot& s : plan.activations) {
      ImageParam slot(halideType(g.tensors[s.tensor].dtype), static_cast<int>(g.tensors[s.tensor].shape.size()),
                      "arena_" + funcName(g.tensors[s.tensor].name));
      boundExtents(slot, funcExtents(g.tensors[s.tensor].shape));
      L.arenaInputs.push_back(slot);
    }
  if (byKernel)
    for (int grad : g.paramGrads) {
      ImageParam in(Float(32), static_cast<int>(g.tensors[grad].shape.size()), "gradin_" + funcName(g.tensors[grad].name));
      bound(in, g.tensors[grad].shape);
      L.gradInputs.push_back(in);
    }
  std::vector<int> writer(g.tensors.size(), -1);  // byKernel: the kernel whose arena slot an op reads
  // Evaluation has no backward pass.
  for (const Op& op : g.ops) {
    if (op.phase == Phase::Update || (mode == Mode::Evaluation && op.phase == Phase::Backward)) continue;
    if (byKernel) requireEarlierKernel(g, fusion, op, writer);
    opInfo(op.kind).lower(cx, op);
    L.results[op.result] = L.tensors[op.result];
    if (byKernel) readFromArena(L, g, fusion, plan, op, writer);
  }
  for (int grad : mode == Mode::Training ? g.paramGrads : std::vector<int>{}) {
    L.grads.push_back(L.results[grad]);
    bound(L.grads.back().output_buffer(), g.tensors[grad].shape);
  }
  // The eval pipeline's output: scores (K, N).
  bound(L.results[g.output].output_buffer(), {g.train.batch, g.classes});
  if (mode == Mode::Training)
    for (size_t k = 0; k < g.buffers.size(); ++k) {
      require(L.buffersOut[k].defined(), "a training step updates every buffer");
      bound(L.buffersOut[k].output_buffer(), g.tensors[g.buffers[k]].shape);
    }
  return L;
}

}  // namespace

const LoweredOp* Lowered::producer(int tensor) const {
  for (const LoweredOp& l : ops)
    if (l.op->result == tensor) return &l;
  return nullptr;
}
bool Lowered::written(int tensor) const {
  const LoweredOp* p = producer(tensor);
  return p && !p->inlined;
}
std::set<int> Lowered::readTensors(const Graph& g) const {
  std::set<int> read = {g.output, g.logits, g.loss};
  read.insert(g.paramGrads.begin(), g.paramGrads.end());
  for (const LoweredOp& l : ops) read.insert(l.op->operands.begin(), l.op->operands.end());
  return read;
}
bool Lowered::inMemory(int tensor) const {
  const LoweredOp* p = producer(tensor);
  return !p || !p->inlined;
}

std::vector<int64_t> funcExtents(const Shape& s) {
  if (s.size() == 4) return {s[1], s[3], s[2], s[0]};
  return std::vector<int64_t>(s.rbegin(), s.rend());
}

Lowered lowerGraph(const Graph& graph, const Fusion& fusion, const MemoryPlan& plan, Mode mode, bool directOnly,
                   bool byKernel) {
  require(!byKernel || mode == Mode::Training, "only the training step is lowered by kernel");
  Lowered L = lowerOps(graph, mode, directOnly, fusion, plan, byKernel);
  for (LoweredOp& l : L.ops) {
    const size_t index = l.op - graph.ops.data();
    l.inlined = fusion.inlined[index];
    const int k = fusion.kernelOf[index];
    if (k >= 0 && fusion.kernels[k].root != static_cast<int>(index) && opInfo(l.op->kind).fuse == FuseAs::Joined)
      l.joins = &graph.ops[fusion.kernels[k].root];
    if (l.inlined && fusion.insidePool[index] >= 0) l.insidePool = &graph.ops[fusion.insidePool[index]];
  }
  if (graph.hasGrad && mode == Mode::Training) {
    for (const Slot& s : plan.activations) {
      Func f = L.results[s.tensor];
      boundExtents(f.output_buffer(), funcExtents(graph.tensors[s.tensor].shape));
      L.activations.push_back(f);
    }
  }
  return L;
}

LoweredUpdate lowerUpdate(const Graph& g) {
  using loopvars::i;
  LoweredUpdate u;
  u.params = ImageParam(Float(32), 1, "params");
  u.grads = ImageParam(Float(32), 1, "grads");
  // The optimizer's state arrays are the graph's (grad made them): each
  // an input named after its tensor (`adam.exp_avg` -> `exp_avg`).
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (g.roles[t] != TensorRole::OptState) continue;
    const std::string& name = g.tensors[t].name;
    u.state.push_back(ImageParam(Float(32), 1, name.substr(name.find('.') + 1)));
  }
  const Optimizer& opt = g.train.optimizer;
  require(opt.kind != Optimizer::Kind::Adam || u.state.size() == 2, "adam's update needs its two moments");
  Expr p = u.params(i), grad = u.grads(i);
  // One float parameter per field of the step's scalars
  // (runtime/Optimizer.h), in the order of its field list.
  auto declare = [&](const auto& fields) {
    u.scalars.reserve(std::size(fields));
    for (const auto& f : fields) u.scalars.emplace_back(f.name);
  };
  auto scalar = [&](const char* name) {
    for (const Param<float>& s : u.scalars)
      if (s.name() == name) return Expr(s);
    internalError(fmt::format("the update has no scalar '{}'", name));
  };
  if (opt.kind == Optimizer::Kind::Adam) {
    // torch.optim.Adam (1.13, single tensor): L2 weight decay into the
    // gradient, then the moments, then p += -step_size * m / denom;
    // AdamW's decay p *= 1 - lr wd first instead (`decay`, 1 for Adam).
    declare(cnnc_rt::kAdamScalars);
    Expr wd = scalar("weightDecay");
    Expr gw = select(wd != 0.0f, grad + wd * p, grad);
    Expr m = u.state[0](i) * scalar("beta1") + gw * scalar("oneMinusBeta1");
    Expr v = u.state[1](i) * scalar("beta2") + gw * gw * scalar("oneMinusBeta2");
    Expr denom = sqrt(v) / scalar("biasCorrection2Sqrt") + scalar("eps");
    u.out = Func("adam_update");
    Expr decayed = opt.decoupled ? p * scalar("decay") : p;
    u.out(i) = Tuple(decayed + scalar("negStepSize") * (m / denom), m, v);
  } else {
    // torch.optim.SGD: d = g + wd p; buf = momentum buf + d; p += -lr buf
    declare(cnnc_rt::kSgdScalars);
    Expr wd = scalar("weightDecay");
    Expr d = select(wd != 0.0f, grad + wd * p, grad);
    u.out = Func("sgd_update");
    if (!u.state.empty()) {
      Expr buf = u.state[0](i) * scalar("momentum") + d;
      Expr step = opt.nesterov ? d + scalar("momentum") * buf : buf;
      u.out(i) = Tuple(p + scalar("negLr") * step, buf);
    } else {
      u.out(i) = p + scalar("negLr") * d;
    }
  }
  return u;
}

cnnc_rt::OptimizerSpec optimizerSpec(const Optimizer& o) {
  const auto kind = o.kind == Optimizer::Kind::Adam ? cnnc_rt::OptimizerKind::Adam : cnnc_rt::OptimizerKind::Sgd;
  return {kind, o.lr, o.momentum, o.beta1, o.beta2, o.eps, o.weightDecay, o.nesterov, o.decoupled};
}

void setUpdateScalars(LoweredUpdate& u, const Graph& g, const cnnc_rt::UpdateScalars& s) {
  auto set = [&](const auto& fields, const auto& values) {
    for (size_t k = 0; k < std::size(fields); ++k) u.scalars[k].set(values.*(fields[k].field));
  };
  if (g.train.optimizer.kind == Optimizer::Kind::Adam)
    set(cnnc_rt::kAdamScalars, s.adam);
  else
    set(cnnc_rt::kSgdScalars, s.sgd);
}

}  // namespace cnnc
