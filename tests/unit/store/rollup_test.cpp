// The rollups (schema 004, by 32-day span since 005): facts and their
// messages per day, kept in step with the records; and the views read
// through them equal the views read from every record.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <optional>
#include <random>

#include "dmarq/analyze/analyzer.h"
#include "dmarq/store/store.h"
#include "store/rollup.h"
#include "support/support.h"

using namespace dmarq;

namespace {

constexpr int64_t kOct1 = 1790812800;  // 2026-10-01T00:00:00Z
constexpr int64_t kDay = 86400;

void store_report(store::Store& s, const model::ReportMeta& meta, const std::vector<model::Record>& records,
                  const std::string& sha, const model::ReportMeta* end_meta = nullptr) {
  s.begin_message({sha, "test:" + sha, 1, 1000});
  s.begin_report(meta, "-");
  for (auto rec : records) s.add_record(rec);
  s.end_report(end_meta ? *end_meta : meta);
  s.commit_message({});
}

model::Record record(const std::string& ip, uint64_t count, const std::string& dkim_result = "pass") {
  model::Record r;
  r.source_ip_text = ip;
  r.source_ip = model::parse_ip(ip);
  r.count = count;
  r.disposition = "none";
  r.dkim = dkim_result == "pass" ? "pass" : "fail";
  r.spf = "fail";
  r.header_from = "example.com";
  r.envelope_from = "example.com";
  r.dkim_results.push_back({"example.com", "s1", dkim_result, ""});
  r.spf_results.push_back({"example.com", "mfrom", "softfail", ""});
  return r;
}

model::ReportMeta meta(const std::string& org, const std::string& id, int64_t begin, int64_t end,
                       const std::string& domain = "example.com") {
  model::ReportMeta m;
  m.org_name = org;
  m.report_id = id;
  m.begin = begin;
  m.end = end;
  m.policy.domain = domain;
  m.policy.p = "none";
  return m;
}

struct Fact {
  std::string ip, dkim;
  std::vector<std::pair<int64_t, uint64_t>> days;
  bool operator==(const Fact&) const = default;
};

std::vector<Fact> facts(store::Store& s, const std::string& domain) {
  std::vector<Fact> out;
  s.for_each_fact(domain, INT64_MIN / 2, INT64_MAX / 2,
                  [&](const store::ExportRow& row, std::span<const analyze::DayShare> days) {
                    const auto& dkim = row.record->dkim_results;
                    Fact f{row.record->source_ip_text, dkim.empty() ? "" : dkim[0].result, {}};
                    for (const auto& d : days) f.days.emplace_back(d.day, d.count);
                    out.push_back(f);
                  });
  std::sort(out.begin(), out.end(), [](const Fact& a, const Fact& b) { return a.ip + a.dkim < b.ip + b.dkim; });
  return out;
}

}  // namespace

TEST_CASE("rollup: a fact encodes any bytes and decodes back; garbage does not decode", "[store][rollup]") {
  model::PolicyPublished p;
  p.adkim = "s";
  p.p = "reject";
  p.pct = 50;
  model::Record r = record("2001:db8::1", 7);
  r.envelope_from = std::string("3:a:b\0c", 7);  // looks like a field, has a NUL
  r.reasons.push_back({"forwarded", "12:not a field"});
  r.dkim_results.push_back({"", "", "", ""});
  std::string bytes;
  store::encode_fact(p, r, bytes);
  model::PolicyPublished p2;
  model::Record r2;
  REQUIRE(store::decode_fact(bytes, p2, r2));
  CHECK(p2.adkim == "s");
  CHECK(p2.p == "reject");
  CHECK(p2.pct == 50);
  CHECK(r2.envelope_from == r.envelope_from);
  CHECK(r2.source_ip == r.source_ip);
  CHECK(r2.reasons.size() == 1);
  CHECK(r2.reasons[0].comment == "12:not a field");
  CHECK(r2.dkim_results.size() == 2);
  CHECK(r2.count == 0);
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, bytes.size() / 2, bytes.size() - 1})
    CHECK_FALSE(store::decode_fact(bytes.substr(0, cut), p2, r2));
  CHECK_FALSE(store::decode_fact(bytes + std::string(1, '\0'), p2, r2));
  CHECK_FALSE(store::decode_fact(std::string(12, '\xff') + "x", p2, r2));  // a length past any input
  CHECK_FALSE(store::decode_fact(std::string(1, '\x7f') + "x", p2, r2));
}

