// --emit=dot: the graph as Graphviz, for `dot -Tsvg`.
#pragma once

#include <string>

#include "ir/IR.h"

namespace cnnc {

// Tensors are ovals (parameters as notes), ops are boxes with their source
// location. Backward and optimizer ops appear when the graph has them.
std::string printDot(const Graph& graph);

}  // namespace cnnc
