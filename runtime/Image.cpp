#include "Image.h"

#include "AtomicFile.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace cnnc_rt {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

bool readPng(const std::string& path, Image& out, std::string& error) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    error = path + ": not a readable PNG (" + image.message + ")";
    return false;
  }
  if (image.width > 8192 || image.height > 8192) {
    png_image_free(&image);
    error = path + ": image of " + std::to_string(image.width) + "x" + std::to_string(image.height) +
            " pixels is too large (the limit is 8192x8192)";
    return false;
  }
  const bool colour = image.format & PNG_FORMAT_FLAG_COLOR;
  image.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  out.width = image.width;
  out.height = image.height;
  out.channels = colour ? 3 : 1;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  const png_color black{0, 0, 0};
  if (!png_image_finish_read(&image, &black, out.pixels.data(), 0, nullptr)) {
    error = path + ": corrupt PNG (" + image.message + ")";
    png_image_free(&image);
    return false;
  }
  return true;
}

bool readPgm(const std::string& path, Image& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  in >> magic;
  auto next = [&](int& v) {
    // Skip comments between header fields.
    for (;;) {
      in >> std::ws;
      if (in.peek() != '#') break;
      std::string line;
      std::getline(in, line);
    }
    return static_cast<bool>(in >> v);
  };
  int w = 0, h = 0, maxval = 0;
  if ((magic != "P5" && magic != "P2") || !next(w) || !next(h) || !next(maxval) || w <= 0 || h <= 0 ||
      maxval <= 0 || maxval > 255 || w > 8192 || h > 8192) {
    error = path + ": not a PGM image of 8-bit gray (expected P5 or P2, width, height, maxval <= 255)";
    return false;
  }
  out.width = w;
  out.height = h;
  out.channels = 1;
  out.pixels.resize(size_t(w) * h);
  if (magic == "P5") {
    in.get();  // the single whitespace after maxval
    in.read(reinterpret_cast<char*>(out.pixels.data()), out.pixels.size());
  } else {
    for (auto& p : out.pixels) {
      int v;
      if (!(in >> v)) break;
      p = static_cast<uint8_t>(std::clamp(v, 0, maxval));
    }
  }
  if (!in) {
    error = path + ": truncated PGM (fewer pixels than its " + std::to_string(w) + "x" + std::to_string(h) + " header)";
    return false;
  }
  if (maxval != 255)
    for (auto& p : out.pixels) p = static_cast<uint8_t>(p * 255 / maxval);
  return true;
}

// 5x7 glyphs, one byte per row (low 5 bits, MSB left).
const uint8_t* glyph(char c) {
  static const uint8_t digits[10][7] = {
      {14, 17, 19, 21, 25, 17, 14}, {4, 12, 4, 4, 4, 4, 14},   {14, 17, 1, 2, 4, 8, 31},
      {31, 2, 4, 2, 1, 17, 14},     {2, 6, 10, 18, 31, 2, 2},  {31, 16, 30, 1, 1, 17, 14},
      {6, 8, 16, 30, 17, 17, 14},   {31, 1, 2, 4, 8, 8, 8},    {14, 17, 17, 14, 17, 17, 14},
      {14, 17, 17, 15, 1, 2, 12}};
  static const uint8_t dot[7] = {0, 0, 0, 0, 0, 12, 12};
  static const uint8_t percent[7] = {24, 25, 2, 4, 8, 19, 3};
  static const uint8_t dash[7] = {0, 0, 0, 31, 0, 0, 0};
  static const uint8_t space[7] = {0, 0, 0, 0, 0, 0, 0};
  if (c >= '0' && c <= '9') return digits[c - '0'];
  if (c == '.') return dot;
  if (c == '%') return percent;
  if (c == '-') return dash;
  return space;
}

}  // namespace

bool readImage(const std::string& path, Image& out, std::string& error) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  unsigned char head[8] = {};
  size_t got = std::fread(head, 1, 8, f.get());
  f.reset();
  if (got == 8 && png_sig_cmp(head, 0, 8) == 0) return readPng(path, out, error);
  if (got >= 2 && head[0] == 'P' && (head[1] == '5' || head[1] == '2')) return readPgm(path, out, error);
  error = path + ": not a PNG or PGM image";
  return false;
}

bool writePng(const std::string& path, const Image& g, std::string& error) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = g.width;
  image.height = g.height;
  image.format = g.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  // Encoded in memory first (the size, then the bytes), then written in one step.
  png_alloc_size_t size = 0;
  std::string bytes;
  if (png_image_write_to_memory(&image, nullptr, &size, 0, g.pixels.data(), 0, nullptr)) {
    bytes.resize(size);
    if (!png_image_write_to_memory(&image, bytes.data(), &size, 0, g.pixels.data(), 0, nullptr)) bytes.clear();
  }
  if (bytes.empty()) {
    error = path + ": cannot encode the image" + (image.message[0] ? std::string(": ") + image.message : std::string());
    return false;
  }
  return writeFileAtomically(path, bytes, error);
}

Image withChannels(const Image& in, int channels) {
  if (in.channels == channels) return in;
  Image out{in.width, in.height, channels, std::vector<uint8_t>(size_t(in.width) * in.height * channels)};
  const size_t n = size_t(in.width) * in.height;
  for (size_t i = 0; i < n; ++i) {
    if (channels == 3) {
      out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = in.pixels[i];
    } else {
      const uint8_t* p = &in.pixels[3 * i];
      out.pixels[i] = static_cast<uint8_t>((p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000);
    }
  }
  return out;
}

void toPlanes(const Image& image, uint8_t* planes) {
  const size_t plane = size_t(image.width) * image.height;
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < image.channels; ++c) planes[c * plane + p] = image.pixels[p * image.channels + c];
}

Image resize(const Image& in, int width, int height) {
  const int C = in.channels;
  Image out{width, height, C, std::vector<uint8_t>(size_t(width) * height * C)};
  for (int y = 0; y < height; ++y) {
    float sy = std::clamp((y + 0.5f) * in.height / height - 0.5f, 0.0f, float(in.height - 1));
    int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, in.height - 1);
    float fy = sy - y0;
    for (int x = 0; x < width; ++x) {
      float sx = std::clamp((x + 0.5f) * in.width / width - 0.5f, 0.0f, float(in.width - 1));
      int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, in.width - 1);
      float fx = sx - x0;
      for (int c = 0; c < C; ++c) {
        auto at = [&](int xx, int yy) { return float(in.pixels[(size_t(yy) * in.width + xx) * C + c]); };
        float v = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
        out.pixels[(size_t(y) * width + x) * C + c] = static_cast<uint8_t>(std::lround(v));
      }
    }
  }
  return out;
}

void drawText(Image& image, int x, int y, const std::string& text, int scale, uint8_t value) {
  for (char c : text) {
    const uint8_t* rows = glyph(c);
    for (int r = 0; r < 7; ++r)
      for (int col = 0; col < 5; ++col)
        if (rows[r] & (16 >> col))
          for (int dy = 0; dy < scale; ++dy)
            for (int dx = 0; dx < scale; ++dx) {
              int px = x + col * scale + dx, py = y + r * scale + dy;
              if (px >= 0 && py >= 0 && px < image.width && py < image.height)
                for (int ch = 0; ch < image.channels; ++ch)
                  image.pixels[(size_t(py) * image.width + px) * image.channels + ch] = value;
            }
    x += 6 * scale;
  }
}

}  // namespace cnnc_rt
