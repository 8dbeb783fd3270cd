// lex: text -> tokens, each with its file:line:col.
#pragma once

#include <vector>

#include "lex/Token.h"

namespace cnnc {

// Splits the whole file into tokens, ending with one Eof token. Malformed
// input is reported through `file` and becomes an Error token, so the
// parser can go on and report more.
std::vector<Token> lex(SourceFile& file);

// --emit=tokens: one line per token, `line:col kind 'text'`.
std::string dumpTokens(const SourceFile& file, const std::vector<Token>& tokens);

}  // namespace cnnc
