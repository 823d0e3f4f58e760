#include "lumac/core/csv.hpp"

#include <fstream>

#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"

namespace lumac {

namespace {

std::string cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

void write_csv(const CsvTable& table, const std::filesystem::path& path, bool force) {
  h5::check_output_path(path, force);
  const std::filesystem::path temp = h5::temporary_path(path);
  {
    std::ofstream out(temp, std::ios::binary);
    if (!out) fail_file("cannot write CSV file '{}'", temp.string());
    auto line = [&](const std::vector<std::string>& cells) {
      for (std::size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << cell(cells[i]);
      out << "\n";
    };
    line(table.header);
    for (const auto& row : table.rows) {
      if (row.size() != table.header.size())
        fail("CSV row of {} cells under a header of {}", row.size(), table.header.size());
      line(row);
    }
    if (!out.flush()) fail_file("cannot write CSV file '{}'", temp.string());
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    fail("cannot rename '{}' to '{}'", temp.string(), path.string());
  }
}

}  // namespace lumac
