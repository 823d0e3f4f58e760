// Error handling. Bad input (files, config values, command-line arguments) raises lumac::Error,
// which the CLI catches once and reports as one line with exit code 2. Internal invariants use
// assert. See shared/DESIGN.md, convention 3.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lumac {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input that is a file or folder: missing, unreadable, unwritable, or an output that already
// exists. The CLI reports it like any Error; the Python module raises OSError (other Errors
// raise ValueError).
class FileError : public Error {
 public:
  using Error::Error;
};

// Throws lumac::Error with a formatted message.
template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Throws lumac::FileError with a formatted message.
template <class... Args>
[[noreturn]] void fail_file(fmt::format_string<Args...> format, Args&&... args) {
  throw FileError(fmt::format(format, std::forward<Args>(args)...));
}

// Field validation with messages of the form
//   "detector.quantum_efficiency = 1.3: must be in (0, 1]".
// `section` names the config section ("detector"), so every message names the full key.
class FieldCheck {
 public:
  explicit FieldCheck(std::string_view section) : section_(section) {}

  // Finite and > 0.
  void positive(std::string_view name, double value) const;
  // Finite and >= 0.
  void non_negative(std::string_view name, double value) const;
  // Finite (any sign).
  void finite(std::string_view name, double value) const;
  // Finite and lo < value <= hi.
  void open_closed(std::string_view name, double value, double lo, double hi) const;
  // Finite and lo <= value <= hi.
  void closed(std::string_view name, double value, double lo, double hi) const;
  // Finite and lo < value < hi.
  void open(std::string_view name, double value, double lo, double hi) const;
  // Integer in [lo, hi].
  void integer(std::string_view name, std::int64_t value, std::int64_t lo, std::int64_t hi) const;
  // A failed custom rule.
  [[noreturn]] void reject(std::string_view name, double value, std::string_view rule) const;

 private:
  std::string section_;
};

}  // namespace lumac
