// libFuzzer target: the whole front end on arbitrary text: lexer, parser,
// checker, IR printers and the backward pass. Lowering to Halide is left
// out (it only ever sees checked graphs, and is slow).
#include <string>

#include "check/Checker.h"
#include "check/Summary.h"
#include "grad/Grad.h"
#include "ir/Dot.h"
#include "ir/IR.h"
#include "lex/Lexer.h"
#include "parse/Parser.h"
#include "support/Diagnostics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string messages;
  auto file = cnnc::SourceFile::fromText("fuzz.cnn", std::string(reinterpret_cast<const char*>(data), size));
  file->captureMessages(&messages);
  std::vector<cnnc::Token> tokens = cnnc::lex(*file);
  cnnc::dumpTokens(*file, tokens);
  cnnc::File ast = cnnc::parse(*file, tokens);
  bool syntaxOk = file->errorCount() == 0;
  if (syntaxOk) cnnc::dumpAst(*file, ast);
  std::optional<cnnc::Graph> graph = cnnc::check(*file, ast, syntaxOk);
  if (graph && syntaxOk) {
    cnnc::printSummary(*graph);
    cnnc::printDot(*graph);
    cnnc::differentiate(*graph);
    cnnc::printGraph(*graph);
  } else if (file->errorCount() == 0) {
    __builtin_trap();  // a refused file always says why
  }
  file->flush();
  return 0;
}
