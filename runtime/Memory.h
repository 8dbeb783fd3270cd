// Large arrays on huge pages where the system gives them.
//
// A trainer streams megabytes a kernel (the activation arena, the weight
// gradients' partial sums, the dataset's pixels gathered in a random
// order) on 4 KiB pages: a TLB miss every 4 KiB, and in a virtual machine
// each miss walks two page tables. Linux gives transparent huge pages to
// memory advised so (THP in "madvise" mode, Debian's default) when it is
// advised before its first touch: arrays of 2 MiB or more are aligned to
// 2 MiB and advised here. Where THP is "never" the advice does nothing;
// where it is "always" it was not needed. Measured with glibc's own
// switch for it (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), mnist --conv=direct
// on a 2-core Xeon VM, 2026-12-06: conv1 with its pool 0.26 -> 0.17 ms,
// the relu gradients 0.10 -> 0.07 ms, the step 7.4 -> 7.2 ms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace cnnc_rt {

// `bytes` (rounded up), aligned to 128 bytes (Halide's vectors assume it);
// from 2 MiB on, aligned to 2 MiB and advised onto huge pages. Null when
// out of memory. Give it back with std::free.
void* allocateLarge(size_t bytes);

// std::vector's allocator over allocateLarge.
template <typename T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <typename U>
  LargeAllocator(const LargeAllocator<U>&) {}
  T* allocate(size_t n) {
    if (void* p = allocateLarge(n * sizeof(T))) return static_cast<T*>(p);
    throw std::bad_alloc();
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const LargeAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const LargeAllocator<U>&) const {
    return false;
  }
};

// A dataset's pixels.
using Bytes = std::vector<uint8_t, LargeAllocator<uint8_t>>;

}  // namespace cnnc_rt
