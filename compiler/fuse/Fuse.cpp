#include "fuse/Fuse.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "ir/Ops.h"

namespace cnnc {

namespace {

// What writing a tensor and reading it back costs per element, in the
// units of the rows' evalCost (one relu's evaluation): recomputing an op inside its readers pays off while the extra
// evaluations cost less than this.
constexpr int64_t kMemoryCost = 4;

// How many times `reader`'s kernel evaluates each element of its operand
// `index` when that operand is computed inside it (its row's
// readsPerElement): convolutions (forward and both gradients) stage their
// inputs in padded copies, once; a linear layer reads each input once per
// output feature; overlapping windows read an element once per window.
int64_t readsPerElement(const Graph& g, const Op& reader, int index) {
  const OpInfo& info = opInfo(reader.kind);
  return info.readsPerElement ? info.readsPerElement(g, reader, index) : 1;
}

// Which elementwise ops (and routed gradients that no activation gradient
// follows) are computed inside their readers: those whose
// every evaluation in its readers (recursively, through readers that are
// inlined themselves) costs less extra work than writing and reading it
// back would; `forced` overrides that (1: inlined, 0: a kernel). Readers
// come after their producers in the op list, so one pass from the end sees
// every reader decided first.
std::vector<bool> inlineByCost(const Graph& g, const std::vector<bool>& returned, const std::vector<int>& forced) {
  std::vector<bool> inlined(g.ops.size(), false);
  std::vector<int64_t> evals(g.ops.size(), 1);  // evaluations of each element per step
  std::vector<std::vector<std::pair<int, int>>> readers(g.tensors.size());  // (op, operand index)
  for (size_t i = 0; i < g.ops.size(); ++i)
    for (size_t j = 0; j < g.ops[i].operands.size(); ++j)
      readers[g.ops[i].operands[j]].push_back({static_cast<int>(i), static_cast<int>(j)});
  for (size_t i = g.ops.size(); i-- > 0;) {
    const Op& op = g.ops[i];
    if (forced[i] == 0 || op.result < 0 || returned[op.result]) continue;
    const FuseAs as = opInfo(op.kind).fuse;
    if (forced[i] != 1 && !isElementwise(op.kind) && as != FuseAs::RoutedGradient) continue;
    int64_t n = 0;
    for (auto [r, j] : readers[op.result]) n += readsPerElement(g, g.ops[r], j) * (inlined[r] ? evals[r] : 1);
    if (forced[i] != 1 && (n - 1) * opInfo(op.kind).evalCost > kMemoryCost) continue;
    inlined[i] = true;
    evals[i] = n;
  }
  return inlined;
}

// The ops whose kernels read tensor t: its readers, through those computed
// inside their own readers.
void kernelsReading(const Graph& g, const std::vector<bool>& inlined, int t, std::vector<int>& found) {
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    if (std::find(op.operands.begin(), op.operands.end(), t) == op.operands.end()) continue;
    if (inlined[i])
      kernelsReading(g, inlined, op.result, found);
    else if (std::find(found.begin(), found.end(), static_cast<int>(i)) == found.end())
      found.push_back(static_cast<int>(i));
  }
}

// A direct convolution that only a pool whose windows do not overlap reads
// (through activations computed inside it; and the maxpool's index, which
// joins the pool's kernel) is computed row by row inside the pool's
// kernel: its result is never written. mnist's conv1 wrote 3.2 MB a
// training step, which its relu's gradient read back, at 63% of the
// peak (26.5 GB/s a core: write-allocating bound); ScheduleCpu.cpp:
// convolutionsIntoPools.
void convolutionsIntoPools(const Graph& g, Fusion& f, const std::vector<bool>& returned) {
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& conv = g.ops[i];
    if (conv.kind != OpKind::Conv2d || f.winograd[i] || returned[conv.result]) continue;
    std::vector<int> readers;
    kernelsReading(g, f.inlined, conv.result, readers);
    if (readers.empty()) continue;
    const Op& pool = g.ops[readers[0]];
    if (pool.kind != OpKind::MaxPool && pool.kind != OpKind::AvgPool) continue;
    const auto kernel = pool.attrs.pair("kernel"), stride = pool.attrs.pair("stride");
    if (stride[0] < kernel[0] || stride[1] < kernel[1]) continue;
    bool alone = true;
    for (size_t r = 1; r < readers.size(); ++r)
      alone = alone && readers[r] == readers[0] + 1 && opInfo(g.ops[readers[r]].kind).fuse == FuseAs::Joined;
    if (!alone) continue;
    f.inlined[i] = true;
    f.insidePool[i] = readers[0];
  }
}

// Whether op i (FuseAs::Joined) reads what the kernel of the op before it
// reads or computes: then one loop nest computes both from the same data.
bool joins(const Graph& g, const Fusion& f, size_t i) {
  const int host = f.kernelOf[i - 1];
  if (host < 0 || f.kernels[host].root != static_cast<int>(i) - 1) return false;
  const Kernel& k = f.kernels[host];
  for (int t : g.ops[i].operands) {
    bool found = std::find(k.reads.begin(), k.reads.end(), t) != k.reads.end();
    for (int p : k.fused) found = found || g.ops[p].result == t;
    if (!found) return false;
  }
  return true;
}

}  // namespace

