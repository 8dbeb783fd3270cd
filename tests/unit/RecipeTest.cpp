// Training recipes against PyTorch (tests/reference/make_optimizers.py wrote
// optimizers.json with PyTorch 1.13): every optimizer's update step for step,
// at the learning rate a schedule gives each step, and the label-smoothed
// cross-entropy's loss and gradients.
#include <catch2/catch.hpp>

#include <Halide.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "Helpers.h"
#include "grad/Grad.h"
#include "lower/Lower.h"
#include "lower/Pipelines.h"
#include "lower/ScheduleCpu.h"

using namespace cnnc;
using Halide::Buffer;

namespace {

nlohmann::json reference() {
  std::ifstream in(std::string(CNNC_SOURCE_DIR) + "/tests/reference/optimizers.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

// One case: the update pipeline from the .cnn's optimizer call, run on the
// case's parameters and gradients with the runtime's scalars for each step
// and its rate. Returns the largest relative difference from PyTorch's.
double runOptimizer(const nlohmann::json& c) {
  const std::string call = c["optimizer"];
  auto compiled = test::compile("model m {\n  input 3\n  linear(2)\n}\ntrain {\n  optimizer " + call + "\n}\n");
  INFO(compiled.messages);
  REQUIRE(compiled.graph);
  Graph g = *compiled.graph;
  differentiate(g);
  LoweredUpdate u = lowerUpdate(g);
  scheduleUpdateCpu(u, hostTarget());
  Halide::Pipeline pipeline(u.out);
  std::vector<float> p = c["params"];
  const int P = static_cast<int>(p.size());
  std::vector<std::vector<float>> state(u.state.size(), std::vector<float>(P, 0.0f));
  const std::vector<double> lrs = c["lrs"];
  double worst = 0;
  for (size_t step = 1; step <= lrs.size(); ++step) {
    std::vector<float> grad = c["grads"][step - 1];
    const std::vector<float> expected = c["after"][step - 1];
    u.params.set(Buffer<float>(p.data(), P));
    u.grads.set(Buffer<float>(grad.data(), P));
    std::vector<Buffer<>> outs{Buffer<float>(P)};
    for (size_t s = 0; s < state.size(); ++s) {
      u.state[s].set(Buffer<float>(state[s].data(), P));
      outs.push_back(Buffer<float>(P));
    }
    // The scalars a trainer passes at this step and rate.
    setUpdateScalars(u, g, cnnc_rt::updateScalars(optimizerSpec(g.train.optimizer), lrs[step - 1], step));
    pipeline.realize(Halide::Realization(outs));
    for (int i = 0; i < P; ++i) p[i] = Buffer<float>(outs[0])(i);
    for (size_t s = 0; s < state.size(); ++s)
      for (int i = 0; i < P; ++i) state[s][i] = Buffer<float>(outs[s + 1])(i);
    for (int i = 0; i < P; ++i) {
      INFO(call << " step " << step << " element " << i << ": ours " << p[i] << ", PyTorch's " << expected[i]);
      const double diff = std::abs(double(p[i]) - expected[i]);
      CHECK(diff <= 1e-6 * std::abs(expected[i]) + 1e-7);
      worst = std::max(worst, diff / std::max(std::abs(double(expected[i])), 1e-3));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("optimizer updates follow torch.optim step for step", "[optim]") {
  const nlohmann::json ref = reference();
  int cases = 0;
  for (const nlohmann::json& c : ref["optimizers"]) {
    const double worst = runOptimizer(c);
    std::printf("%s: %zu steps, max relative difference %.2g\n", std::string(c["optimizer"]).c_str(),
                c["lrs"].size(), worst);
    ++cases;
  }
  CHECK(cases == 9);
}

// The loss and the gradients of `input K` -> linear(K) holding the identity
// and zero bias (so the logits are the images / 255, as in PyTorch's case)
// under cross_entropy with the case's label_smoothing.
TEST_CASE("label smoothing: the loss and gradients are PyTorch's", "[optim]") {
  const nlohmann::json ref = reference();
  for (const nlohmann::json& c : ref["label_smoothing"]) {
    const std::vector<std::vector<int>> images = c["images"];
    const std::vector<int> labels = c["labels"];
    const int N = static_cast<int>(images.size()), K = static_cast<int>(images[0].size());
    const double eps = c["label_smoothing"];
    const std::string text = "model m {\n  input " + std::to_string(K) + "\n  out: linear(" + std::to_string(K) +
                             ")\n}\ntrain {\n  batch " + std::to_string(N) + "\n  label_smoothing " +
                             std::to_string(eps) + "\n}\n";
    auto compiled = test::compile(text);
    INFO(compiled.messages);
    REQUIRE(compiled.graph);
    Graph g = *compiled.graph;
    REQUIRE(g.classes == K);
    differentiate(g);
    const Fusion fusion = fuse(g, ConvAlgorithm::Direct);
    Lowered L = lowerGraph(g, fusion, planMemory(g, fusion));
    scheduleCpu(L, g, hostTarget(), PipelineKind::Evaluation);  // as GradCheckTest's harness
    Buffer<uint8_t> im(K, N), lab(N);
    Buffer<int32_t> order(N);
    for (int n = 0; n < N; ++n) {
      for (int k = 0; k < K; ++k) im(k, n) = static_cast<uint8_t>(images[n][k]);
      lab(n) = static_cast<uint8_t>(labels[n]);
      order(n) = n;
    }
    Buffer<float> weight(K, K), bias(K);  // weight (in, out)
    weight.for_each_element([&](int i, int o) { weight(i, o) = i == o ? 1.0f : 0.0f; });
    bias.fill(0.0f);
    L.params[0].set(weight);
    L.params[1].set(bias);
    L.images.set(im);
    L.labels.set(lab);
    L.order.set(order);
    L.first.set(0);
    L.valid.set(N);
    L.noise.set(0);
    std::vector<Buffer<>> outs{Buffer<float>::make_scalar(), Buffer<int32_t>::make_scalar(), Buffer<float>(K, K),
                               Buffer<float>(K)};
    std::vector<Halide::Func> funcs{L.loss, L.correct};
    funcs.insert(funcs.end(), L.grads.begin(), L.grads.end());
    Halide::Pipeline(funcs).realize(Halide::Realization(outs));
    const float loss = Buffer<float>(outs[0])();
    INFO("label_smoothing " << eps << ": loss " << loss << ", PyTorch's " << double(c["loss"]));
    CHECK(std::abs(loss - double(c["loss"])) <= 1e-6 * std::abs(double(c["loss"])));
    double worst = 0;
    for (int o = 0; o < K; ++o) {
      const double db = c["bias_grad"][o];
      CHECK(std::abs(Buffer<float>(outs[3])(o) - db) <= 1e-7);
      worst = std::max(worst, std::abs(Buffer<float>(outs[3])(o) - db));
      for (int i = 0; i < K; ++i) {
        const double dw = c["weight_grad"][o][i];
        CHECK(std::abs(Buffer<float>(outs[2])(i, o) - dw) <= 1e-7);
        worst = std::max(worst, std::abs(Buffer<float>(outs[2])(i, o) - dw));
      }
    }
    std::printf("label_smoothing %g: loss %.9g (PyTorch %.9g), gradients within %.2g\n", eps, loss,
                double(c["loss"]), worst);
  }
}
