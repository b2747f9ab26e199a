// Errors: one hierarchy rooted at chunkarr::error (a std::runtime_error).
//
// Every failure chunkarr reports is one of these exceptions, and its message names what the
// user needs to find the cause: the path or key, the shapes and the dtype involved. Code
// throws through `throw_error<E>(...)`, which joins its arguments into one message, so a
// call site reads like the sentence it produces. An error that crosses a boundary (a task,
// a dataset being converted) gains context there through `rethrow_with`, which keeps its type,
// so no catch ladder has to list every kind. Broken internal invariants are not these: they
// are std::logic_error.
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
  /// Throws a copy of this error, of its own type, with `context` before its message.
  [[noreturn]] virtual void rethrow_with(const std::string& context) const {
    throw error(context + what());
  }
};

/// What each kind of error derives from: `Base`, and a `rethrow_with` that keeps `Self`.
template <class Self, class Base>
class error_kind : public Base {
 public:
  using Base::Base;
  [[noreturn]] void rethrow_with(const std::string& context) const override {
    throw Self(context + this->what());
  }
};

/// Malformed or unsupported on-disk metadata or data layout (a bad `.zarray`, say).
class format_error : public error_kind<format_error, error> {
 public:
  using error_kind::error_kind;
};

/// A file or key could not be read or written.
class io_error : public error_kind<io_error, error> {
 public:
  using error_kind::error_kind;
};

/// A path or key that should exist does not.
class not_found_error : public error_kind<not_found_error, io_error> {
 public:
  using error_kind::error_kind;
};

/// Shapes, chunks, indices or boxes that do not fit together, or overflow.
class shape_error : public error_kind<shape_error, error> {
 public:
  using error_kind::error_kind;
};

/// A dtype that is unsupported or does not fit the operation.
class type_error : public error_kind<type_error, error> {
 public:
  using error_kind::error_kind;
};

/// Compression or decompression failed, or a codec spec is invalid.
class codec_error : public error_kind<codec_error, error> {
 public:
  using error_kind::error_kind;
};

/// A task or result would exceed the memory budget.
class memory_budget_error : public error_kind<memory_budget_error, error> {
 public:
  using error_kind::error_kind;
};

/// An argument given by the user is invalid (bad option value, unknown name).
class value_error : public error_kind<value_error, error> {
 public:
  using error_kind::error_kind;
};

/// The run was cancelled (compute_options::cancel; the CLI on SIGINT, SIGTERM or SIGHUP).
class cancelled_error : public error_kind<cancelled_error, error> {
 public:
  using error_kind::error_kind;
};

/// Throws an `E` whose message is the concatenation of `parts` (each streamed with <<).
template <class E, class... Parts>
[[noreturn]] void throw_error(Parts&&... parts) {
  std::ostringstream message;
  (message << ... << std::forward<Parts>(parts));
  throw E(message.str());
}

}  // namespace chunkarr
