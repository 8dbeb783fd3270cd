// The syntax tree of a .cnn file, as written (nothing checked yet).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/Diagnostics.h"

namespace cnnc {

// value := INT | FLOAT | IDENT | SHAPE | 'true' | 'false' | list
// list  := '[' value { ',' value } ']'   (v2)
struct Value {
  enum class Kind { Int, Float, Ident, Shape, Bool, List };
  Kind kind = Kind::Int;
  Loc loc;
  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  std::string ident;
  std::vector<int64_t> dims;  // Shape
  std::vector<Value> items;   // List
  std::string text;           // the source spelling, for dumps and messages

  // `INT 16`, `FLOAT 0.5`, ...: what a type-mismatch message says was found.
  std::string describe() const;
};

// arg := [ IDENT '=' ] value
struct Arg {
  std::string name;  // empty for a positional argument
  Loc loc;           // of the name, or of the value when positional
  Value value;
};

// layer := IDENT [ '(' [ arg { ',' arg } ] ')' ]
struct Layer {
  std::string name;
  Loc loc;
  std::vector<Arg> args;
  bool hasParens = false;
};

// stage := [ IDENT ':' ] layer { '->' layer }
struct Stage {
  std::string name;  // empty when unnamed
  Loc loc;           // of the name, or of the first layer
  std::vector<Layer> layers;
};

// 'input' SHAPE and 'classes' INT, kept with their locations so that the
// checker can point at a repeated one.
struct InputDecl {
  Loc loc;
  Value shape;
};
struct ClassesDecl {
  Loc loc;
  Value count;
};

// model := 'model' IDENT '{' { mstmt NL } '}'
struct Model {
  std::string name;
  Loc loc;
  std::vector<InputDecl> inputs;
  std::vector<ClassesDecl> classes;
  std::vector<Stage> stages;
};

// tstmt := IDENT value | IDENT IDENT '(' [ arg { ',' arg } ] ')'
//        | IDENT '(' [ arg { ',' arg } ] ')'      (v2: normalize(mean=..., std=...))
struct Setting {
  std::string name;
  Loc loc;
  Value value;            // for `optimizer adam(...)`, the IDENT adam; for `normalize(...)`, the IDENT normalize
  bool isCall = false;    // written with parentheses
  std::vector<Arg> args;  // the call's arguments
};

// train := 'train' '{' { tstmt NL } '}'
struct TrainBlock {
  Loc loc;
  std::vector<Setting> settings;
};

// file := { model | train }
struct File {
  std::vector<Model> models;
  std::vector<TrainBlock> trains;
};

// --emit=ast: an indented tree, one node per line with its location.
std::string dumpAst(const SourceFile& file, const File& ast);

}  // namespace cnnc
