// Conformance with the shared corpus of real bounces (Sisimai's set-of-emails,
// ../shared/corpus/sisimai-bounces): each line of expected-bounces.tsv is one
// recipient of one message, keyed on (path, recipient); see
// expected-bounces-notes.md. Every message is read with mime::parse_tree and
// parse_bounce. For the negative controls (is_bounce "no") only is_bounce,
// rfc3464 (is there a delivery-status part) and the class "not-bounce" can be
// checked: parse_bounce gives nothing else for them.
// Registered only when the corpus exists (see tests/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "dmarq/mime/tree.h"
#include "dmarq/parse/bounce.h"
#include "support/support.h"

using namespace dmarq;
namespace fs = std::filesystem;

namespace {

// The TSV's form of a diagnostic: runs of white space as one space, trimmed,
// cut to 80 characters (code points, not bytes).
std::string tsv_diagnostic(const std::string& s) {
  std::string squeezed;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !squeezed.empty()) squeezed += ' ';
    space = false;
    squeezed += c;
  }
  std::size_t chars = 0, i = 0;
  for (; i < squeezed.size(); ++i) {
    bool continuation = (static_cast<unsigned char>(squeezed[i]) & 0xc0) == 0x80;
    if (!continuation && ++chars > 80) break;
  }
  return test::dash(squeezed.substr(0, i));
}

struct Parsed {
  parse::BounceResult result;
  bool has_dsn = false;
};

}  // namespace

TEST_CASE("bounce conformance: every line of expected-bounces.tsv", "[corpus]") {
  fs::path root = DMARQ_CORPUS_DIR;
  std::ifstream tsv(root / "expected-bounces.tsv");
  REQUIRE(tsv);
  std::string line;
  std::getline(tsv, line);
  auto header = test::split_tabs(line);
  REQUIRE(header.size() == 8);
  REQUIRE(header[3] == "recipient");

  std::map<std::string, Parsed> parsed;
  std::map<std::string, std::size_t> rows_per_path;
  std::size_t checked = 0, matching = 0;
  while (std::getline(tsv, line)) {
    if (line.empty()) continue;
    auto cols = test::split_tabs(line);
    REQUIRE(cols.size() == 8);
    const std::string &path = cols[0], &is_bounce = cols[1], &rfc3464 = cols[2], &recipient = cols[3];
    INFO(fmt::format("{} {}", path, recipient));
    ++checked;
    ++rows_per_path[path];
    if (!parsed.count(path)) {
      Parsed p;
      auto tree = mime::parse_tree(test::read_file(root / path), Limits{});
      mime::walk(tree.root, [&](const mime::Entity& e) {
        p.has_dsn = p.has_dsn || e.content_type == "message/delivery-status";
      });
      p.result = parse::parse_bounce(tree);
      parsed.emplace(path, std::move(p));
    }
    const Parsed& p = parsed.at(path);
    const auto& bounce = p.result.bounce;

    std::vector<std::pair<std::string, std::string>> got_want;  // per column
    got_want.emplace_back(bounce ? "yes" : "no", is_bounce);
    if (!bounce) {
      got_want.emplace_back(p.has_dsn ? "yes" : "no", rfc3464);
      got_want.emplace_back("not-bounce", cols[6]);
    } else {
      got_want.emplace_back(bounce->rfc3464 ? "yes" : "no", rfc3464);
      const model::BounceRecipient* r = nullptr;
      for (const auto& x : bounce->recipients)
        if (x.recipient == recipient) r = &x;
      got_want.emplace_back(r ? r->recipient : "(none)", recipient);
      if (r) {
        got_want.emplace_back(test::dash(r->action), cols[4]);
        got_want.emplace_back(test::dash(r->status), cols[5]);
        got_want.emplace_back(r->bounce_class, cols[6]);
        got_want.emplace_back(tsv_diagnostic(r->diagnostic_code), cols[7]);
      }
    }
    bool all = true;
    for (std::size_t i = 0; i < got_want.size(); ++i) {
      INFO("column " << i + 1);
      CHECK(got_want[i].first == got_want[i].second);
      all = all && got_want[i].first == got_want[i].second;
    }
    if (all) ++matching;
  }
  CHECK(checked == 45);
  CHECK(matching == checked);
  WARN(fmt::format("expected-bounces.tsv: {}/{} lines match", matching, checked));

  // No recipient the TSV does not list.
  for (const auto& [path, p] : parsed) {
    if (!p.result.bounce) continue;
    INFO(path);
    CHECK(p.result.bounce->recipients.size() == rows_per_path[path]);
  }
}
