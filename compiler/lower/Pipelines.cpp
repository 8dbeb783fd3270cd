#include "lower/Pipelines.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "lower/ScheduleCpu.h"
#include "lower/ScheduleGpu.h"
#include "support/Invariant.h"

#ifndef CNNC_HALIDE_PLUGIN_DIR
#error "the build defines CNNC_HALIDE_PLUGIN_DIR (Halide's autoscheduler plugins)"
#endif

namespace cnnc {

namespace fs = std::filesystem;
using namespace Halide;

const char* gpuApiName(GpuApi api) { return api == GpuApi::Cuda ? "cuda" : "opencl"; }

bool halideGuard(const char* what, const std::function<void()>& fn) {
  try {
    fn();
    return true;
  } catch (const Halide::Error& e) {
    fmt::print(stderr, "cnnc: error: {} failed in Halide: {}\n", what, e.what());
    return false;
  }
}

namespace {

// CPUID leaf 7's AVX512-FP16 bit (EDX bit 23).
bool cpuHasAvx512Fp16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 23));
#else
  return false;
#endif
}

}  // namespace

Target hostTarget() {
  Target t = get_host_target();
  if (t.has_feature(Target::AVX512_SapphireRapids) && !cpuHasAvx512Fp16())
    t = t.without_feature(Target::AVX512_SapphireRapids);
  return t;
}

namespace {

// The CPU part of --target: `host`, or a Halide CPU target string.
bool parseCpuTarget(const std::string& text, Target& cpu, std::string& why) {
  if (text == "host") {
    cpu = hostTarget();
    return true;
  }
  if (!Target::validate_target_string(text)) {
    why = "not a Halide target";
    return false;
  }
  Target t(text);
  if (t.has_gpu_feature() || (t.arch != Target::X86 && t.arch != Target::ARM) || t.os != Target::Linux) {
    why = "not a Linux CPU target (GPU APIs are added with ,cuda or ,opencl)";
    return false;
  }
  cpu = t;
  return true;
}

}  // namespace

