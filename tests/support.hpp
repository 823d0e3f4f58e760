// Helpers shared by the test suites: running the lumac binary, temporary folders, reading
// numbers out of JSON text, and the tolerances of seeded statistical tests.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "lumac/core/error.hpp"

namespace lumac::test {

inline std::filesystem::path source_dir() {
  return LUMAC_SOURCE_DIR;
}

// A bundled model file, data/models/<name>.
inline std::string bundled_model(const char* name) {
  return (source_dir() / "data" / "models" / name).string();
}

// A fresh temporary folder, removed with its contents at the end of the scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lumac-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
  // Number of lines on stderr.
  int err_lines() const {
    int n = 0;
    for (char c : err) n += c == '\n';
    return n;
  }
};

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command line with the lumac binary and the arguments appended; captures stdout,
// stderr and the exit code.
inline RunResult run_shell(const std::string& prefix, const std::vector<std::string>& args) {
  TempDir tmp;
  std::string cmd = prefix + " " + shell_quote(LUMAC_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote((tmp / "out").string()) + " 2>" + shell_quote((tmp / "err").string());
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(tmp / "out");
  r.err = read_text(tmp / "err");
  return r;
}

// Runs the lumac binary with the arguments; captures stdout, stderr and the exit code.
inline RunResult run_lumac(const std::vector<std::string>& args, const std::string& env = "") {
  return run_shell(env, args);
}

// The number stored under "key" in JSON text (the first occurrence); NaN if absent.
inline double json_number(const std::string& json, const std::string& key) {
  const std::regex re("\"" + key + "\"\\s*:\\s*(-?[0-9.eE+-]+)");
  std::smatch m;
  if (!std::regex_search(json, m, re)) return std::nan("");
  return std::stod(m[1].str());
}

// Tolerance of a sample mean: k standard errors for n samples of standard deviation sigma.
inline double mean_tolerance(double sigma, double n, double k = 5) {
  return k * sigma / std::sqrt(n);
}
// Tolerance of a sample variance of a near-Gaussian variable: k standard errors,
// sd(s^2) = sigma^2 sqrt(2 / (n - 1)).
inline double variance_tolerance(double variance, double n, double k = 5) {
  return k * variance * std::sqrt(2.0 / (n - 1));
}

struct Moments {
  double mean = 0, variance = 0;
};
inline Moments moments(const std::vector<double>& x) {
  Moments m;
  for (double v : x) m.mean += v;
  m.mean /= static_cast<double>(x.size());
  for (double v : x) m.variance += (v - m.mean) * (v - m.mean);
  m.variance /= static_cast<double>(x.size() - 1);
  return m;
}

}  // namespace lumac::test
