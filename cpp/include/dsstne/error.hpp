// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file error.hpp
/// @brief The exception family of dsstne and the check macros that raise them.
///
/// The library never exits or aborts: every failure is one of these exceptions, with a message
/// that names the culprit (JSON key, layer, data set, sizes). Python maps them to ValueError,
/// IndexError, MemoryError and dsstne.DsstneError.

#include <sstream>
#include <stdexcept>
#include <string>

namespace dsstne {

/// Base of all dsstne errors that are not a more specific standard type.
struct LogicError : std::logic_error {
  using std::logic_error::logic_error;
};
/// A configuration, data set or argument is invalid (maps to Python ValueError).
struct InvalidArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
/// An index or size is out of range (maps to Python IndexError).
struct OutOfRange : std::out_of_range {
  using std::out_of_range::out_of_range;
};
/// An allocation failed (maps to Python MemoryError).
struct OutOfMemory : std::bad_alloc {
  explicit OutOfMemory(std::string msg) : msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};
/// A CUDA runtime or library call failed (maps to dsstne.CudaError).
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A feature exists in the language but not in this build or release (maps to NotImplementedError).
struct NotSupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A computation produced NaN or infinity (e.g. training diverged).
struct NumericalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Another rank failed, left or did not answer in time (maps to dsstne.CommunicationError).
struct CommunicationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Training was interrupted between batches (Ctrl-C from Python).
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
/// Streams any number of values into one string: `concat("layer ", name, " has ", n, " units")`.
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace dsstne

/// Throws `Type` (default dsstne::InvalidArgument) with the streamed message when `cond` is false.
#define DSSTNE_EXPECTS(cond, ...)                                          \
  do {                                                                     \
    if (!(cond)) throw ::dsstne::InvalidArgument(::dsstne::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Throws `Type` with the streamed message when `cond` is false.
#define DSSTNE_EXPECTS_T(Type, cond, ...)                               \
  do {                                                                  \
    if (!(cond)) throw Type(::dsstne::detail::concat(__VA_ARGS__));     \
  } while (0)

/// Throws `Type` with the streamed message.
#define DSSTNE_FAIL(Type, ...) throw Type(::dsstne::detail::concat(__VA_ARGS__))
