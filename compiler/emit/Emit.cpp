#include "emit/Emit.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <fstream>
#include <sstream>

#include "check/Summary.h"
#include "fuse/Fuse.h"
#include "ir/Ops.h"
#include "plan/Plan.h"
#include "runtime/AtomicFile.h"
#include "lower/Lower.h"
#include "lower/ScheduleCpu.h"
#include "lower/ScheduleGpu.h"
#include "support/Version.h"

#ifndef CNNC_RUNTIME_INCLUDE
#error "the build defines CNNC_RUNTIME_INCLUDE (runtime headers)"
#endif

namespace cnnc {

namespace fs = std::filesystem;
using namespace Halide;

namespace {

// The three pipelines of a trainer, built and scheduled for `target`.
struct Pipelines {
  Lowered step;
  Lowered evalStep;  // a second lowering when an autoscheduler schedules evaluation on its own
  LoweredUpdate update;
  Pipeline train, eval, optimizer;
  std::vector<Argument> trainArgs, evalArgs, updateArgs;
};

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
  for (size_t i = 0; i < g.params.size(); ++i) L.params[i].set_estimates(regionOf(g.tensors[g.params[i]].shape));
  for (size_t i = 0; i < outputs.size(); ++i) {
    Func f = outputs[i];
    f.set_estimates(regionOf(shapes[i]));
  }
}

Pipelines buildPipelines(const Graph& g, const Target& target, const std::string& autoscheduler = "") {
  Pipelines p;
  p.step = lowerGraph(g);
  p.update = lowerUpdate(g);
  if (target.has_gpu_feature()) {
    scheduleGpu(p.step, g, target);
    scheduleUpdateGpu(p.update, target);
  } else if (autoscheduler.empty()) {
    scheduleCpu(p.step, g, target, PipelineKind::Training);
    scheduleUpdateCpu(p.update, target);
  } else {
    scheduleUpdateCpu(p.update, target);
  }

  std::vector<Argument> common = {p.step.images, p.step.labels, p.step.order, p.step.first, p.step.valid};
  for (ImageParam& param : p.step.params) common.push_back(param);
  std::vector<Func> trainOutputs = {p.step.loss, p.step.correct};
  trainOutputs.insert(trainOutputs.end(), p.step.grads.begin(), p.step.grads.end());
  // The kernels' results land in the activation arena at the plan's offsets.
  trainOutputs.insert(trainOutputs.end(), p.step.activations.begin(), p.step.activations.end());
  p.train = Pipeline(trainOutputs);
  p.trainArgs = common;
  p.eval = Pipeline({p.step.tensors[g.output], p.step.loss, p.step.correct});
  p.evalArgs = common;
  auto ownLowering = [&]() {
    p.evalStep = lowerGraph(g);
    p.evalArgs = {p.evalStep.images, p.evalStep.labels, p.evalStep.order, p.evalStep.first, p.evalStep.valid};
    for (ImageParam& param : p.evalStep.params) p.evalArgs.push_back(param);
    return std::vector<Func>{p.evalStep.tensors[g.output], p.evalStep.loss, p.evalStep.correct};
  };
  if (autoscheduler.empty() && !target.has_gpu_feature()) {
    // The training pipeline computes the loss with its gradient, which
    // evaluation does not have: evaluation gets a lowering of its own.
    std::vector<Func> evalOutputs = ownLowering();
    scheduleCpu(p.evalStep, g, target, PipelineKind::Evaluation);
    p.eval = Pipeline(evalOutputs);
    // `train --profile` times each kernel from the trace events around
    // its loop nests (a few calls per kernel and step; the trainer's
    // handler returns at once when not profiling). Not with Halide's own
    // profiler (--halide-profile), which reports per Func itself.
    const Fusion fusion = fuse(g);
    if (!target.has_feature(Target::Profile))
      for (Lowered* L : {&p.step, &p.evalStep})
        for (std::vector<Func>& funcs : rootFuncsByKernel(*L, g, fusion))
          for (Func& f : funcs) f.trace_realizations();
  }
  if (!autoscheduler.empty() && !target.has_gpu_feature()) {
    // The training and evaluation pipelines share Funcs: schedule two
    // lowerings, one per pipeline.
    load_plugin(std::string(CNNC_HALIDE_PLUGIN_DIR) + "/libautoschedule_" + lowercase(autoscheduler) + ".so");
    const MachineParams machine(static_cast<int>(std::thread::hardware_concurrency()), 32 << 20, 40);
    std::vector<Shape> trainShapes = {{}, {}};
    for (int t : g.paramGrads) trainShapes.push_back(g.tensors[t].shape);
    for (const Slot& s : planMemory(g, fuse(g)).activations) {
      const std::vector<int64_t> e = funcExtents(g.tensors[s.tensor].shape);
      trainShapes.push_back(Shape(e.rbegin(), e.rend()));  // regionOf reverses it back
    }
    setEstimates(p.step, g, trainOutputs, trainShapes);
    p.train.auto_schedule(autoscheduler, target, machine);
    std::vector<Func> evalOutputs = ownLowering();
    setEstimates(p.evalStep, g, evalOutputs, {{g.train.batch, g.classes}, {}, {}});
    p.eval = Pipeline(evalOutputs);
    p.eval.auto_schedule(autoscheduler, target, machine);
  }
  p.optimizer = Pipeline(p.update.out);
  p.updateArgs = {p.update.params, p.update.grads};
  for (ImageParam& s : p.update.state) p.updateArgs.push_back(s);
  for (Param<float>& s : p.update.scalars) p.updateArgs.push_back(s);
  return p;
}

// Runs a command; true when it exits 0.
bool run(const std::string& command, bool verbose) {
  if (verbose) fmt::print(stderr, "cnnc: {}\n", command);
  int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}


// Halide reports errors by throwing; turn them into messages.
template <typename Fn>
bool halideGuard(const char* what, Fn fn) {
  try {
    fn();
    return true;
  } catch (const Halide::Error& e) {
    fmt::print(stderr, "cnnc: error: {} failed in Halide: {}\n", what, e.what());
    return false;
  }
}

Target& cpuTarget() {
  static Target target = get_host_target();
  return target;
}
Target hostTarget() { return cpuTarget(); }

// A GPU target. CUDA: PTX for compute capability 6.1, which the driver
// compiles for any newer GPU (H100: 9.0) when the trainer starts. OpenCL:
// OpenCL C source, which the platform compiles when the trainer starts
// (pocl: once per kernel, cached in ~/.cache/pocl).
Target gpuTarget(GpuApi api) {
  if (api == GpuApi::Cuda) return hostTarget().with_feature(Target::CUDA).with_feature(Target::CUDACapability61);
  return hostTarget().with_feature(Target::OpenCL);
}

// What the glue calls a GPU API's pipelines and runtime: suffix, C++ name, header.
struct GpuNames {
  std::string suffix, label, camel, header, interface;
};
GpuNames gpuNames(GpuApi api) {
  if (api == GpuApi::Cuda) return {"_cuda", "CUDA", "Cuda", "HalideRuntimeCuda.h", "halide_cuda_device_interface"};
  return {"_opencl", "OpenCL", "OpenCL", "HalideRuntimeOpenCL.h", "halide_opencl_device_interface"};
}

// The kernels of the training and evaluation pipelines (cnnc
// --emit=fused) for `train --profile`: what each computes, its
// floating-point operations per call (2 per multiply-add, the whole
// batch), and the Funcs it computes at root with cnnc's CPU schedules
// (their trace events time it).
std::string kernelTables(const Graph& g) {
  const Fusion fusion = fuse(g);
  const Target host = hostTarget();
  std::string out;
  for (PipelineKind kind : {PipelineKind::Training, PipelineKind::Evaluation}) {
    Lowered L = lowerGraph(g);
    scheduleCpu(L, g, host, kind);
    const std::vector<std::vector<Func>> funcs = rootFuncsByKernel(L, g, fusion);
    const bool training = kind == PipelineKind::Training;
    out += fmt::format("const cnnc_rt::KernelSpec k{}Kernels[] = {{\n", training ? "Train" : "Eval");
    for (size_t k = 0; k < fusion.kernels.size(); ++k) {
      const Kernel& kernel = fusion.kernels[k];
      const Op& root = g.ops[kernel.root];
      if (root.phase == Phase::Update || (!training && root.phase != Phase::Forward)) continue;
      std::string what = fmt::format("{} {}", k, opInfo(root.kind).name);
      const std::string result = root.result >= 0 ? g.tensors[root.result].name : "";
      int64_t macs = opMacsPerSample(g, root);
      if (training)
        for (int a : kernel.also) {
          what += std::string(" + ") + opInfo(g.ops[a].kind).name;
          macs += opMacsPerSample(g, g.ops[a]);
        }
      what += " -> " + result;
      std::vector<std::string> names;
      // Halide makes a repeated Func name unique with "$N"; one pipeline
      // has each name once, so the trainer matches names without it.
      for (const Func& f : funcs[k]) names.push_back("\"" + f.name().substr(0, f.name().find('$')) + "\"");
      out += fmt::format("    {{\"{}\", {}, {{{}}}}},\n", what, 2 * macs * g.train.batch, fmt::join(names, ", "));
    }
    out += "};\n\n";
  }
  return out;
}

// GPU kernels launched per call of each GPU pipeline: every stage that
// the GPU schedule computes at root is one kernel (what is computed inside
// it, shared-memory tiles included, is not). The same for every GPU API.
struct GpuLaunches {
  int step = 0, eval = 0, update = 0;
};
GpuLaunches gpuLaunches(const Graph& g, GpuApi api) {
  Lowered L = lowerGraph(g);
  scheduleGpu(L, g, gpuTarget(api));
  const Fusion fusion = fuse(g);
  const std::vector<std::vector<Func>> roots = rootFuncsByKernel(L, g, fusion);
  GpuLaunches n;
  for (size_t k = 0; k < fusion.kernels.size(); ++k) {
    const Phase phase = g.ops[fusion.kernels[k].root].phase;
    for (const Func& f : roots[k]) {
      const int stages = 1 + f.num_update_definitions();
      if (phase != Phase::Update) n.step += stages;
      if (phase == Phase::Forward) n.eval += stages;
    }
  }
  LoweredUpdate u = lowerUpdate(g);
  n.update = 1 + u.out.num_update_definitions();
  return n;
}

}  // namespace

