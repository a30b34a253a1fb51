// Test support: reading test data, golden files and a stable text dump of
// parsed reports. Golden files live in tests/data/golden; set
// DMARQ_UPDATE_GOLDEN=1 to rewrite them (then review the diff).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "dmarq/model/aggregate.h"

namespace dmarq::test {

std::filesystem::path data_path(const std::string& relative);
std::string read_data(const std::string& relative);
std::string read_file(const std::filesystem::path& path);

// Parses tests/data/reports/<file>, which must be a valid report.
model::AggregateReport parse_report(const std::string& file);

// Field-by-field text of a report, one "key: value" per line.
std::string dump(const model::AggregateReport& report);

// Compares `actual` with tests/data/golden/<name>; on mismatch the test fails
// and shows both.
void check_golden(const std::string& name, const std::string& actual);

// The cells of one TSV line (the corpus's expected-*.tsv files).
std::vector<std::string> split_tabs(const std::string& line);
// "-", the TSVs' word for absent, for an empty value.
std::string dash(const std::string& value);

// A fresh temporary directory, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace dmarq::test
