#include "lumac/core/h5.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "lumac/core/error.hpp"

namespace lumac::h5 {

namespace fs = std::filesystem;

namespace {

const char* const temp_marker = ".lumac-tmp-";

template <class T>
H5::PredType native_type();
template <>
H5::PredType native_type<double>() {
  return H5::PredType::NATIVE_DOUBLE;
}
template <>
H5::PredType native_type<float>() {
  return H5::PredType::NATIVE_FLOAT;
}
template <>
H5::PredType native_type<std::int64_t>() {
  return H5::PredType::NATIVE_INT64;
}

template <class T>
void write_dataset_impl(H5::Group& group, const std::string& name, const std::vector<T>& data,
                        const std::vector<hsize_t>& dims, const std::string& units) {
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  if (count != data.size())
    throw std::logic_error("write_dataset: dims do not match data size for " + name);
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  // No modification times in the object headers: the same results give the same bytes.
  H5::DSetCreatPropList dcpl;
  H5Pset_obj_track_times(dcpl.getId(), false);
  H5::DataSet ds = group.createDataSet(name, native_type<T>(), space, dcpl);
  if (!data.empty()) ds.write(data.data(), native_type<T>());
  write_attribute(ds, "units", units);
}

// Runs an HDF5 operation, turning library exceptions into lumac::Error naming `what`.
template <class F>
auto guarded(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const H5::Exception& e) {
    fail("HDF5 error reading {}: {}", what, e.getDetailMsg());
  }
}

template <class T>
Array<T> read_unguarded(const H5::Group& group, const std::string& name) {
  if (!group.nameExists(name)) fail("dataset '{}' is missing", name);
  H5::DataSet ds = group.openDataSet(name);
  H5::DataSpace space = ds.getSpace();
  Array<T> out;
  out.dims.resize(static_cast<std::size_t>(space.getSimpleExtentNdims()));
  space.getSimpleExtentDims(out.dims.data());
  hsize_t count = 1;
  for (hsize_t d : out.dims) {
    if (d != 0 && count > (hsize_t{1} << 32) / d) fail("dataset '{}' is implausibly large", name);
    count *= d;
  }
  out.data.resize(count);
  if (count) ds.read(out.data.data(), native_type<T>());
  return out;
}

template <class T>
Array<T> read_impl(const H5::Group& group, const std::string& name) {
  return guarded("dataset '" + name + "'", [&] { return read_unguarded<T>(group, name); });
}

// ".<name>.lumac-tmp-" (built by appending: GCC 12 warns falsely on "." + std::string).
std::string temp_prefix(const fs::path& final_path) {
  std::string prefix(".");
  prefix += final_path.filename().string();
  prefix += temp_marker;
  return prefix;
}

bool process_alive(long pid) {
  return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

}  // namespace

H5::Group create_group(H5::Group& parent, const std::string& name) {
  const hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, false);
  const hid_t id = H5Gcreate2(parent.getId(), name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  if (id < 0) fail("cannot create group '{}'", name);
  H5::Group g(id);
  H5Gclose(id);  // H5::Group holds its own reference
  return g;
}

void quiet() {
  static const bool done = [] {
    H5::Exception::dontPrint();
    return true;
  }();
  (void)done;
}

void check_output_path(const fs::path& path, bool force) {
  if (path.empty()) fail("output path is empty");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail_file("cannot write '{}': folder '{}' does not exist", path.string(), dir.string());
  // A folder without write permission is refused even for root (who could write into it): its
  // owner made it read-only.
  const auto perms = fs::status(dir, ec).permissions();
  if (access(dir.c_str(), W_OK) != 0 || (perms & (fs::perms::owner_write | fs::perms::group_write |
                                                  fs::perms::others_write)) == fs::perms::none)
    fail_file("cannot write '{}': folder '{}' is read-only", path.string(), dir.string());
  if (fs::is_directory(path, ec)) fail_file("cannot write '{}': it is a folder", path.string());
  if (fs::exists(path, ec) && !force)
    fail_file("'{}' already exists; pass --force to overwrite it", path.string());
}

fs::path temporary_path(const fs::path& final_path) {
  const fs::path dir = final_path.has_parent_path() ? final_path.parent_path() : fs::path(".");
  return dir / (temp_prefix(final_path) + std::to_string(getpid()));
}

void remove_stale_temporaries(const fs::path& final_path) {
  const fs::path dir = final_path.has_parent_path() ? final_path.parent_path() : fs::path(".");
  const std::string prefix = temp_prefix(final_path);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    char* end = nullptr;
    const long pid = std::strtol(pid_text.c_str(), &end, 10);
    if (end && *end == '\0' && !process_alive(pid)) fs::remove(entry.path(), ec);
  }
}

