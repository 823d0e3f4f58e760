// HDF5 helpers. Output files are written under a temporary name in the destination folder and
// renamed when complete, so an interrupted run never leaves a half file under the final name;
// every dataset carries a `units` attribute and every file the effective config and the
// lumac version as root attributes. HDF5 errors become lumac::Error with the file named.
// See shared/DESIGN.md, "Output files".
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lumac/core/config.hpp"

namespace lumac::h5 {

// Turns off HDF5's own error-stack printing (lumac reports errors itself). Idempotent.
void quiet();

// Checks that `path` can be created: its folder exists and is writable, and it does not exist
// unless `force`. Throws lumac::Error naming the problem.
void check_output_path(const std::filesystem::path& path, bool force);

// The temporary name used while `final_path` is being written.
std::filesystem::path temporary_path(const std::filesystem::path& final_path);

// Removes temporaries of `final_path` left by processes that no longer run.
void remove_stale_temporaries(const std::filesystem::path& final_path);

// An output file that appears under its final name only on commit().
class OutputFile {
 public:
  OutputFile(std::filesystem::path final_path, bool force);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  H5::H5File& file() { return file_; }
  // Closes the file and renames it to the final name.
  void commit();

 private:
  std::filesystem::path final_path_, temp_path_;
  H5::H5File file_;
  bool committed_ = false;
};

// Attributes.
void write_attribute(H5::H5Object& obj, const std::string& name, const std::string& value);
void write_attribute(H5::H5Object& obj, const std::string& name, double value);
void write_attribute(H5::H5Object& obj, const std::string& name, std::int64_t value);
void write_attribute(H5::H5Object& obj, const std::string& name,
                     const std::vector<std::string>& values);
bool has_attribute(const H5::H5Object& obj, const std::string& name);
std::string read_string_attribute(const H5::H5Object& obj, const std::string& name);
double read_double_attribute(const H5::H5Object& obj, const std::string& name);
std::int64_t read_int_attribute(const H5::H5Object& obj, const std::string& name);
std::vector<std::string> read_strings_attribute(const H5::H5Object& obj, const std::string& name);

// Writes the effective configuration: one root attribute "config.<section>.<name>" per key
// (typed: double, integer or string) plus "config_toml", the whole config as TOML text, and the
// "lumac_version" attribute.
void write_config(H5::H5Object& root, const std::vector<KeyInfo>& keys,
                  const std::string& config_toml);

// The root attributes every lumac output file starts with: the effective configuration
// (write_config), "kind" (e.g. "lumac-sweep"), "schema_version" 1 and "command_line".
void write_header(H5::H5Object& root, const std::vector<KeyInfo>& keys,
                  const std::string& config_toml, const std::string& kind,
                  const std::string& command_line);

// A new group in `parent` (like createGroup, without modification times: lumac's files hold
// no timestamps, so the same results give the same bytes).
H5::Group create_group(H5::Group& parent, const std::string& name);

// Datasets (row-major, `dims` multiply to data.size()), each with a `units` attribute.
void write_dataset(H5::Group& group, const std::string& name, const std::vector<double>& data,
                   const std::vector<hsize_t>& dims, const std::string& units);
void write_dataset(H5::Group& group, const std::string& name, const std::vector<float>& data,
                   const std::vector<hsize_t>& dims, const std::string& units);
void write_dataset(H5::Group& group, const std::string& name, const std::vector<std::int64_t>& data,
                   const std::vector<hsize_t>& dims, const std::string& units);

// A dataset read back with its shape.
template <class T>
struct Array {
  std::vector<T> data;
  std::vector<hsize_t> dims;
};
Array<double> read_doubles(const H5::Group& group, const std::string& name);
Array<float> read_floats(const H5::Group& group, const std::string& name);
Array<std::int64_t> read_ints(const H5::Group& group, const std::string& name);
std::string read_units(const H5::Group& group, const std::string& name);

// Opens an existing HDF5 file for reading; a missing, unreadable or non-HDF5 file is a
// lumac::Error naming it. `what` describes the file ("model", "sweep results").
H5::H5File open_for_reading(const std::filesystem::path& path, const std::string& what);

}  // namespace lumac::h5
