// Conformance of the feedback parser with the shared corpus: each line of
// expected-feedback.tsv names a file (relative to the corpus) and the values
// its first report must have, `-` meaning absent or empty; kind `other`
// means the file must yield no report at all. Conventions are in
// expected-feedback-notes.md. Registered only when the corpus exists (see
// tests/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "dmarq/mime/tree.h"
#include "dmarq/parse/feedback.h"
#include "support/support.h"

using namespace dmarq;
namespace fs = std::filesystem;

namespace {

// The TSV's columns after path, in its order.
std::vector<std::string> values(const model::Feedback& f) {
  return {
      test::dash(f.kind),
      test::dash(f.feedback_type),
      f.source_ip ? f.source_ip->to_string() : "-",
      f.reported_domain.empty() ? "-" : f.reported_domain.front(),
      f.original_rcpt_to.empty() ? "-" : f.original_rcpt_to.front(),
      test::dash(f.original_mail_from),
      f.arrival_date ? std::to_string(*f.arrival_date) : "-",
      test::dash(f.user_agent),
      test::dash(f.auth_failure),
      test::dash(f.reporting_mta),
      f.incidents ? std::to_string(*f.incidents) : "-",
  };
}

}  // namespace

TEST_CASE("feedback conformance: every line of expected-feedback.tsv", "[corpus][feedback]") {
  fs::path root = DMARQ_CORPUS_DIR;
  std::ifstream tsv(root / "expected-feedback.tsv");
  REQUIRE(tsv);
  std::string line;
  std::getline(tsv, line);
  auto header = test::split_tabs(line);
  REQUIRE(header.size() == 12);
  REQUIRE(header[1] == "kind");
  std::size_t checked = 0, matching = 0, other = 0;
  while (std::getline(tsv, line)) {
    if (line.empty()) continue;
    auto cols = test::split_tabs(line);
    REQUIRE(cols.size() == header.size());
    const std::string& path = cols[0];
    std::vector<std::string> want(cols.begin() + 1, cols.end());
    INFO(path);
    ++checked;
    auto tree = mime::parse_tree(test::read_file(root / path), Limits{});
    auto result = parse::parse_feedback(tree);
    if (want[0] == "other") {
      ++other;
      CHECK(result.reports.empty());
      if (result.reports.empty()) ++matching;
      continue;
    }
    if (result.reports.empty()) {
      FAIL_CHECK("no report");
      continue;
    }
    auto got = values(result.reports.front());
    bool same = true;
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("column " << header[i + 1]);
      CHECK(got[i] == want[i]);
      same = same && got[i] == want[i];
    }
    if (same) ++matching;
  }
  CHECK(checked == 85);
  CHECK(matching == checked);
  WARN(fmt::format("expected-feedback.tsv: {}/{} lines match ({} of them other)", matching, checked, other));
}