OutputFile::OutputFile(fs::path final_path, bool force)
    : final_path_(std::move(final_path)), temp_path_(temporary_path(final_path_)) {
  quiet();
  check_output_path(final_path_, force);
  remove_stale_temporaries(final_path_);
  try {
    file_ = H5::H5File(temp_path_.string(), H5F_ACC_TRUNC);
    write_attribute(file_, "lumac_version", std::string(LUMAC_VERSION));
  } catch (const H5::Exception& e) {
    std::error_code ec;
    fs::remove(temp_path_, ec);
    fail_file("cannot create '{}': {}", final_path_.string(), e.getDetailMsg());
  }
}

OutputFile::~OutputFile() {
  if (committed_) return;
  try {
    file_.close();
  } catch (...) {
  }
  std::error_code ec;
  fs::remove(temp_path_, ec);
}

void OutputFile::commit() {
  try {
    file_.flush(H5F_SCOPE_GLOBAL);
    file_.close();
  } catch (const H5::Exception& e) {
    fail_file("cannot finish writing '{}': {}", final_path_.string(), e.getDetailMsg());
  }
  std::error_code ec;
  fs::rename(temp_path_, final_path_, ec);
  if (ec)
    fail_file("cannot rename '{}' to '{}': {}", temp_path_.string(), final_path_.string(),
              ec.message());
  committed_ = true;
}

void write_attribute(H5::H5Object& obj, const std::string& name, const std::string& value) {
  // Variable-length UTF-8, which h5py reads back as str.
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  H5::Attribute a = obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  const char* text = value.c_str();
  a.write(type, &text);
}

void write_attribute(H5::H5Object& obj, const std::string& name, double value) {
  H5::Attribute a =
      obj.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR));
  a.write(H5::PredType::NATIVE_DOUBLE, &value);
}

void write_attribute(H5::H5Object& obj, const std::string& name, std::int64_t value) {
  H5::Attribute a =
      obj.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR));
  a.write(H5::PredType::NATIVE_INT64, &value);
}

void write_attribute(H5::H5Object& obj, const std::string& name,
                     const std::vector<std::string>& values) {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  const hsize_t n = values.size();
  H5::DataSpace space(1, &n);
  H5::Attribute a = obj.createAttribute(name, type, space);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (n) a.write(type, ptrs.data());
}

bool has_attribute(const H5::H5Object& obj, const std::string& name) {
  return obj.attrExists(name);
}

std::string read_string_attribute(const H5::H5Object& obj, const std::string& name) {
  return guarded("attribute '" + name + "'", [&] {
    if (!obj.attrExists(name)) fail("attribute '{}' is missing", name);
    H5::Attribute a = obj.openAttribute(name);
    if (a.getTypeClass() != H5T_STRING) fail("attribute '{}' is not a string", name);
    H5::StrType type = a.getStrType();
    std::string out;
    a.read(type, out);
    while (!out.empty() && out.back() == '\0') out.pop_back();
    return out;
  });
}

double read_double_attribute(const H5::H5Object& obj, const std::string& name) {
  return guarded("attribute '" + name + "'", [&] {
    if (!obj.attrExists(name)) fail("attribute '{}' is missing", name);
    H5::Attribute a = obj.openAttribute(name);
    if (a.getTypeClass() != H5T_FLOAT && a.getTypeClass() != H5T_INTEGER)
      fail("attribute '{}' is not a number", name);
    double v = 0;
    a.read(H5::PredType::NATIVE_DOUBLE, &v);
    return v;
  });
}

std::int64_t read_int_attribute(const H5::H5Object& obj, const std::string& name) {
  return guarded("attribute '" + name + "'", [&] {
    if (!obj.attrExists(name)) fail("attribute '{}' is missing", name);
    H5::Attribute a = obj.openAttribute(name);
    if (a.getTypeClass() != H5T_INTEGER) fail("attribute '{}' is not an integer", name);
    std::int64_t v = 0;
    a.read(H5::PredType::NATIVE_INT64, &v);
    return v;
  });
}

