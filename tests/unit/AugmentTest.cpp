// The train block's augmentation against torchvision
// (tests/reference/make_augment.py wrote augment.json): the training step's
// input gather at each sample's draw equals RandomCrop's pad-and-crop and
// RandomHorizontalFlip's flip at the same offsets, lines in the order
// written; the host's draws (augmentDraws) are the pipeline's; the draws
// cover every offset and change with the epoch's key.
#include <catch2/catch.hpp>

#include <Halide.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "Helpers.h"
#include "fuse/Fuse.h"
#include "grad/Grad.h"
#include "lower/Augment.h"
#include "lower/Lower.h"
#include "plan/Plan.h"

using namespace cnnc;
using Halide::Buffer;

namespace {

nlohmann::json reference() {
  std::ifstream in(std::string(CNNC_SOURCE_DIR) + "/tests/reference/augment.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

// A model over the reference's C x H x W image with `lines` in its train block.
Graph modelWith(const std::string& lines) {
  auto c = test::compile("model m {\n  input 2x5x6\n  classes 3\n  conv2d(4, kernel=3, padding=1) -> relu\n  flatten\n"
                         "  linear(3)\n}\ntrain {\n  batch 16\n" + lines + "\n}\n");
  INFO(c.messages);
  REQUIRE(c.graph);
  Graph g = *c.graph;
  differentiate(g);
  return g;
}

// The batch's input as the training step gathers it: samples 0..N-1 of a
// split holding the reference image N times, under the epoch's key.
Buffer<float> gathered(const Graph& g, const std::vector<uint8_t>& pixels, int key) {
  const int N = static_cast<int>(g.train.batch), F = static_cast<int>(pixels.size());
  const Fusion fusion = fuse(g, ConvAlgorithm::Direct);
  Lowered L = lowerGraph(g, fusion, planMemory(g, fusion), Mode::Training);
  Buffer<uint8_t> images(F, N);
  Buffer<uint8_t> labels(N);
  Buffer<int32_t> order(N);
  for (int n = 0; n < N; ++n) {
    for (int f = 0; f < F; ++f) images(f, n) = pixels[f];
    labels(n) = 0;
    order(n) = n;
  }
  L.images.set(images);
  L.labels.set(labels);
  L.order.set(order);
  L.first.set(0);
  L.valid.set(N);
  L.augment.set(key);
  return L.tensors[g.input].realize({2, 6, 5, N});  // (c, x, y, n)
}

}  // namespace

TEST_CASE("augmentation gathers each sample as torchvision crops and flips it at the sample's draw") {
  const nlohmann::json ref = reference();
  const std::vector<uint8_t> pixels = ref["pixels"];
  for (const nlohmann::json& c : ref["cases"]) {
    const std::string lines = c["lines"];
    INFO(lines);
    const Graph g = modelWith(lines);
    REQUIRE(g.train.augment.size() == c["outputs"][0]["draws"].size());
    for (int key : {1, 12345, 987654321}) {
      const Buffer<float> in = gathered(g, pixels, key);
      for (int n = 0; n < in.dim(3).extent(); ++n) {
        const std::vector<AugmentDraw> draws = augmentDraws(g.train.augment, key, n);
        // The reference's output for these draws.
        const nlohmann::json* expected = nullptr;
        for (const nlohmann::json& o : c["outputs"]) {
          bool same = true;
          for (size_t k = 0; k < draws.size(); ++k)
            same = same && o["draws"][k][0] == draws[k].dx && o["draws"][k][1] == draws[k].dy &&
                   o["draws"][k][2] == draws[k].flip;
          if (same) expected = &o["image"];
        }
        REQUIRE(expected != nullptr);
        // The same pixel (the image's 60 bytes are random, 0 only in the
        // padding), scaled within an ulp: the pipeline scales by
        // 1 / 255 where ToTensor divides by 255.
        int wrong = 0;
        for (int ch = 0; ch < 2; ++ch)
          for (int y = 0; y < 5; ++y)
            for (int x = 0; x < 6; ++x) {
              const float want = (*expected)[(ch * 5 + y) * 6 + x].get<float>(), got = in(ch, x, y, n);
              wrong += std::lround(got * 255) != std::lround(want * 255) || std::abs(got - want) > 6e-8f;
            }
        INFO("key " << key << ", sample " << n);
        CHECK(wrong == 0);
      }
    }
  }
}

TEST_CASE("augmentation draws cover every offset and change with the epoch") {
  const Graph g = modelWith("augment crop(padding=2)\naugment flip");
  std::set<int> dx, dy;
  int flips = 0, moved = 0;
  const int samples = 400;
  for (int n = 0; n < samples; ++n) {
    const std::vector<AugmentDraw> a = augmentDraws(g.train.augment, 7, n), b = augmentDraws(g.train.augment, 8, n);
    dx.insert(a[0].dx);
    dy.insert(a[0].dy);
    flips += a[1].flip;
    moved += a[0].dx != b[0].dx || a[0].dy != b[0].dy || a[1].flip != b[1].flip;
    const std::vector<AugmentDraw> again = augmentDraws(g.train.augment, 7, n);
    REQUIRE((again[0].dx == a[0].dx && again[0].dy == a[0].dy && again[1].flip == a[1].flip));
  }
  CHECK(dx == std::set<int>{0, 1, 2, 3, 4});
  CHECK(dy == std::set<int>{0, 1, 2, 3, 4});
  // Binomial(400, 1/2): 160..240 holds with probability 1 - 6e-5.
  CHECK(flips > 160);
  CHECK(flips < 240);
  // Another epoch's key draws again: the same draw for all 3 parts 1 time in 50.
  CHECK(moved > samples * 9 / 10);
}
