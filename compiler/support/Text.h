// Small helpers for user-facing text.
#pragma once

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

}  // namespace cnnc