std::vector<std::string> read_strings_attribute(const H5::H5Object& obj, const std::string& name) {
  return guarded("attribute '" + name + "'", [&] {
    if (!obj.attrExists(name)) fail("attribute '{}' is missing", name);
    H5::Attribute a = obj.openAttribute(name);
    if (a.getTypeClass() != H5T_STRING) fail("attribute '{}' is not a list of strings", name);
    H5::DataSpace space = a.getSpace();
    if (space.getSimpleExtentNdims() != 1) fail("attribute '{}' is not a list of strings", name);
    hsize_t n = 0;
    space.getSimpleExtentDims(&n);
    H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    type.setCset(a.getStrType().getCset());
    if (!a.getStrType().isVariableStr())
      fail("attribute '{}' is not a variable-length string list", name);
    std::vector<char*> ptrs(n, nullptr);
    if (n) a.read(type, ptrs.data());
    std::vector<std::string> out;
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    if (n) H5Dvlen_reclaim(type.getId(), space.getId(), H5P_DEFAULT, ptrs.data());
    return out;
  });
}

void write_config(H5::H5Object& root, const std::vector<KeyInfo>& keys,
                  const std::string& config_toml) {
  for (const auto& k : keys) {
    const std::string name = "config." + k.key;
    switch (k.kind) {
      case KeyKind::real:
        write_attribute(root, name, std::stod(k.value));
        break;
      case KeyKind::integer:
        write_attribute(root, name, static_cast<std::int64_t>(std::stoll(k.value)));
        break;
      case KeyKind::boolean:
      case KeyKind::choice:
        write_attribute(root, name, k.value);
        break;
    }
  }
  write_attribute(root, "config_toml", config_toml);
}

void write_header(H5::H5Object& root, const std::vector<KeyInfo>& keys,
                  const std::string& config_toml, const std::string& kind,
                  const std::string& command_line) {
  write_config(root, keys, config_toml);
  write_attribute(root, "kind", kind);
  write_attribute(root, "schema_version", std::int64_t{1});
  write_attribute(root, "command_line", command_line);
}

void write_dataset(H5::Group& group, const std::string& name, const std::vector<double>& data,
                   const std::vector<hsize_t>& dims, const std::string& units) {
  write_dataset_impl(group, name, data, dims, units);
}
void write_dataset(H5::Group& group, const std::string& name, const std::vector<float>& data,
                   const std::vector<hsize_t>& dims, const std::string& units) {
  write_dataset_impl(group, name, data, dims, units);
}
void write_dataset(H5::Group& group, const std::string& name, const std::vector<std::int64_t>& data,
                   const std::vector<hsize_t>& dims, const std::string& units) {
  write_dataset_impl(group, name, data, dims, units);
}

Array<double> read_doubles(const H5::Group& group, const std::string& name) {
  return read_impl<double>(group, name);
}
Array<float> read_floats(const H5::Group& group, const std::string& name) {
  return read_impl<float>(group, name);
}
Array<std::int64_t> read_ints(const H5::Group& group, const std::string& name) {
  return read_impl<std::int64_t>(group, name);
}

std::string read_units(const H5::Group& group, const std::string& name) {
  return guarded("dataset '" + name + "'", [&] {
    if (!group.nameExists(name)) fail("dataset '{}' is missing", name);
    return read_string_attribute(group.openDataSet(name), "units");
  });
}

H5::H5File open_for_reading(const fs::path& path, const std::string& what) {
  quiet();
  std::error_code ec;
  if (!fs::exists(path, ec)) fail_file("{} file '{}' does not exist", what, path.string());
  if (fs::is_directory(path, ec)) fail_file("{} file '{}' is a folder", what, path.string());
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) fail_file("{} file '{}' cannot be read", what, path.string());
  }
  try {
    if (!H5::H5File::isHdf5(path.string()))
      fail("{} file '{}' is not an HDF5 file (empty, truncated or another format)", what,
           path.string());
    return H5::H5File(path.string(), H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    fail("{} file '{}' cannot be opened as HDF5: {}", what, path.string(), e.getDetailMsg());
  }
}

}  // namespace lumac::h5
