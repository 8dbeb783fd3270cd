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
#include "grad/Grad.h"
#include "ir/Dot.h"
#include "ir/IR.h"
#include "fuse/Fuse.h"
#include "lex/Lexer.h"
#include "plan/Plan.h"
#include "parse/Parser.h"
#include "runtime/AtomicFile.h"
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
  app.add_flag("-v,--verbose", verbose, "print the commands run to build the trainer");
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
  // The CPU (host, or a Halide CPU target) and any GPU APIs, comma-separated
  // in any order: host,cuda,opencl.
  std::vector<cnnc::GpuApi> gpus;
  std::string cpu, why;
  for (std::string_view rest = targets; why.empty();) {
    const size_t comma = rest.find(',');
    const std::string part(rest.substr(0, comma));
    const bool isCuda = part == "cuda", isOpenCL = part == "opencl";
    if (part.empty()) {
      why = "an empty name in the list";
    } else if (isCuda || isOpenCL) {
      const cnnc::GpuApi api = isCuda ? cnnc::GpuApi::Cuda : cnnc::GpuApi::OpenCL;
      if (std::find(gpus.begin(), gpus.end(), api) != gpus.end()) why = part + " is named twice";
      gpus.push_back(api);
    } else if (!cpu.empty()) {
      why = "one CPU target only, found '" + cpu + "' and '" + part + "'";
    } else {
      cpu = part;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  // CUDA first: the order in which `--device auto` tries them.
  std::sort(gpus.begin(), gpus.end());
  if (why.empty() && cpu.empty()) why = "no CPU target; add host";
  if (!why.empty() || !cnnc::setCpuTarget(cpu, why)) {
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

  auto file = cnnc::SourceFile::open(input);
  if (!file) return 1;
  std::vector<cnnc::Token> tokens = cnnc::lex(*file);
  if (emit == Emit::Tokens) {
    if (file->errorCount() > 0) return 1;
    return deliver(cnnc::dumpTokens(*file, tokens), output);
  }
  cnnc::File ast = cnnc::parse(*file, tokens);
  bool syntaxOk = file->errorCount() == 0;
  if (emit == Emit::Ast) return syntaxOk ? deliver(cnnc::dumpAst(*file, ast), output) : 1;
  // Checked even after syntax errors, so one run reports all it can.
  std::optional<cnnc::Graph> graph = cnnc::check(*file, ast, syntaxOk);
  if (!graph || !syntaxOk) return 1;
  if (summary) return deliver(cnnc::printSummary(*graph), output);
  if (emit == Emit::Ir) return deliver(cnnc::printGraph(*graph), output);
  if (emit == Emit::Dot && !withGrad) return deliver(cnnc::printDot(*graph), output);
  cnnc::differentiate(*graph);
  if (emit == Emit::Dot) return deliver(cnnc::printDot(*graph), output);
  if (emit == Emit::Grad) return deliver(cnnc::printGraph(*graph), output);
  if (emit == Emit::Fused) return deliver(cnnc::printFused(*graph, cnnc::fuse(*graph)), output);
  if (emit == Emit::Plan) {
    const cnnc::Fusion fusion = cnnc::fuse(*graph);
    return deliver(cnnc::printPlan(*graph, fusion, cnnc::planMemory(*graph, fusion)), output);
  }
  if (emit == Emit::Halide) {
    std::string text = cnnc::printHalide(*graph);
    return text.empty() ? 1 : deliver(text, output);
  }
  if (emit == Emit::Glue) return deliver(cnnc::glueSource(*graph, gpus), output);
  if (emit == Emit::Stmt) {
    std::string text = cnnc::printStmt(*graph, gpus);
    return text.empty() ? 1 : deliver(text, output);
  }
  if (output.empty()) {
    fmt::print(stderr, "cnnc: error: no output: pass -o TRAINER to build a trainer, or --summary / --emit=STAGE\n");
    return 2;
  }
  cnnc::EmitOptions options;
  options.output = output;
  options.verbose = verbose;
  options.gpus = gpus;
  options.profile = halideProfile;
  options.autoscheduler = autoscheduler;
  return cnnc::buildTrainer(*graph, options) ? 0 : 1;
}
