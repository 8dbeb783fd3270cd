#include "lower/Augment.h"

namespace cnnc {

using namespace Halide;

namespace {

// The hash is written once, for uint32_t on the host and for UInt(32)
// Exprs in the pipeline: `lit` makes a constant of either.
uint32_t lit(uint32_t v, uint32_t) { return v; }
Expr lit(uint32_t v, const Expr&) { return Internal::make_const(UInt(32), static_cast<uint64_t>(v)); }

// A 32-bit mix with full avalanche (Chris Wellons' lowbias32, as dropout's).
template <class U>
U mix(U h) {
  h = h ^ (h >> 16);
  h = h * lit(0x7feb352du, h);
  h = h ^ (h >> 15);
  h = h * lit(0x846ca68bu, h);
  return h ^ (h >> 16);
}

// Draw `part` (0: dx, 1: dy, 2: flip) of line `line` for a sample whose
// hash is `base`.
template <class U>
U draw(U base, size_t line, uint32_t part) {
  const uint32_t salt = static_cast<uint32_t>(line * 3 + part + 1) * 0x9e3779b9u;
  return mix(base ^ lit(salt, base));
}

template <class U>
U sampleHash(U key, U sample) {
  return mix(sample ^ mix(key ^ lit(0x2545f491u, key)));
}

// 2P + 1 offsets; the flip's bit is the hash's top one.
template <class U>
U offsetOf(U h, int64_t padding) {
  return h % lit(static_cast<uint32_t>(2 * padding + 1), h);
}

}  // namespace

std::vector<AugmentDraw> augmentDraws(const std::vector<Augment>& lines, int32_t key, int32_t sample) {
  const uint32_t base = sampleHash(static_cast<uint32_t>(key), static_cast<uint32_t>(sample));
  std::vector<AugmentDraw> draws;
  for (size_t k = 0; k < lines.size(); ++k) {
    AugmentDraw d;
    if (lines[k].kind == Augment::Kind::Crop) {
      d.dx = static_cast<int>(offsetOf(draw(base, k, 0), lines[k].padding));
      d.dy = static_cast<int>(offsetOf(draw(base, k, 1), lines[k].padding));
    } else {
      d.flip = (draw(base, k, 2) >> 31) != 0;
    }
    draws.push_back(d);
  }
  return draws;
}

AugmentSource augmentSource(const std::vector<Augment>& lines, Expr key, Expr sample, Expr x, Expr y, int W, int H) {
  const Expr base = sampleHash(cast<uint32_t>(key), cast<uint32_t>(sample));
  AugmentSource s{x, y, Internal::const_true()};
  // The last line is applied last: undo it first.
  for (size_t k = lines.size(); k-- > 0;) {
    if (lines[k].kind == Augment::Kind::Crop) {
      const int P = static_cast<int>(lines[k].padding);
      s.x = s.x + cast<int>(offsetOf(draw(base, k, 0), P)) - P;
      s.y = s.y + cast<int>(offsetOf(draw(base, k, 1), P)) - P;
      s.inside = s.inside && s.x >= 0 && s.x < W && s.y >= 0 && s.y < H;
    } else {
      s.x = select((draw(base, k, 2) >> 31) != 0, W - 1 - s.x, s.x);
    }
  }
  return s;
}

}  // namespace cnnc
