// Grayscale images in and out: PNG (libpng) and PGM, scaling to the
// model's input, and a small bitmap font for labels on pictures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc_rt {

struct Gray {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major
};

// PNG (any color type, converted to gray) or binary/ASCII PGM (P5/P2).
// False with `error` naming the file and what is wrong.
bool readImage(const std::string& path, Gray& out, std::string& error);
bool writePng(const std::string& path, const Gray& image, std::string& error);

// Bilinear scaling to width x height.
Gray resize(const Gray& in, int width, int height);

// Draws `text` (digits, letters, a few marks) at (x, y), `scale` pixels per
// font pixel, in `value`.
void drawText(Gray& image, int x, int y, const std::string& text, int scale, uint8_t value);

}  // namespace cnnc_rt
