#include "lumac/core/h5.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

TEST_CASE("h5: an output file appears under its final name only when committed") {
  TempDir tmp;
  const fs::path out = tmp / "a.h5";
  {
    h5::OutputFile f(out, false);
    H5::Group root = f.file().openGroup("/");
    h5::write_dataset(root, "x", std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, "W");
    CHECK(!fs::exists(out));
    CHECK(fs::exists(h5::temporary_path(out)));
    f.commit();
  }
  CHECK(fs::exists(out));
  CHECK(!fs::exists(h5::temporary_path(out)));
  H5::H5File in = h5::open_for_reading(out, "test");
  const auto x = h5::read_doubles(in.openGroup("/"), "x");
  CHECK(x.data == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(x.dims == std::vector<hsize_t>{2, 3});
  CHECK(h5::read_units(in.openGroup("/"), "x") == "W");
  CHECK(h5::read_string_attribute(in, "lumac_version") == LUMAC_VERSION);
}

TEST_CASE("h5: an abandoned output file leaves nothing behind") {
  TempDir tmp;
  const fs::path out = tmp / "b.h5";
  { h5::OutputFile f(out, false); }
  CHECK(fs::is_empty(tmp.path()));
}

TEST_CASE("h5: existing files are kept unless forced, bad folders are reported") {
  TempDir tmp;
  const fs::path out = tmp / "c.h5";
  write_text(out, "precious");
  CHECK_THROWS_WITH_AS(h5::OutputFile(out, false), doctest::Contains("--force"), Error);
  CHECK(read_text(out) == "precious");
  {
    h5::OutputFile f(out, true);
    f.commit();
  }
  CHECK(read_text(out) != "precious");
  CHECK_THROWS_WITH_AS(h5::OutputFile(tmp / "missing" / "d.h5", false),
                       doctest::Contains("does not exist"), Error);
}

TEST_CASE("h5: stale temporaries of dead processes are removed") {
  TempDir tmp;
  const fs::path out = tmp / "e.h5";
  // PID 999999999 cannot be a live process.
  const fs::path stale = tmp / ".e.h5.lumac-tmp-999999999";
  write_text(stale, "half");
  h5::remove_stale_temporaries(out);
  CHECK(!fs::exists(stale));
}

TEST_CASE("h5: attributes and the effective config round-trip") {
  TempDir tmp;
  const fs::path out = tmp / "f.h5";
  {
    h5::OutputFile f(out, false);
    h5::write_attribute(f.file(), "s", std::string("text"));
    h5::write_attribute(f.file(), "d", 2.5);
    h5::write_attribute(f.file(), "i", std::int64_t{-7});
    h5::write_attribute(f.file(), "names", std::vector<std::string>{"fc1", "fc2"});
    std::vector<KeyInfo> keys{{"laser.power_W", KeyKind::real, "W", "", "0.001", {}},
                              {"adc.bits", KeyKind::integer, "bit", "", "8", {}},
                              {"system.encoding", KeyKind::choice, "1", "", "full-scale", {}}};
    h5::write_config(f.file(), keys, "[laser]\npower_W = 0.001\n");
    f.commit();
  }
  H5::H5File in = h5::open_for_reading(out, "test");
  CHECK(h5::read_string_attribute(in, "s") == "text");
  CHECK(h5::read_double_attribute(in, "d") == 2.5);
  CHECK(h5::read_int_attribute(in, "i") == -7);
  CHECK(h5::read_strings_attribute(in, "names") == std::vector<std::string>{"fc1", "fc2"});
  CHECK(h5::read_double_attribute(in, "config.laser.power_W") == 0.001);
  CHECK(h5::read_int_attribute(in, "config.adc.bits") == 8);
  CHECK(h5::read_string_attribute(in, "config.system.encoding") == "full-scale");
  CHECK(h5::read_string_attribute(in, "config_toml").find("power_W") != std::string::npos);
}

TEST_CASE("h5: missing, empty and non-HDF5 files give one clear error") {
  TempDir tmp;
  CHECK_THROWS_WITH_AS(h5::open_for_reading(tmp / "none.h5", "model"),
                       doctest::Contains("does not exist"), Error);
  write_text(tmp / "empty.h5", "");
  CHECK_THROWS_WITH_AS(h5::open_for_reading(tmp / "empty.h5", "model"),
                       doctest::Contains("not an HDF5 file"), Error);
  write_text(tmp / "text.h5", "this is not hdf5 at all, just text\n");
  CHECK_THROWS_WITH_AS(h5::open_for_reading(tmp / "text.h5", "model"),
                       doctest::Contains("not an HDF5 file"), Error);
}
