// The train block's `augment` lines (crop, flip), applied where the data
// lives: inside the training step's gather of each batch sample from the
// split, so a GPU never copies a batch to the host to shift it.
//
// Each sample's draws are a hash of the epoch's key (the runtime's
// augmentKey, from the run's seed and the epoch), the sample's index in
// the split, and the line: the same on every thread count and device,
// different each epoch, and the same again when a run resumes mid-epoch.
// They are not torchvision's random stream; the operations are
// torchvision's: RandomCrop(size, padding=P) zero-pads by P and cuts the
// size back out at offset (dx, dy), each uniform in 0..2P (a shift of
// dx - P, dy - P); RandomHorizontalFlip(0.5) mirrors the columns.
#pragma once

#include <Halide.h>

#include <cstdint>
#include <vector>

#include "ir/IR.h"

namespace cnnc {

// One line's draw for one sample: crop offsets in the zero-padded image
// (0..2P), and whether a flip line mirrors it.
struct AugmentDraw {
  int dx = 0, dy = 0;
  bool flip = false;
};

// The draws of every line for sample `sample` of the split under the
// epoch's `key`, computed on the host the way the pipeline computes them
// (tests/unit/AugmentTest.cpp holds the two equal).
std::vector<AugmentDraw> augmentDraws(const std::vector<Augment>& lines, int32_t key, int32_t sample);

// Where pixel (x, y) of the augmented sample comes from in the stored one
// (W x H), and whether it is inside it (else the pixel is crop's zero
// padding). `key` and `sample` are int32 Exprs.
struct AugmentSource {
  Halide::Expr x, y, inside;
};
AugmentSource augmentSource(const std::vector<Augment>& lines, Halide::Expr key, Halide::Expr sample, Halide::Expr x,
                            Halide::Expr y, int W, int H);

}  // namespace cnnc
