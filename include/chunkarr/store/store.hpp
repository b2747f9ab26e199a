// Key→bytes storage.
//
// A `kvstore` (DESIGN.md's "store"; the name `store` belongs to the sink that writes an
// expression to Zarr) maps keys such as `lfp/.zarray` or `lfp/0.3` to byte strings; it is the only
// way the zarr layer touches data, so everything above it runs the same on a directory, in
// memory, or on a store that injects faults in tests. Keys are '/'-separated relative paths
// without empty, `.` or `..` segments.
//
// Thread safety: every method may be called concurrently. `set` is atomic per key: a reader
// sees the old value or the new one, never a mixture (the directory store writes a temporary
// file and renames it into place).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chunkarr {

/// The allocator of every buffer that receives file data or chunk values (`bytes`): aligned,
/// and uninitialised on resize.
///
/// Alignment: the kernel copies a file into a buffer several times slower when the buffer
/// does not start on a cache-line boundary on some CPUs, and malloc puts a large block 16
/// bytes past a page. Reading a 2 GiB array's chunk files took 0.29 s of system time into
/// page-aligned buffers, 0.33 s at 64 bytes past a page and 0.76 s at 16 (bench/floor.cpp
/// --offset). Buffers of a page or more start on a page, smaller ones on 64 bytes.
///
/// No initialisation: chunk buffers are always written in full before they are read, and
/// zero-filling them first would cost a pass of memory bandwidth per chunk.
///
/// Large buffers (4 MiB and up: chunks, a task's values) are mapped from the kernel and
/// unmapped when freed, so memory a run has finished with goes back to the system: from
/// malloc's heap it would stay with the process (glibc raises its mmap threshold after such
/// frees), and a run under a 256 MiB limit peaked at 380 MiB instead of 170.
namespace detail {
inline constexpr std::size_t mapped_threshold = std::size_t{4} << 20;
void* map_buffer(std::size_t size);
void unmap_buffer(void* p, std::size_t size) noexcept;
}  // namespace detail

template <class T>
struct buffer_allocator {
  using value_type = T;
  buffer_allocator() = default;
  template <class U>
  buffer_allocator(const buffer_allocator<U>&) noexcept {}

  static constexpr std::align_val_t alignment(std::size_t n) noexcept {
    return std::align_val_t{n * sizeof(T) >= 4096 ? std::size_t{4096} : std::size_t{64}};
  }
  T* allocate(std::size_t n) {
    if (n * sizeof(T) >= detail::mapped_threshold)
      return static_cast<T*>(detail::map_buffer(n * sizeof(T)));
    return static_cast<T*>(::operator new(n * sizeof(T), alignment(n)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) >= detail::mapped_threshold) return detail::unmap_buffer(p, n * sizeof(T));
    ::operator delete(p, alignment(n));
  }

  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const buffer_allocator<U>&) const noexcept {
    return true;
  }
};

/// Bytes of a chunk or a value. `bytes(n)` is n uninitialised bytes; `bytes(n, b)` n copies.
using bytes = std::vector<std::byte, buffer_allocator<std::byte>>;

class staged_write;

/// A cheap identity of a stored value's version: a file's size, modification time and inode.
/// A value rewritten has another (a new file replaces the old: a new inode, a new time).
struct value_stamp {
  bool exists = false;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  friend bool operator==(const value_stamp&, const value_stamp&) = default;
};

class kvstore {
 public:
  virtual ~kvstore() = default;

  /// The value under `key`, or nullopt when there is none. Throws io_error when the key
  /// exists but cannot be read.
  virtual std::optional<bytes> get(std::string_view key) const = 0;
  /// The same into `buffer` (resized to the value; its capacity is reused, so a reader of
  /// many values allocates once). Returns false, leaving `buffer` alone, when there is none.
  virtual bool get_into(std::string_view key, bytes& buffer) const;
  /// Stores `value` under `key`, replacing any old value atomically. Throws io_error.
  virtual void set(std::string_view key, std::span<const std::byte> value) = 0;
  /// Removes `key`; returns whether it existed.
  virtual bool erase(std::string_view key) = 0;
  /// Removes every key under the directory `prefix` ("" for all: the directory store removes
  /// its root directory too). Returns how many.
  virtual std::size_t erase_prefix(std::string_view prefix) = 0;
  /// Whether `key` holds a value.
  virtual bool exists(std::string_view key) const = 0;
  /// Every key under the directory `prefix` ("" for all), sorted, as full keys.
  virtual std::vector<std::string> list(std::string_view prefix) const = 0;
  /// The names directly under `prefix`: keys and sub-directories, sorted, without the prefix.
  virtual std::vector<std::string> list_dir(std::string_view prefix) const = 0;
  /// Where the store lives, for messages (a directory path, or "<memory>").
  virtual std::string describe() const = 0;
  /// The byte size of the value under `key`, or nullopt. Stores may override for speed.
  virtual std::optional<std::size_t> size_of(std::string_view key) const;
  /// The stamp of the value under `key` (`exists` false when there is none), or nullopt when
  /// the store cannot tell cheaply (then a pipeline reads the value to digest it).
  virtual std::optional<value_stamp> stamp(std::string_view key) const;
  /// `length` bytes of the value under `key` from `offset` (fewer at its end), or nullopt when
  /// there is none. The directory store reads only that range.
  virtual std::optional<bytes> get_range(std::string_view key, std::size_t offset,
                                         std::size_t length) const;
  /// Begins writing a new tree of keys that appears under `path` ("" for the whole store) only
  /// on commit, all at once where the store can (a directory renamed into place); until then an
  /// old tree there is untouched. Throws io_error when `path` holds something and `overwrite`
  /// is false. The default writes under a temporary prefix and moves the keys on commit.
  virtual std::unique_ptr<staged_write> stage(std::string_view path, bool overwrite);
};

