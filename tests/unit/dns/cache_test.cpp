// The DNS answer cache (dns/cache.h) over a temporary database, in front of
// the in-memory FakeResolver and a clock the tests move; and the small
// resolvers of dns/resolver.h (offline, reverse names).
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dmarq/dns/cache.h"
#include "dmarq/dns/resolver.h"
#include "dmarq/store/store.h"
#include "support/fake_resolver.h"
#include "support/support.h"

using namespace std::string_literals;
using dmarq::dns::Answer;
using dmarq::dns::Query;
using dmarq::dns::Status;
using dmarq::dns::Type;

namespace {

// A database with dmarq's schema, a fake upstream, a clock, and the cache.
struct Fixture {
  dmarq::test::TestDb tdb;  // SQLite, or PostgreSQL under tests/pg/unit.sh
  std::string db_path = tdb.location();
  dmarq::test::FakeResolver upstream;
  int64_t now = 1'700'000'000;
  std::unique_ptr<dmarq::dns::Resolver> cache;

  Fixture() {
    tdb.open();  // creates the schema, then closes
    upstream.add("example.com", Type::txt, "v=spf1 -all")
        .add("example.com", Type::a, "192.0.2.1")
        .add("other.example", Type::txt, "v=spf1 a -all")
        .add("www.example.com", Type::a, "192.0.2.2")
        .fail("down.example");
    cache = make(upstream);
  }

  std::unique_ptr<dmarq::dns::Resolver> make(dmarq::dns::Resolver& up) {
    return dmarq::dns::make_cached_resolver(up, db_path, [this] { return now; });
  }

  // One value from the database, by a second connection.
  std::string sql(const std::string& query) { return tdb.scalar(query); }
};

// Answers what it is told, counting the questions.
class ScriptedResolver : public dmarq::dns::Resolver {
 public:
  explicit ScriptedResolver(Answer answer) : answer_(std::move(answer)) {}
  Answer lookup(const std::string&, Type) override {
    ++calls;
    return answer_;
  }
  int calls = 0;

 private:
  Answer answer_;
};

Answer ok_answer(std::vector<std::string> data, uint32_t ttl) {
  Answer a;
  a.status = Status::ok;
  a.data = std::move(data);
  a.ttl = ttl;
  return a;
}

}  // namespace

TEST_CASE("dns cache: an answer is served from the cache for its TTL, then asked again", "[dns][backend]") {
  Fixture f;
  const Answer first = f.cache->lookup("example.com", Type::txt);
  REQUIRE(first.status == Status::ok);
  CHECK(first.data == std::vector<std::string>{"v=spf1 -all"});
  CHECK(f.upstream.count("example.com", Type::txt) == 1);

  f.now += 299;  // the fake's TTL is 300
  const Answer second = f.cache->lookup("example.com", Type::txt);
  CHECK(second.status == Status::ok);
  CHECK(second.data == first.data);
  CHECK(second.ttl == 1);  // what is left of it
  CHECK(f.upstream.count("example.com", Type::txt) == 1);

  f.now += 1;  // expires_at is no longer after now
  const Answer third = f.cache->lookup("example.com", Type::txt);
  CHECK(third.status == Status::ok);
  CHECK(third.ttl == 300);
  CHECK(f.upstream.count("example.com", Type::txt) == 2);
}

TEST_CASE("dns cache: the row holds the key, status, JSON records and times", "[dns][backend]") {
  Fixture f;
  f.cache->lookup("Example.COM.", Type::txt);
  CHECK(f.sql("SELECT name || '|' || type || '|' || status || '|' || data || '|' || fetched_at || '|' || "
              "expires_at FROM dns_cache") == "example.com|16|ok|[\"v=spf1 -all\"]|1700000000|1700000300");
  // Case and the trailing dot do not make another entry.
  f.cache->lookup("example.com", Type::txt);
  f.cache->lookup("EXAMPLE.com", Type::txt);
  CHECK(f.upstream.count("example.com", Type::txt) == 1);
  // The type does.
  f.cache->lookup("example.com", Type::a);
  CHECK(f.sql("SELECT count(*) FROM dns_cache") == "2");
}

