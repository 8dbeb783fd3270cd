#include "fuse/Fuse.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "ir/Ops.h"

namespace cnnc {

namespace {

// The activations and their gradients. Pooling gradients stay kernels of
// their own: computed inside the three backward kernels that read them,
// the training step took twice as long (23 -> 45 ms, alternating runs on
// the 2-core AMD EPYC, 2026-11-28).
bool elementwise(OpKind kind) {
  switch (kind) {
    case OpKind::Relu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::ReluBwd:
    case OpKind::SigmoidBwd:
    case OpKind::TanhBwd:
      return true;
    default:
      return false;
  }
}

}  // namespace

Fusion fuse(const Graph& g) {
  Fusion f;
  f.inlined.assign(g.ops.size(), false);
  std::vector<int> producer(g.tensors.size(), -1);
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (g.ops[i].result >= 0) producer[g.ops[i].result] = static_cast<int>(i);
  // What a pipeline returns must be written: the outputs, the loss, the
  // gradients the optimizer reads.
  std::vector<bool> returned(g.tensors.size(), false);
  for (int t : {g.output, g.logits, g.loss})
    if (t >= 0) returned[t] = true;
  for (int t : g.paramGrads) returned[t] = true;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    f.inlined[i] = elementwise(op.kind) && op.result >= 0 && !returned[op.result];
  }
  // A pooling or flatten gradient followed by activation gradients (its
  // only reader): the chain is one kernel writing the last gradient, so
  // the kernels after it read one tensor instead of recomputing the
  // activation's gradient from two (each reads every element of it at
  // least once; the convolution weight gradients used to copy it first).
  std::vector<int> readers(g.tensors.size(), 0), reader(g.tensors.size(), -1);
  for (size_t i = 0; i < g.ops.size(); ++i)
    for (int t : g.ops[i].operands) {
      ++readers[t];
      reader[t] = static_cast<int>(i);
    }
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const OpKind kind = g.ops[i].kind;
    if (kind != OpKind::MaxPoolBwd && kind != OpKind::AvgPoolBwd && kind != OpKind::FlattenBwd) continue;
    int cur = static_cast<int>(i);
    for (;;) {
      const int t = g.ops[cur].result;
      if (t < 0 || returned[t] || readers[t] != 1) break;
      const int next = reader[t];
      const OpKind nk = g.ops[next].kind;
      if ((nk != OpKind::ReluBwd && nk != OpKind::SigmoidBwd && nk != OpKind::TanhBwd) || g.ops[next].operands[0] != t)
        break;
      f.inlined[cur] = true;
      f.inlined[next] = false;
      cur = next;
    }
  }
  f.kernelOf.assign(g.ops.size(), -1);
  // The loss's gradient is computed in the loss's kernel: both read the
  // logits (or outputs) and the labels, once per sample.
  int lossOp = -1;
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (g.ops[i].kind == OpKind::CrossEntropy || g.ops[i].kind == OpKind::Mse) lossOp = static_cast<int>(i);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (f.inlined[i]) continue;
    const OpKind kind = g.ops[i].kind;
    if (lossOp >= 0 && (kind == OpKind::CrossEntropyBwd || kind == OpKind::MseBwd)) {
      Kernel& lk = f.kernels[f.kernelOf[lossOp]];
      lk.also.push_back(static_cast<int>(i));
      for (int t : g.ops[i].operands)
        if (std::find(lk.reads.begin(), lk.reads.end(), t) == lk.reads.end()) lk.reads.push_back(t);
      f.kernelOf[i] = f.kernelOf[lossOp];
      continue;
    }
    Kernel k;
    k.root = static_cast<int>(i);
    f.kernelOf[i] = static_cast<int>(f.kernels.size());
    std::function<void(int)> visit = [&](int opIndex) {
      for (int t : g.ops[opIndex].operands) {
        const int p = producer[t];
        if (p >= 0 && f.inlined[p]) {
          if (std::find(k.fused.begin(), k.fused.end(), p) != k.fused.end()) continue;
          visit(p);
          k.fused.push_back(p);
        } else if (std::find(k.reads.begin(), k.reads.end(), t) == k.reads.end()) {
          k.reads.push_back(t);
        }
      }
    };
    visit(k.root);
    f.kernels.push_back(std::move(k));
  }
  return f;
}

std::string printFused(const Graph& g, const Fusion& f) {
  auto ref = [&](int t) { return "%" + g.tensors[t].name; };
  std::string out = fmt::format("// {} kernels for {} ops: elementwise ops are computed inside the kernels that read them, "
                                "pooling and flatten gradients inside the activation gradient after them\n",
                                f.kernels.size(), g.ops.size());
  const char* phases[] = {"forward", "backward", "update"};
  int inlined = 0;
  for (bool b : f.inlined) inlined += b;
  out += fmt::format("// {} of {} ops inlined\n", inlined, g.ops.size());
  auto list = [&](const std::vector<int>& tensors) {
    std::string s;
    for (int t : tensors) s += (s.empty() ? "" : ", ") + ref(t);
    return s;
  };
  for (size_t i = 0; i < f.kernels.size(); ++i) {
    const Kernel& k = f.kernels[i];
    const Op& root = g.ops[k.root];
    std::string phase = phases[static_cast<int>(root.phase)], what = opInfo(root.kind).name;
    std::string results = root.result >= 0 ? ref(root.result) : "its operands, in place";
    for (int a : k.also) {
      phase += std::string("+") + phases[static_cast<int>(g.ops[a].phase)];
      what += std::string(" + ") + opInfo(g.ops[a].kind).name;
      results += ", " + ref(g.ops[a].result);
    }
    out += fmt::format("kernel {} {} {} -> {}\n", i, phase, what, results);
    out += fmt::format("    reads {}\n", list(k.reads));
    for (int p : k.fused)
      out += fmt::format("    fused {} = {}({})\n", ref(g.ops[p].result), opInfo(g.ops[p].kind).name,
                         list(g.ops[p].operands));
  }
  return out;
}

}  // namespace cnnc
