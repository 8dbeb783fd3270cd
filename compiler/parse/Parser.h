// parse: tokens -> AST, with error recovery so one run reports every
// syntax error it can (a bad statement is skipped to the end of its line).
#pragma once

#include <vector>

#include "lex/Token.h"
#include "parse/AST.h"

namespace cnnc {

// Parses a whole file. Errors go to `file`; the returned tree holds every
// statement that parsed, so the checker can still look at them.
File parse(SourceFile& file, const std::vector<Token>& tokens);

}  // namespace cnnc
