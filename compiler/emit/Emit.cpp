#include "emit/Emit.h"

#include <fmt/format.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "check/Summary.h"
#include "emit/Objects.h"
#include "fuse/Fuse.h"
#include "ir/Ops.h"
#include "plan/Plan.h"
#include "runtime/AtomicFile.h"
#include "runtime/Profile.h"
#include "lower/Lower.h"
#include "lower/LowerContext.h"
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

// The Funcs a pipeline computes: how large a job compiling it is.
size_t stageCount(const Pipeline& pipeline) {
  std::map<std::string, Internal::Function> env;
  for (const Func& f : pipeline.outputs()) {
    std::map<std::string, Internal::Function> calls = Internal::find_transitive_calls(f.function());
    env.insert(calls.begin(), calls.end());
  }
  return env.size();
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
std::string kernelTables(const Graph& g, const Fusion& fusion, const Pipelines& cpu) {
  std::string out;
  for (const Lowered* L : {&cpu.step, &cpu.evalStep}) {
    const std::vector<std::vector<Func>> funcs = rootFuncsByKernel(*L, g, fusion);
    const std::vector<int> host = hostKernels(*L, g, fusion);
    const bool training = L == &cpu.step;
    out += fmt::format("const cnnc_rt::KernelSpec k{}Kernels[] = {{\n", training ? "Train" : "Eval");
    auto counted = [&](size_t k) {
      const Op& root = g.ops[fusion.kernels[k].root];
      return root.phase != Phase::Update && (training || root.phase == Phase::Forward);
    };
    for (size_t k = 0; k < fusion.kernels.size(); ++k) {
      if (!counted(k) || host[k] != static_cast<int>(k)) continue;
      const Kernel& kernel = fusion.kernels[k];
      const Op& root = g.ops[kernel.root];
      std::string what = fmt::format("{} {}", k, opInfo(root.kind).name);
      if (const int m = fusion.winograd[kernel.root])
        what += " winograd " + winogradName(m, static_cast<int>(root.attrs.pair("kernel")[0]));
      const std::string result = root.result >= 0 ? g.tensors[root.result].name : "";
      int64_t macs = opMacsPerSample(g, root);
      // A convolution computed inside (a pool's kernel) counts, and shows.
      for (int p : kernel.fused)
        if (const int64_t inside = opMacsPerSample(g, g.ops[p]); inside > 0) {
          macs += inside;
          what = fmt::format("{} {} +{}", k, opInfo(g.ops[p].kind).name, what.substr(what.find(' ')));
        }
      if (training)
        for (int a : kernel.also) {
          what += std::string(" + ") + opInfo(g.ops[a].kind).name;
          macs += opMacsPerSample(g, g.ops[a]);
        }
      what += " -> " + result;
      std::vector<std::string> names;
      // Halide makes a repeated Func name unique with "$N"; one pipeline
      // has each name once, so the trainer matches names without it
      // (funcKey: a wrapper "f$1_in_g" is not f).
      // The kernel's own Funcs first (the first one's end is a call).
      auto add = [&](size_t j) {
        for (const Func& f : funcs[j]) names.push_back("\"" + cnnc_rt::funcKey(f.name()) + "\"");
      };
      add(k);
      std::vector<size_t> inside;
      for (size_t j = 0; j < k; ++j)
        if (counted(j) && host[j] == static_cast<int>(k)) inside.push_back(j), add(j);
      if (!inside.empty()) {
        // Timed together: per sample, each inside the other's loop.
        what += fmt::format(" (with {} per sample)", fmt::join(inside, ", "));
        for (size_t j : inside) macs += opMacsPerSample(g, g.ops[fusion.kernels[j].root]);
      }
      out += fmt::format("    {{\"{}\", {}, {{{}}}}},\n", what, 2 * macs * g.train.batch, fmt::join(names, ", "));
    }
    out += "};\n\n";
  }
  return out;
}

// The CPU's training step: each kernel's pipeline in turn (Pipelines.h:
// KernelPipeline), reading what the ones before wrote.
std::string kernelCalls(const std::string& m, const std::vector<KernelPipeline>& kernels) {
  std::string s =
      "// CPU: the training step's kernels in order (cnnc --emit=fused), each a pipeline reading what\n"
      "// the ones before wrote to the activation arena (cnnc --emit=plan)\n"
      "int trainStep(cnnc_rt::Buffers& b, int first, int valid) {\n  int e = 0;\n";
  for (const KernelPipeline& k : kernels) {
    std::vector<std::string> all = k.argValues;
    all.insert(all.end(), k.outputValues.begin(), k.outputValues.end());
    s += fmt::format("  if ((e = {}_{}({}))) return e;\n", m, k.name, fmt::join(all, ", "));
  }
  return s + "  return 0;\n}\n\n";
}

}  // namespace