TEST_CASE("dns cache: NXDOMAIN and NODATA are cached like answers", "[dns][backend]") {
  Fixture f;
  const Answer nx = f.cache->lookup("missing.example", Type::txt);
  const Answer nodata = f.cache->lookup("www.example.com", Type::txt);
  REQUIRE(nx.status == Status::nxdomain);
  REQUIRE(nodata.status == Status::nodata);

  f.now += 10;
  const Answer nx2 = f.cache->lookup("missing.example", Type::txt);
  const Answer nodata2 = f.cache->lookup("www.example.com", Type::txt);
  CHECK(nx2.status == Status::nxdomain);
  CHECK(nx2.data.empty());
  CHECK(nx2.ttl == 290);
  CHECK(nodata2.status == Status::nodata);
  CHECK(f.upstream.count("missing.example", Type::txt) == 1);
  CHECK(f.upstream.count("www.example.com", Type::txt) == 1);
  CHECK(f.sql("SELECT status || ' ' || data FROM dns_cache WHERE name = 'missing.example'") == "nxdomain []");
  CHECK(f.sql("SELECT status || ' ' || data FROM dns_cache WHERE name = 'www.example.com'") == "nodata []");
  CHECK(f.sql("SELECT count(*) FROM dns_cache") == "2");
}

TEST_CASE("dns cache: a temporary failure is never cached", "[dns][backend]") {
  Fixture f;
  const Answer first = f.cache->lookup("down.example", Type::txt);
  const Answer second = f.cache->lookup("down.example", Type::txt);
  CHECK(first.status == Status::temporary);
  CHECK(second.status == Status::temporary);
  CHECK(second.detail == "timeout (fake)");
  CHECK(f.upstream.count("down.example", Type::txt) == 2);
  CHECK(f.sql("SELECT count(*) FROM dns_cache") == "0");
}

TEST_CASE("dns cache: an offline answer is never cached", "[dns][backend]") {
  Fixture f;
  const auto offline = dmarq::dns::make_offline_resolver();
  // Counts what reaches the offline resolver.
  struct Counting : dmarq::dns::Resolver {
    dmarq::dns::Resolver& inner;
    int calls = 0;
    explicit Counting(dmarq::dns::Resolver& r) : inner(r) {}
    Answer lookup(const std::string& n, Type t) override {
      ++calls;
      return inner.lookup(n, t);
    }
  } counting(*offline);
  const auto cache = f.make(counting);
  CHECK(cache->lookup("example.com", Type::txt).status == Status::offline);
  CHECK(cache->lookup("example.com", Type::txt).status == Status::offline);
  CHECK(counting.calls == 2);
  CHECK(f.sql("SELECT count(*) FROM dns_cache") == "0");
}

TEST_CASE("dns cache: lookup_all serves hits and asks upstream for the misses only, once each", "[dns][backend]") {
  Fixture f;
  f.cache->lookup("example.com", Type::txt);
  f.cache->lookup("missing.example", Type::a);
  const std::size_t before = f.upstream.queries().size();

  const std::vector<Query> queries = {
      {"example.com", Type::txt},      // hit
      {"other.example", Type::txt},    // miss
      {"missing.example", Type::a},    // hit (negative)
      {"Other.Example.", Type::txt},   // the same miss again
      {"example.com", Type::a},        // miss
      {"down.example", Type::a},       // miss, temporary
  };
  const auto answers = f.cache->lookup_all(queries);
  REQUIRE(answers.size() == queries.size());
  CHECK(answers[0].data == std::vector<std::string>{"v=spf1 -all"});
  CHECK(answers[1].data == std::vector<std::string>{"v=spf1 a -all"});
  CHECK(answers[2].status == Status::nxdomain);
  CHECK(answers[3].data == std::vector<std::string>{"v=spf1 a -all"});
  CHECK(answers[4].data == std::vector<std::string>{"192.0.2.1"});
  CHECK(answers[5].status == Status::temporary);

  const auto& asked = f.upstream.queries();
  REQUIRE(asked.size() == before + 3);
  CHECK(asked[before] == std::make_pair("other.example"s, Type::txt));
  CHECK(asked[before + 1] == std::make_pair("example.com"s, Type::a));
  CHECK(asked[before + 2] == std::make_pair("down.example"s, Type::a));
  // Stored in the same call: asking again is all hits but the failure.
  f.cache->lookup_all(queries);
  CHECK(f.upstream.queries().size() == before + 4);
  CHECK(f.sql("SELECT count(*) FROM dns_cache") == "4");
}

TEST_CASE("dns cache: TTLs are capped at 7 days, a TTL of 0 is stored but stale", "[dns][backend]") {
  Fixture f;
  SECTION("30 days") {
    ScriptedResolver up(ok_answer({"v=spf1 -all"}, 30 * 86400));
    const auto cache = f.make(up);
    cache->lookup("long.example", Type::txt);
    CHECK(f.sql("SELECT expires_at - fetched_at FROM dns_cache") == std::to_string(7 * 86400));
    f.now += 7 * 86400 - 1;
    CHECK(cache->lookup("long.example", Type::txt).status == Status::ok);
    CHECK(up.calls == 1);
    f.now += 1;
    cache->lookup("long.example", Type::txt);
    CHECK(up.calls == 2);
  }
  SECTION("0") {
    ScriptedResolver up(ok_answer({"192.0.2.9"}, 0));
    const auto cache = f.make(up);
    cache->lookup("zero.example", Type::a);
    CHECK(f.sql("SELECT count(*) FROM dns_cache WHERE expires_at = fetched_at") == "1");
    cache->lookup("zero.example", Type::a);
    CHECK(up.calls == 2);
  }
}