bool parseTargets(const std::string& text, Targets& targets, std::string& why) {
  targets.gpus.clear();
  std::string cpu;
  for (std::string_view rest = text; why.empty();) {
    const size_t comma = rest.find(',');
    const std::string part(rest.substr(0, comma));
    const bool isCuda = part == "cuda", isOpenCL = part == "opencl";
    if (part.empty()) {
      why = "an empty name in the list";
    } else if (isCuda || isOpenCL) {
      const GpuApi api = isCuda ? GpuApi::Cuda : GpuApi::OpenCL;
      if (std::find(targets.gpus.begin(), targets.gpus.end(), api) != targets.gpus.end()) why = part + " is named twice";
      targets.gpus.push_back(api);
    } else if (!cpu.empty()) {
      why = "one CPU target only, found '" + cpu + "' and '" + part + "'";
    } else {
      cpu = part;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(targets.gpus.begin(), targets.gpus.end());
  if (why.empty() && cpu.empty()) why = "no CPU target; add host";
  return why.empty() && parseCpuTarget(cpu, targets.cpu, why);
}

Target gpuTarget(const Target& cpu, GpuApi api) {
  if (api == GpuApi::Cuda) return cpu.with_feature(Target::CUDA).with_feature(Target::CUDACapability61);
  return cpu.with_feature(Target::OpenCL);
}

namespace {

std::string lowercase(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Estimates for an autoscheduler: every input and output's extent (they
// are all known but the dataset's size, guessed as MNIST's).
// Halide's (innermost-first) region of an IR shape.
Region regionOf(const Shape& s) {
  Region r;
  for (size_t d = s.size(); d-- > 0;) r.push_back({0, static_cast<int>(s[d])});
  return r;
}

void setEstimates(Lowered& L, const Graph& g, const std::vector<Func>& outputs, const std::vector<Shape>& shapes) {
  L.images.set_estimates({{0, static_cast<int>(numElements(g.sampleShape))}, {0, 60000}});
  L.labels.set_estimates({{0, 60000}});
  L.order.set_estimates({{0, 60000}});
  L.first.set_estimate(0);
  L.valid.set_estimate(static_cast<int>(g.train.batch));
  L.noise.set_estimate(0);
  for (size_t i = 0; i < g.params.size(); ++i) L.params[i].set_estimates(regionOf(g.tensors[g.params[i]].shape));
  for (size_t i = 0; i < g.buffers.size(); ++i) L.buffers[i].set_estimates(regionOf(g.tensors[g.buffers[i]].shape));
  for (size_t i = 0; i < outputs.size(); ++i) {
    Func f = outputs[i];
    f.set_estimates(regionOf(shapes[i]));
  }
}

}  // namespace

namespace {

// The arguments both pipelines take: the data, the batch, the parameters
// and the buffers (running statistics).
std::vector<Argument> commonArgs(Lowered& L) {
  std::vector<Argument> args = {L.images, L.labels, L.order, L.first, L.valid};
  for (ImageParam& param : L.params) args.push_back(param);
  for (ImageParam& buffer : L.buffers) args.push_back(buffer);
  return args;
}

// The training step's kernels as pipelines of their own, in order: each
// kernel's outputs (the loss and the count of correct predictions, the
// gradients, its arena slots, the buffers' new values) from `L`, lowered
// byKernel, and the glue's value for each argument and output.
std::vector<KernelPipeline> kernelPipelines(const Lowered& L, const Graph& g, const Fusion& fusion,
                                            const MemoryPlan& plan) {
  struct Output {
    Func f;
    std::string value;
  };
  std::vector<std::vector<Output>> outputs(fusion.kernels.size());
  auto kernelOf = [&](int tensor) {
    const LoweredOp* p = L.producer(tensor);
    require(p != nullptr, fmt::format("no op computes '{}'", g.tensors[tensor].name));
    const int k = fusion.kernelOf[p->op - g.ops.data()];
    require(k >= 0, fmt::format("no kernel writes '{}'", g.tensors[tensor].name));
    return k;
  };
  auto ownerOf = [&](int buffer) {
    for (const Op& op : g.ops)
      if (op.phase == Phase::Forward && std::find(op.operands.begin(), op.operands.end(), buffer) != op.operands.end())
        return fusion.kernelOf[&op - g.ops.data()];
    internalError(fmt::format("no op reads the buffer '{}'", g.tensors[buffer].name));
  };
  const int lossKernel = kernelOf(g.loss);
  outputs[lossKernel].push_back({L.loss, "b.loss"});
  outputs[lossKernel].push_back({L.correct, "b.correct"});
  for (size_t i = 0; i < g.paramGrads.size(); ++i)
    outputs[kernelOf(g.paramGrads[i])].push_back({L.grads[i], fmt::format("b.grads[{}]", i)});
  for (size_t s = 0; s < plan.activations.size(); ++s)
    outputs[kernelOf(plan.activations[s].tensor)].push_back({L.activations[s], fmt::format("b.activations[{}]", s)});
  // A batch norm computed inside the kernels that read it updates its
  // running statistics in a pipeline after every kernel, from its input
  // in the arena (its statistics computed again).
  outputs.emplace_back();
  for (size_t k = 0; k < g.buffers.size(); ++k) {
    const int kernel = ownerOf(g.buffers[k]);
    outputs[kernel >= 0 ? kernel : outputs.size() - 1].push_back({L.buffersOut[k], fmt::format("b.buffers[{}]", k)});
  }

  std::map<std::string, std::string> values = {{"images", "b.images"}, {"labels", "b.labels"}, {"order", "b.order"},
                                               {"first", "first"},     {"valid", "valid"},     {"noise", "b.noise"},   {"augment", "b.augment"}};
  for (size_t i = 0; i < L.params.size(); ++i) values[L.params[i].name()] = fmt::format("b.params[{}]", i);
  for (size_t i = 0; i < L.buffers.size(); ++i) values[L.buffers[i].name()] = fmt::format("b.buffers[{}]", i);
  for (size_t s = 0; s < L.arenaInputs.size(); ++s) values[L.arenaInputs[s].name()] = fmt::format("b.activations[{}]", s);
  for (size_t i = 0; i < L.gradInputs.size(); ++i) values[L.gradInputs[i].name()] = fmt::format("b.grads[{}]", i);
  std::vector<KernelPipeline> kernels;
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k].empty()) continue;  // the optimizer's kernel: a pipeline of its own already
    KernelPipeline kp;
    kp.name = k < fusion.kernels.size() ? fmt::format("train_k{:02}", k) : "train_buffers";
    std::vector<Func> funcs;
    for (const Output& o : outputs[k]) {
      funcs.push_back(o.f);
      kp.outputValues.push_back(o.value);
    }
    kp.pipeline = Pipeline(funcs);
    kp.args = kp.pipeline.infer_arguments();
    for (const Argument& a : kp.args) {
      auto v = values.find(a.name);
      require(v != values.end(), fmt::format("kernel {} reads '{}', which the trainer does not pass", k, a.name));
      kp.argValues.push_back(v->second);
    }
    kernels.push_back(std::move(kp));
  }
  return kernels;
}

}  // namespace