TEST_CASE("rollup: the same fact from several reporters and days is one fact", "[store][rollup][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  store_report(*s, meta("A", "a1", kOct1, kOct1 + kDay - 1), {record("192.0.2.1", 10), record("192.0.2.2", 3, "fail")},
               "a1");
  store_report(*s, meta("B", "b1", kOct1, kOct1 + kDay - 1), {record("192.0.2.1", 5)}, "b1");
  // Two days: 101 messages split 51 + 50, as the views split them.
  store_report(*s, meta("A", "a2", kOct1 + kDay, kOct1 + 3 * kDay), {record("192.0.2.1", 101)}, "a2");
  // Zero messages still make a fact: the record was seen.
  store_report(*s, meta("C", "c1", kOct1, kOct1 + kDay - 1), {record("192.0.2.9", 0)}, "c1");
  auto f = facts(*s, "example.com");
  REQUIRE(f.size() == 3);
  CHECK(f[0] == Fact{"192.0.2.1", "pass", {{kOct1, 15}, {kOct1 + kDay, 51}, {kOct1 + 2 * kDay, 50}}});
  CHECK(f[1] == Fact{"192.0.2.2", "fail", {{kOct1, 3}}});
  CHECK(f[2] == Fact{"192.0.2.9", "pass", {{kOct1, 0}}});
  CHECK(facts(*s, "other.example").empty());

  SECTION("a period sees only its days") {
    std::vector<uint64_t> got;
    s->for_each_fact("example.com", kOct1 + kDay, kOct1 + 2 * kDay,
                     [&](const store::ExportRow&, std::span<const analyze::DayShare> days) {
                       for (const auto& d : days) got.push_back(d.count);
                     });
    CHECK(got == std::vector<uint64_t>{51});
  }
  SECTION("a duplicate report adds nothing") {
    store_report(*s, meta("B", "b1", kOct1, kOct1 + kDay - 1), {record("192.0.2.1", 5)}, "b1-again");
    CHECK(facts(*s, "example.com")[0].days[0].second == 15);
  }
}

TEST_CASE("rollup: rolled back reports leave nothing, and their fact ids are not reused wrongly", "[store][rollup][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  // A message rolled back after its fact was created...
  s->begin_message({"x", "test:x", 1, 1000});
  s->begin_report(meta("A", "a1", kOct1, kOct1 + 10), "-");
  auto a = record("192.0.2.1", 10);
  s->add_record(a);
  s->end_report(meta("A", "a1", kOct1, kOct1 + 10));
  s->rollback_message();
  CHECK(facts(*s, "example.com").empty());
  // ...then another fact takes the freed id, and the first fact comes back.
  store_report(*s, meta("B", "b1", kOct1, kOct1 + 10), {record("198.51.100.1", 2)}, "b");
  store_report(*s, meta("A", "a1", kOct1, kOct1 + 10), {record("192.0.2.1", 10)}, "a");
  auto f = facts(*s, "example.com");
  REQUIRE(f.size() == 2);
  CHECK(f[0] == Fact{"192.0.2.1", "pass", {{kOct1, 10}}});
  CHECK(f[1] == Fact{"198.51.100.1", "pass", {{kOct1, 2}}});

  SECTION("an aborted report inside a kept message") {
    s->begin_message({"y", "test:y", 1, 1000});
    s->begin_report(meta("C", "c1", kOct1, kOct1 + 10), "-");
    auto c = record("203.0.113.5", 4);
    s->add_record(c);
    s->abort_report();
    s->commit_message({});
    store_report(*s, meta("D", "d1", kOct1, kOct1 + 10), {record("203.0.113.5", 1)}, "d");
    auto g = facts(*s, "example.com");
    REQUIRE(g.size() == 3);
    CHECK(g[2] == Fact{"203.0.113.5", "pass", {{kOct1, 1}}});
  }
}

