// The optimizer's contract, one header for the compiler and the runtime:
// its hyperparameters as a trainer holds them, its state, and the scalars
// each update step takes. cnnc's lowerUpdate declares one float parameter
// per scalar, named after the field, in the order of the field list; the
// glue cnnc writes passes each field by name; the runtime computes them each
// step as torch.optim does. Plain C++17, header-only.
#pragma once

#include <cmath>
#include <cstdint>

namespace cnnc_rt {

enum class OptimizerKind { Sgd, Adam };

struct OptimizerSpec {
  OptimizerKind kind;
  double lr, momentum, beta1, beta2, eps, weightDecay;
  bool nesterov = false;   // sgd
  bool decoupled = false;  // adam: AdamW
  const char* name() const { return kind == OptimizerKind::Sgd ? "sgd" : decoupled ? "adamw" : "adam"; }
};

// Arrays of one float per parameter the update keeps between steps: adam's
// exp_avg and exp_avg_sq; sgd's momentum buffer when momentum is not 0.
inline int stateCount(OptimizerKind kind, double momentum) {
  return kind == OptimizerKind::Adam ? 2 : (momentum != 0 ? 1 : 0);
}
inline const char* stateName(OptimizerKind kind, int index) {
  if (kind == OptimizerKind::Adam) return index == 0 ? "adam.exp_avg" : "adam.exp_avg_sq";
  return "sgd.momentum_buffer";
}

// torch.optim.Adam and AdamW (1.13, single tensor) at step t: the moments'
// rates, eps, Adam's L2 weight decay, and the bias corrections folded into
// a step size; AdamW's decay of the parameter before its step (1 for Adam).
struct AdamScalars {
  float beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecay;
  float negStepSize;          // -lr / (1 - beta1^t)
  float biasCorrection2Sqrt;  // sqrt(1 - beta2^t)
  float decay;                // AdamW: 1 - lr wd; Adam: 1
};
// torch.optim.SGD: d = g + wd p; buf = momentum buf + d; p += -lr buf
// (Nesterov: p += -lr (d + momentum buf)).
struct SgdScalars {
  float negLr, momentum, weightDecay;
};

// The scalars in the update pipeline's order, each by name and field.
template <class Scalars>
struct ScalarField {
  const char* name;
  float Scalars::*field;
};
inline constexpr ScalarField<AdamScalars> kAdamScalars[] = {
    {"beta1", &AdamScalars::beta1},
    {"oneMinusBeta1", &AdamScalars::oneMinusBeta1},
    {"beta2", &AdamScalars::beta2},
    {"oneMinusBeta2", &AdamScalars::oneMinusBeta2},
    {"eps", &AdamScalars::eps},
    {"weightDecay", &AdamScalars::weightDecay},
    {"negStepSize", &AdamScalars::negStepSize},
    {"biasCorrection2Sqrt", &AdamScalars::biasCorrection2Sqrt},
    {"decay", &AdamScalars::decay},
};
inline constexpr ScalarField<SgdScalars> kSgdScalars[] = {
    {"negLr", &SgdScalars::negLr}, {"momentum", &SgdScalars::momentum}, {"weightDecay", &SgdScalars::weightDecay}};
static_assert(sizeof(AdamScalars) == sizeof(kAdamScalars) / sizeof(kAdamScalars[0]) * sizeof(float),
              "every field of AdamScalars in kAdamScalars");
static_assert(sizeof(SgdScalars) == sizeof(kSgdScalars) / sizeof(kSgdScalars[0]) * sizeof(float),
              "every field of SgdScalars in kSgdScalars");

// One update's scalars: the member of the model's optimizer is used.
struct UpdateScalars {
  AdamScalars adam{};
  SgdScalars sgd{};
};

// The scalars of step t (1-based) at learning rate lr, as torch.optim
// computes them (in double, rounded to float once).
inline UpdateScalars updateScalars(const OptimizerSpec& o, double lr, int64_t t) {
  UpdateScalars s;
  if (o.kind == OptimizerKind::Adam) {
    const double bc1 = 1.0 - std::pow(o.beta1, double(t)), bc2 = 1.0 - std::pow(o.beta2, double(t));
    const double l2 = o.decoupled ? 0.0 : o.weightDecay, decay = o.decoupled ? 1.0 - lr * o.weightDecay : 1.0;
    s.adam = {float(o.beta1), float(1.0 - o.beta1), float(o.beta2),      float(1.0 - o.beta2),
              float(o.eps),   float(l2),            float(-(lr / bc1)), float(std::sqrt(bc2)), float(decay)};
  } else {
    s.sgd = {float(-lr), float(o.momentum), float(o.weightDecay)};
  }
  return s;
}

}  // namespace cnnc_rt
