#include "Run.h"

#include <algorithm>

namespace cnnc_rt {

void Console::progress(int64_t epoch, int64_t epochs, int64_t done, int64_t count, double loss,
                       std::chrono::steady_clock::time_point start) {
  auto now = std::chrono::steady_clock::now();
  if (done < count && now - lastProgress_ < std::chrono::milliseconds(100)) return;
  lastProgress_ = now;
  double seconds = std::chrono::duration<double>(now - start).count();
  double rate = seconds > 0 ? done / seconds : 0;
  const int width = 24;
  int filled = static_cast<int>(width * done / count);
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
  bar[width] = '\0';
  say("\repoch %lld/%lld [%s] %lld/%lld  loss %.4f  %.0f img/s  ETA %.0f s ", (long long)epoch, (long long)epochs, bar,
      (long long)done, (long long)count, loss, rate, rate > 0 ? (count - done) / rate : 0.0);
}

bool choose(Run& run, const std::string& device) {
  std::string note;
  if (!chooseDevice(run.spec, device, run.kernels, note)) return false;
  run.console.say("%s", note.c_str());
  return true;
}

int finished(const Run& run, int status, halide_buffer_t* written) {
  if (status != 0 || !run.kernels.gpu || !run.profile.on()) return status;
  return halide_device_sync(nullptr, written);
}

bool check(int status, const char* what) {
  if (status == 0) return true;
  std::fprintf(stderr, "error: the %s pipeline failed (Halide error %d)%s%s\n", what, status,
               halideError().empty() ? "" : ": ", halideError().c_str());
  return false;
}

int deviceFailed(const char* what) {
  std::fprintf(stderr, "error: %s failed%s%s\n", what, halideError().empty() ? "" : ": ", halideError().c_str());
  return 1;
}

bool evaluate(Run& run, Session& s, Session::Data& test, EvalResult& result, std::vector<int64_t>* confusion,
              std::vector<float>* scores) {
  const int64_t count = test.count, B = s.spec_.batch;
  s.use(test);
  double lossSum = 0;
  int64_t correct = 0;
  const int evalKernel = run.profile.kernel("eval", 2.0 * s.spec_.macsPerSample);
  const bool split = run.ranks && run.ranks->size() > 1 && !confusion && !scores;
  const int64_t stride = split ? run.ranks->size() : 1, offset = split ? run.ranks->rank() : 0;
  for (int64_t first = offset * B; first < count; first += stride * B) {
    int64_t n = std::min(B, count - first);
    const uint64_t before = run.profile.on() ? scratchStats().systemAllocs : 0;
    const int status = timed(run.profile, evalKernel, double(n), [&] {
      traceInto(Traced::Evaluation);
      return finished(run, run.kernels.evaluate(s.b, static_cast<int>(first), static_cast<int>(n)), s.b.loss);
    });
    ++run.growth.evalCalls;
    if (run.profile.on() && scratchStats().systemAllocs != before) run.growth.lastEval = run.growth.evalCalls;
    if (!check(status, "evaluation")) return false;
    if (!s.download(s.b.loss) || !s.download(s.b.correct)) return deviceFailed("reading the results from the GPU") == 0;
    if ((confusion || scores) && !s.download(s.b.output)) return deviceFailed("reading the outputs from the GPU") == 0;
    const int64_t K = s.spec_.classes;
    for (int64_t i = 0; i < n && (confusion || scores); ++i) {
      const float* row = s.output.data() + i * K;
      if (scores) scores->insert(scores->end(), row, row + K);
      if (confusion) {
        int64_t predicted = std::max_element(row, row + K) - row;
        (*confusion)[test.labels[test.order[first + i]] * K + predicted] += 1;
      }
    }
    lossSum += double(s.loss) * n;
    correct += s.correct;
  }
  if (split) {
    const double mine[2] = {lossSum, double(correct)};
    std::vector<double> all(2 * stride);
    if (!run.ranks->allgather(mine, all.data(), 2)) return false;
    lossSum = 0, correct = 0;
    for (int64_t r = 0; r < stride; ++r) lossSum += all[2 * r], correct += static_cast<int64_t>(all[2 * r + 1]);
  }
  result.loss = lossSum / count;
  result.accuracy = double(correct) / count;
  return true;
}

}  // namespace cnnc_rt
