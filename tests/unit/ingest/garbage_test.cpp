// Mutated inputs: every byte is untrusted, so thousands of corrupted copies
// of real-looking reports (flipped bytes, cuts, splices) go through the whole
// ingest. Each must end as stored or rejected with a reason; none may throw,
// crash or leave a transaction open. Deterministic (fixed seed).
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "dmarq/ingest/ingester.h"
#include "support/support.h"

using namespace dmarq;

namespace {

struct Rng {
  uint64_t s = 0x243F6A8885A308D3ull;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::size_t below(std::size_t n) { return n ? static_cast<std::size_t>(next() % n) : 0; }
};

std::string mutate(const std::string& in, Rng& rng) {
  std::string out = in;
  switch (rng.below(4)) {
    case 0:  // flip a few bytes
      for (int i = 0, n = 1 + static_cast<int>(rng.below(8)); i < n && !out.empty(); ++i)
        out[rng.below(out.size())] = static_cast<char>(rng.next());
      break;
    case 1:  // cut
      out.resize(rng.below(out.size()));
      break;
    case 2: {  // duplicate a slice somewhere else
      std::size_t a = rng.below(out.size()), len = rng.below(out.size() - a + 1);
      out.insert(rng.below(out.size()), out.substr(a, len));
      break;
    }
    default:  // drop a slice
      if (!out.empty()) {
        std::size_t a = rng.below(out.size());
        out.erase(a, rng.below(out.size() - a + 1));
      }
  }
  return out;
}

}  // namespace

TEST_CASE("garbage: mutated reports are stored or rejected with a reason, never more", "[ingest][garbage][backend]") {
  test::TestDb tdb;
  auto db = tdb.open();
  ingest::Ingester ingester(*db, Limits{});
  Rng rng;
  std::size_t stored = 0, rejected = 0;
  for (const char* seed : {"basic.xml", "basic.xml.gz", "basic.zip", "basic-multipart.eml", "basic-whole-body.eml",
                           "dmarcbis.xml", "quirks-1252.xml"}) {
    std::string original = test::read_data(std::string("reports/") + seed);
    for (int i = 0; i < 1000; ++i) {
      source::RawMessage msg{mutate(original, rng), std::string(seed) + "~" + std::to_string(i), "", 0};
      ingest::Result r;
      REQUIRE_NOTHROW(r = ingester.ingest(msg, 1800000000));
      INFO(msg.origin);
      if (r.outcome == ingest::Outcome::rejected || r.outcome == ingest::Outcome::partial) {
        ++rejected;
        REQUIRE_FALSE(r.rejects.empty());
        for (const auto& rej : r.rejects) {
          CHECK_FALSE(rej.reason.empty());
          CHECK_FALSE(rej.code.empty());
        }
      } else {
        ++stored;
        CHECK(r.rejects.empty());
      }
    }
  }
  // Both outcomes occur, so the mutations neither always break nor never do.
  CHECK(stored > 0);
  CHECK(rejected > 0);
  // The database is consistent: every message row was committed.
  CHECK(db->list_rejects().size() >= rejected);
}

TEST_CASE("garbage: mutated complaints, failure reports and bounces keep exactly one kind", "[ingest][garbage][backend]") {
  test::TestDb tdb;
  auto db = tdb.open();
  ingest::Ingester ingester(*db, Limits{});
  Rng rng;
  std::map<std::string, int> kinds;
  for (const char* seed : {"arf-abuse.eml", "failure.eml", "jmrp.eml", "bounce.eml", "autoreply.eml", "spam.eml"}) {
    std::string original = test::read_data(std::string("mixed/") + seed);
    for (int i = 0; i < 500; ++i) {
      source::RawMessage msg{mutate(original, rng), std::string(seed) + "~" + std::to_string(i), "", 0};
      ingest::Result r;
      REQUIRE_NOTHROW(r = ingester.ingest(msg, 1800000000));
      INFO(msg.origin);
      if (r.outcome == ingest::Outcome::duplicate) continue;  // a mutation that changed nothing
      ++kinds[r.kind];
      // A message set aside says why; anything else is one of the known kinds.
      if (r.kind == "not_report") {
        REQUIRE_FALSE(r.rejects.empty());
        CHECK_FALSE(r.rejects.front().reason.empty());
      } else {
        static const std::set<std::string> known{"aggregate", "arf", "failure", "jmrp", "bounce", "auto_reply"};
        CHECK(known.count(r.kind) == 1);
      }
      if (r.kind == "arf" || r.kind == "failure" || r.kind == "jmrp") CHECK(r.feedback > 0);
      if (r.kind == "bounce") CHECK(r.bounced_recipients > 0);
    }
  }
  // Most mutations keep the message readable as what it was; some do not.
  CHECK(kinds["arf"] > 0);
  CHECK(kinds["bounce"] > 0);
  CHECK(kinds["not_report"] > 0);
}
