#include "Tools.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "AtomicFile.h"
#include "Image.h"
#include "Weights.h"

namespace cnnc_rt {

bool writeTextFile(const std::string& path, const std::string& text, std::string& error) {
  return writeFileAtomically(path, text, error);
}

int samplesCommand(const ModelSpec& spec, const std::string& data, int64_t index, int count, const std::string& output) {
  Dataset set;
  if (!loadData(spec, data, Part::Train, set, isatty(2))) return 1;
  if (index < 0 || index + count > set.count) {
    std::fprintf(stderr, "error: samples %lld to %lld do not exist: the training set has %lld images\n",
                 (long long)index, (long long)(index + count - 1), (long long)set.count);
    return 1;
  }
  const int rows = set.height, cols = set.width, C = set.channels;
  const int zoom = std::max(1, 112 / std::max(rows, cols)), band = 26, gap = 6;
  const int gridCols = static_cast<int>(std::ceil(std::sqrt(double(count))));
  const int gridRows = (count + gridCols - 1) / gridCols;
  const int cellW = cols * zoom + gap, cellH = rows * zoom + band + gap;
  Image grid{gridCols * cellW + gap, gridRows * cellH + gap, C, {}};
  grid.pixels.assign(size_t(grid.width) * grid.height * C, 40);
  const size_t plane = size_t(rows) * cols;
  for (int k = 0; k < count; ++k) {
    const int64_t sample = index + k;
    const int ox = gap + (k % gridCols) * cellW, oy = gap + (k / gridCols) * cellH;
    const uint8_t* src = set.pixels.data() + sample * set.features();
    for (int y = 0; y < rows * zoom; ++y)
      for (int x = 0; x < cols * zoom; ++x)
        for (int c = 0; c < C; ++c)
          grid.pixels[(size_t(oy + y) * grid.width + ox + x) * C + c] = src[c * plane + (y / zoom) * cols + x / zoom];
    std::string label = std::to_string(set.labels[sample]);
    drawText(grid, ox + (cols * zoom - 18 * int(label.size())) / 2, oy + rows * zoom + 3, label, 3, 255);
  }
  std::string error;
  if (!writePng(output, grid, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  std::printf("wrote %s: training images %lld to %lld with their labels\n", output.c_str(), (long long)index,
              (long long)(index + count - 1));
  return 0;
}

namespace {

// One chart panel of an SVG: axes, ticks, labels, and series of points.
struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
  bool dots;
};

std::string panel(double left, double top, double width, double height, const std::string& title,
                  const std::string& yLabel, const std::vector<Series>& series) {
  double xMax = 1, yMin = 1e300, yMax = -1e300;
  for (const Series& s : series)
    for (auto [x, y] : s.points) {
      xMax = std::max(xMax, x);
      yMin = std::min(yMin, y);
      yMax = std::max(yMax, y);
    }
  if (yMin > yMax) yMin = 0, yMax = 1;
  if (yMax - yMin < 1e-9) yMax = yMin + 1;
  const double pad = (yMax - yMin) * 0.05;
  yMin = yMin >= 0 ? std::max(0.0, yMin - pad) : yMin - pad;  // losses and accuracies stay above 0
  yMax += pad;
  auto X = [&](double x) { return left + 50 + (width - 60) * x / xMax; };
  auto Y = [&](double y) { return top + height - 30 - (height - 60) * (y - yMin) / (yMax - yMin); };
  char buf[512];
  std::string svg;
  std::snprintf(buf, sizeof buf, "<text x='%.0f' y='%.0f' font-size='14' text-anchor='middle'>%s</text>\n",
                left + width / 2, top + 18, title.c_str());
  svg += buf;
  std::snprintf(buf, sizeof buf,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='black'/>\n"
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='black'/>\n",
                X(0), Y(yMin), X(xMax), Y(yMin), X(0), Y(yMin), X(0), Y(yMax));
  svg += buf;
  for (int t = 0; t <= 4; ++t) {
    double v = yMin + (yMax - yMin) * t / 4;
    std::snprintf(buf, sizeof buf,
                  "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>%.3g</text>"
                  "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n",
                  X(0) - 4, Y(v) + 3, v, X(0), Y(v), X(xMax), Y(v));
    svg += buf;
  }
  const int epochs = static_cast<int>(std::ceil(xMax));
  for (int e = 0; e <= epochs; e += std::max(1, epochs / 10)) {
    std::snprintf(buf, sizeof buf, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%d</text>\n", X(e),
                  Y(yMin) + 14, e);
    svg += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>epoch</text>\n"
                "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle' transform='rotate(-90 %.1f %.1f)'>%s</text>\n",
                X(xMax / 2), Y(yMin) + 27, left + 12, top + height / 2, left + 12, top + height / 2, yLabel.c_str());
  svg += buf;
  double legendY = top + 34;
  for (const Series& s : series) {
    if (s.points.empty()) continue;
    std::string path;
    for (auto [x, y] : s.points) {
      std::snprintf(buf, sizeof buf, "%s%.1f,%.1f", path.empty() ? "" : " ", X(x), Y(y));
      path += buf;
    }
    std::snprintf(buf, sizeof buf, "<polyline fill='none' stroke='%s' stroke-width='%s' points='%s'/>\n",
                  s.color.c_str(), s.dots ? "2" : "1", path.c_str());
    svg += buf;
    if (s.dots)
      for (auto [x, y] : s.points) {
        std::snprintf(buf, sizeof buf, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>\n", X(x), Y(y), s.color.c_str());
        svg += buf;
      }
    std::snprintf(buf, sizeof buf,
                  "<rect x='%.1f' y='%.1f' width='12' height='3' fill='%s'/>"
                  "<text x='%.1f' y='%.1f' font-size='10'>%s</text>\n",
                  left + width - 130, legendY - 4, s.color.c_str(), left + width - 114, legendY, s.name.c_str());
    svg += buf;
    legendY += 14;
  }
  return svg;
}

}  // namespace

int reportCommand(const std::string& log, const std::string& output) {
  std::ifstream in(log);
  if (!in) {
    std::fprintf(stderr, "error: %s: %s\n", log.c_str(), std::strerror(errno));
    return 1;
  }
  Series trainLoss{"train loss (epoch)", "#1f77b4", {}, true}, testLoss{"test loss", "#d62728", {}, true};
  Series stepLoss{"loss per logged step", "#9ecae1", {}, false}, accuracy{"test accuracy", "#2ca02c", {}, true};
  Series valLoss{"validation loss", "#ff7f0e", {}, true}, valAccuracy{"validation accuracy", "#ff7f0e", {}, true};
  std::vector<std::pair<int64_t, double>> steps;  // since the last epoch line
  std::string line;
  int lineNo = 0;
  int64_t stepsPerEpoch = 0, lastStep = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::fprintf(stderr, "error: %s:%d: not a JSON object (is it a --log file of the trainer?)\n", log.c_str(), lineNo);
      return 1;
    }
    if (j.contains("step") && j.contains("loss") && j["loss"].is_number()) {
      lastStep = j["step"].get<int64_t>();
      steps.push_back({lastStep, j["loss"].get<double>()});
    } else if (j.contains("epoch") && j.contains("train_loss")) {
      double epoch = j["epoch"].get<double>();
      if (epoch == 1 && lastStep > 0) stepsPerEpoch = lastStep;
      trainLoss.points.push_back({epoch, j["train_loss"].get<double>()});
      if (j.contains("test_loss")) testLoss.points.push_back({epoch, j["test_loss"].get<double>()});
      if (j.contains("test_accuracy")) accuracy.points.push_back({epoch, 100 * j["test_accuracy"].get<double>()});
      if (j.contains("val_loss")) valLoss.points.push_back({epoch, j["val_loss"].get<double>()});
      if (j.contains("val_accuracy")) valAccuracy.points.push_back({epoch, 100 * j["val_accuracy"].get<double>()});
    }
  }
  if (trainLoss.points.empty()) {
    std::fprintf(stderr, "error: %s: no epoch lines (train with --log FILE)\n", log.c_str());
    return 1;
  }
  if (stepsPerEpoch > 0)
    for (auto [s, l] : steps) stepLoss.points.push_back({double(s) / stepsPerEpoch, l});
  std::string svg =
      "<svg xmlns='http://www.w3.org/2000/svg' width='900' height='360' font-family='sans-serif'>\n"
      "<rect width='900' height='360' fill='white'/>\n";
  std::vector<Series> losses = {stepLoss, trainLoss, testLoss}, accuracies = {accuracy};
  if (!valLoss.points.empty()) losses.push_back(valLoss), accuracies.push_back(valAccuracy);
  svg += panel(0, 0, 450, 360, "Loss", "loss", losses);
  svg += panel(450, 0, 450, 360, valAccuracy.points.empty() ? "Test accuracy" : "Test and validation accuracy",
               "accuracy (%)", accuracies);
  svg += "</svg>\n";
  std::string error;
  if (!writeTextFile(output, svg, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  std::printf("wrote %s: %zu epochs, %zu logged steps\n", output.c_str(), trainLoss.points.size(), steps.size());
  return 0;
}

// Text for an SVG element: &, < and > escaped.
std::string xmlText(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
  return out;
}

bool writeConfusionSvg(const std::string& path, const std::vector<int64_t>& counts, int classes,
                       const std::vector<std::string>& names, std::string& error) {
  size_t longest = 2;
  for (const std::string& n : names) longest = std::max(longest, n.size());
  const int cell = 36, left = std::max(60, 20 + 7 * static_cast<int>(std::min<size_t>(longest, 24))), top = left;
  const int size = left + classes * cell + 20;
  int64_t maxOff = 1;
  for (int t = 0; t < classes; ++t)
    for (int p = 0; p < classes; ++p)
      if (t != p) maxOff = std::max(maxOff, counts[t * classes + p]);
  char buf[512];
  std::string svg;
  std::snprintf(buf, sizeof buf,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif'>\n"
                "<rect width='%d' height='%d' fill='white'/>\n"
                "<text x='%d' y='20' font-size='14' text-anchor='middle'>Confusion matrix (rows: label, columns: "
                "prediction)</text>\n",
                size, size + 10, size, size + 10, size / 2);
  svg += buf;
  for (int t = 0; t < classes; ++t) {
    for (int p = 0; p < classes; ++p) {
      int64_t c = counts[t * classes + p];
      // Diagonal in green, mistakes in red shades scaled to the worst one.
      int shade = t == p ? 0 : static_cast<int>(255 - 200.0 * c / maxOff);
      std::string fill = t == p ? "#c7e9c0" : "rgb(255," + std::to_string(shade) + "," + std::to_string(shade) + ")";
      std::snprintf(buf, sizeof buf,
                    "<rect x='%d' y='%d' width='%d' height='%d' fill='%s' stroke='#999'/>"
                    "<text x='%d' y='%d' font-size='10' text-anchor='middle'>%lld</text>\n",
                    left + p * cell, top + t * cell, cell, cell, fill.c_str(), left + p * cell + cell / 2,
                    top + t * cell + cell / 2 + 4, (long long)c);
      svg += buf;
    }
    const std::string name = xmlText(names.empty() ? std::to_string(t) : names[t].substr(0, 24));
    const int x = left + t * cell + cell / 2;
    svg += "<text x='" + std::to_string(left - 6) + "' y='" + std::to_string(top + t * cell + cell / 2 + 4) +
           "' font-size='12' text-anchor='end'>" + name + "</text><text x='" + std::to_string(x) + "' y='" +
           std::to_string(top - 6) + "' font-size='12' text-anchor='start' transform='rotate(-45 " + std::to_string(x) +
           " " + std::to_string(top - 6) + ")'>" + name + "</text>\n";
  }
  svg += "</svg>\n";
  return writeTextFile(path, svg, error);
}

}  // namespace cnnc_rt
