// cnnc: the compiler driver. Runs the pipeline stage by stage and stops at
// the one --emit asks for, printing it (see docs/pipeline.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <string_view>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

#include "check/Checker.h"
#include "check/Summary.h"
#include "emit/Emit.h"
#include "emit/Objects.h"
#include "grad/Grad.h"
#include "ir/Dot.h"
#include "ir/IR.h"
#include "fuse/Fuse.h"
#include "lex/Lexer.h"
#include "lower/Pipelines.h"
#include "plan/Plan.h"
#include "parse/Parser.h"
#include "runtime/AtomicFile.h"
#include "support/Fma.h"
#include "support/Version.h"

namespace {

using cnnc::kVersion;

// The stages in pipeline order; the driver runs up to the requested one.
enum class Emit { Tokens, Ast, Ir, Dot, Grad, Fused, Plan, Halide, Stmt, Glue, Binary };

struct StageName {
  const char* name;
  Emit emit;
  bool available;  // implemented in this version
};
const StageName kStages[] = {
    {"tokens", Emit::Tokens, true}, {"ast", Emit::Ast, true},       {"ir", Emit::Ir, true},
    {"dot", Emit::Dot, true},
    {"grad", Emit::Grad, true},    {"fused", Emit::Fused, true}, {"plan", Emit::Plan, true},
    {"halide", Emit::Halide, true}, {"stmt", Emit::Stmt, true},   {"glue", Emit::Glue, true},
};

std::string availableStages() {
  std::string out;
  for (const StageName& s : kStages)
    if (s.available) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

// Writes `text` to `path` in one step (runtime/AtomicFile.h): the path
// holds either the whole output or whatever it held before.
bool writeAtomically(const std::string& path, const std::string& text) {
  std::string error;
  if (cnnc_rt::writeFileAtomically(path, text, error)) return true;
  fmt::print(stderr, "cnnc: error: {}\n", error);
  return false;
}

// Prints `text`, or writes it to `output` when one was given.
int deliver(const std::string& text, const std::string& output) {
  if (output.empty()) {
    fmt::print("{}", text);
    return 0;
  }
  return writeAtomically(output, text) ? 0 : 1;
}

// What cnnc was asked for, besides the file.
struct Request {
  Emit emit = Emit::Binary;
  bool summary = false;      // --summary instead of a stage
  bool dotWithGrad = false;  // --emit=dot --grad
  std::string output;        // -o; empty: stdout (stages), required for a trainer
  cnnc::Targets targets;
  bool halideProfile = false;
  std::string autoscheduler;
  bool verbose = false;
  int jobs = 1;              // -j: pipelines compiled at once
  cnnc::ConvAlgorithm conv = cnnc::ConvAlgorithm::Auto;
  cnnc::FmaUnits fma;         // --fma (support/Fma.h)
  bool distributed = false;  // --distributed: link MPI (docs/distributed.md)
  int chunks = 1;            // --chunks: a step's calls of the pipelines
};

// What each stage made, kept for the stages after it: each runs once.
struct Compilation {
  std::unique_ptr<cnnc::SourceFile> file;
  std::vector<cnnc::Token> tokens;   // lex
  cnnc::File ast;                    // parse
  std::optional<cnnc::Graph> graph;  // check (ir), then grad adds to it
  cnnc::Fusion fusion;               // fuse
  cnnc::MemoryPlan plan;             // plan
  std::optional<cnnc::Pipelines> cpu;  // lower: the CPU's pipelines
  std::vector<cnnc::Pipelines> gpus;   // lower: each GPU API's, in targets.gpus order
};

// Runs the stages in order up to the one asked for, and prints it (or
// builds the trainer); returns the exit status.
int compile(const std::string& input, const Request& r) {
  Compilation c;
  c.file = cnnc::SourceFile::open(input);
  if (!c.file) return 1;
  c.tokens = cnnc::lex(*c.file);
  if (r.emit == Emit::Tokens) return c.file->errorCount() > 0 ? 1 : deliver(cnnc::dumpTokens(*c.file, c.tokens), r.output);
  c.ast = cnnc::parse(*c.file, c.tokens);
  const bool syntaxOk = c.file->errorCount() == 0;
  if (r.emit == Emit::Ast) return syntaxOk ? deliver(cnnc::dumpAst(*c.file, c.ast), r.output) : 1;
  // Checked even after syntax errors, so one run reports all it can.
  c.graph = cnnc::check(*c.file, c.ast, syntaxOk, r.chunks);
  if (!c.graph || !syntaxOk) return 1;
  cnnc::Graph& g = *c.graph;
  if (r.summary) return deliver(cnnc::printSummary(g), r.output);
  if (r.emit == Emit::Ir) return deliver(cnnc::printGraph(g), r.output);
  if (r.emit == Emit::Dot && !r.dotWithGrad) return deliver(cnnc::printDot(g), r.output);
  cnnc::differentiate(g);
  if (r.emit == Emit::Dot) return deliver(cnnc::printDot(g), r.output);
  if (r.emit == Emit::Grad) return deliver(cnnc::printGraph(g), r.output);
  c.fusion = cnnc::fuse(g, r.conv, r.fma);
  if (r.emit == Emit::Fused) return deliver(cnnc::printFused(g, c.fusion), r.output);
  c.plan = cnnc::planMemory(g, c.fusion);
  if (r.emit == Emit::Plan) return deliver(cnnc::printPlan(g, c.fusion, c.plan), r.output);
  if (r.emit == Emit::Binary && r.output.empty()) {
    fmt::print(stderr, "cnnc: error: no output: pass -o TRAINER to build a trainer, or --summary / --emit=STAGE\n");
    return 2;
  }
  // lower: the pipelines for the CPU and each GPU API, as they are compiled
  // (no Halide runtime in them: the trainer links one for all).
  Halide::Target cpu = r.targets.cpu.with_feature(Halide::Target::NoRuntime);
  if (r.halideProfile) cpu = cpu.with_feature(Halide::Target::Profile);
  const bool lowered = cnnc::halideGuard("lowering", [&] {
    c.cpu = cnnc::buildPipelines(g, c.fusion, c.plan, cpu, r.autoscheduler);
    for (cnnc::GpuApi api : r.targets.gpus)
      c.gpus.push_back(cnnc::buildPipelines(g, c.fusion, c.plan, cnnc::gpuTarget(cpu, api)));
  });
  if (!lowered) return 1;
  if (r.emit == Emit::Halide) return deliver(cnnc::printHalide(g, *c.cpu), r.output);
  if (r.emit == Emit::Stmt) {
    // With GPU APIs in --target, the first one's pipelines: what runs where, and the copies.
    std::string text = cnnc::printStmt(g, c.gpus.empty() ? *c.cpu : c.gpus.front());
    return text.empty() ? 1 : deliver(text, r.output);
  }
  const cnnc::Compiled compiled{g, c.fusion, c.plan, r.targets, *c.cpu, c.gpus};
  if (r.emit == Emit::Glue) return deliver(cnnc::glueSource(compiled), r.output);
  cnnc::EmitOptions options;
  options.output = r.output;
  options.verbose = r.verbose;
  options.jobs = r.jobs;
  options.distributed = r.distributed;
  return cnnc::buildTrainer(compiled, options) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cnnc: compile a .cnn description of a convolutional network into a standalone trainer"};
  app.footer(fmt::format(
      "Stages (--emit), in pipeline order: tokens, ast, ir (and dot: the graph for Graphviz), grad, fused, plan, halide,\n"
      "stmt, glue.\n"
      "Available in this version: {}. Errors print file:line:col with a caret; exit status 1.\n"
      "Example: cnnc models/mnist.cnn --summary",
      availableStages()));
  std::string input, output, emitName;
  bool summary = false, verbose = false;
  std::string targets = "host";
  app.add_option("file", input, "the .cnn file to compile");
  app.add_option("-o,--output", output, "the trainer to build; with --emit or --summary, where to write that text");
  app.add_option("--emit", emitName, "print one stage of the pipeline: " + availableStages());
  app.add_flag("-v,--verbose", verbose, "print the commands run to build the trainer, and each pipeline's compile time");
  int jobs = 0;
  app.add_option("-j,--jobs", jobs,
                 "pipelines compiled at once, each in a process of its own (default: the processors cnnc may run on); "
                 "the trainer is the same file whatever the number")
      ->check(CLI::Range(1, 1024));
  bool halideProfile = false, withGrad = false;
  app.add_flag("--grad", withGrad, "with --emit=dot: draw the backward pass and the optimizer too");
  std::string autoscheduler;
  app.add_option("--autoschedule", autoscheduler,
                 "schedule the training and evaluation pipelines with one of Halide's autoschedulers instead of "
                 "cnnc's CPU schedules (to compare with)")
      ->check(CLI::IsMember({"Mullapudi2016", "Li2018", "Adams2019"}));
  app.add_flag("--halide-profile", halideProfile,
               "build the trainer with Halide's profiler: time per Func, printed when the trainer exits");
  app.add_option("--target", targets,
                 "what the trainer runs on: host, and any of cuda and opencl (GPU versions of every pipeline: "
                 "host,cuda,opencl); instead of host, a Halide CPU target (x86-64-linux-avx2-f16c-fma-sse41: AVX2 "
                 "code on any machine that has AVX2)")
      ->capture_default_str();
  std::string conv = "auto";
  app.add_option("--conv", conv,
                 "how convolutions are computed on the CPU: direct, winograd (every stride-1 3x3 and 5x5 pass), or "
                 "auto (per layer and pass, the faster by the cost model; --emit=fused shows the choice)")
      ->check(CLI::IsMember({"direct", "winograd", "auto"}))
      ->capture_default_str();
  std::string fma = "2,4";
  app.add_option("--fma", fma,
                 "the CPU's vector multiply-add units and their latency in cycles, for the schedules' register tiles "
                 "and the choice of convolution (--conv=auto): UNITS,LATENCY (an AVX-512 Xeon or an AVX2 core: 2,4; "
                 "AMD Zen 4 at 512 bits: 1,4), or host: measured on this machine (about 0.1 s)")
      ->capture_default_str();
  bool distributed = false;
  int chunks = 0;
  app.add_flag("--distributed", distributed,
               "a trainer for data-parallel training over MPI (mpirun -np N ./net train): the batch in --chunks "
               "chunks, the ranks' gradients summed each step (docs/distributed.md)");
  app.add_option("--chunks", chunks,
                 "a training step as K calls of the pipelines on batch/K samples each, their gradients summed in a "
                 "fixed tree (default 4 with --distributed, else 1); a power of two keeps every rank count's result "
                 "bit for bit the same")
      ->check(CLI::Range(1, 64));
  app.add_flag("--summary", summary, "print a table of layers, output shapes, parameters and multiply-adds");
  app.set_version_flag("--version", fmt::format("cnnc {}", kVersion));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "cnnc: error: {}\nRun 'cnnc --help' for the options.\n", e.what());
    return 2;
  }
  if (input.empty()) {
    fmt::print(stderr, "cnnc: error: no input file\nusage: cnnc FILE.cnn [--emit=STAGE | --summary] [-o OUT]\n");
    return 2;
  }
  Emit emit = Emit::Binary;
  if (!emitName.empty()) {
    const StageName* stage = nullptr;
    for (const StageName& s : kStages)
      if (emitName == s.name) stage = &s;
    if (!stage) {
      fmt::print(stderr, "cnnc: error: unknown stage '{}' for --emit; expected one of {}\n", emitName,
                 availableStages());
      return 2;
    }
    if (!stage->available) {
      fmt::print(stderr, "cnnc: error: --emit={} is not implemented yet in cnnc {}; available: {}\n", emitName,
                 kVersion, availableStages());
      return 2;
    }
    emit = stage->emit;
  }
  Request r;
  r.emit = emit;
  std::string why;
  if (!cnnc::parseTargets(targets, r.targets, why)) {
    fmt::print(stderr,
               "cnnc: error: unknown --target '{}' ({}); expected host, host,cuda, host,opencl, host,cuda,opencl, or a "
               "Halide CPU target such as x86-64-linux-avx2-f16c-fma-sse41 in place of host\n",
               targets, why);
    return 2;
  }
  if (summary && !emitName.empty()) {
    fmt::print(stderr, "cnnc: error: --summary and --emit cannot be combined\n");
    return 2;
  }

  r.summary = summary;
  r.dotWithGrad = withGrad;
  r.output = output;
  r.halideProfile = halideProfile;
  r.autoscheduler = autoscheduler;
  r.verbose = verbose;
  r.jobs = jobs > 0 ? jobs : cnnc::availableCpus();
  cnnc::parseConvAlgorithm(conv, r.conv);
  if (!cnnc::parseFma(fma, r.targets.cpu.has_feature(Halide::Target::AVX512), r.fma, why)) {
    fmt::print(stderr, "cnnc: error: --fma {}: {}\n", fma, why);
    return 2;
  }
  if (verbose) fmt::print(stderr, "cnnc: multiply-add units: {}\n", cnnc::describeFma(r.fma));
  r.distributed = distributed;
  r.chunks = chunks > 0 ? chunks : distributed ? 4 : 1;
  if (distributed && !r.targets.gpus.empty()) {
    fmt::print(stderr, "cnnc: error: --distributed builds CPU trainers only (the GPU collectives, NCCL or CUDA-aware "
               "MPI, are not there yet); drop the GPU APIs from --target\n");
    return 2;
  }
  return compile(input, r);
}
