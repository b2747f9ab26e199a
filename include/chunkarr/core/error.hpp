// Errors: one hierarchy rooted at chunkarr::error (a std::runtime_error).
//
// Every failure chunkarr reports is one of these exceptions, and its message names what the
// user needs to find the cause: the path or key, the shapes and the dtype involved. Code
// throws through `throw_error<E>(...)`, which joins its arguments into one message, so a
// call site reads like the sentence it produces.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace chunkarr {

/// Base of every exception chunkarr throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Malformed or unsupported on-disk metadata or data layout (a bad `.zarray`, say).
class format_error : public error {
 public:
  using error::error;
};

/// A file or key could not be read or written.
class io_error : public error {
 public:
  using error::error;
};

/// A path or key that should exist does not.
class not_found_error : public io_error {
 public:
  using io_error::io_error;
};

/// Shapes, chunks, indices or boxes that do not fit together, or overflow.
class shape_error : public error {
 public:
  using error::error;
};

/// A dtype that is unsupported or does not fit the operation.
class type_error : public error {
 public:
  using error::error;
};

/// Compression or decompression failed, or a codec spec is invalid.
class codec_error : public error {
 public:
  using error::error;
};

/// A task or result would exceed the memory budget.
class memory_budget_error : public error {
 public:
  using error::error;
};

/// An argument given by the user is invalid (bad option value, unknown name).
class value_error : public error {
 public:
  using error::error;
};

/// Throws an `E` whose message is the concatenation of `parts` (each streamed with <<).
template <class E, class... Parts>
[[noreturn]] void throw_error(Parts&&... parts) {
  std::ostringstream message;
  (message << ... << std::forward<Parts>(parts));
  throw E(message.str());
}

}  // namespace chunkarr
