#include "parse/AST.h"

#include <fmt/format.h>

namespace cnnc {

std::string Value::describe() const {
  switch (kind) {
    case Kind::Int: return fmt::format("integer {}", text);
    case Kind::Float: return fmt::format("number {}", text);
    case Kind::Ident: return fmt::format("name '{}'", text);
    case Kind::Shape: return fmt::format("shape {}", text);
    case Kind::Bool: return fmt::format("boolean {}", text);
    case Kind::List: return fmt::format("list {}", text);
  }
  return text;
}

namespace {

const char* kindName(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::Ident: return "ident";
    case Value::Kind::Shape: return "shape";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::List: return "list";
  }
  return "?";
}

class AstPrinter {
 public:
  explicit AstPrinter(const SourceFile& file) : file_(file) {}

  std::string print(const File& ast) {
    for (const Model& m : ast.models) model(m);
    for (const TrainBlock& t : ast.trains) train(t);
    return out_;
  }

 private:
  void line(int depth, const std::string& text, Loc loc) {
    out_ += fmt::format("{:{}}{} @{}\n", "", depth * 2, text, file_.describe(loc));
  }

  void model(const Model& m) {
    line(0, fmt::format("Model {}", m.name), m.loc);
    for (const InputDecl& in : m.inputs) line(1, fmt::format("Input {}", in.shape.text), in.loc);
    for (const ClassesDecl& c : m.classes) line(1, fmt::format("Classes {}", c.count.text), c.loc);
    for (const Stage& s : m.stages) {
      line(1, s.name.empty() ? std::string("Stage (unnamed)") : fmt::format("Stage {}", s.name), s.loc);
      for (const Layer& l : s.layers) {
        line(2, fmt::format("Layer {}", l.name), l.loc);
        args(3, l.args);
      }
    }
  }

  void train(const TrainBlock& t) {
    line(0, "Train", t.loc);
    for (const Setting& s : t.settings) {
      line(1, fmt::format("Setting {} = {}{} {}", s.name, kindName(s.value.kind), s.isCall ? " call" : "", s.value.text),
           s.loc);
      args(2, s.args);
    }
  }

  void args(int depth, const std::vector<Arg>& list) {
    for (const Arg& a : list) {
      std::string name = a.name.empty() ? std::string("Arg") : fmt::format("Arg {} =", a.name);
      line(depth, fmt::format("{} {} {}", name, kindName(a.value.kind), a.value.text), a.loc);
    }
  }

  const SourceFile& file_;
  std::string out_;
};

}  // namespace

std::string dumpAst(const SourceFile& file, const File& ast) { return AstPrinter(file).print(ast); }

}  // namespace cnnc
