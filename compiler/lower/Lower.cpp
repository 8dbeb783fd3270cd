// THE ALGORITHM: each IR op as Halide Funcs. Shapes in comments use the
// letters N (batch), C/CI/CO (channels), H, W (image), OH, OW (output),
// F (features), O (outputs), K (classes).
#include "lower/Lower.h"

#include <fmt/format.h>

#include <cassert>
#include <cstdint>
#include <functional>

#include "fuse/Fuse.h"
#include "plan/Plan.h"
#include "ir/Ops.h"

namespace cnnc {

using namespace Halide;

namespace {

// e^x for 0 <= x <= 18 as vector code: Cephes' expf (x = k ln 2 + r in two
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

std::string funcName(const std::string& tensorName) {
  std::string name = tensorName;
  for (char& ch : name)
    if (ch == '.') ch = '_';
  // GPU kernels are named after their Funcs, and pocl writes each to a
  // file of that name (255 bytes at most; a longer one aborts it): a long
  // name keeps its first 40 characters and a hash of the whole.
  constexpr size_t kLongest = 48;
  if (name.size() <= kLongest) return name;
  uint32_t hash = 2166136261u;  // FNV-1a: the same on every machine
  for (unsigned char ch : name) hash = (hash ^ ch) * 16777619u;
  return fmt::format("{}_{:08x}", name.substr(0, 40), hash);
}

namespace {

Var c("c"), x("x"), y("y"), n("n"), i("i"), o("o");
Var kx("kx"), ky("ky"), ci("ci"), co("co");

struct Dims {
  int N = 0, C = 0, H = 0, W = 0;  // images
  int F = 0;                       // vectors
  bool image = false;
};

Dims dimsOf(const Tensor& t) {
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

// `in` (c, x, y, n) extended beyond its W x H with `value` (the padding).
Func padded(const Func& in, const Dims& d, Expr value, const std::string& name) {
  Func p(name);
  Expr inside = x >= 0 && x < d.W && y >= 0 && y < d.H;
  p(c, x, y, n) = select(inside, in(c, clamp(x, 0, d.W - 1), clamp(y, 0, d.H - 1), n), value);
  return p;
}

// Samples whose weight gradients are summed in one partial sum: the largest
// divisor of the batch up to 8 (8 chunks of 8 at batch 64).
int samplesPerChunk(int batch) {
  for (int s = 8; s > 1; --s)
    if (batch % s == 0) return s;
  return 1;
}

// The maximum of terms(0) .. terms(count - 1). Small windows (pools,
// class scores) become a tree of max() with no loop, which is fast and
// which Halide's propagate_adjoints can differentiate; large ones a
// reduction.
Expr maxOf(int count, const std::function<Expr(Expr)>& term, const std::string& name) {
  if (count > 64) {
    RDom r(0, count, name);
    return maximum(term(r));
  }
  Expr m = term(0);
  for (int k = 1; k < count; ++k) m = max(m, term(k));
  return m;
}

// The index of the first maximum of terms(0) .. terms(count - 1) (row-major
// order of a window: PyTorch's choice among equal values). Small windows
// become a chain of selects with no loop; large ones a reduction.
Expr argmaxOf(int count, const std::function<Expr(Expr)>& term, const std::string& name) {
  if (count > 64) {
    RDom r(0, count, name);
    return argmax(term(r))[0];
  }
  Expr best = term(0), index = 0;
  for (int k = 1; k < count; ++k) {
    Expr v = term(k);
    Expr better = v > best;
    index = select(better, k, index);
    best = select(better, v, best);
  }
  return index;
}

class Lowering {
 public:
  explicit Lowering(const Graph& g) : g_(g) {
    L_.tensors.resize(g.tensors.size());
    L_.images = ImageParam(UInt(8), 2, "images");
    L_.labels = ImageParam(UInt(8), 1, "labels");
    L_.order = ImageParam(Int(32), 1, "order");
    // Batch sample n is order(first + n); padding samples past the end of
    // the order read a real sample, and count for nothing.
    Expr position = clamp(L_.first + n, 0, L_.order.dim(0).max());
    sample_(n) = clamp(L_.order(position), 0, L_.images.dim(1).max());
    label_(n) = clamp(cast<int>(L_.labels(sample_(n))), 0, static_cast<int>(g.classes) - 1);
  }

  Lowered run() {
    lowerInput();
    // Every shape is known at compile time: say so to Halide, so that
    // loops have constant extents (and schedules may unroll them).
    auto bound = [](OutputImageParam b, const Shape& irShape) {
      for (size_t d = 0; d < irShape.size(); ++d)
        b.dim(static_cast<int>(d)).set_bounds(0, static_cast<int>(irShape[irShape.size() - 1 - d]));
    };
    L_.images.dim(0).set_bounds(0, static_cast<int>(numElements(g_.sampleShape)));
    for (int p : g_.params) {
      const Tensor& t = g_.tensors[p];
      ImageParam param(Float(32), static_cast<int>(t.shape.size()), funcName(t.name));
      bound(param, t.shape);
      L_.params.push_back(param);
      L_.tensors[p] = Func(param);
    }
    for (const Op& op : g_.ops) {
      if (op.phase == Phase::Update) continue;
      lowerOp(op);
    }
    for (int grad : g_.paramGrads) {
      L_.grads.push_back(L_.tensors[grad]);
      bound(L_.grads.back().output_buffer(), g_.tensors[grad].shape);
    }
    // The eval pipeline's output: scores (K, N).
    bound(L_.tensors[g_.output].output_buffer(), {g_.train.batch, g_.classes});
    return std::move(L_);
  }

 private:
  Func& T(int id) { return L_.tensors[id]; }
  const Tensor& tensor(int id) const { return g_.tensors[id]; }

  // images is (F, S) bytes; the model input is CxHxW (c, x, y, n) or F (f, n).
  void lowerInput() {
    const Tensor& t = tensor(g_.input);
    Dims d = dimsOf(t);
    Func in(funcName(t.name));
    if (d.image) {
      Expr f = (c * d.H + y) * d.W + x;
      in(c, x, y, n) = cast<float>(L_.images(f, sample_(n))) / 255.0f;
    } else {
      in(i, n) = cast<float>(L_.images(i, sample_(n))) / 255.0f;
    }
    T(g_.input) = in;
  }

  LoweredOp& add(const Op& op, Func out) {
    T(op.result) = out;
    L_.ops.push_back({&op, false, out, Func(), RDom(), Func(), {}});
    return L_.ops.back();
  }

  void lowerOp(const Op& op) {
    const std::string name = funcName(tensor(op.result).name) + "_" + opInfo(op.kind).name;
    const Attrs& a = op.attrs;
    const int KW = static_cast<int>(a.kernel[1]), KH = static_cast<int>(a.kernel[0]);
    const int SX = static_cast<int>(a.stride[1]), SY = static_cast<int>(a.stride[0]);
    const int PX = static_cast<int>(a.padding[1]), PY = static_cast<int>(a.padding[0]);
    Func out(name);
    switch (op.kind) {
      case OpKind::Conv2d: {
        // in (ci, x, y, n), weight (kx, ky, ci, co) -> out (co, x, y, n)
        Dims d = dimsOf(tensor(op.operands[0]));
        Func in = padded(T(op.operands[0]), d, 0.0f, name + "_padded");
        Func w = T(op.operands[1]);
        Func wT(name + "_weight_t");
        wT(co, kx, ky, ci) = w(kx, ky, ci, co);
        RDom r(0, KW, 0, KH, 0, d.C, name + "_r");
        Func acc(name + "_acc");
        acc(co, x, y, n) = op.operands.size() > 2 ? Expr(T(op.operands[2])(co)) : Expr(0.0f);
        acc(co, x, y, n) += wT(co, r.x, r.y, r.z) * in(r.z, x * SX + r.x - PX, y * SY + r.y - PY, n);
        out(co, x, y, n) = acc(co, x, y, n);
        LoweredOp& l = add(op, out);
        l.acc = acc;
        l.r = r;
        l.weightT = wT;
        l.helpers = {in};
        return;
      }
      case OpKind::Conv2dBwdData: {
        // dy (co, ox, oy, n), weight (kx, ky, ci, co) -> dx (ci, x, y, n):
        // each input pixel gathers dy from the outputs whose window saw it.
        Dims dy = dimsOf(tensor(op.operands[0]));
        Func dyPad = padded(T(op.operands[0]), dy, 0.0f, name + "_dy_padded");
        Func w = T(op.operands[1]);
        Func wT(name + "_weight_t");
        wT(ci, kx, ky, co) = w(kx, ky, ci, co);
        RDom r(0, KW, 0, KH, 0, dy.C, name + "_r");
        Expr oxs = x + PX - r.x, oys = y + PY - r.y;  // output position times the stride
        Expr hit = oxs % SX == 0 && oys % SY == 0;
        Func acc(name + "_acc");
        acc(ci, x, y, n) = 0.0f;
        acc(ci, x, y, n) += select(hit, wT(ci, r.x, r.y, r.z) * dyPad(r.z, oxs / SX, oys / SY, n), 0.0f);
        out(ci, x, y, n) = acc(ci, x, y, n);
        LoweredOp& l = add(op, out);
        l.acc = acc;
        l.r = r;
        l.weightT = wT;
        l.helpers = {dyPad};
        return;
      }
      case OpKind::Conv2dBwdWeight: {
        // dy (co, ox, oy, n), in (ci, x, y, n) -> dw (kx, ky, ci, co):
        // a partial sum per chunk of S samples over the output positions,
        // then the sum of the chunks, both in a fixed order that no thread
        // count changes (as short sums of sums they also round less than
        // one long sum). Chunks, not single samples: 64 per-sample partials
        // of conv3's weight were 13 MB written and read back every step
        // (0.9 ms of 12.7 on this 2-core AMD EPYC, 2026-11-28).
        Dims dy = dimsOf(tensor(op.operands[0]));
        Dims d = dimsOf(tensor(op.operands[1]));
        Func in = padded(T(op.operands[1]), d, 0.0f, name + "_padded");
        // dy one sample at a time: what fuse inlined into it (an
        // activation's gradient) is computed once per element, not per tap.
        Func dyF(name + "_dy");
        dyF(co, x, y, n) = T(op.operands[0])(co, x, y, n);
        const int S = samplesPerChunk(dy.N);
        RDom r(0, dy.W, 0, dy.H, 0, S, name + "_r");  // positions, then the chunk's samples
        Expr sample = n * S + r.z;                      // n: the chunk
        Func partAcc(name + "_per_chunk_acc");         // (co, kx, ky, ci, n): channels-innermost
        partAcc(co, kx, ky, ci, n) = 0.0f;
        partAcc(co, kx, ky, ci, n) +=
            dyF(co, r.x, r.y, sample) * in(ci, r.x * SX + kx - PX, r.y * SY + ky - PY, sample);
        Func part(name + "_per_chunk");
        part(co, kx, ky, ci, n) = partAcc(co, kx, ky, ci, n);
        RDom b(0, dy.N / S, name + "_chunks");
        Func acc(name + "_acc");
        acc(co, kx, ky, ci) = 0.0f;
        acc(co, kx, ky, ci) += part(co, kx, ky, ci, b);
        out(kx, ky, ci, co) = acc(co, kx, ky, ci);
        LoweredOp& l = add(op, out);
        l.acc = acc;
        l.r = r;
        l.helpers = {part, partAcc, in, dyF};
        return;
      }
      case OpKind::BiasBwd: {
        // dy (c, x, y, n) or (o, n) -> db (c); images sum per sample first
        Dims d = dimsOf(tensor(op.operands[0]));
        Func dy = T(op.operands[0]);
        RDom b(0, d.N, name + "_batch");
        out(c) = 0.0f;
        if (d.image) {
          RDom r(0, d.W, 0, d.H, name + "_r");
          Func part(name + "_per_sample");
          part(c, n) = 0.0f;
          part(c, n) += dy(c, r.x, r.y, n);
          out(c) += part(c, b);
          add(op, out).helpers.push_back(part);
        } else {
          out(c) += dy(c, b);
          add(op, out);
        }
        return;
      }
      case OpKind::Relu: elementwise(op, out, [](Expr v) { return max(v, 0.0f); }); return;
      case OpKind::Sigmoid: elementwise(op, out, [](Expr v) { return 1.0f / (1.0f + exp(-v)); }); return;
      case OpKind::Tanh: elementwise(op, out, [](Expr v) { return tanhOf(v); }); return;
      case OpKind::ReluBwd:
        elementwise2(op, out, [](Expr dy, Expr yv) { return select(yv > 0.0f, dy, 0.0f); });
        return;
      case OpKind::SigmoidBwd:
        elementwise2(op, out, [](Expr dy, Expr yv) { return dy * (1.0f - yv) * yv; });
        return;
      case OpKind::TanhBwd:
        elementwise2(op, out, [](Expr dy, Expr yv) { return dy * (1.0f - yv * yv); });
        return;
      case OpKind::MaxPool:
      case OpKind::AvgPool: {
        // in (c, x, y, n) -> out (c, ox, oy, n)
        Dims d = dimsOf(tensor(op.operands[0]));
        bool isMax = op.kind == OpKind::MaxPool;
        Func in = padded(T(op.operands[0]), d, isMax ? Expr(-INFINITY) : Expr(0.0f), name + "_padded");
        RDom r(0, KW, 0, KH, name + "_r");
        Expr v = in(c, x * SX + r.x - PX, y * SY + r.y - PY, n);
        if (isMax) {
          out(c, x, y, n) = maxOf(
              KW * KH, [&](Expr t) { return in(c, x * SX + t % KW - PX, y * SY + t / KW - PY, n); }, name + "_r");
        } else {
          out(c, x, y, n) = sum(v) / float(KW * KH);  // padding counted, as PyTorch's default
        }
        add(op, out);
        return;
      }
      case OpKind::MaxPoolBwd:
      case OpKind::AvgPoolBwd: {
        // dy (c, ox, oy, n) -> dx (c, x, y, n): each input gathers from the
        // windows that cover it.
        Dims dy = dimsOf(tensor(op.operands[0]));
        Func dyF = T(op.operands[0]);
        RDom k(0, KW, 0, KH, name + "_k");
        Expr oxs = x + PX - k.x, oys = y + PY - k.y;
        Expr ox = clamp(oxs / SX, 0, dy.W - 1), oy = clamp(oys / SY, 0, dy.H - 1);
        Expr covers = oxs >= 0 && oys >= 0 && oxs % SX == 0 && oys % SY == 0 && oxs / SX < dy.W && oys / SY < dy.H;
        Func win(name + "_argmax");
        if (op.kind == OpKind::MaxPoolBwd) {
          // The first maximum of each window in row-major order (PyTorch's).
          Dims d = dimsOf(tensor(op.operands[1]));
          Func in = padded(T(op.operands[1]), d, Expr(-INFINITY), name + "_padded");
          win(c, x, y, n) = argmaxOf(
              KW * KH, [&](Expr t) { return in(c, x * SX + t % KW - PX, y * SY + t / KW - PY, n); }, name + "_r");
          if (SX == KW && SY == KH) {
            // Windows that do not overlap (the usual pooling): each input is
            // in at most one window, so it reads one gradient, not KW x KH.
            Expr px = x + PX, py = y + PY;  // >= 0: x, y >= 0
            Expr inside = px / SX < dy.W && py / SY < dy.H;
            Expr wx = min(px / SX, dy.W - 1), wy = min(py / SY, dy.H - 1);
            out(c, x, y, n) =
                select(inside && win(c, wx, wy, n) == (py % SY) * KW + px % SX, dyF(c, wx, wy, n), 0.0f);
          } else {
            covers = covers && win(c, ox, oy, n) == k.y * KW + k.x;
            out(c, x, y, n) = sum(select(covers, dyF(c, ox, oy, n), 0.0f));
          }
        } else {
          out(c, x, y, n) = sum(select(covers, dyF(c, ox, oy, n), 0.0f)) / float(KW * KH);
        }
        LoweredOp& l = add(op, out);
        if (op.kind == OpKind::MaxPoolBwd) l.helpers.push_back(win);
        return;
      }
      case OpKind::Flatten: {
        // in (c, x, y, n) -> out (f, n), f in PyTorch's C,H,W order
        Dims d = dimsOf(tensor(op.operands[0]));
        Func in = T(op.operands[0]);
        if (d.image)
          out(i, n) = in(i / (d.H * d.W), i % d.W, (i / d.W) % d.H, n);
        else
          out(i, n) = in(i, n);
        add(op, out);
        return;
      }
      case OpKind::FlattenBwd: {
        Dims d = dimsOf(tensor(op.result));
        Func dy = T(op.operands[0]);
        if (d.image)
          out(c, x, y, n) = dy((c * d.H + y) * d.W + x, n);
        else
          out(i, n) = dy(i, n);
        add(op, out);
        return;
      }
      case OpKind::Linear: {
        // in (f, n), weight (f, o) -> out (o, n)
        Dims d = dimsOf(tensor(op.operands[0]));
        Func in = T(op.operands[0]), w = T(op.operands[1]);
        RDom r(0, d.F, name + "_r");
        Func acc(name + "_acc");
        acc(o, n) = op.operands.size() > 2 ? Expr(T(op.operands[2])(o)) : Expr(0.0f);
        acc(o, n) += in(r, n) * w(r, o);
        out(o, n) = acc(o, n);
        LoweredOp& l = add(op, out);
        l.acc = acc;
        l.r = r;
        return;
      }
      case OpKind::LinearBwdData: {
        // dy (o, n), weight (f, o) -> dx (f, n)
        Dims d = dimsOf(tensor(op.operands[0]));
        Func dy = T(op.operands[0]), w = T(op.operands[1]);
        RDom r(0, d.F, name + "_r");
        out(i, n) = 0.0f;
        out(i, n) += dy(r, n) * w(i, r);
        add(op, out);
        return;
      }
      case OpKind::LinearBwdWeight: {
        // dy (o, n), in (f, n) -> dw (f, o)
        Dims d = dimsOf(tensor(op.operands[0]));
        Func dy = T(op.operands[0]), in = T(op.operands[1]);
        RDom r(0, d.N, name + "_r");
        out(i, o) = 0.0f;
        out(i, o) += dy(o, r) * in(i, r);
        add(op, out);
        return;
      }
      case OpKind::Softmax: {
        Dims d = dimsOf(tensor(op.operands[0]));
        Func in = T(op.operands[0]);
        RDom r(0, d.F, name + "_r");
        Func m(name + "_max"), e(name + "_exp"), s(name + "_sum");
        m(n) = maxOf(d.F, [&](Expr t) { return in(t, n); }, name + "_m");
        e(o, n) = exp(in(o, n) - m(n));
        s(n) = sum(e(r, n));
        out(o, n) = e(o, n) / s(n);
        add(op, out).helpers.push_back(s);
        return;
      }
      case OpKind::SoftmaxBwd: {
        Dims d = dimsOf(tensor(op.operands[0]));
        Func dy = T(op.operands[0]), yF = T(op.operands[1]);
        RDom r(0, d.F, name + "_r");
        Func dot(name + "_dot");
        dot(n) = sum(dy(r, n) * yF(r, n));
        out(o, n) = yF(o, n) * (dy(o, n) - dot(n));
        add(op, out).helpers.push_back(dot);
        return;
      }
      case OpKind::CrossEntropy:
      case OpKind::Mse:
        lowerLoss(op, name);
        return;
      case OpKind::CrossEntropyBwd: {
        // (softmax(logits) - onehot) / valid for real samples, 0 for padding
        Func lse = L_.lse;
        Expr label = label_(n);
        Expr p = exp(T(op.operands[0])(o, n) - lse(n));
        out(o, n) = select(n < L_.valid, (p - select(o == label, 1.0f, 0.0f)) / cast<float>(L_.valid), 0.0f);
        add(op, out);
        return;
      }
      case OpKind::MseBwd: {
        Expr label = label_(n);
        Expr diff = T(op.operands[0])(o, n) - select(o == label, 1.0f, 0.0f);
        Expr count = cast<float>(L_.valid * static_cast<int>(g_.classes));
        out(o, n) = select(n < L_.valid, 2.0f * diff / count, 0.0f);
        add(op, out);
        return;
      }
      default:
        assert(false && "op has no lowering");
    }
  }

  template <typename Fn>
  void elementwise(const Op& op, Func& out, Fn fn) {
    Func in = T(op.operands[0]);
    std::vector<Var> v = varsOf(op.result);
    out(v) = fn(in(v));
    add(op, out);
  }

  template <typename Fn>
  void elementwise2(const Op& op, Func& out, Fn fn) {
    Func a = T(op.operands[0]), b = T(op.operands[1]);
    std::vector<Var> v = varsOf(op.result);
    out(v) = fn(a(v), b(v));
    add(op, out);
  }

  std::vector<Var> varsOf(int tensorId) const {
    return dimsOf(tensor(tensorId)).image ? std::vector<Var>{c, x, y, n} : std::vector<Var>{i, n};
  }

  // The loss (mean over the valid samples) and the count of correct
  // predictions; logits (o, n) or outputs (o, n), labels (n).
  void lowerLoss(const Op& op, const std::string& name) {
    Func in = T(op.operands[0]);
    const int K = static_cast<int>(g_.classes);
    const int N = static_cast<int>(g_.train.batch);
    RDom k(0, K, name + "_k");
    RDom b(0, N, name + "_b");
    b.where(b < L_.valid);
    Expr label = label_(n);
    Func perSample(name + "_per_sample");
    if (op.kind == OpKind::CrossEntropy) {
      // log-softmax + negative log-likelihood, stable: lse = m + log(sum(exp(x - m)))
      Func m(name + "_max"), lse(name + "_lse");
      m(n) = maxOf(K, [&](Expr t) { return in(t, n); }, name + "_m");
      lse(n) = m(n) + log(sum(exp(in(k, n) - m(n))));
      perSample(n) = lse(n) - in(label, n);
      L_.lse = lse;
      L_.ops.push_back({&op, false, perSample, Func(), RDom(), Func(), {lse}});
    } else {
      Expr diff = in(k, n) - select(k == label, 1.0f, 0.0f);
      perSample(n) = sum(diff * diff) / float(K);
      L_.ops.push_back({&op, false, perSample, Func(), RDom(), Func(), {}});
    }
    Func loss("loss");
    loss() = sum(perSample(b)) / cast<float>(L_.valid);
    // argmax of the scores the user sees (the output) equals that of the logits
    Func predicted(name + "_predicted");
    predicted(n) = argmax(k, T(g_.output)(k, n))[0];
    Func correct("correct");
    correct() = sum(select(predicted(b) == label_(b), 1, 0));
    T(op.result) = loss;
    L_.loss = loss;
    L_.correct = correct;
    L_.ops.back().helpers.push_back(predicted);
  }

  const Graph& g_;
  Lowered L_;
  Func sample_{"sample"}, label_{"label"};  // the batch's sample indices and labels
};

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
bool Lowered::inMemory(int tensor) const {
  const LoweredOp* p = producer(tensor);
  return !p || !p->inlined;
}

std::vector<int64_t> funcExtents(const Shape& s) {
  if (s.size() == 4) return {s[1], s[3], s[2], s[0]};
  return std::vector<int64_t>(s.rbegin(), s.rend());
}

Lowered lowerGraph(const Graph& graph) {
  Lowered L = Lowering(graph).run();
  const Fusion fusion = fuse(graph);
  for (LoweredOp& l : L.ops) l.inlined = fusion.inlined[l.op - graph.ops.data()];
  if (graph.hasGrad) {
    for (const Slot& s : planMemory(graph, fusion).activations) {
      Func f = L.tensors[s.tensor];
      const std::vector<int64_t> extents = funcExtents(graph.tensors[s.tensor].shape);
      for (size_t d = 0; d < extents.size(); ++d)
        f.output_buffer().dim(static_cast<int>(d)).set_bounds(0, static_cast<int>(extents[d]));
      L.activations.push_back(f);
    }
  }
  return L;
}

LoweredUpdate lowerUpdate(const Graph& g) {
  LoweredUpdate u;
  u.params = ImageParam(Float(32), 1, "params");
  u.grads = ImageParam(Float(32), 1, "grads");
  const Optimizer& opt = g.train.optimizer;
  Expr p = u.params(i), grad = u.grads(i);
  auto scalar = [&](const char* name) {
    u.scalars.emplace_back(name);
    return Expr(u.scalars.back());
  };
  if (opt.kind == Optimizer::Kind::Adam) {
    // torch.optim.Adam (1.13, single tensor): L2 weight decay into the
    // gradient, then the moments, then p += -step_size * m / denom.
    u.state = {ImageParam(Float(32), 1, "exp_avg"), ImageParam(Float(32), 1, "exp_avg_sq")};
    u.scalars.reserve(8);
    Expr beta1 = scalar("beta1"), oneMinusBeta1 = scalar("one_minus_beta1");
    Expr beta2 = scalar("beta2"), oneMinusBeta2 = scalar("one_minus_beta2");
    Expr eps = scalar("eps"), wd = scalar("weight_decay");
    Expr negStepSize = scalar("neg_step_size"), bc2Sqrt = scalar("bias_correction2_sqrt");
    Expr gw = select(wd != 0.0f, grad + wd * p, grad);
    Expr m = u.state[0](i) * beta1 + gw * oneMinusBeta1;
    Expr v = u.state[1](i) * beta2 + gw * gw * oneMinusBeta2;
    Expr denom = sqrt(v) / bc2Sqrt + eps;
    u.out = Func("adam_update");
    u.out(i) = Tuple(p + negStepSize * (m / denom), m, v);
  } else {
    // torch.optim.SGD: d = g + wd p; buf = momentum buf + d; p += -lr buf
    u.scalars.reserve(3);
    Expr negLr = scalar("neg_lr"), momentum = scalar("momentum"), wd = scalar("weight_decay");
    Expr d = select(wd != 0.0f, grad + wd * p, grad);
    u.out = Func("sgd_update");
    if (opt.momentum != 0) {
      u.state = {ImageParam(Float(32), 1, "momentum_buffer")};
      Expr buf = u.state[0](i) * momentum + d;
      u.out(i) = Tuple(p + negLr * buf, buf);
    } else {
      u.out(i) = p + negLr * d;
    }
  }
  return u;
}

}  // namespace cnnc