std::string glueSource(const Compiled& c, bool distributed) {
  const Graph& g = c.graph;
  const std::vector<GpuApi>& gpus = c.targets.gpus;
  const std::string m = g.model;
  std::string s;
  s += fmt::format("// Generated by cnnc from {}: model '{}'. Do not edit; rerun cnnc.\n", g.file, m);
  s += "// Connects the AOT-compiled Halide pipelines to the runtime (runtime/Model.h).\n";
  s += "#include \"Model.h\"\n";
  if (distributed) s += "#include \"Mpi.h\"\n";
  if (c.cpu.trainKernels.empty()) s += fmt::format("#include \"{}_train_step.h\"\n", m);
  for (const KernelPipeline& k : c.cpu.trainKernels) s += fmt::format("#include \"{}_{}.h\"\n", m, k.name);
  s += fmt::format("#include \"{0}_eval.h\"\n#include \"{0}_update.h\"\n", m);
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
  const MemoryPlan& plan = c.plan;
  std::string activations;
  for (size_t i = 0; i < plan.activations.size(); ++i) activations += fmt::format(",\n      b.activations[{}]", i);
  std::string buffers;
  for (size_t i = 0; i < g.buffers.size(); ++i) buffers += fmt::format(", b.buffers[{}]", i);
  std::vector<GpuNames> variants = {{"", "CPU", "", "", ""}};  // the CPU's pipelines, then each GPU API's
  for (GpuApi api : gpus) variants.push_back(gpuNames(api));
  for (const GpuNames& v : variants) {
    const std::string &suffix = v.suffix, &kind = v.label, &camel = v.camel;
    if (v.suffix.empty() && !c.cpu.trainKernels.empty())
      s += kernelCalls(m, c.cpu.trainKernels);
    else
      s += fmt::format(
          "// {2}: images (F, S) u8, labels (S), order (S), first, valid, parameters, buffers, the dropout key\n"
          "// -> loss, correct, gradients, the kernels' results (views into the activation arena: cnnc\n"
          "// --emit=plan), the buffers' new values (in place)\n"
          "int trainStep{3}(cnnc_rt::Buffers& b, int first, int valid) {{\n"
          "  return {0}_train_step{1}(b.images, b.labels, b.order, first, valid{4}{7}, b.noise, b.augment,\n      b.loss, b.correct{5}{6}{7});\n}}\n\n",
          m, suffix, kind, camel, params("params"), params("grads"), activations, buffers);
    s += fmt::format(
        "// {2}: images, labels, order, first, valid, parameters, buffers -> output (K, B), loss, correct\n"
        "int evaluate{3}(cnnc_rt::Buffers& b, int first, int valid) {{\n"
        "  return {0}_eval{1}(b.images, b.labels, b.order, first, valid{4}{5},\n      b.output, b.loss, b.correct);\n}}\n\n",
        m, suffix, kind, camel, params("params"), buffers);
    s += fmt::format(
        "// {2}: the optimizer over the flat arenas, in place: params, grads, state, scalars -> params, state\n"
        "int update{3}(cnnc_rt::Buffers& b, const cnnc_rt::UpdateScalars& s) {{\n"
        "  return {0}_update{1}(b.flatParams, b.flatGrads{4}{5},\n      b.flatParams{4});\n}}\n\n",
        m, suffix, kind, camel, state, scalars);
  }
  // The model's description for the runtime.
  const char* inits[] = {"FanIn", "Ones", "Zeros"};
  s += "const cnnc_rt::ParamSpec kParams[] = {\n";
  for (const Slot& slot : plan.params) {
    const Tensor& t = g.tensors[slot.tensor];
    int64_t fanIn = t.shape.size() > 1 ? slot.count / t.shape[0] : 0;
    s += fmt::format("    {{\"{}\", {{{}}}, {}, {}, cnnc_rt::Init::{}}},\n", t.name, fmt::join(t.shape, ", "), slot.offset,
                     fanIn, inits[static_cast<int>(t.init)]);
  }
  s += "};\n\n";
  // Buffers (batch norms' running statistics): name, shape, offset in the
  // buffer arena, how they start; and the batch counters.
  if (!plan.buffers.empty()) {
    s += "const cnnc_rt::ParamSpec kBuffers[] = {\n";
    for (const Slot& slot : plan.buffers) {
      const Tensor& t = g.tensors[slot.tensor];
      s += fmt::format("    {{\"{}\", {{{}}}, {}, 0, cnnc_rt::Init::{}}},\n", t.name, fmt::join(t.shape, ", "),
                       slot.offset, inits[static_cast<int>(t.init)]);
    }
    s += "};\n\n";
  }
  // The activation arena (cnnc --emit=plan): name, the Func's extents
  // (innermost first), offset in floats, element type.
  s += "const cnnc_rt::ActivationSpec kActivations[] = {\n";
  for (const Slot& slot : plan.activations) {
    const Tensor& t = g.tensors[slot.tensor];
    const Halide::Type type = halideType(t.dtype);
    const char* code = type.is_float() ? "halide_type_float" : type.is_uint() ? "halide_type_uint" : "halide_type_int";
    s += fmt::format("    {{\"{}\", {{{}}}, {}, {{{}, {}, 1}}}},\n", t.name, fmt::join(funcExtents(t.shape), ", "),
                     slot.offset, code, type.bits());
  }
  s += "};\n\n";
  s += kernelTables(g, c.fusion, c.cpu);
  s += "}  // namespace\n\n";
  const Optimizer& o = g.train.optimizer;
  s += "int main(int argc, char** argv) {\n";
  s += "  cnnc_rt::ModelSpec spec;\n";
  s += fmt::format("  spec.name = \"{}\";\n  spec.source = \"{}\";\n", m, g.file);
  s += fmt::format("  spec.sampleShape = {{{}}};\n", fmt::join(g.sampleShape, ", "));
  s += fmt::format("  spec.classes = {};\n  spec.batch = {};\n", g.classes, g.train.batch);
  s += "  spec.params.assign(std::begin(kParams), std::end(kParams));\n";
  s += fmt::format("  spec.totalParams = {};\n", plan.paramFloats);
  if (!plan.buffers.empty()) s += "  spec.buffers.assign(std::begin(kBuffers), std::end(kBuffers));\n";
  s += fmt::format("  spec.bufferFloats = {};\n", plan.bufferFloats);
  for (const std::string& counter : g.counters) s += fmt::format("  spec.counters.push_back(\"{}\");\n", counter);
  s += "  spec.activations.assign(std::begin(kActivations), std::end(kActivations));\n";
  s += fmt::format("  spec.activationFloats = {};\n", plan.activationFloats);
  s += fmt::format("  spec.optimizer = {{cnnc_rt::OptimizerKind::{}, {}, {}, {}, {}, {}, {}, {}, {}}};\n",
                   adam ? "Adam" : "Sgd", o.lr, o.momentum, o.beta1, o.beta2, o.eps, o.weightDecay, o.nesterov,
                   o.decoupled);
  s += fmt::format("  spec.stateCount = {};\n", stateCount);
  const cnnc_rt::ScheduleSpec& sc = g.train.schedule;
  const char* kinds[] = {"Constant", "Step", "Cosine", "OneCycle"};
  s += fmt::format("  spec.schedule = {{cnnc_rt::ScheduleKind::{}, {}, {}, {}, {}, {}, {}, {}}};\n", kinds[static_cast<int>(sc.kind)],
                   sc.every, sc.gamma, sc.warmup, sc.maxLr, sc.pctStart, sc.divFactor, sc.finalDivFactor);
  s += fmt::format("  spec.loss = \"{}\";\n", g.train.loss == LossKind::CrossEntropy ? "cross_entropy" : "mse");
  s += fmt::format("  spec.epochs = {};\n  spec.seed = {};\n  spec.shuffle = {};\n", g.train.epochs, g.train.seed,
                   g.train.shuffle ? "true" : "false");
  s += fmt::format("  spec.data = \"{}\";\n  spec.validation = {};\n", g.train.data, g.train.validation);
  if (g.train.chunks > 1) s += fmt::format("  spec.chunks = {};\n", g.train.chunks);
  if (distributed) s += "  spec.collective = cnnc_rt::mpiCollective;\n";
  ModelTotals totals = modelTotals(g);
  s += fmt::format("  spec.macsPerSample = {};\n", totals.macsPerSample);
  s += fmt::format("  spec.trainMacsPerSample = {};\n", totals.trainMacsPerSample);
  s += fmt::format("  spec.outputIsProbability = {};\n", g.output != g.logits ? "true" : "false");
  s += fmt::format("  spec.builtBy = \"cnnc {} (Halide {}, target {}{})\";\n", kVersion, CNNC_HALIDE_VERSION,
                   c.targets.cpu.to_string(), [&] {
                     std::string apis;
                     for (GpuApi api : gpus) apis += " + " + gpuNames(api).label;
                     return apis;
                   }());
  s += fmt::format("  spec.summary = R\"SUMMARY({})SUMMARY\";\n", printSummary(g));
  s += "  spec.trainKernels.assign(std::begin(kTrainKernels), std::end(kTrainKernels));\n";
  s += "  spec.evalKernels.assign(std::begin(kEvalKernels), std::end(kEvalKernels));\n";
  s += "  spec.trainStep = trainStep;\n  spec.evaluate = evaluate;\n  spec.update = update;\n";
  for (size_t k = 0; k < gpus.size(); ++k) {
    const GpuApi api = gpus[k];
    const GpuNames n = gpuNames(api);
    const GpuLaunches launches = gpuLaunches(g, c.fusion, c.gpus[k]);
    s += fmt::format("  spec.gpus.push_back({{\"{0}\", trainStep{1}, evaluate{1}, update{1}, {2}(), {3}, {4}, {5}, {6}}});\n",
                     gpuApiName(api), n.camel, n.interface, launches.step, launches.eval, launches.update,
                     api == GpuApi::OpenCL ? "halide_opencl_set_device_type" : "nullptr");
  }
  s += "  return cnnc_rt::trainerMain(argc, argv, spec);\n}\n";
  return s;
}

