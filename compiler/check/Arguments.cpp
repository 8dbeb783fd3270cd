// Arguments of layers and of the train block's calls, matched against a
// signature (positional first, then named).
#include "check/Arguments.h"

#include <fmt/format.h>

#include "support/Text.h"

namespace cnnc {

namespace {

// The value's type, and each number's range.
bool checkArgValue(SourceFile& file, const std::string& owner, const ArgSpec& spec, const Value& v) {
  bool typeOk = false;
  switch (spec.type) {
    case ArgType::Int: typeOk = v.kind == Value::Kind::Int; break;
    case ArgType::Pair:
      typeOk = v.kind == Value::Kind::Int || (v.kind == Value::Kind::Shape && v.dims.size() == 2);
      break;
    case ArgType::Bool: typeOk = v.kind == Value::Kind::Bool; break;
    case ArgType::Number: typeOk = v.kind == Value::Kind::Int || v.kind == Value::Kind::Float; break;
    case ArgType::Numbers:
      typeOk = v.kind == Value::Kind::Int || v.kind == Value::Kind::Float || v.kind == Value::Kind::List;
      for (const Value& item : v.items) typeOk = typeOk && (item.kind == Value::Kind::Int || item.kind == Value::Kind::Float);
      break;
  }
  if (!typeOk) {
    file.error(v.loc, fmt::format("argument '{}' of '{}' expects {}, found {}", spec.name, owner, argTypeName(spec.type),
                             v.describe()));
    return false;
  }
  std::vector<double> numbers;
  if (v.kind == Value::Kind::Int) numbers.push_back(static_cast<double>(v.intValue));
  if (v.kind == Value::Kind::Float) numbers.push_back(v.floatValue);
  for (int64_t d : v.dims) numbers.push_back(static_cast<double>(d));
  for (const Value& item : v.items)
    numbers.push_back(item.kind == Value::Kind::Int ? static_cast<double>(item.intValue) : item.floatValue);
  for (double x : numbers) {
    if (x < spec.min || (spec.below > spec.min && x >= spec.below) || (spec.atMost > spec.min && x > spec.atMost)) {
      std::string range = spec.below > spec.min    ? fmt::format("in [{}, {})", spec.min, spec.below)
                          : spec.atMost > spec.min ? fmt::format("in [{}, {}]", spec.min, spec.atMost)
                                                   : fmt::format("at least {}", spec.min);
      file.error(v.loc, fmt::format("argument '{}' of '{}' must be {}, found {}", spec.name, owner, range, v.text));
      return false;
    }
  }
  return true;
}

}  // namespace

// Matches `args` against `specs` (positional first, then named); reports
// unknown, repeated, missing, mistyped and out-of-range arguments.
bool matchArgs(SourceFile& file, const std::string& owner, Loc ownerLoc, const std::vector<ArgSpec>& specs,
               const std::vector<Arg>& args, GivenArgs& given) {
  bool ok = true;
  size_t position = 0;
  bool seenNamed = false;
  std::vector<std::string> names;
  for (const ArgSpec& s : specs) names.push_back(s.name);
  for (const Arg& arg : args) {
    const ArgSpec* spec = nullptr;
    if (arg.name.empty()) {
      if (seenNamed) {
        file.error(arg.loc, fmt::format("positional argument after a named one in '{}'", owner));
        ok = false;
        continue;
      }
      if (position >= specs.size()) {
        file.error(arg.loc, specs.empty() ? fmt::format("'{}' takes no arguments, found {}", owner, args.size())
                                     : fmt::format("'{}' takes at most {} arguments, found {}; expected {}", owner,
                                                   specs.size(), args.size(), signature(owner, specs)));
        ok = false;
        break;
      }
      spec = &specs[position++];
    } else {
      seenNamed = true;
      for (const ArgSpec& s : specs)
        if (arg.name == s.name) spec = &s;
      if (!spec) {
        file.error(arg.loc, specs.empty() ? fmt::format("'{}' takes no arguments, found '{}'", owner, arg.name)
                                     : fmt::format("unknown argument '{}' of '{}'; expected {}{}", arg.name, owner,
                                                   joinOr(names), didYouMean(arg.name, names)));
        ok = false;
        continue;
      }
    }
    if (given.count(spec->name)) {
      file.error(arg.loc, fmt::format("argument '{}' of '{}' is given twice", spec->name, owner));
      file.note(given[spec->name]->loc, "first given here");
      ok = false;
      continue;
    }
    if (!checkArgValue(file, owner, *spec, arg.value)) {
      ok = false;
      continue;
    }
    given[spec->name] = &arg;
  }
  for (const ArgSpec& s : specs) {
    if (s.required && !given.count(s.name) && ok) {
      file.error(ownerLoc, fmt::format("'{}' needs argument '{}'; expected {}", owner, s.name, signature(owner, specs)));
      ok = false;
    }
  }
  return ok;
}

// The layer's attributes: the matched arguments as the types of their
// specs, then the defaults of the rest.
Attrs layerAttrs(const OpInfo& info, const GivenArgs& given) {
  Attrs a;
  for (const ArgSpec& spec : info.args) {
    auto it = given.find(spec.name);
    if (it == given.end()) continue;
    const Value& v = it->second->value;
    switch (spec.type) {
      case ArgType::Int: a.set(spec.name, AttrValue::integer(v.intValue)); break;
      case ArgType::Pair:
        a.set(spec.name, v.kind == Value::Kind::Int ? AttrValue::pair(v.intValue, v.intValue)
                                                    : AttrValue::pair(v.dims[0], v.dims[1]));
        break;
      case ArgType::Bool: a.set(spec.name, AttrValue::boolean(v.boolValue)); break;
      case ArgType::Number:
      case ArgType::Numbers:  // (no layer takes a list)
        a.set(spec.name, AttrValue::real(v.kind == Value::Kind::Int ? double(v.intValue) : v.floatValue));
        break;
    }
  }
  return attrsWithDefaults(info.args, a);
}


}  // namespace cnnc
