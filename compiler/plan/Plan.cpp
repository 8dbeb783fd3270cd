#include "plan/Plan.h"

#include <fmt/format.h>

#include "ir/Ops.h"

namespace cnnc {

namespace {

// `tensors` one after another in an arena of `floats`, each aligned.
void placeInOrder(const Graph& g, const std::vector<int>& tensors, std::vector<Slot>& slots, int64_t& floats) {
  for (int id : tensors) {
    Slot s;
    s.tensor = id;
    s.offset = floats;
    s.count = floatsOf(g.tensors[id]);
    floats += alignedFloats(s.count);
    slots.push_back(s);
  }
}

}  // namespace

MemoryPlan planMemory(const Graph& g, const Fusion& f) {
  MemoryPlan p;
  placeInOrder(g, g.params, p.params, p.paramFloats);
  placeInOrder(g, g.buffers, p.buffers, p.bufferFloats);
  // The optimizer's state arrays are the graph's (grad made them).
  for (TensorRole role : g.roles) p.stateArenas += role == TensorRole::OptState;
  // Kernel results other than the loss and the parameter gradients (which
  // have arenas of their own).
  std::vector<bool> elsewhere(g.tensors.size(), false);
  if (g.loss >= 0) elsewhere[g.loss] = true;
  for (int t : g.paramGrads) elsewhere[t] = true;
  std::vector<int> slotOf(g.tensors.size(), -1);
  for (size_t k = 0; k < f.kernels.size(); ++k) {
    std::vector<int> written = {f.kernels[k].root};
    written.insert(written.end(), f.kernels[k].also.begin(), f.kernels[k].also.end());
    for (int w : written) {
      const Op& op = g.ops[w];
      if (op.phase == Phase::Update || op.result < 0 || elsewhere[op.result]) continue;
      Slot s;
      s.tensor = op.result;
      s.offset = p.activationFloats;
      s.count = floatsOf(g.tensors[op.result]);
      s.writer = static_cast<int>(k);
      p.activationFloats += alignedFloats(s.count);
      slotOf[op.result] = static_cast<int>(p.activations.size());
      p.activations.push_back(s);
    }
  }
  for (size_t k = 0; k < f.kernels.size(); ++k)
    for (int t : f.kernels[k].reads)
      if (slotOf[t] >= 0) p.activations[slotOf[t]].lastReader = static_cast<int>(k);
  return p;
}

std::string printPlan(const Graph& g, const Fusion&, const MemoryPlan& p) {
  auto producerOf = [&](int tensor) {
    for (size_t i = 0; i < g.ops.size(); ++i)
      if (g.ops[i].result == tensor) return static_cast<int>(i);
    return 0;
  };
  auto mib = [](int64_t floats) { return fmt::format("{:.2f} MiB", floats * 4.0 / (1 << 20)); };
  std::string out = fmt::format("// memory of one training step of '{}' at batch {}, placed at compile time\n",
                                g.model, g.train.batch);
  out += fmt::format("arena params: {} floats ({})\n", p.paramFloats, mib(p.paramFloats));
  for (const Slot& s : p.params)
    out += fmt::format("  [{}, {}) %{}\n", s.offset, s.offset + s.count, g.tensors[s.tensor].name);
  out += fmt::format("arena grads: {} floats ({}), the same offsets\n", p.paramFloats, mib(p.paramFloats));
  for (int i = 0; i < p.stateArenas; ++i)
    out += fmt::format("arena state.{}: {} floats ({}), the same offsets\n", i, p.paramFloats, mib(p.paramFloats));
  if (!p.buffers.empty()) {
    out += fmt::format("arena buffers: {} floats ({})\n", p.bufferFloats, mib(p.bufferFloats));
    for (const Slot& s : p.buffers)
      out += fmt::format("  [{}, {}) %{}\n", s.offset, s.offset + s.count, g.tensors[s.tensor].name);
  }
  out += fmt::format("arena activations: {} floats ({})\n", p.activationFloats, mib(p.activationFloats));
  for (const Slot& s : p.activations) {
    std::string readers = s.lastReader < 0 ? "read by the caller" : fmt::format("last read by kernel {}", s.lastReader);
    const Tensor& t = g.tensors[s.tensor];
    const std::string bytes = t.dtype == DType::F32 ? "" : fmt::format(" ({})", dtypeName(t.dtype));
    out += fmt::format("  [{}, {}) %{}{}  written by kernel {} ({}), {}\n", s.offset, s.offset + s.count, t.name, bytes,
                       s.writer, opInfo(g.ops[producerOf(s.tensor)].kind).name, readers);
  }
  const int64_t total = p.paramFloats * (2 + p.stateArenas) + p.bufferFloats + p.activationFloats;
  out += fmt::format("peak: {} bytes ({}) in {} arenas, allocated once by the trainer\n", total * 4, mib(total),
                     3 + p.stateArenas + (p.buffers.empty() ? 0 : 1));
  return out;
}

}  // namespace cnnc
