// Conformance with the shared corpus of real provider reports: every file
// under ../shared/corpus (but the *.md and expected-* files) is ingested into
// one database, and each line of expected-aggregate.tsv is checked:
//   ok     - the report at (path, part) has exactly these values;
//   reject - (path, part) is rejected with a reason, and no report is stored;
//   either - rejected with a reason, or stored with exactly these values.
// Registered only when the corpus exists (see tests/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "dmarq/ingest/ingester.h"
#include "support/support.h"

using namespace dmarq;
namespace fs = std::filesystem;

namespace {

struct Corpus {
  test::TestDb tdb;
  std::unique_ptr<store::Store> db;
  std::map<std::pair<std::string, std::string>, int64_t> reports;  // (path, part) -> report row
  std::vector<store::Reject> rejects;
  std::map<std::string, std::string> same_bytes_as;  // path -> earlier path with identical bytes

  Corpus() {
    db = tdb.open();
    ingest::Ingester ingester(*db, Limits{});
    fs::path root = DMARQ_CORPUS_DIR;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      auto rel = fs::relative(e.path(), root);
      if (e.path().extension() == ".md") continue;
      if (rel.has_parent_path() == false && rel.string().rfind("expected-", 0) == 0) continue;
      files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::map<std::string, std::string> first_by_content;
    for (const auto& p : files) {
      auto msg = source::read_file(p.string(), Limits{});
      msg.origin = fs::relative(p, root).string();
      auto [it, fresh] = first_by_content.emplace(msg.bytes, msg.origin);
      auto result = ingester.ingest(msg, 1800000000);
      // The same bytes a second time are a no-op by design (content hash);
      // such a file's reports are its twin's.
      if (result.outcome == ingest::Outcome::duplicate) {
        REQUIRE_FALSE(fresh);
        same_bytes_as[msg.origin] = it->second;
      }
    }
    for (const auto& link : db->list_sources()) reports[{link.origin, link.part}] = link.report;
    rejects = db->list_rejects();
  }

  const store::Reject* find_reject(const std::string& path, const std::string& part) const {
    for (const auto& r : rejects)
      if (r.origin == path && (r.part == part || r.part.empty())) return &r;
    return nullptr;
  }
};

// The TSV's value columns, computed from what dmarq stored.
std::vector<std::string> values(const store::ReportStats& s) {
  const auto& m = s.meta;
  return {test::dash(m.org_name), test::dash(m.report_id), test::dash(m.policy.domain), std::to_string(m.begin),
          std::to_string(m.end), std::to_string(s.records), std::to_string(s.messages),
          std::to_string(s.distinct_ips), std::to_string(s.dmarc_pass), std::to_string(s.dkim_aligned),
          std::to_string(s.spf_aligned), std::to_string(s.disposition_none),
          std::to_string(s.disposition_quarantine), std::to_string(s.disposition_reject), test::dash(m.policy.p),
          test::dash(m.xml_namespace)};
}

}  // namespace

TEST_CASE("conformance: every line of expected-aggregate.tsv", "[corpus][backend]") {
  Corpus corpus;
  std::ifstream tsv(fs::path(DMARQ_CORPUS_DIR) / "expected-aggregate.tsv");
  REQUIRE(tsv);
  std::string line;
  std::getline(tsv, line);
  auto header = test::split_tabs(line);
  REQUIRE(header.size() == 19);
  REQUIRE(header[3] == "org_name");
  std::size_t checked = 0, ok = 0, rejected = 0, either = 0;
  std::set<std::pair<std::string, std::string>> expected_reports;
  while (std::getline(tsv, line)) {
    if (line.empty()) continue;
    auto cols = test::split_tabs(line);
    REQUIRE(cols.size() == 19);
    const std::string &path = cols[0], &part = cols[1], &status = cols[2];
    std::vector<std::string> want(cols.begin() + 3, cols.end());
    INFO(fmt::format("{} part {} ({})", path, part, status));
    ++checked;
    expected_reports.insert({path, part});

    std::string stored_as = corpus.same_bytes_as.count(path) ? corpus.same_bytes_as.at(path) : path;
    auto it = corpus.reports.find({stored_as, part});
    const store::Reject* rej = corpus.find_reject(stored_as, part);
    if (status == "reject") {
      ++rejected;
      CHECK(it == corpus.reports.end());
      CHECK(rej != nullptr);
      if (rej) CHECK_FALSE(rej->reason.empty());
      continue;
    }
    if (status == "either" && it == corpus.reports.end()) {
      ++either;
      CHECK(rej != nullptr);
      if (rej) CHECK_FALSE(rej->reason.empty());
      continue;
    }
    if (status == "ok") ++ok;
    else ++either;
    if (rej) INFO("rejected: " << rej->reason);
    if (it == corpus.reports.end()) {
      FAIL_CHECK("no report stored");
      continue;
    }
    auto stats = corpus.db->report_stats(it->second);
    REQUIRE(stats);
    auto got = values(*stats);
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("column " << header[i + 3]);
      CHECK(got[i] == want[i]);
    }
  }
  CHECK(checked == 112);
  CHECK(ok + rejected + either == checked);

  // Nothing is taken for an aggregate report that the TSV does not list
  // (ARF, bounces and other mail must not produce reports).
  for (const auto& [key, id] : corpus.reports) {
    INFO(key.first << " part " << key.second);
    CHECK(expected_reports.count(key) == 1);
  }
}