bool buildTrainer(const Compiled& c, const EmitOptions& options) {
  const Graph& g = c.graph;
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
  fs::path work = fs::absolute(fs::temp_directory_path() / fmt::format("cnnc-{}-{}", g.model, getpid()));
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
  std::vector<ObjectJob> jobs;
  // Each pipeline for each target: the CPU always, each GPU API on request.
  auto compileAll = [&](Pipelines& p, const std::string& suffix) {
    auto compile = [&](Pipeline& pipeline, const std::vector<Argument>& args, const std::string& name) {
      const std::map<OutputFileType, std::string> outputs = {{OutputFileType::object, object(name)},
                                                              {OutputFileType::c_header, header(name)}};
      jobs.push_back({name, stageCount(pipeline), [=, target = p.target, pipeline = pipeline]() mutable {
                        pipeline.compile_to(outputs, args, name, target);
                      }});
      objects.push_back(object(name));
    };
    if (p.trainKernels.empty()) compile(p.train, p.trainArgs, m + "_train_step" + suffix);
    for (KernelPipeline& k : p.trainKernels) compile(k.pipeline, k.args, m + "_" + k.name + suffix);
    compile(p.eval, p.evalArgs, m + "_eval" + suffix);
    compile(p.optimizer, p.updateArgs, m + "_update" + suffix);
  };
  compileAll(c.cpu, "");
  Target runtime = c.targets.cpu;
  for (size_t k = 0; k < c.targets.gpus.size(); ++k) {
    const GpuApi api = c.targets.gpus[k];
    compileAll(c.gpus[k], gpuNames(api).suffix);
    runtime = runtime.with_feature(api == GpuApi::Cuda ? Target::CUDA : Target::OpenCL);
  }
  // One Halide runtime for the whole binary, with every GPU API asked for.
  const std::string runtimeObject = object("halide_runtime");
  jobs.push_back({"the Halide runtime", 0, [=] { compile_standalone_runtime(runtimeObject, runtime); }});
  objects.push_back(runtimeObject);
  const bool ok = compileObjects(std::move(jobs), options.jobs, options.verbose);
  if (!ok) return false;

  {
    std::ofstream glue(work / "glue.cpp");
    glue << glueSource(c, options.distributed);
    if (!glue) {
      fmt::print(stderr, "cnnc: error: cannot write {}\n", (work / "glue.cpp").string());
      return false;
    }
  }
  std::string cxx = options.compiler;
  // The compiler that built the runtime library links it, unless told.
  if (cxx.empty()) cxx = std::getenv("CXX") ? std::getenv("CXX") : CNNC_DEFAULT_CXX;
  fs::path linked = work / "trainer";
  // Compiled from inside the work folder, by a relative name: a
  // sanitized build writes the source's path into the trainer, and the
  // folder's name differs from run to run (tests/lit/trainer/jobs.test).
  std::string command = fmt::format("cd {} && {} -std=c++17 -O2 -I{} -I{} -I. glue.cpp", quote(work.string()), quote(cxx),
                                    quote(CNNC_RUNTIME_INCLUDE), quote(CNNC_HALIDE_INCLUDE));
  for (const std::string& o : objects) command += " " + quote(o);
  // Every host-device copy passes through the runtime's counter (runtime/DeviceCopies.h).
  command += " -Wl,--wrap=halide_copy_to_device -Wl,--wrap=halide_copy_to_host";
  if (options.distributed) {
    if (std::string(CNNC_MPI_LIB).empty()) {
      fmt::print(stderr, "cnnc: error: --distributed needs MPI, and this cnnc was built without it (install Debian's "
                 "libopenmpi-dev and rebuild cnnc)\n");
      return false;
    }
    command += fmt::format(" {} {}", quote(CNNC_MPI_LIB), CNNC_MPI_LINK_FLAGS);
  }
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

}  // namespace cnnc