TEST_CASE("rollup: a full cache of fact ids is emptied without losing a buffered row", "[store][rollup]") {
  test::TempDir dir;
  auto path = (dir.path() / "t.sqlite").string();
  { auto s = store::open_sqlite(path, store::OpenMode::read_write); }  // the schema
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  store::register_rollup_functions(db);
  {
    store::RollupWriter w(db, 3);  // a cache of three ids
    auto m = meta("A", "a", kOct1, kOct1 + 10);
    // Twice over ten facts in batches of seven: the cache fills and is
    // emptied while ids of buffered rows are in it.
    for (int round = 0; round < 2; ++round)
      for (int i = 0; i < 10; ++i) {
        w.add(m, record("192.0.2." + std::to_string(i + 1), 1 + static_cast<uint64_t>(i)));
        if (i % 7 == 6) w.flush();
      }
    w.flush();
    std::map<std::string, uint64_t> got;
    store::read_facts(db, "example.com", kOct1, kOct1 + kDay,
                      [&](const model::ReportMeta&, const model::Record& r, std::span<const analyze::DayShare> days) {
                        got[r.source_ip_text] += days[0].count;
                      });
    REQUIRE(got.size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(got["192.0.2." + std::to_string(i + 1)] == 2 * (1 + static_cast<uint64_t>(i)));
  }
  sqlite3_close(db);
}

TEST_CASE("rollup: metadata that changes after the records is rolled up as it ends", "[store][rollup][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  // The records came before <policy_published> and the date range: rolled
  // up at first under no domain, then moved.
  model::ReportMeta early = meta("A", "a1", 0, 0, "");
  model::ReportMeta late = meta("A", "a1", kOct1, kOct1 + 2 * kDay);
  store_report(*s, early, {record("192.0.2.1", 9), record("192.0.2.1", 1)}, "a", &late);
  CHECK(facts(*s, "").empty());
  auto f = facts(*s, "example.com");
  REQUIRE(f.size() == 1);
  // 9 -> 5 + 4 and 1 -> 1 + 0 (ties go to the earlier day).
  CHECK(f[0] == Fact{"192.0.2.1", "pass", {{kOct1, 6}, {kOct1 + kDay, 4}}});

  // Over the end of a 32-day span (day 20736 is 2026-10-10): taken back
  // from both spans' rows, the earlier report's days untouched.
  constexpr int64_t kOct10 = kOct1 + 9 * kDay;
  REQUIRE(store::span_of(kOct10) == store::span_of(kOct10 - kDay) + 1);
  model::ReportMeta early2 = meta("B", "b1", 0, 0, "");
  model::ReportMeta late2 = meta("B", "b1", kOct10 - kDay, kOct10 + kDay);
  store_report(*s, early2, {record("192.0.2.1", 8)}, "b", &late2);
  f = facts(*s, "example.com");
  REQUIRE(f.size() == 1);
  CHECK(f[0] == Fact{"192.0.2.1", "pass", {{kOct1, 6}, {kOct1 + kDay, 4}, {kOct10 - kDay, 4}, {kOct10, 4}}});
  CHECK(facts(*s, "").empty());
}

TEST_CASE("rollup: a days blob encodes and decodes; garbage does not decode", "[store][rollup]") {
  constexpr int64_t kOct10 = kOct1 + 9 * kDay;
  const int64_t span = store::span_of(kOct10);
  CHECK(store::span_of(kOct10 + 31 * kDay) == span);
  CHECK(store::span_of(kOct10 + 32 * kDay) == span + 1);
  CHECK(store::span_of(kOct10 - 1) == span - 1);
  CHECK(store::span_of(-1) == -1);  // before 1970: floor, not truncation
  CHECK(store::span_of(-32 * kDay) == -1);
  CHECK(store::span_of(-32 * kDay - 1) == -2);

  std::vector<store::DayCount> in{{kOct10, 1, 0}, {kOct10 + 5 * kDay, 300, 1ull << 40},
                                  {kOct10 + 31 * kDay, 2, UINT64_MAX}};
  std::string bytes;
  store::encode_days(in, span, bytes);
  std::vector<store::DayCount> out;
  REQUIRE(store::decode_days(bytes, span, out));
  REQUIRE(out.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(out[i].day == in[i].day);
    CHECK(out[i].records == in[i].records);
    CHECK(out[i].messages == in[i].messages);
  }
  CHECK(store::decode_days("", span, out));
  CHECK(out.empty());
  for (std::string bad : {std::string("\x20\x01\x01", 3),      // day 32 of a 32-day span
                          std::string("\x03\x01\x01\x03\x01\x01", 6),  // a day twice
                          std::string("\x05\x01\x01\x04\x01\x01", 6),  // out of order
                          std::string("\x01\x01", 2),              // no messages
                          std::string("\x01\x01\x80", 3)}) {      // a varint cut short
    INFO(bad.size());
    CHECK_FALSE(store::decode_days(bad, span, out));
  }
}

TEST_CASE("rollup: dmarq_days_add sums by day, dmarq_days_sub drops days with no records left", "[store][rollup]") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  store::register_rollup_functions(db);
  auto blob = [](std::vector<store::DayCount> days) {
    std::string b;
    store::encode_days(days, 0, b);
    return b;
  };
  auto call = [&](const char* fn, const std::string& a, const std::string& b) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, (std::string("SELECT ") + fn + "(?1, ?2)").c_str(), -1, &st, nullptr) == SQLITE_OK);
    sqlite3_bind_blob(st, 1, a.data(), static_cast<int>(a.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    std::optional<std::string> out;
    if (rc == SQLITE_ROW)
      out = std::string(static_cast<const char*>(sqlite3_column_blob(st, 0)) ? static_cast<const char*>(sqlite3_column_blob(st, 0)) : "",
                        static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
    return out;
  };
  auto a = blob({{0, 2, 10}, {2 * kDay, 1, 5}});
  auto b = blob({{kDay, 1, 7}, {2 * kDay, 1, 5}});
  CHECK(call("dmarq_days_add", a, b) == blob({{0, 2, 10}, {kDay, 1, 7}, {2 * kDay, 2, 10}}));
  CHECK(call("dmarq_days_add", a, "") == a);
  // Day 0 loses one of its two records; day 2 its only one, so it goes;
  // day 1 was never there, so there is nothing to take.
  CHECK(call("dmarq_days_sub", a, blob({{0, 1, 4}, {kDay, 1, 7}, {2 * kDay, 1, 5}})) == blob({{0, 1, 6}}));
  CHECK(call("dmarq_days_sub", a, a) == std::string());
  CHECK_FALSE(call("dmarq_days_add", a, std::string("\x40\x01\x01", 3)));  // an error, not a result
  CHECK_FALSE(call("dmarq_days_sub", std::string("\x01", 1), a));
  sqlite3_close(db);
}

TEST_CASE("rollup: migrating an older database rolls up what it holds", "[store][rollup]") {
  test::TempDir dir;
  auto path = (dir.path() / "t.sqlite").string();
  std::vector<Fact> before;
  std::vector<store::ReportSummary> reports_before;
  {
    auto s = store::open_sqlite(path, store::OpenMode::read_write);
    auto r = test::parse_report("basic.xml");
    store_report(*s, r.meta, r.records, "basic");
    store_report(*s, meta("A", "a2", kOct1, kOct1 + 3 * kDay), {record("192.0.2.1", 101)}, "a2");
    before = facts(*s, r.meta.policy.domain);
    reports_before = s->list_reports({});
  }
  // Back to schema 3: no rollup tables, no reporter sums.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "DROP TABLE rollup_span; DROP TABLE rollup_fact; DROP TABLE rollup_domain; "
                       "ALTER TABLE report DROP COLUMN evaluated_pass; ALTER TABLE report DROP COLUMN quarantined; "
                       "ALTER TABLE report DROP COLUMN rejected; PRAGMA user_version=3;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_THROWS_AS(store::open_sqlite(path, store::OpenMode::read_only), store::StoreError);
  auto s = store::open_sqlite(path, store::OpenMode::read_write);
  CHECK(facts(*s, test::parse_report("basic.xml").meta.policy.domain) == before);
  auto reports = s->list_reports({});
  REQUIRE(reports.size() == reports_before.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    CHECK(reports[i].evaluated_pass == reports_before[i].evaluated_pass);
    CHECK(reports[i].quarantined == reports_before[i].quarantined);
    CHECK(reports[i].rejected == reports_before[i].rejected);
  }
  CHECK(reports_before[0].evaluated_pass + reports_before[1].evaluated_pass > 0);
}

// A database of schema 004 kept its rollups as one rollup_day row per
// (domain, day, fact); migrating moves them into rollup_span unchanged.
TEST_CASE("rollup: migrating rollup_day rows of schema 004 keeps every fact and day", "[store][rollup]") {
  test::TempDir dir;
  auto path = (dir.path() / "t.sqlite").string();
  std::vector<Fact> before;
  {
    auto s = store::open_sqlite(path, store::OpenMode::read_write);
    auto r = test::parse_report("basic.xml");
    store_report(*s, r.meta, r.records, "basic");
    // Two reporters, one fact, days on both sides of a span boundary.
    store_report(*s, meta("A", "a1", kOct1 + 7 * kDay, kOct1 + 11 * kDay), {record("192.0.2.1", 101)}, "a1");
    store_report(*s, meta("B", "b1", kOct1 + 8 * kDay, kOct1 + 10 * kDay), {record("192.0.2.1", 7)}, "b1");
    before = facts(*s, "example.com");
    REQUIRE_FALSE(before.empty());
  }
  // Back to schema 4: the same rows as rollup_day.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "CREATE TABLE rollup_day (domain_id INTEGER NOT NULL, day INTEGER NOT NULL, "
                       "fact_id INTEGER NOT NULL, records INTEGER NOT NULL, messages INTEGER NOT NULL, "
                       "PRIMARY KEY (domain_id, day, fact_id)) WITHOUT ROWID",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  {
    sqlite3_stmt *spans = nullptr, *put = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT domain_id, span, fact_id, days FROM rollup_span", -1, &spans, nullptr) ==
            SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO rollup_day VALUES (?1, ?2, ?3, ?4, ?5)", -1, &put, nullptr) ==
            SQLITE_OK);
    std::vector<store::DayCount> days;
    std::size_t rows = 0;
    while (sqlite3_step(spans) == SQLITE_ROW) {
      std::string_view bytes(static_cast<const char*>(sqlite3_column_blob(spans, 3)),
                             static_cast<std::size_t>(sqlite3_column_bytes(spans, 3)));
      REQUIRE(store::decode_days(bytes, sqlite3_column_int64(spans, 1), days));
      for (const auto& d : days) {
        sqlite3_bind_int64(put, 1, sqlite3_column_int64(spans, 0));
        sqlite3_bind_int64(put, 2, d.day);
        sqlite3_bind_int64(put, 3, sqlite3_column_int64(spans, 2));
        sqlite3_bind_int64(put, 4, static_cast<int64_t>(d.records));
        sqlite3_bind_int64(put, 5, static_cast<int64_t>(d.messages));
        REQUIRE(sqlite3_step(put) == SQLITE_DONE);
        sqlite3_reset(put);
        ++rows;
      }
    }
    sqlite3_finalize(spans);
    sqlite3_finalize(put);
    CHECK(rows > before.size());  // some fact has several days
  }
  // Marked, so that what comes back is seen to come from rollup_day and
  // not from rolling up the records again.
  REQUIRE(sqlite3_exec(db, "UPDATE rollup_day SET messages=messages+1000; DROP TABLE rollup_span; "
                           "PRAGMA user_version=4;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  for (auto& f : before)
    for (auto& d : f.days) d.second += 1000;
  auto s = store::open_sqlite(path, store::OpenMode::read_write);
  CHECK(facts(*s, "example.com") == before);
  // Read straight from the migrated table, not the records: rollup_day is gone.
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* gone = nullptr;
  CHECK(sqlite3_prepare_v2(db, "SELECT 1 FROM rollup_day", -1, &gone, nullptr) != SQLITE_OK);
  sqlite3_finalize(gone);
  sqlite3_close(db);
}

// Random reports over two domains, many reporters, one- and several-day
// ranges and a small pool of sources, so that facts repeat; every view read
// through the rollups must equal the same view read from every record.
TEST_CASE("rollup: the views through the rollups equal the views from the records", "[store][rollup][analyze][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  std::mt19937_64 rng(20261130);
  auto pick = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };
  const char* orgs[] = {"google.com", "Outlook.com", "Yahoo", "Mimecast"};
  const char* results[] = {"pass", "fail", "none", "temperror"};
  const char* spf[] = {"pass", "softfail", "fail", "neutral"};
  for (int n = 0; n < 60; ++n) {
    std::string domain = n % 3 ? "example.com" : "example.org";
    int64_t begin = kOct1 + static_cast<int64_t>(pick(20)) * kDay + static_cast<int64_t>(pick(2)) * 3600;
    int64_t end = begin + (pick(4) == 0 ? 3 * kDay + 7200 : kDay - 1);
    auto m = meta(orgs[pick(4)], "r" + std::to_string(n), begin, end, domain);
    m.policy.p = pick(3) ? "none" : "quarantine";
    std::vector<model::Record> recs;
    for (int k = 0, count = 1 + static_cast<int>(pick(25)); k < count; ++k) {
      auto r = record("192.0.2." + std::to_string(1 + pick(30)), pick(10) == 0 ? 0 : 1 + pick(500),
                      results[pick(4)]);
      r.header_from = pick(5) ? domain : "mail." + domain;
      r.spf_results[0].result = spf[pick(4)];
      r.dkim = r.dkim_results[0].result == "pass" ? "pass" : "fail";
      r.spf = r.spf_results[0].result == "pass" ? "pass" : "fail";
      if (pick(8) == 0) r.dkim_results[0].domain = "esp.example";
      if (pick(10) == 0) r.reasons.push_back({"forwarded", ""});
      if (pick(6) == 0) r.disposition = "quarantine";
      recs.push_back(r);
    }
    store_report(*s, m, recs, "m" + std::to_string(n));
  }

  analyze::Senders senders = analyze::parse_senders(
      "[senders.office]\nips = [\"192.0.2.0/28\"]\n[senders.esp]\ndkim_domains = [\"esp.example\"]\n", "test");
  analyze::Analyzer a(*s, senders);
  for (const std::string domain : {"example.com", "example.org"})
    for (auto period : {analyze::Period{kOct1, kOct1 + 30 * kDay}, analyze::Period{kOct1 + 5 * kDay, kOct1 + 9 * kDay}}) {
      INFO(domain << " from day " << (period.since - kOct1) / kDay);
      auto r = analyze::overview(a, domain, period, {}, analyze::Via::records);
      auto f = analyze::overview(a, domain, period, {}, analyze::Via::rollup);
      REQUIRE(r.readiness.spf.total > 0);
      CHECK(f.readiness.reports == r.readiness.reports);
      CHECK(f.readiness.p == r.readiness.p);
      CHECK(f.readiness.sp == r.readiness.sp);
      for (auto [x, y] : {std::pair{&f.readiness.spf, &r.readiness.spf}, {&f.readiness.dmarc, &r.readiness.dmarc}}) {
        CHECK(x->total == y->total);
        CHECK(x->passes == y->passes);
        CHECK(x->safe == y->safe);
        CHECK(x->known_fail == y->known_fail);
        CHECK(x->unknown_fail == y->unknown_fail);
      }
      CHECK(f.readiness.actions == r.readiness.actions);
      REQUIRE(f.trend.size() == r.trend.size());
      for (std::size_t i = 0; i < f.trend.size(); ++i) {
        CHECK(f.trend[i].messages == r.trend[i].messages);
        CHECK(f.trend[i].dmarc_pass == r.trend[i].dmarc_pass);
        CHECK(f.trend[i].fail_known == r.trend[i].fail_known);
        CHECK(f.trend[i].fail_unknown == r.trend[i].fail_unknown);
      }
      CHECK(f.unknown_sources == r.unknown_sources);
      REQUIRE(f.sources.size() == r.sources.size());
      for (std::size_t i = 0; i < f.sources.size(); ++i) {
        const auto &x = f.sources[i], &y = r.sources[i];
        CHECK(x.key == y.key);
        CHECK(x.header_from == y.header_from);
        CHECK(x.status == y.status);
        CHECK(x.sender == y.sender);
        CHECK(x.messages == y.messages);
        CHECK(x.dmarc_pass == y.dmarc_pass);
        CHECK(x.spf_aligned == y.spf_aligned);
        CHECK(x.dkim_aligned == y.dkim_aligned);
        CHECK(x.reporter_pass == y.reporter_pass);
        CHECK(x.disposition_quarantine == y.disposition_quarantine);
        CHECK(x.reasons == y.reasons);
        CHECK(x.main_reason == y.main_reason);
      }
      // The full rows, sets and all, by sender and by address.
      for (auto by : {analyze::GroupBy::ip, analyze::GroupBy::sender}) {
        analyze::SourcesView from_records(by, false), from_facts(by, false);
        a.for_each(domain, period, [&](const analyze::RecordView& v) { from_records.add(v); });
        a.for_each_fact(domain, period, [&](const analyze::RecordView& v) { from_facts.add(v); });
        auto rr = from_records.finish(), ff = from_facts.finish();
        REQUIRE(ff.size() == rr.size());
        for (std::size_t i = 0; i < ff.size(); ++i) {
          CHECK(ff[i].key == rr[i].key);
          CHECK(ff[i].messages == rr[i].messages);
          CHECK(ff[i].ips == rr[i].ips);
          CHECK(ff[i].envelope_from == rr[i].envelope_from);
          CHECK(ff[i].dkim_domains == rr[i].dkim_domains);
          CHECK(ff[i].dkim_selectors == rr[i].dkim_selectors);
          CHECK(ff[i].dkim_results == rr[i].dkim_results);
          CHECK(ff[i].spf_results == rr[i].spf_results);
        }
      }
    }
}