TEST_CASE("dns cache: records that are not UTF-8 are returned but not stored", "[dns][backend]") {
  Fixture f;
  ScriptedResolver up(ok_answer({"v=spf1 \xff -all"s}, 300));
  const auto cache = f.make(up);
  CHECK(cache->lookup("bytes.example", Type::txt).data == std::vector<std::string>{"v=spf1 \xff -all"s});
  CHECK(cache->lookup("bytes.example", Type::txt).data == std::vector<std::string>{"v=spf1 \xff -all"s});
  CHECK(up.calls == 2);
  CHECK(f.sql("SELECT count(*) FROM dns_cache") == "0");
}

TEST_CASE("dns cache: a row it cannot read is a miss and is replaced", "[dns][backend]") {
  Fixture f;
  f.cache->lookup("example.com", Type::txt);
  for (const std::string& update :
       {"UPDATE dns_cache SET data = 'not json'"s, "UPDATE dns_cache SET data = '[1]'"s,
        "UPDATE dns_cache SET status = 'temporary'"s, "UPDATE dns_cache SET data = '[]'"s}) {
    INFO(update);
    f.sql(update);
    const std::size_t before = f.upstream.count("example.com", Type::txt);
    CHECK(f.cache->lookup("example.com", Type::txt).data == std::vector<std::string>{"v=spf1 -all"});
    CHECK(f.upstream.count("example.com", Type::txt) == before + 1);
    CHECK(f.sql("SELECT status || data FROM dns_cache") == "ok[\"v=spf1 -all\"]");
  }
}

TEST_CASE("dns cache: a database that is missing or has no schema is an error", "[dns]") {
  dmarq::test::TempDir dir;
  dmarq::test::FakeResolver upstream;
  const auto now = [] { return int64_t{0}; };
  const std::string missing = (dir.path() / "missing.sqlite").string();
  CHECK_THROWS_AS(dmarq::dns::make_cached_resolver(upstream, missing, now), dmarq::store::StoreError);

  const std::string empty = (dir.path() / "empty.sqlite").string();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(empty.c_str(), &db) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_THROWS_WITH(dmarq::dns::make_cached_resolver(upstream, empty, now), Catch::Contains("dns_cache"));
}

// ---- resolver.h --------------------------------------------------------------------

TEST_CASE("dns resolver: the offline resolver answers offline to everything", "[dns]") {
  const auto offline = dmarq::dns::make_offline_resolver();
  const auto answers = offline->lookup_all({{"example.com", Type::txt}, {"example.com", Type::a}});
  REQUIRE(answers.size() == 2);
  for (const auto& a : answers) {
    CHECK(a.status == Status::offline);
    CHECK(a.data.empty());
  }
}

TEST_CASE("dns resolver: the default lookup_all asks one by one, in order", "[dns]") {
  dmarq::test::FakeResolver fake;
  fake.add("a.example", Type::a, "192.0.2.1").add("b.example", Type::a, "192.0.2.2");
  dmarq::dns::Resolver& base = fake;
  const auto answers = base.lookup_all({{"b.example", Type::a}, {"a.example", Type::a}, {"c.example", Type::a}});
  REQUIRE(answers.size() == 3);
  CHECK(answers[0].data == std::vector<std::string>{"192.0.2.2"});
  CHECK(answers[1].data == std::vector<std::string>{"192.0.2.1"});
  CHECK(answers[2].status == Status::nxdomain);
  REQUIRE(fake.queries().size() == 3);
  CHECK(fake.queries()[0].first == "b.example");
}

TEST_CASE("dns resolver: reverse names", "[dns]") {
  using dmarq::dns::reverse_name;
  CHECK(reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa");
  CHECK(reverse_name("10.0.0.255") == "255.0.0.10.in-addr.arpa");
  // RFC 3596 section 2.5's example.
  CHECK(reverse_name("4321:0:1:2:3:4:567:89ab") ==
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa");
  CHECK(reverse_name("::1") == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
  CHECK_THROWS_AS(reverse_name("not an address"), std::invalid_argument);
  CHECK_THROWS_AS(reverse_name(""), std::invalid_argument);
}
