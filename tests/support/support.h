// Test support: reading test data, golden files and a stable text dump of
// parsed reports. Golden files live in tests/data/golden; set
// DMARQ_UPDATE_GOLDEN=1 to rewrite them (then review the diff).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dmarq/model/aggregate.h"
#include "dmarq/store/store.h"

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

// The database of one test, on the backend under test. By default a SQLite
// file in a TempDir. When DMARQ_TEST_PG holds a PostgreSQL URL (tests/pg/
// unit.sh sets it and runs the cases tagged [backend]), a fresh schema in
// that database, reached through the URL's search_path and dropped when the
// object dies. Declare it before the stores it opens, so that they close
// first. open() may be called again to reopen the same database.
class TestDb {
 public:
  TestDb();
  ~TestDb();
  TestDb(const TestDb&) = delete;
  TestDb& operator=(const TestDb&) = delete;

  std::unique_ptr<store::Store> open(store::OpenMode mode = store::OpenMode::read_write) const;
  bool postgres() const { return !schema_.empty(); }
  // The path or URL that `dmarq --db` takes.
  const std::string& location() const { return location_; }
  // The folder of the SQLite file (left empty on PostgreSQL).
  const std::filesystem::path& dir() const { return dir_.path(); }
  // Everything stored, to search for what must never be: the SQLite files'
  // bytes, or the text of every row of every table in the schema.
  std::string contents() const;
  // The first column of the first row `sql` returns, as text ("" for none
  // or NULL), through a connection of its own; statements that return no
  // rows run too.
  std::string scalar(const std::string& sql) const;

 private:
  TempDir dir_;
  std::string admin_url_, schema_, location_;
};

}  // namespace dmarq::test
