#include "Memory.h"

#include <algorithm>
#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace cnnc_rt {

void* allocateLarge(size_t bytes) {
  constexpr size_t kAlign = 128, kHuge = size_t(2) << 20;
  const size_t align = bytes >= kHuge ? kHuge : kAlign;
  const size_t rounded = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
#if defined(MADV_HUGEPAGE)
  // Advice only: refused (THP "never", another kernel), the pages stay 4 KiB.
  if (p && align == kHuge) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

}  // namespace cnnc_rt
