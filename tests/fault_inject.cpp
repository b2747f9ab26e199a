// A preload library that makes the N-th file-system write of a process fail, for the
// reliability tests (LD_PRELOAD=libchunkarr_fault_inject.so).
//
//   CHUNKARR_FAULT_AT=N      the N-th write operation (1-based) fails with CHUNKARR_FAULT_ERRNO
//                            (default ENOSPC); 0 or unset: none fails
//   CHUNKARR_FAULT_COUNT=F   at exit, the number of write operations is written to file F
//
// Write operations: write/pwrite to a regular file other than stdin, stdout and stderr (not
// to a pipe, such as the one a child reading HDF5 strings answers through), fsync,
// fdatasync, sync_file_range, rename/renameat/renameat2, link/linkat, mkdir/mkdirat, and
// open/openat with O_CREAT. Each is counted once, whatever thread makes it.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

std::atomic<long> count{0};
long fail_at = -1;
int fail_errno = ENOSPC;
const char* count_file = nullptr;

__attribute__((constructor)) void setup() {
  if (const char* at = std::getenv("CHUNKARR_FAULT_AT")) fail_at = std::atol(at);
  if (const char* e = std::getenv("CHUNKARR_FAULT_ERRNO")) fail_errno = std::atoi(e);
  count_file = std::getenv("CHUNKARR_FAULT_COUNT");
}

__attribute__((destructor)) void report() {
  if (!count_file) return;
  if (std::FILE* f = std::fopen(count_file, "w")) {
    std::fprintf(f, "%ld\n", count.load());
    std::fclose(f);
  }
}

// Counts one write operation; true when it is the one to fail (errno is then set).
bool fails() {
  const long n = count.fetch_add(1) + 1;
  if (n != fail_at) return false;
  errno = fail_errno;
  return true;
}

// Whether `fd` is a regular file other than the standard streams.
bool is_file(int fd) {
  struct stat st;
  return fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// Whether an open call creates a file (O_TMPFILE includes O_DIRECTORY's bit: all of it).
bool creates(int flags) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

// The mode an open call passes only when it creates.
mode_t mode_argument(int flags, va_list args) {
  return creates(flags) ? va_arg(args, mode_t) : 0;
}

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  if (is_file(fd) && fails()) return -1;
  return real(fd, buf, n);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  if (is_file(fd) && fails()) return -1;
  return real(fd, buf, n, offset);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (is_file(fd) && fails()) return -1;
  return real(fd, buf, n, offset);
}

int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  return fails() ? -1 : real(fd);
}

int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  return fails() ? -1 : real(fd);
}

int sync_file_range(int fd, off64_t offset, off64_t n, unsigned int flags) {
  static auto real = next<int (*)(int, off64_t, off64_t, unsigned int)>("sync_file_range");
  return fails() ? -1 : real(fd, offset, n, flags);
}

int rename(const char* from, const char* to) {
  static auto real = next<int (*)(const char*, const char*)>("rename");
  return fails() ? -1 : real(from, to);
}

int renameat(int fd1, const char* from, int fd2, const char* to) {
  static auto real = next<int (*)(int, const char*, int, const char*)>("renameat");
  return fails() ? -1 : real(fd1, from, fd2, to);
}

int renameat2(int fd1, const char* from, int fd2, const char* to, unsigned int flags) {
  static auto real = next<int (*)(int, const char*, int, const char*, unsigned int)>("renameat2");
  return fails() ? -1 : real(fd1, from, fd2, to, flags);
}

int link(const char* from, const char* to) {
  static auto real = next<int (*)(const char*, const char*)>("link");
  return fails() ? -1 : real(from, to);
}

int linkat(int fd1, const char* from, int fd2, const char* to, int flags) {
  static auto real = next<int (*)(int, const char*, int, const char*, int)>("linkat");
  return fails() ? -1 : real(fd1, from, fd2, to, flags);
}

int mkdir(const char* path, mode_t mode) {
  static auto real = next<int (*)(const char*, mode_t)>("mkdir");
  return fails() ? -1 : real(path, mode);
}

int mkdirat(int fd, const char* path, mode_t mode) {
  static auto real = next<int (*)(int, const char*, mode_t)>("mkdirat");
  return fails() ? -1 : real(fd, path, mode);
}

int open64(const char* path, int flags, ...) {
  static auto real = next<int (*)(const char*, int, ...)>("open64");
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return creates(flags) && fails() ? -1 : real(path, flags, mode);
}

int open(const char* path, int flags, ...) {
  static auto real = next<int (*)(const char*, int, ...)>("open");
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return creates(flags) && fails() ? -1 : real(path, flags, mode);
}

int openat64(int dir, const char* path, int flags, ...) {
  static auto real = next<int (*)(int, const char*, int, ...)>("openat64");
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return creates(flags) && fails() ? -1 : real(dir, path, flags, mode);
}

int openat(int dir, const char* path, int flags, ...) {
  static auto real = next<int (*)(int, const char*, int, ...)>("openat");
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return creates(flags) && fails() ? -1 : real(dir, path, flags, mode);
}

}  // extern "C"
