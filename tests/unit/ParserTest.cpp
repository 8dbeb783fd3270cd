#include <catch2/catch.hpp>

#include "Helpers.h"

using namespace cnnc;
using cnnc::test::compile;

TEST_CASE("the tutorial network parses into stages and layers", "[parse]") {
  auto c = compile(
      "model mnist {\n"
      "  input 1x28x28\n"
      "  classes 10\n"
      "  conv1: conv2d(16, kernel=5, stride=1, padding=2) -> relu -> maxpool(2)\n"
      "  flatten\n"
      "  out: linear(10, in=3136)\n"
      "}\n"
      "train {\n"
      "  optimizer adam(lr=0.01)\n"
      "  batch 64\n"
      "}\n");
  REQUIRE(c.ast.models.size() == 1);
  const Model& m = c.ast.models[0];
  CHECK(m.name == "mnist");
  REQUIRE(m.inputs.size() == 1);
  CHECK(m.inputs[0].shape.dims == std::vector<int64_t>{1, 28, 28});
  REQUIRE(m.stages.size() == 3);
  CHECK(m.stages[0].name == "conv1");
  REQUIRE(m.stages[0].layers.size() == 3);
  const Layer& conv = m.stages[0].layers[0];
  CHECK(conv.name == "conv2d");
  REQUIRE(conv.args.size() == 4);
  CHECK(conv.args[0].name.empty());
  CHECK(conv.args[0].value.intValue == 16);
  CHECK(conv.args[1].name == "kernel");
  CHECK(conv.loc.line == 4);
  CHECK(conv.loc.col == 10);
  CHECK(m.stages[1].name.empty());
  CHECK(m.stages[2].layers[0].args[1].name == "in");
  REQUIRE(c.ast.trains.size() == 1);
  const Setting& opt = c.ast.trains[0].settings[0];
  CHECK(opt.name == "optimizer");
  CHECK(opt.isCall);
  CHECK(opt.value.ident == "adam");
  CHECK(opt.args[0].value.floatValue == Approx(0.01));
  CHECK(c.errors == 0);
}

TEST_CASE("a stage continues after a trailing arrow; arguments may span lines", "[parse]") {
  auto c = compile(
      "model m {\n  input 1x8x8\n  s: conv2d(4,\n     kernel=3) ->\n     relu ->\n\n     maxpool(2)\n  flatten\n"
      "  linear(10)\n}\n");
  CHECK(c.errors == 0);
  REQUIRE(c.ast.models[0].stages.size() == 3);
  CHECK(c.ast.models[0].stages[0].layers.size() == 3);
}

TEST_CASE("a stage named like a keyword of the model block", "[parse]") {
  auto c = compile("model m {\n  input: linear(3)\n  input 4\n}\n");
  REQUIRE(c.ast.models[0].stages.size() == 1);
  CHECK(c.ast.models[0].stages[0].name == "input");
  CHECK(c.ast.models[0].inputs.size() == 1);
}

TEST_CASE("one run reports several syntax errors", "[parse]") {
  auto c = compile(
      "model m {\n"
      "  input 1x28x28 extra\n"
      "  a: conv2d(4 kernel=3)\n"
      "  b: relu ->\n"
      "  }\n"
      "}\n");
  CHECK(c.errors >= 3);
  CHECK(c.messages.find("test.cnn:2:17: error: expected end of line, found 'extra'") != std::string::npos);
  CHECK(c.messages.find("test.cnn:3:15: error: expected ',' or ')' in the arguments of 'conv2d', found 'kernel'") !=
        std::string::npos);
  CHECK(c.messages.find("test.cnn:5:3: error: expected a layer name, found '}'") != std::string::npos);
  CHECK(c.messages.find("test.cnn:6:1: error: expected 'model' or 'train', found '}'") != std::string::npos);
}

TEST_CASE("an unclosed block points at where it was opened", "[parse]") {
  auto c = compile("model m {\n  input 784\n  linear(10)\n");
  CHECK(c.messages.find("error: expected '}' to close model 'm', found end of file") != std::string::npos);
  CHECK(c.messages.find("test.cnn:1:9: note: model 'm' opened here") != std::string::npos);
}

TEST_CASE("top-level junk is skipped to the next block", "[parse]") {
  auto c = compile("modle m {\n  input 784\n  linear(10)\n}\nmodel n {\n  input 784\n  linear(10)\n}\n");
  CHECK(c.errors == 1);
  CHECK(c.messages.find("test.cnn:1:1: error: expected 'model' or 'train', found 'modle'") != std::string::npos);
  REQUIRE(c.ast.models.size() == 1);
  CHECK(c.ast.models[0].name == "n");
}

TEST_CASE("messages come out in source order", "[parse]") {
  // The lexer finds '@' (line 4) before the parser finds line 2's error.
  auto c = compile("model m {\n  input 784 784\n  linear(10)\n  @\n}\n");
  auto first = c.messages.find("test.cnn:2:");
  auto second = c.messages.find("test.cnn:4:");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(first < second);
}