Fusion fuse(const Graph& g, ConvAlgorithm conv, const FmaUnits& fma) {
  Fusion f;
  f.fma = fma;
  for (const Op& op : g.ops) f.winograd.push_back(chooseWinogradTile(g, op, conv, fma));
  f.inlined.assign(g.ops.size(), false);
  f.insidePool.assign(g.ops.size(), -1);
  std::vector<int> producer(g.tensors.size(), -1);
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (g.ops[i].result >= 0) producer[g.ops[i].result] = static_cast<int>(i);
  // What a pipeline returns must be written: the outputs, the loss, the
  // gradients the optimizer reads.
  std::vector<bool> returned(g.tensors.size(), false);
  for (int t : {g.output, g.logits, g.loss})
    if (t >= 0) returned[t] = true;
  for (int t : g.paramGrads) returned[t] = true;
  // A pooling or flatten gradient followed by activation gradients or
  // another routed gradient (its only reader): the chain is one kernel
  // writing the last gradient, so the kernels after it read one tensor
  // instead of recomputing the activation's gradient from two (each reads
  // every element of it at least once; the convolution weight gradients
  // used to copy it first). A routed gradient in no chain is computed
  // inside its readers where that recomputes little (inlineByCost): a
  // maxpool's gradient after a relu reads the index the forward kept and
  // dy, a compare and a select.
  std::vector<int> readers(g.tensors.size(), 0), reader(g.tensors.size(), -1);
  for (size_t i = 0; i < g.ops.size(); ++i)
    for (int t : g.ops[i].operands) {
      ++readers[t];
      reader[t] = static_cast<int>(i);
    }
  std::vector<int> forced(g.ops.size(), -1);  // 1: computed inside its reader; 0: a kernel
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (opInfo(g.ops[i].kind).fuse != FuseAs::RoutedGradient) continue;
    int cur = static_cast<int>(i);
    for (;;) {
      const int t = g.ops[cur].result;
      if (t < 0 || returned[t] || readers[t] != 1) break;
      const int next = reader[t];
      const FuseAs as = opInfo(g.ops[next].kind).fuse;
      if ((as != FuseAs::ElementwiseGradient && as != FuseAs::RoutedGradient) || g.ops[next].operands[0] != t) break;
      forced[cur] = 1;
      forced[next] = 0;
      cur = next;
    }
  }
  f.inlined = inlineByCost(g, returned, forced);
  convolutionsIntoPools(g, f, returned);
  f.kernelOf.assign(g.ops.size(), -1);
  // The loss's gradient is computed in the loss's kernel: both read the
  // logits (or outputs) and the labels, once per sample.
  int lossOp = -1;
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (opInfo(g.ops[i].kind).fuse == FuseAs::Loss) lossOp = static_cast<int>(i);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (f.inlined[i]) continue;
    if (lossOp >= 0 && opInfo(g.ops[i].kind).fuse == FuseAs::LossGradient) {
      Kernel& lk = f.kernels[f.kernelOf[lossOp]];
      lk.also.push_back(static_cast<int>(i));
      for (int t : g.ops[i].operands)
        if (std::find(lk.reads.begin(), lk.reads.end(), t) == lk.reads.end()) lk.reads.push_back(t);
      f.kernelOf[i] = f.kernelOf[lossOp];
      continue;
    }
    if (opInfo(g.ops[i].kind).fuse == FuseAs::Joined && i > 0 && joins(g, f, i)) {
      // Computed in the kernel of the op before it, from what that reads.
      Kernel& host = f.kernels[f.kernelOf[i - 1]];
      host.also.push_back(static_cast<int>(i));
      f.kernelOf[i] = f.kernelOf[i - 1];
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
  std::string out = fmt::format("// {} kernels for {} ops: elementwise ops are computed inside the kernels that read them "
                                "where that recomputes little, pooling and flatten gradients inside the activation "
                                "gradient after them\n",
                                f.kernels.size(), g.ops.size());
  const char* phases[] = {"forward", "backward", "update"};
  int inlined = 0;
  for (bool b : f.inlined) inlined += b;
  out += fmt::format("// {} of {} ops inlined\n", inlined, g.ops.size());
  out += fmt::format("// cost model: multiply-add units {} (cnnc --fma)\n", describeFma(f.fma));
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
    if (const int m = f.winograd[k.root])
      what += fmt::format(" (winograd {})", winogradName(m, static_cast<int>(root.attrs.pair("kernel")[0])));
    out += fmt::format("kernel {} {} {} -> {}\n", i, phase, what, results);
    out += fmt::format("    reads {}\n", list(k.reads));
    for (int p : k.fused)
      out += fmt::format("    fused {} = {}({})\n", ref(g.ops[p].result), opInfo(g.ops[p].kind).name,
                         list(g.ops[p].operands));
  }
  return out;
}

}  // namespace cnnc
