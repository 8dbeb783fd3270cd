/* Counts the process's calls to the C allocator (LD_PRELOAD), for the test
 * that a training step allocates nothing: `train --profile` reports the
 * calls made inside its training steps after the first ten, and at exit
 * this prints "heap allocations: N" (all of them) to stderr. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static atomic_long count;

void* malloc(size_t n) {
  atomic_fetch_add(&count, 1);
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  atomic_fetch_add(&count, 1);
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  atomic_fetch_add(&count, 1);
  return __libc_realloc(p, n);
}
void* memalign(size_t align, size_t n) {
  atomic_fetch_add(&count, 1);
  return __libc_memalign(align, n);
}
void* aligned_alloc(size_t align, size_t n) { return memalign(align, n); }
int posix_memalign(void** out, size_t align, size_t n) {
  *out = memalign(align, n);
  return *out ? 0 : 12; /* ENOMEM */
}

/* The trainer's --profile reads the count through this (a weak symbol
 * there), before and after each training step. */
long cnnc_heap_allocations(void) { return atomic_load(&count); }

__attribute__((destructor)) static void report(void) {
  char line[64];
  int len = snprintf(line, sizeof line, "heap allocations: %ld\n", atomic_load(&count));
  if (write(2, line, len) < 0) return;
}
