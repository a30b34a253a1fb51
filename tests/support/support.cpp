#include "support/support.h"

#include "dmarq/parse/aggregate_xml.h"
#include "detail/pg.h"

#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace dmarq::test {

std::filesystem::path data_path(const std::string& relative) { return std::filesystem::path(DMARQ_TEST_DATA) / relative; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_data(const std::string& relative) { return read_file(data_path(relative)); }

model::AggregateReport parse_report(const std::string& file) {
  model::Issues issues;
  auto r = parse::parse_aggregate_xml(read_data("reports/" + file), Limits{}, issues);
  REQUIRE(r);
  return *r;
}

std::string dump(const model::AggregateReport& r) {
  const auto& m = r.meta;
  const auto& p = m.policy;
  std::string out;
  auto line = [&](std::string_view key, const std::string& value) { out += fmt::format("{}: {}\n", key, value); };
  line("xml_namespace", m.xml_namespace);
  line("version", m.version);
  line("org_name", m.org_name);
  line("email", m.email);
  line("extra_contact_info", m.extra_contact_info);
  line("report_id", m.report_id);
  line("generator", m.generator);
  line("begin", std::to_string(m.begin));
  line("end", std::to_string(m.end));
  for (const auto& e : m.errors) line("error", e);
  line("policy.domain", p.domain);
  line("policy.adkim", p.adkim);
  line("policy.aspf", p.aspf);
  line("policy.p", p.p);
  line("policy.sp", p.sp);
  line("policy.np", p.np);
  line("policy.pct", p.pct ? std::to_string(*p.pct) : "-");
  line("policy.fo", p.fo);
  line("policy.testing", p.testing);
  line("policy.discovery_method", p.discovery_method);
  line("extensions", m.has_extensions ? "yes" : "no");
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    const auto& rec = r.records[i];
    out += fmt::format("record {}\n", i + 1);
    line("  source_ip", rec.source_ip ? rec.source_ip->to_string() : "(none) raw=" + rec.source_ip_text);
    line("  count", std::to_string(rec.count));
    line("  disposition", rec.disposition);
    line("  dkim", rec.dkim);
    line("  spf", rec.spf);
    for (const auto& o : rec.reasons) line("  reason", o.type + " / " + o.comment);
    line("  envelope_to", rec.envelope_to);
    line("  envelope_from", rec.envelope_from);
    line("  header_from", rec.header_from);
    for (const auto& d : rec.dkim_results)
      line("  auth dkim", fmt::format("d={} s={} result={} human={}", d.domain, d.selector, d.result, d.human_result));
    for (const auto& s : rec.spf_results)
      line("  auth spf", fmt::format("domain={} scope={} result={} human={}", s.domain, s.scope, s.result, s.human_result));
    line("  extensions", rec.has_extensions ? "yes" : "no");
  }
  return out;
}

void check_golden(const std::string& name, const std::string& actual) {
  auto path = data_path("golden/" + name);
  if (const char* update = std::getenv("DMARQ_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << actual;
  }
  INFO("golden file " << path.string());
  REQUIRE(std::filesystem::exists(path));
  CHECK(read_file(path) == actual);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "dmarq-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestDb::TestDb() {
  const char* pg = std::getenv("DMARQ_TEST_PG");
  if (!pg || !*pg) {
    location_ = (dir_.path() / "t.sqlite").string();
    return;
  }
  admin_url_ = pg;
  // Unique across the processes ctest may run at once and within this one.
  static int counter = 0;
  schema_ = "t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  detail::PgConn::connect(admin_url_).exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_);
  // libpq's URI form of options='-c search_path=SCHEMA'.
  location_ = admin_url_ + (admin_url_.find('?') == std::string::npos ? "?" : "&") +
              "options=-csearch_path%3D" + schema_;
}

TestDb::~TestDb() {
  if (schema_.empty()) return;
  try {
    detail::PgConn::connect(admin_url_).exec("DROP SCHEMA " + schema_ + " CASCADE");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "TestDb: could not drop schema %s: %s\n", schema_.c_str(), e.what());
  }
}

std::unique_ptr<store::Store> TestDb::open(store::OpenMode mode) const {
  return store::open_store(location_, mode);
}

std::string TestDb::contents() const {
  std::string all;
  if (schema_.empty()) {
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) all += read_file(e.path());
    return all;
  }
  auto db = detail::PgConn::connect(location_);
  auto tables = db.exec("SELECT tablename FROM pg_tables WHERE schemaname = $1", {schema_});
  for (int i = 0; i < tables.rows(); ++i) {
    auto rows = db.exec("SELECT t::text FROM " + schema_ + "." + tables.text(i, 0) + " t");
    for (int r = 0; r < rows.rows(); ++r) all += rows.text(r, 0) + "\n";
  }
  return all;
}

std::string TestDb::scalar(const std::string& sql) const {
  if (!schema_.empty()) {
    auto r = detail::PgConn::connect(location_).exec(sql);
    return r.rows() > 0 && !r.null(0, 0) ? r.text(0, 0) : std::string();
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(location_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + location_);
  }
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    std::string err = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("SQL error: " + err);
  }
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr)
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw std::runtime_error("SQL step failed: " + sql);
  return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return out;
}

std::string dash(const std::string& value) { return value.empty() ? "-" : value; }

}  // namespace dmarq::test
