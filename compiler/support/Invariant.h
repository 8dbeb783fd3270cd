// Invariants of the compiler that hold in every build type: `assert` is
// compiled out of release builds (NDEBUG), these are not. A broken
// invariant is a bug in cnnc, not in the user's file: it says so and
// aborts, instead of computing something wrong.
#pragma once

#include <string>

namespace cnnc {

// Prints `cnnc: internal error: <what>` and aborts.
[[noreturn]] void internalError(const std::string& what);

inline void require(bool holds, const char* what) {
  if (!holds) internalError(what);
}
inline void require(bool holds, const std::string& what) {
  if (!holds) internalError(what);
}

}  // namespace cnnc