Pipelines buildPipelines(const Graph& g, const Fusion& fusion, const MemoryPlan& plan, const Target& target,
                         const std::string& autoscheduler) {
  Pipelines p;
  p.target = target;
  // Training and evaluation are lowerings of their own: the modes differ
  // (batch norm, dropout), and the training step computes the loss with
  // its gradient, which evaluation does not have.
  // Winograd has CPU schedules only (GPUs and autoschedulers get direct convolutions).
  const bool directOnly = target.has_gpu_feature() || !autoscheduler.empty();
  p.step = lowerGraph(g, fusion, plan, Mode::Training, directOnly);
  p.evalStep = lowerGraph(g, fusion, plan, Mode::Evaluation, directOnly);
  p.update = lowerUpdate(g);
  if (target.has_gpu_feature()) {
    scheduleGpu(p.step, g, target);
    scheduleGpu(p.evalStep, g, target);
    scheduleUpdateGpu(p.update, target);
  } else if (autoscheduler.empty()) {
    scheduleCpu(p.step, g, target, PipelineKind::Training, fusion.fma);
    scheduleCpu(p.evalStep, g, target, PipelineKind::Evaluation, fusion.fma);
    scheduleUpdateCpu(p.update, target);
  } else {
    scheduleUpdateCpu(p.update, target);
  }

  // Training: + the dropout key -> loss, correct, gradients, the kernels'
  // results (in the activation arena at the plan's offsets), the buffers'
  // new values.
  p.trainArgs = commonArgs(p.step);
  p.trainArgs.push_back(p.step.noise);
  p.trainArgs.push_back(p.step.augment);
  std::vector<Func> trainOutputs = {p.step.loss, p.step.correct};
  trainOutputs.insert(trainOutputs.end(), p.step.grads.begin(), p.step.grads.end());
  trainOutputs.insert(trainOutputs.end(), p.step.activations.begin(), p.step.activations.end());
  trainOutputs.insert(trainOutputs.end(), p.step.buffersOut.begin(), p.step.buffersOut.end());
  p.train = Pipeline(trainOutputs);
  p.evalArgs = commonArgs(p.evalStep);
  std::vector<Func> evalOutputs = {p.evalStep.tensors[g.output], p.evalStep.loss, p.evalStep.correct};
  p.eval = Pipeline(evalOutputs);
  if (autoscheduler.empty() && !target.has_gpu_feature()) {
    p.byKernel = lowerGraph(g, fusion, plan, Mode::Training, false, true);
    scheduleCpu(p.byKernel, g, target, PipelineKind::Training, fusion.fma);
    p.trainKernels = kernelPipelines(p.byKernel, g, fusion, plan);
    // `train --profile` times each kernel from the trace events around
    // its loop nests (a few calls per kernel and step; the trainer's
    // handler returns at once when not profiling). Not with Halide's own
    // profiler (--halide-profile), which reports per Func itself.
    if (!target.has_feature(Target::Profile))
      for (Lowered* L : {&p.step, &p.evalStep, &p.byKernel})
        for (std::vector<Func>& funcs : rootFuncsByKernel(*L, g, fusion))
          for (Func& f : funcs) f.trace_realizations();
  }
  if (!autoscheduler.empty() && !target.has_gpu_feature()) {
    load_plugin(std::string(CNNC_HALIDE_PLUGIN_DIR) + "/libautoschedule_" + lowercase(autoscheduler) + ".so");
    const MachineParams machine(static_cast<int>(std::thread::hardware_concurrency()), 32 << 20, 40);
    std::vector<Shape> trainShapes = {{}, {}};
    for (int t : g.paramGrads) trainShapes.push_back(g.tensors[t].shape);
    for (const Slot& s : plan.activations) {
      const std::vector<int64_t> e = funcExtents(g.tensors[s.tensor].shape);
      trainShapes.push_back(Shape(e.rbegin(), e.rend()));  // regionOf reverses it back
    }
    for (int t : g.buffers) trainShapes.push_back(g.tensors[t].shape);
    setEstimates(p.step, g, trainOutputs, trainShapes);
    p.train.auto_schedule(autoscheduler, target, machine);
    setEstimates(p.evalStep, g, evalOutputs, {{g.train.batch, g.classes}, {}, {}});
    p.eval.auto_schedule(autoscheduler, target, machine);
  }
  p.optimizer = Pipeline(p.update.out);
  p.updateArgs = {p.update.params, p.update.grads};
  for (ImageParam& s : p.update.state) p.updateArgs.push_back(s);
  for (Param<float>& s : p.update.scalars) p.updateArgs.push_back(s);
  return p;
}

