// CSV tables for spreadsheet users (--csv FILE): a header row and rows of cells, written under
// a temporary name and renamed when complete (like every output file). Cells holding a comma,
// a quote or a line break are quoted (RFC 4180).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lumac {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header
};

// lumac::Error if the file cannot be written or exists (without `force`).
void write_csv(const CsvTable& table, const std::filesystem::path& path, bool force);

}  // namespace lumac
