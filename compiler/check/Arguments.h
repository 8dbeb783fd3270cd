// Arguments as written (a layer's, an optimizer's), matched against a
// signature: unknown, repeated, missing, mistyped and out-of-range
// arguments are reported at their locations.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/Ops.h"
#include "parse/AST.h"
#include "support/Diagnostics.h"

namespace cnnc {

// Arguments as written, by the name of the argument they matched.
using GivenArgs = std::map<std::string, const Arg*>;

// Matches `args` against `specs` (positional first, then named); false
// after reporting what is wrong.
bool matchArgs(SourceFile& file, const std::string& owner, Loc ownerLoc, const std::vector<ArgSpec>& specs,
               const std::vector<Arg>& args, GivenArgs& given);

// A layer's attributes: the matched arguments as the types of their specs,
// then the defaults of the rest.
Attrs layerAttrs(const OpInfo& info, const GivenArgs& given);

}  // namespace cnnc