/// A tree being written for kvstore::stage. Write through store() under path(); commit()
/// makes it visible at the staged path. Destroyed uncommitted, it removes what was written.
class staged_write {
 public:
  virtual ~staged_write() = default;
  virtual const std::shared_ptr<kvstore>& store() const = 0;
  virtual const std::string& path() const = 0;
  /// Throws io_error when the target cannot be replaced (or appeared, without overwrite).
  virtual void commit() = 0;
};

/// A store over the directory `root` (created on the first write). Keys map to files.
std::shared_ptr<kvstore> make_directory_store(std::filesystem::path root);
/// A directory store whose writes start going to disk as soon as they are made, for a tree that
/// will be synced when it is committed (most of it is on disk by then).
std::shared_ptr<kvstore> make_durable_directory_store(std::filesystem::path root);

/// A store that keeps everything in memory; the twin tests and fault injection use.
std::shared_ptr<kvstore> make_memory_store();

/// A directory written under a temporary name beside `target` and moved into place by
/// commit(), so that nothing at `target` looks complete before it is. Until commit(), an
/// existing `target` is untouched; a staging directory never committed is removed, and those
/// of writers that died (kill -9) are removed by the next writer of the same target.
class staged_directory {
 public:
  /// Throws io_error when `target` exists and `overwrite` is false.
  staged_directory(std::filesystem::path target, bool overwrite);
  /// A staging directory of a fixed name, `staging`, that outlives a writer that fails or is
  /// killed, so that the next one can resume it: kept as it is when it exists (created when it
  /// does not), and left in place when the write does not commit.
  staged_directory(std::filesystem::path target, bool overwrite, std::filesystem::path staging);
  ~staged_directory();
  staged_directory(const staged_directory&) = delete;
  staged_directory& operator=(const staged_directory&) = delete;

  /// Where to write.
  const std::filesystem::path& path() const { return staging_; }
  /// Syncs what was written to disk, then moves it to the target in one rename: a target that
  /// appeared meanwhile is refused unless `overwrite`, and replaced atomically if it is.
  /// Throws io_error.
  void commit();

 private:
  void replace();
  void replace_in_two_steps();

  std::filesystem::path target_;
  std::filesystem::path staging_;
  bool overwrite_ = false;
  bool committed_ = false;
  bool keep_ = false;  // a resumable staging directory
};

/// Whether the process whose PID `pid_and_rest` starts with (`1234-0-new`) has ended, so what
/// it named so is debris (not this process's, not a live one's).
bool writer_is_gone(std::string_view pid_and_rest);

/// Removes what writers of `target` that died (their PID is gone) left beside it: staging
/// directories and temporary files named `TARGET.chunkarr-tmp-PID-…`; an old tree moved aside
/// (`TARGET.chunkarr-old-PID`) is put back when `target` is missing, removed otherwise.
void remove_debris_of_dead_writers(const std::filesystem::path& target);

/// Moves the finished file `temp` to `target` after syncing it to disk: refused with io_error
/// when `target` exists (even if it appeared meanwhile) unless `overwrite`, which replaces it
/// in one rename.
void commit_file(const std::filesystem::path& temp, const std::filesystem::path& target,
                 bool overwrite);

/// `a/b` from `a` and `b`, with no leading '/' when `a` is empty.
std::string join_key(std::string_view a, std::string_view b);

/// Throws value_error unless `key` is a valid store key (see above). "" is valid only as a
/// prefix, never as a key.
void check_key(std::string_view key, bool allow_empty = false);

}  // namespace chunkarr
