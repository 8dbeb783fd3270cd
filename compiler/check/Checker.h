// check: AST -> typed graph IR with every shape known.
#pragma once

#include <optional>

#include "ir/IR.h"
#include "parse/AST.h"

namespace cnnc {

// Checks the model and train block and builds the graph. Reports every
// error it can find through `file`; returns nullopt if there was any.
// After syntax errors the tree is incomplete: `syntaxOk` false checks each
// statement on its own (names, arguments, settings) but not the shapes,
// which a dropped statement would throw off.
// `chunks` > 1 (cnnc --chunks, --distributed): the graph is built for
// chunks of batch / chunks samples; the batch must be a multiple of it.
std::optional<Graph> check(SourceFile& file, const File& ast, bool syntaxOk = true, int chunks = 1);

}  // namespace cnnc
