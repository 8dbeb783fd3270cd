/* Fault injection for the crash-safety tests, loaded with LD_PRELOAD:
 * CNNC_KILL_AT=write|fsync|rename kills the process with SIGKILL (as kill -9
 * or a power cut would) at that point of the first checkpoint save: in the
 * middle of writing its temporary file, before the data is flushed, or just
 * before the finished file is renamed into place. Only files whose name
 * holds ".tmp." (checkpoints in the making) count. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int armed(const char* point) {
  const char* at = getenv("CNNC_KILL_AT");
  return at && strcmp(at, point) == 0;
}

static int isTemporary(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  return strstr(target, ".tmp.") != NULL;
}

ssize_t write(int fd, const void* data, size_t size) {
  static ssize_t (*real)(int, const void*, size_t);
  static int writes;
  if (!real) real = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  /* A checkpoint's first write is its header: by default die in the third,
   * once some tensor data is out; CNNC_KILL_WRITE=N picks another (1 for a
   * file written in one call, as cnnc's outputs). */
  const char* nth = getenv("CNNC_KILL_WRITE");
  if (armed("write") && fd > 2 && isTemporary(fd) && ++writes == (nth ? atoi(nth) : 3)) {
    real(fd, data, size / 2);
    raise(SIGKILL);
  }
  return real(fd, data, size);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  if (armed("fsync") && isTemporary(fd)) raise(SIGKILL);
  return real(fd);
}

int rename(const char* from, const char* to) {
  static int (*real)(const char*, const char*);
  if (!real) real = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "rename");
  if (armed("rename") && strstr(from, ".tmp.")) raise(SIGKILL);
  return real(from, to);
}
