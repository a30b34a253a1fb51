#include <catch2/catch.hpp>

#include "dmarq/model/aggregate.h"

using namespace dmarq::model;

namespace {

Record filled(const std::string& tag) {
  Record r;
  r.source_ip_text = "192.0.2.1" + tag;
  r.source_ip = parse_ip("192.0.2.1");
  r.count = tag.size() + 7;
  r.disposition = "disp" + tag;
  r.dkim = "dkim" + tag;
  r.spf = "spf" + tag;
  r.reasons = {OverrideReason{"type" + tag, "comment" + tag}};
  r.envelope_to = "to" + tag;
  r.envelope_from = "from" + tag;
  r.header_from = "header" + tag;
  r.dkim_results = {DkimResult{"d" + tag, "s" + tag, "r" + tag, "h" + tag}};
  r.spf_results = {SpfResult{"d" + tag, "sc" + tag, "r" + tag, "h" + tag}, SpfResult{}};
  r.has_extensions = tag.size() % 2 == 1;
  return r;
}

// Every field, so that a field added to Record and forgotten in its swap
// shows up here as a difference.
std::string dump(const Record& r) {
  std::string s = r.source_ip_text + "|" + (r.source_ip ? r.source_ip->to_string() : "-") + "|" +
                  std::to_string(r.count) + "|" + r.disposition + "|" + r.dkim + "|" + r.spf + "|" + r.envelope_to +
                  "|" + r.envelope_from + "|" + r.header_from + "|" + (r.has_extensions ? "x" : "-");
  for (const auto& o : r.reasons) s += "|R:" + o.type + "," + o.comment;
  for (const auto& d : r.dkim_results) s += "|D:" + d.domain + "," + d.selector + "," + d.result + "," + d.human_result;
  for (const auto& f : r.spf_results) s += "|S:" + f.domain + "," + f.scope + "," + f.result + "," + f.human_result;
  return s;
}

}  // namespace

TEST_CASE("Record: swap exchanges every field", "[model]") {
  Record a = filled("a"), b = filled("bb");
  b.source_ip.reset();
  const std::string da = dump(a), db = dump(b);
  REQUIRE(da != db);
  swap(a, b);
  CHECK(dump(a) == db);
  CHECK(dump(b) == da);
  // A member added to Record but not to swap() or dump() would pass the
  // checks above unnoticed; this mirror of the members makes it fail here.
  struct Mirror {
    std::string a;
    std::optional<IpAddress> b;
    uint64_t c;
    std::string d, e, f;
    std::vector<OverrideReason> g;
    std::string h, i, j;
    std::vector<DkimResult> k;
    std::vector<SpfResult> l;
    bool m;
  };
  static_assert(sizeof(Record) == sizeof(Mirror), "Record gained or lost a member: update swap(), clear() and this test");
}
