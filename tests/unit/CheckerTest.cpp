#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "Helpers.h"
#include "check/Summary.h"
#include "ir/Ops.h"

using namespace cnnc;
using cnnc::test::compile;

namespace {
const std::string kTutorial =
    "model mnist {\n"
    "  input 1x28x28\n"
    "  classes 10\n"
    "  conv1: conv2d(16, kernel=5, stride=1, padding=2) -> relu -> maxpool(2)\n"
    "  conv2: conv2d(32, kernel=5, stride=1, padding=2) -> relu -> relu -> maxpool(2)\n"
    "  conv3: conv2d(64, kernel=5, stride=1, padding=2) -> relu\n"
    "  flatten\n"
    "  out: linear(10, in=3136)\n"
    "}\n"
    "train {\n  loss cross_entropy\n  optimizer adam(lr=0.01)\n  batch 64\n  epochs 9\n  data mnist\n}\n";

const Tensor* findTensor(const Graph& g, const std::string& name) {
  for (const Tensor& t : g.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// The per-sample output shape of a one-layer model on `input`.
Shape outputOf(const std::string& input, const std::string& layer) {
  auto c = compile("model m {\n  input " + input + "\n  " + layer + "\n  flatten\n}\n");
  INFO(c.messages);
  REQUIRE(c.graph);
  const Graph& g = *c.graph;
  const Shape& s = g.tensors[g.ops[0].result].shape;
  return Shape(s.begin() + 1, s.end());
}
}  // namespace

TEST_CASE("the tutorial network: PyTorch's parameter and multiply-add counts", "[check]") {
  auto c = compile(kTutorial);
  INFO(c.messages);
  REQUIRE(c.graph);
  ModelTotals totals = modelTotals(*c.graph);
  CHECK(totals.params == 95882);
  CHECK(totals.macsPerSample == 5362560);
  CHECK(c.graph->classes == 10);
  CHECK(c.graph->train.batch == 64);
  CHECK(c.graph->train.epochs == 9);
  CHECK(c.graph->train.optimizer.kind == Optimizer::Kind::Adam);
  CHECK(c.graph->train.optimizer.lr == Approx(0.01));
}

TEST_CASE("parameters are named like the PyTorch state_dict", "[check]") {
  auto c = compile(kTutorial);
  REQUIRE(c.graph);
  std::vector<std::string> names;
  for (int id : c.graph->params) names.push_back(c.graph->tensors[id].name);
  CHECK(names == std::vector<std::string>{"conv1.0.weight", "conv1.0.bias", "conv2.0.weight", "conv2.0.bias",
                                          "conv3.0.weight", "conv3.0.bias", "out.weight", "out.bias"});
  CHECK(findTensor(*c.graph, "conv2.0.weight")->shape == Shape{32, 16, 5, 5});
  CHECK(findTensor(*c.graph, "out.weight")->shape == Shape{10, 3136});
  // Each op keeps the location of the layer it came from.
  CHECK(findTensor(*c.graph, "conv3.0.weight")->loc.line == 6);
}

TEST_CASE("unnamed stages are layerN, counting stages from 0", "[check]") {
  auto c = compile("model m {\n  input 784\n  linear(32) -> relu\n  h: linear(16, bias=false)\n  linear(10)\n}\n");
  INFO(c.messages);
  REQUIRE(c.graph);
  std::vector<std::string> names;
  for (int id : c.graph->params) names.push_back(c.graph->tensors[id].name);
  CHECK(names == std::vector<std::string>{"layer0.0.weight", "layer0.0.bias", "h.weight", "layer2.weight",
                                          "layer2.bias"});
}

TEST_CASE("shape rules follow PyTorch", "[check]") {
  CHECK(outputOf("1x28x28", "conv2d(16, kernel=5, padding=2)") == Shape{16, 28, 28});
  CHECK(outputOf("1x28x28", "conv2d(8, kernel=3, stride=2)") == Shape{8, 13, 13});
  CHECK(outputOf("3x32x30", "conv2d(4, kernel=3x5, stride=2x1, padding=1x0)") == Shape{4, 16, 26});
  CHECK(outputOf("2x7x7", "maxpool(2)") == Shape{2, 3, 3});
  CHECK(outputOf("2x7x7", "maxpool(3, stride=2, padding=1)") == Shape{2, 4, 4});
  CHECK(outputOf("2x5x5", "avgpool(2, stride=1)") == Shape{2, 4, 4});
  CHECK(outputOf("2x5x5", "tanh") == Shape{2, 5, 5});
}

TEST_CASE("a final softmax: the loss reads the logits before it", "[check]") {
  auto c = compile("model m {\n  input 4\n  linear(3) -> softmax\n}\n");
  REQUIRE(c.graph);
  const Graph& g = *c.graph;
  CHECK(g.tensors[g.output].name == "layer0.1");
  CHECK(g.tensors[g.logits].name == "layer0.0");
  CHECK(g.ops.back().kind == OpKind::CrossEntropy);
  CHECK(g.ops.back().operands[0] == g.logits);
}

TEST_CASE("the train block: defaults and every setting", "[check]") {
  auto d = compile("model m {\n  input 4\n  linear(2)\n}\n");
  REQUIRE(d.graph);
  const TrainConfig& def = d.graph->train;
  CHECK(def.loss == LossKind::CrossEntropy);
  CHECK(def.optimizer.kind == Optimizer::Kind::Adam);
  CHECK(def.optimizer.lr == Approx(0.001));
  CHECK(def.batch == 64);
  CHECK(def.epochs == 1);
  CHECK(def.seed == 0);
  CHECK(def.shuffle);

  auto c = compile(
      "model m {\n  input 4\n  linear(2)\n}\n"
      "train {\n  loss mse\n  optimizer sgd(0.1, momentum=0.9, weight_decay=5e-4)\n  batch 32\n  epochs 3\n"
      "  seed 7\n  shuffle false\n  data mnist\n}\n");
  INFO(c.messages);
  REQUIRE(c.graph);
  const TrainConfig& t = c.graph->train;
  CHECK(t.loss == LossKind::Mse);
  CHECK(t.optimizer.kind == Optimizer::Kind::Sgd);
  CHECK(t.optimizer.lr == Approx(0.1));
  CHECK(t.optimizer.momentum == Approx(0.9));
  CHECK(t.optimizer.weightDecay == Approx(5e-4));
  CHECK(t.batch == 32);
  CHECK(t.epochs == 3);
  CHECK(t.seed == 7);
  CHECK_FALSE(t.shuffle);
  CHECK(c.graph->tensors[c.graph->input].shape == Shape{32, 4});
}

TEST_CASE("errors name file, line and column; all are reported", "[check]") {
  auto c = compile(
      "model m {\n"
      "  input 1x28x28\n"
      "  classes 10\n"
      "  a: conv2d(4, kernel=3, stridee=2)\n"
      "  b: conv2d(4, kernel=3)\n"
      "  b: linear(10)\n"
      "}\n"
      "train {\n  optimizer adam(beta1=1.0)\n  epochs 0\n}\n");
  CHECK_FALSE(c.graph);
  CHECK(c.messages.find("test.cnn:4:26: error: unknown argument 'stridee' of 'conv2d'") != std::string::npos);
  CHECK(c.messages.find("did you mean 'stride'?") != std::string::npos);
  CHECK(c.messages.find("test.cnn:6:3: error: duplicate stage name 'b'") != std::string::npos);
  CHECK(c.messages.find("test.cnn:5:3: note: first used here") != std::string::npos);
  CHECK(c.messages.find("test.cnn:9:24: error: argument 'beta1' of 'adam' must be in [0, 1), found 1.0") !=
        std::string::npos);
  CHECK(c.messages.find("test.cnn:10:10: error: setting 'epochs' must be at least 1, found 0") != std::string::npos);
  CHECK(c.errors == 4);
}

TEST_CASE("the tutorial's flatten bug is found at compile time", "[check]") {
  std::string buggy = kTutorial;
  buggy.replace(buggy.find("in=3136"), 7, "in=2688");
  auto c = compile(buggy);
  CHECK_FALSE(c.graph);
  CHECK(c.messages.find("test.cnn:8:19: error: linear expects in=3136 (its input is 64x7x7 = 3136 values, "
                        "flattened), found in=2688") != std::string::npos);
  CHECK(c.messages.find("  out: linear(10, in=2688)\n                  ^\n") != std::string::npos);
}

TEST_CASE("pool padding over half the kernel is refused, as in PyTorch", "[check]") {
  auto c = compile("model m {\n  input 1x8x8\n  maxpool(2, padding=2)\n  flatten\n}\n");
  CHECK(c.messages.find("test.cnn:3:22: error: maxpool: padding 2 is more than half the kernel 2") !=
        std::string::npos);
}

TEST_CASE("a name clash between a stage and an unnamed stage", "[check]") {
  auto c = compile("model m {\n  input 4\n  layer1: linear(3)\n  linear(2)\n}\n");
  CHECK(c.messages.find("stage name 'layer1' is also the name of an unnamed stage") != std::string::npos);
}

TEST_CASE("every layer in the op table has a signature", "[check]") {
  for (const std::string& name : layerNames()) {
    const OpInfo* info = findLayer(name);
    REQUIRE(info);
    CHECK(signature(info->name, info->args).rfind(name + "(", 0) == 0);
  }
  CHECK(signature("conv2d", findLayer("conv2d")->args) == "conv2d(out, kernel, stride=1, padding=0, bias=true)");
}

TEST_CASE("a long source line is shown as a window with the caret under the column", "[check]") {
  // The unknown layer sits at column 1,000 of a 2,000-column line.
  std::string line = "  a: conv2d(4, kernel=3)";
  while (line.size() < 991) line += " -> relu";
  line += " -> bogus";
  const size_t column = line.size() - 4;  // 1-based column of 'bogus'
  while (line.size() < 2000) line += " -> relu";
  auto c = compile("model m {\n  input 1x28x28\n" + line + "\n  flatten\n  out: linear(10)\n}\n");
  INFO(c.messages);
  REQUIRE(c.errors == 1);
  CHECK(c.messages.find(fmt::format("test.cnn:3:{}: error: unknown layer 'bogus'", column)) == 0);
  std::vector<std::string> lines;
  for (size_t at = 0, next; at < c.messages.size(); at = next + 1) {
    next = c.messages.find('\n', at);
    lines.push_back(c.messages.substr(at, next - at));
  }
  REQUIRE(lines.size() == 3);
  const std::string& shown = lines[1];
  const std::string& caret = lines[2];
  CHECK(shown.size() <= 170);
  CHECK(shown.substr(0, 3) == "...");
  CHECK(shown.substr(shown.size() - 3) == "...");
  REQUIRE(caret.find('^') == caret.size() - 1);
  CHECK(shown.compare(caret.size() - 1, 5, "bogus") == 0);
}