const char* gpuApiName(GpuApi api) { return api == GpuApi::Cuda ? "cuda" : "opencl"; }

bool setCpuTarget(const std::string& text, std::string& why) {
  if (text == "host") {
    cpuTarget() = get_host_target();
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
  cpuTarget() = t;
  return true;
}

std::string glueSource(const Graph& g, const std::vector<GpuApi>& gpus) {
  const std::string m = g.model;
  std::string s;
  s += fmt::format("// Generated by cnnc from {}: model '{}'. Do not edit; rerun cnnc.\n", g.file, m);
  s += "// Connects the AOT-compiled Halide pipelines to the runtime (runtime/Model.h).\n";
  s += "#include \"Model.h\"\n";
  s += fmt::format("#include \"{0}_train_step.h\"\n#include \"{0}_eval.h\"\n#include \"{0}_update.h\"\n", m);
  for (GpuApi api : gpus) {
    const GpuNames n = gpuNames(api);
    s += fmt::format("#include <{}>\n", n.header);
    s += fmt::format("#include \"{0}_train_step{1}.h\"\n#include \"{0}_eval{1}.h\"\n#include \"{0}_update{1}.h\"\n", m, n.suffix);
  }
  s += "\nnamespace {\n\n";
  // The pipelines' argument lists, spelled out.
  auto params = [&](const char* list) {
    std::string out;
    for (size_t i = 0; i < g.params.size(); ++i) out += fmt::format(",\n      b.{}[{}]", list, i);
    return out;
  };
  bool adam = g.train.optimizer.kind == Optimizer::Kind::Adam;
  // The optimizer's state arrays are the graph's (grad made them); the
  // step's scalars are passed by field, in the update's order.
  int stateCount = 0;
  for (TensorRole role : g.roles) stateCount += role == TensorRole::OptState;
  std::string state, scalars;
  for (int i = 0; i < stateCount; ++i) state += fmt::format(", b.state[{}]", i);
  auto passScalars = [&](const char* member, const auto& fields) {
    for (const auto& f : fields) scalars += fmt::format(", s.{}.{}", member, f.name);
  };
  if (adam)
    passScalars("adam", cnnc_rt::kAdamScalars);
  else
    passScalars("sgd", cnnc_rt::kSgdScalars);
  const MemoryPlan plan = planMemory(g, fuse(g));
  std::string activations;
  for (size_t i = 0; i < plan.activations.size(); ++i) activations += fmt::format(",\n      b.activations[{}]", i);
  std::vector<GpuNames> variants = {{"", "CPU", "", "", ""}};  // the CPU's pipelines, then each GPU API's
  for (GpuApi api : gpus) variants.push_back(gpuNames(api));
  for (const GpuNames& v : variants) {
    const std::string &suffix = v.suffix, &kind = v.label, &camel = v.camel;
    s += fmt::format(
        "// {2}: images (F, S) u8, labels (S), order (S), first, valid, parameters -> loss, correct, gradients,\n"
        "// the kernels' results (views into the activation arena: cnnc --emit=plan)\n"
        "int trainStep{3}(cnnc_rt::Buffers& b, int first, int valid) {{\n"
        "  return {0}_train_step{1}(b.images, b.labels, b.order, first, valid{4},\n      b.loss, b.correct{5}{6});\n}}\n\n",
        m, suffix, kind, camel, params("params"), params("grads"), activations);
    s += fmt::format(
        "// {2}: images, labels, order, first, valid, parameters -> output (K, B), loss, correct\n"
        "int evaluate{3}(cnnc_rt::Buffers& b, int first, int valid) {{\n"
        "  return {0}_eval{1}(b.images, b.labels, b.order, first, valid{4},\n      b.output, b.loss, b.correct);\n}}\n\n",
        m, suffix, kind, camel, params("params"));
    s += fmt::format(
        "// {2}: the optimizer over the flat arenas, in place: params, grads, state, scalars -> params, state\n"
        "int update{3}(cnnc_rt::Buffers& b, const cnnc_rt::UpdateScalars& s) {{\n"
        "  return {0}_update{1}(b.flatParams, b.flatGrads{4}{5},\n      b.flatParams{4});\n}}\n\n",
        m, suffix, kind, camel, state, scalars);
  }
  // The model's description for the runtime.
  s += "const cnnc_rt::ParamSpec kParams[] = {\n";
  for (const Slot& slot : plan.params) {
    const Tensor& t = g.tensors[slot.tensor];
    int64_t fanIn = t.shape.size() > 1 ? slot.count / t.shape[0] : 0;
    s += fmt::format("    {{\"{}\", {{{}}}, {}, {}}},\n", t.name, fmt::join(t.shape, ", "), slot.offset, fanIn);
  }
  s += "};\n\n";
  // The activation arena (cnnc --emit=plan): name, the Func's extents
  // (innermost first), offset in floats.
  s += "const cnnc_rt::ActivationSpec kActivations[] = {\n";
  for (const Slot& slot : plan.activations)
    s += fmt::format("    {{\"{}\", {{{}}}, {}}},\n", g.tensors[slot.tensor].name,
                     fmt::join(funcExtents(g.tensors[slot.tensor].shape), ", "), slot.offset);
  s += "};\n\n";
  s += kernelTables(g);
  s += "}  // namespace\n\n";
  const Optimizer& o = g.train.optimizer;
  s += "int main(int argc, char** argv) {\n";
  s += "  cnnc_rt::ModelSpec spec;\n";
  s += fmt::format("  spec.name = \"{}\";\n  spec.source = \"{}\";\n", m, g.file);
  s += fmt::format("  spec.sampleShape = {{{}}};\n", fmt::join(g.sampleShape, ", "));
  s += fmt::format("  spec.classes = {};\n  spec.batch = {};\n", g.classes, g.train.batch);
  s += "  spec.params.assign(std::begin(kParams), std::end(kParams));\n";
  s += fmt::format("  spec.totalParams = {};\n", plan.paramFloats);
  s += "  spec.activations.assign(std::begin(kActivations), std::end(kActivations));\n";
  s += fmt::format("  spec.activationFloats = {};\n", plan.activationFloats);
  s += fmt::format("  spec.optimizer = {{cnnc_rt::OptimizerKind::{}, {}, {}, {}, {}, {}, {}}};\n",
                   adam ? "Adam" : "Sgd", o.lr, o.momentum, o.beta1, o.beta2, o.eps, o.weightDecay);
  s += fmt::format("  spec.stateCount = {};\n", stateCount);
  s += fmt::format("  spec.loss = \"{}\";\n", g.train.loss == LossKind::CrossEntropy ? "cross_entropy" : "mse");
  s += fmt::format("  spec.epochs = {};\n  spec.seed = {};\n  spec.shuffle = {};\n", g.train.epochs, g.train.seed,
                   g.train.shuffle ? "true" : "false");
  ModelTotals totals = modelTotals(g);
  s += fmt::format("  spec.macsPerSample = {};\n", totals.macsPerSample);
  s += fmt::format("  spec.trainMacsPerSample = {};\n", totals.trainMacsPerSample);
  s += fmt::format("  spec.outputIsProbability = {};\n", g.output != g.logits ? "true" : "false");
  s += fmt::format("  spec.builtBy = \"cnnc {} (Halide {}, target {}{})\";\n", kVersion, CNNC_HALIDE_VERSION,
                   hostTarget().to_string(), [&] {
                     std::string apis;
                     for (GpuApi api : gpus) apis += " + " + gpuNames(api).label;
                     return apis;
                   }());
  s += fmt::format("  spec.summary = R\"SUMMARY({})SUMMARY\";\n", printSummary(g));
  s += "  spec.trainKernels.assign(std::begin(kTrainKernels), std::end(kTrainKernels));\n";
  s += "  spec.evalKernels.assign(std::begin(kEvalKernels), std::end(kEvalKernels));\n";
  s += "  spec.trainStep = trainStep;\n  spec.evaluate = evaluate;\n  spec.update = update;\n";
  for (GpuApi api : gpus) {
    const GpuNames n = gpuNames(api);
    const GpuLaunches launches = gpuLaunches(g, api);
    s += fmt::format("  spec.gpus.push_back({{\"{0}\", trainStep{1}, evaluate{1}, update{1}, {2}(), {3}, {4}, {5}, {6}}});\n",
                     gpuApiName(api), n.camel, n.interface, launches.step, launches.eval, launches.update,
                     api == GpuApi::OpenCL ? "halide_opencl_set_device_type" : "nullptr");
  }
  s += "  return cnnc_rt::trainerMain(argc, argv, spec);\n}\n";
  return s;
}

bool buildTrainer(const Graph& g, const EmitOptions& options) {
  std::error_code ec;
  fs::path outPath = fs::absolute(options.output, ec);
  // Said before compiling, not after: the folder must exist and take files.
  fs::path folder = outPath.parent_path();
  std::string unwritable = !fs::is_directory(folder, ec)        ? "the folder '" + folder.string() + "' does not exist"
                           : ::access(folder.c_str(), W_OK) != 0 ? "the folder '" + folder.string() + "' is not writable"
                           : fs::is_directory(outPath, ec)       ? std::string("it is a folder")
                                                                 : std::string();
  if (!unwritable.empty()) {
    fmt::print(stderr, "cnnc: error: cannot write '{}': {}\n", options.output, unwritable);
    return false;
  }
  fs::path work = fs::temp_directory_path() / fmt::format("cnnc-{}-{}", g.model, getpid());
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  if (ec) {
    fmt::print(stderr, "cnnc: error: cannot create a temporary folder '{}': {}\n", work.string(), ec.message());
    return false;
  }
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{work};

  const std::string m = g.model;
  auto object = [&](const std::string& name) { return (work / (name + ".o")).string(); };
  auto header = [&](const std::string& name) { return (work / (name + ".h")).string(); };
  std::vector<std::string> objects;
  // Each pipeline for each target: the CPU always, each GPU API on request.
  auto compileAll = [&](const Target& base, const std::string& suffix) {
    Target target = base.with_feature(Target::NoRuntime);
    if (options.profile) target = target.with_feature(Target::Profile);
    Pipelines p = buildPipelines(g, target, options.autoscheduler);
    auto compile = [&](Pipeline& pipeline, const std::vector<Argument>& args, const std::string& name) {
      pipeline.compile_to({{OutputFileType::object, object(name)}, {OutputFileType::c_header, header(name)}}, args, name, target);
      objects.push_back(object(name));
    };
    compile(p.train, p.trainArgs, m + "_train_step" + suffix);
    compile(p.eval, p.evalArgs, m + "_eval" + suffix);
    compile(p.optimizer, p.updateArgs, m + "_update" + suffix);
  };
  bool ok = halideGuard("compiling the pipelines", [&] {
    compileAll(hostTarget(), "");
    Target runtime = hostTarget();
    for (GpuApi api : options.gpus) {
      compileAll(gpuTarget(api), gpuNames(api).suffix);
      runtime = runtime.with_feature(api == GpuApi::Cuda ? Target::CUDA : Target::OpenCL);
    }
    // One Halide runtime for the whole binary, with every GPU API asked for.
    compile_standalone_runtime(object("halide_runtime"), runtime);
    objects.push_back(object("halide_runtime"));
  });
  if (!ok) return false;

  {
    std::ofstream glue(work / "glue.cpp");
    glue << glueSource(g, options.gpus);
    if (!glue) {
      fmt::print(stderr, "cnnc: error: cannot write {}\n", (work / "glue.cpp").string());
      return false;
    }
  }
  std::string cxx = options.compiler;
  // The compiler that built the runtime library links it, unless told.
  if (cxx.empty()) cxx = std::getenv("CXX") ? std::getenv("CXX") : CNNC_DEFAULT_CXX;
  fs::path linked = work / "trainer";
  std::string command = fmt::format("{} -std=c++17 -O2 -I{} -I{} -I{} {}", quote(cxx), quote(CNNC_RUNTIME_INCLUDE),
                                    quote(CNNC_HALIDE_INCLUDE), quote(work.string()),
                                    quote((work / "glue.cpp").string()));
  for (const std::string& o : objects) command += " " + quote(o);
  // Every host-device copy passes through the runtime's counter (runtime/DeviceCopies.h).
  command += " -Wl,--wrap=halide_copy_to_device -Wl,--wrap=halide_copy_to_host";
  command += fmt::format(" {} {} -lpng16 -lz -lpthread -ldl -o {}", quote(CNNC_RUNTIME_LIB), CNNC_RUNTIME_LINK_FLAGS,
                         quote(linked.string()));
  if (!run(command, options.verbose)) {
    fmt::print(stderr, "cnnc: error: linking the trainer failed (command: {})\n", command);
    return false;
  }
  // Into place in one step (runtime/AtomicFile.h): the output path holds
  // the whole trainer or whatever it held before.
  std::ifstream in(linked, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  std::string error;
  if (!in || !cnnc_rt::writeFileAtomically(options.output, bytes.str(), error, 0755)) {
    fmt::print(stderr, "cnnc: error: {}\n", error.empty() ? "cannot read the linked trainer " + linked.string() : error);
    return false;
  }
  return true;
}

std::string printHalide(const Graph& g) {
  // Lowered and scheduled as for the host, printed Func by Func.
  std::string out;
  halideGuard("lowering", [&] {
    Pipelines p = buildPipelines(g, hostTarget());
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

std::string printStmt(const Graph& g, const std::vector<GpuApi>& gpus) {
  std::string out;
  halideGuard("lowering", [&] {
    Target target = (gpus.empty() ? hostTarget() : gpuTarget(gpus[0])).with_feature(Target::NoRuntime);
    Pipelines p = buildPipelines(g, target);
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
    dump(g.model + "_train_step", p.train, p.trainArgs);
    dump(g.model + "_eval", p.eval, p.evalArgs);
    dump(g.model + "_update", p.optimizer, p.updateArgs);
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  return out;
}

}  // namespace cnnc
