// The one way cnnc and its trainers write a file: the bytes go to a
// temporary file beside it (named after the process, so two writers never
// share one), are flushed to the disk (fsync), and the temporary is renamed
// over the path. The path then holds the whole new file, or, after any
// failure or crash, whatever it held before; a failure removes the
// temporary. Header-only POSIX, for the compiler and the runtime alike.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

namespace cnnc_rt {

// Writes `size` bytes at `data` to `fd`; false on an error.
inline bool writeAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// `body` writes the contents to the temporary file's descriptor (with
// writeAll) and returns false on an error. `error` gets "PATH: cannot write:
// WHY (nothing was replaced ...)".
inline bool writeFileAtomically(const std::string& path, const std::function<bool(int fd)>& body, std::string& error,
                                mode_t mode = 0644) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    error = path + ": cannot write: " + std::strerror(errno);
    return false;
  }
  errno = 0;
  bool ok = body(fd) && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  int saved = errno;
  ok = ::close(fd) == 0 && ok;
  if (!saved) saved = errno;
  if (ok && std::rename(temp.c_str(), path.c_str()) != 0) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    error = path + ": cannot write: " + std::strerror(saved ? saved : EIO) +
            " (nothing was replaced: what the path held before is intact)";
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

inline bool writeFileAtomically(const std::string& path, const std::string& bytes, std::string& error,
                                mode_t mode = 0644) {
  return writeFileAtomically(path, [&](int fd) { return writeAll(fd, bytes.data(), bytes.size()); }, error, mode);
}

// Whether `path` can be created or replaced: its folder exists and takes
// files. Checked before training, so a typo costs a second, not an epoch.
inline bool canWrite(const std::string& path, std::string& error) {
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st;
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    error = path + ": cannot write: the folder '" + folder + "' does not exist";
  else if (::access(folder.c_str(), W_OK) != 0)
    error = path + ": cannot write: the folder '" + folder + "' is not writable";
  else if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    error = path + ": cannot write: it is a folder";
  else
    return true;
  return false;
}

}  // namespace cnnc_rt
