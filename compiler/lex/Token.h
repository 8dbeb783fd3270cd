// Tokens of the .cnn language (see docs/language.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/Diagnostics.h"

namespace cnnc {

enum class Tok {
  Ident,    // conv1, relu, cross_entropy
  Int,      // 16
  Float,    // 0.01, 1e-8
  Shape,    // 1x28x28, 5x3 (a single INT is an Int token)
  KwModel,  // model
  KwTrain,  // train
  KwTrue,   // true
  KwFalse,  // false
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,  // [ (v2: lists)
  RBracket,
  Comma,
  Colon,
  Equal,
  Arrow,    // ->
  Newline,  // statements end at a newline
  Eof,
  Error,    // a malformed token; the lexer has already reported it
};

// Name of a token kind as printed by --emit=tokens and in messages.
const char* tokName(Tok kind);

struct Token {
  Tok kind = Tok::Eof;
  Loc loc;
  std::string text;            // the source spelling
  int64_t intValue = 0;        // Int
  double floatValue = 0;       // Float
  std::vector<int64_t> dims;   // Shape

  bool is(Tok k) const { return kind == k; }
  // How a message names this token: `'relu'`, `end of line`, `end of file`.
  std::string describe() const;
};

}  // namespace cnnc
