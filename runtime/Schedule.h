// Learning-rate schedules (the train block's `schedule`, DSL.md v2): the
// rate of every step, as PyTorch's schedulers set it. One header for the
// compiler (which checks the settings) and the runtime (which computes the
// rate of each step and passes it to the update kernel). Plain C++17.
#pragma once

#include <cmath>
#include <cstdint>

namespace cnnc_rt {

enum class ScheduleKind { Constant, Step, Cosine, OneCycle };

struct ScheduleSpec {
  ScheduleKind kind = ScheduleKind::Constant;
  int64_t every = 1;    // step: epochs between decays
  double gamma = 0.1;   // step: the decay
  double warmup = 0;    // cosine: epochs of linear warm-up (may be fractional)
  double maxLr = 0;     // onecycle: the peak
  double pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4;  // onecycle
};

// Where a step stands in its run: `step` 1-based of `total`, in epoch
// `epoch` (1-based) of `stepsPerEpoch` steps.
struct StepPosition {
  int64_t step, epoch, stepsPerEpoch, total;
};

// The learning rate of a step, from the rate the run starts from (the
// optimizer's lr, or --lr): the base of step and cosine, onecycle's
// max_lr. As PyTorch computes them, in double:
// - step(every, gamma): StepLR(step_size=every, gamma) stepped once per epoch;
// - cosine(warmup=W): w = round(W * stepsPerEpoch) steps of lr * k / w
//   (k = 1 ... w), then lr * (1 + cos(pi t / T)) / 2 for t = 0 ... T - 1,
//   T the steps left;
// - onecycle: OneCycleLR(max_lr, total_steps=total, pct_start, div_factor,
//   final_div_factor, anneal_strategy='cos', cycle_momentum=False), stepped
//   per step (its step_num is step - 1).
inline double learningRate(const ScheduleSpec& s, double lr, const StepPosition& at) {
  const double pi = 3.14159265358979323846;
  switch (s.kind) {
    case ScheduleKind::Constant: return lr;
    case ScheduleKind::Step: return lr * std::pow(s.gamma, double((at.epoch - 1) / s.every));
    case ScheduleKind::Cosine: {
      const int64_t w = std::llround(s.warmup * double(at.stepsPerEpoch));
      if (at.step <= w) return lr * double(at.step) / double(w);
      const double t = double(at.step - w - 1), T = double(at.total - w);
      return lr * (1.0 + std::cos(pi * t / T)) / 2.0;
    }
    case ScheduleKind::OneCycle: {
      const double initial = lr / s.divFactor, minimum = initial / s.finalDivFactor;
      const double stepNum = double(at.step - 1);
      const double peakStep = s.pctStart * double(at.total) - 1.0, lastStep = double(at.total) - 1.0;
      auto anneal = [&](double from, double to, double pct) { return to + (from - to) / 2.0 * (std::cos(pi * pct) + 1.0); };
      if (stepNum <= peakStep) return anneal(initial, lr, peakStep > 0 ? stepNum / peakStep : 1.0);
      return anneal(lr, minimum, (stepNum - peakStep) / (lastStep - peakStep));
    }
  }
  return lr;
}

}  // namespace cnnc_rt
