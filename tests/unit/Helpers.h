// Runs the front end on text held in memory and keeps its messages.
#pragma once

#include <optional>
#include <string>

#include "check/Checker.h"
#include "lex/Lexer.h"
#include "parse/Parser.h"

namespace cnnc::test {

struct Compiled {
  std::vector<Token> tokens;
  File ast;
  std::optional<Graph> graph;
  std::string messages;  // everything reported, in source order
  unsigned errors = 0;
};

inline Compiled compile(const std::string& text) {
  Compiled c;
  auto file = SourceFile::fromText("test.cnn", text);
  file->captureMessages(&c.messages);
  c.tokens = lex(*file);
  c.ast = parse(*file, c.tokens);
  bool syntaxOk = file->errorCount() == 0;
  c.graph = check(*file, c.ast, syntaxOk);
  if (!syntaxOk) c.graph.reset();
  c.errors = file->errorCount();
  file->flush();
  return c;
}

}  // namespace cnnc::test
