// Small helpers for user-facing text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc {

// "; did you mean 'conv2d'?" when one candidate is a likely misspelling of
// `word`, else "".
std::string didYouMean(const std::string& word, const std::vector<std::string>& candidates);

// "a, b or c"
std::string joinOr(const std::vector<std::string>& words);

// 95882 -> "95,882"
std::string withCommas(long long value);

// FNV-1a of `text`: a 32-bit hash that is the same on every machine.
inline uint32_t fnv1a(const std::string& text) {
  uint32_t hash = 2166136261u;
  for (unsigned char ch : text) hash = (hash ^ ch) * 16777619u;
  return hash;
}

}  // namespace cnnc
