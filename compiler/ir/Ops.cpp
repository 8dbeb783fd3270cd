// What the op table's rows share: argument types, signatures, defaults.
// The rows themselves are in compiler/ops/.
#include "ir/Ops.h"

#include <fmt/format.h>

#include <cstring>

#include "support/Invariant.h"

namespace cnnc {

const char* argTypeName(ArgType type) {
  switch (type) {
    case ArgType::Int: return "an integer";
    case ArgType::Pair: return "an integer or HxW";
    case ArgType::Bool: return "true or false";
    case ArgType::Number: return "a number";
    case ArgType::Numbers: return "a number or a list of numbers";
  }
  return "?";
}

std::string signature(const std::string& name, const std::vector<ArgSpec>& args) {
  std::vector<std::string> parts;
  for (const ArgSpec& a : args)
    parts.push_back(a.required ? std::string(a.name) : fmt::format("{}={}", a.name, a.defaultText));
  return fmt::format("{}({})", name, fmt::join(parts, ", "));
}

namespace {

// The value a default's text stands for, as an argument of `type`.
AttrValue parseDefault(const ArgSpec& spec) {
  const std::string text = spec.defaultText;
  switch (spec.type) {
    case ArgType::Int: return AttrValue::integer(std::stoll(text));
    case ArgType::Pair: return AttrValue::pair(std::stoll(text), std::stoll(text));
    case ArgType::Bool: return AttrValue::boolean(text == "true");
    case ArgType::Number:
    case ArgType::Numbers: return AttrValue::real(std::stod(text));
  }
  internalError("an argument of no type");
}

}  // namespace

Attrs attrsWithDefaults(const std::vector<ArgSpec>& args, const Attrs& given) {
  Attrs a;
  for (const ArgSpec& spec : args) {
    if (given.has(spec.name)) {
      a.set(spec.name, given.get(spec.name));
      continue;
    }
    require(!spec.required, "a required argument is missing after the checker matched the arguments");
    if (std::strcmp(spec.defaultText, "inferred") == 0) continue;
    bool another = false;  // stride=kernel: the value of an argument before it
    for (const ArgSpec& other : args)
      if (std::strcmp(other.name, spec.defaultText) == 0) {
        a.set(spec.name, a.get(other.name));
        another = true;
      }
    if (!another) a.set(spec.name, parseDefault(spec));
  }
  return a;
}

bool isElementwise(OpKind kind) {
  FuseAs f = opInfo(kind).fuse;
  return f == FuseAs::Elementwise || f == FuseAs::ElementwiseGradient;
}

}  // namespace cnnc