GpuLaunches gpuLaunches(const Graph& g, const Fusion& fusion, const Pipelines& gpu) {
  GpuLaunches n;
  auto count = [&](const Lowered& L, bool training) {
    const std::vector<std::vector<Func>> roots = rootFuncsByKernel(L, g, fusion);
    // What no op reads is not computed (evaluation: a maxpool's index).
    const std::set<int> read = L.readTensors(g);
    std::set<std::string> unread;
    for (const LoweredOp& l : L.ops)
      if (l.op->result >= 0 && !read.count(l.op->result)) unread.insert(l.out.name());
    int launches = 0;
    for (size_t k = 0; k < fusion.kernels.size(); ++k) {
      const Phase phase = g.ops[fusion.kernels[k].root].phase;
      if (phase == Phase::Update || (!training && phase != Phase::Forward)) continue;
      for (const Func& f : roots[k])
        if (!unread.count(f.name())) launches += 1 + f.num_update_definitions();
    }
    if (training)
      for (const Func& f : L.buffersOut) launches += 1 + f.num_update_definitions();
    return launches;
  };
  n.step = count(gpu.step, true);
  n.eval = count(gpu.evalStep, false);
  n.update = 1 + gpu.update.out.num_update_definitions();
  return n;
}

std::string printHalide(const Graph& g, const Pipelines& built) {
  // Printed Func by Func, as lowered and scheduled for the CPU.
  std::string out;
  Pipelines p = built;  // handles: the same pipelines
  halideGuard("printing the pipelines", [&] {
    auto dump = [&](const std::string& title, Pipeline& pipeline) {
      out += fmt::format("pipeline {} {{\n", title);
      std::map<std::string, Internal::Function> env;
      for (Func f : pipeline.outputs()) {
        std::map<std::string, Internal::Function> more = Internal::find_transitive_calls(f.function());
        env.insert(more.begin(), more.end());
      }
      std::vector<std::string> order;
      for (const auto& [name, fn] : env) order.push_back(name);
      for (const std::string& name : Internal::topological_order(
               [&] {
                 std::vector<Internal::Function> outs;
                 for (Func f : pipeline.outputs()) outs.push_back(f.function());
                 return outs;
               }(),
               env)) {
        const Internal::Function& fn = env.at(name);
        std::ostringstream line;
        line << "  " << name << "(" << fmt::format("{}", fmt::join(fn.args(), ", ")) << ") = ";
        const std::vector<Expr>& values = fn.values();
        if (values.size() == 1) line << values[0];
        else {
          line << "{";
          for (size_t i = 0; i < values.size(); ++i) line << (i ? ", " : "") << values[i];
          line << "}";
        }
        out += line.str() + "\n";
        for (const Internal::Definition& def : fn.updates()) {
          std::ostringstream u;
          u << "  " << name << "(";
          for (size_t i = 0; i < def.args().size(); ++i) u << (i ? ", " : "") << def.args()[i];
          u << ") = ";
          for (size_t i = 0; i < def.values().size(); ++i) u << (i ? ", " : "") << def.values()[i];
          out += u.str() + "\n";
        }
      }
      out += "}\n";
    };
    dump(g.model + "_train_step", p.train);
    dump(g.model + "_eval", p.eval);
    dump(g.model + "_update", p.optimizer);
  });
  return out;
}

std::string printStmt(const Graph& g, Pipelines& p) {
  std::string out;
  const bool ok = halideGuard("lowering", [&] {
    const Target target = p.target;
    fs::path dir = fs::temp_directory_path() / fmt::format("cnnc-stmt-{}", getpid());
    fs::create_directories(dir);
    auto dump = [&](const std::string& name, Pipeline& pipeline, const std::vector<Argument>& args) {
      std::string file = (dir / (name + ".stmt")).string();
      pipeline.compile_to_lowered_stmt(file, args, Text, target);
      std::ifstream in(file);
      std::stringstream text;
      text << in.rdbuf();
      out += fmt::format("// pipeline {}\n{}\n", name, text.str());
    };
    // What the trainer runs: the training step's kernels, or the step whole.
    if (p.trainKernels.empty()) dump(g.model + "_train_step", p.train, p.trainArgs);
    for (KernelPipeline& k : p.trainKernels) dump(g.model + "_" + k.name, k.pipeline, k.args);
    dump(g.model + "_eval", p.eval, p.evalArgs);
    dump(g.model + "_update", p.optimizer, p.updateArgs);
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  return ok ? out : std::string();
}

}  // namespace cnnc
