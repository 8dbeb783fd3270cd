// Images in and out, gray or RGB: PNG (libpng) and PGM, scaling to the
// model's input, and a small bitmap font for labels on pictures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc_rt {

struct Image {
  int width = 0, height = 0;
  int channels = 1;             // 1: gray, 3: RGB
  std::vector<uint8_t> pixels;  // row-major, a pixel's channels side by side
};

// PNG (gray, or RGB for a file with colour; alpha is dropped: composed
// onto black) or binary/ASCII PGM (P5/P2). 16-bit PNGs are reduced to 8
// bits. False with `error` naming the file and what is wrong.
bool readImage(const std::string& path, Image& out, std::string& error);
bool writePng(const std::string& path, const Image& image, std::string& error);

// Gray to RGB (copied into each channel), or RGB to gray (ITU-R 601-2
// luma, as PIL's convert("L")).
Image withChannels(const Image& in, int channels);

// The image's channels side by side (RGB RGB ...) as the pipelines read a
// sample: one plane per channel (R plane, G plane, B plane) into `planes`.
void toPlanes(const Image& image, uint8_t* planes);

// Bilinear scaling to width x height.
Image resize(const Image& in, int width, int height);

// Draws `text` (digits and a few marks) at (x, y), `scale` pixels per
// font pixel, in `value` (every channel).
void drawText(Image& image, int x, int y, const std::string& text, int scale, uint8_t value);

}  // namespace cnnc_rt
