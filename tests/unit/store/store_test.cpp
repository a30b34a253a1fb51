#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <random>

#include "dmarq/parse/aggregate_xml.h"
#include "dmarq/store/ingest_lock.h"
#include "dmarq/store/store.h"
#include "detail/pg.h"
#include "support/support.h"

using namespace dmarq;

namespace {

// Stores `report` as the only report of a message; returns whether it was new.
bool store_report(store::Store& s, const model::AggregateReport& r, const std::string& sha) {
  s.begin_message({sha, "test:" + sha, 1, 1000});
  bool fresh = s.begin_report(r.meta, "-");
  for (auto rec : r.records) s.add_record(rec);  // a copy: add_record takes it
  bool stored = s.end_report(r.meta);
  s.commit_message({});
  return fresh && stored;
}

}  // namespace

TEST_CASE("sqlite_store: migrations set user_version and reopen cleanly", "[store]") {
  test::TempDir dir;
  auto path = (dir.path() / "t.sqlite").string();
  { auto s = store::open_sqlite(path, store::OpenMode::read_write); }
  { auto s = store::open_sqlite(path, store::OpenMode::read_write); }  // second open: no migration rerun
  auto ro = store::open_sqlite(path, store::OpenMode::read_only);
  CHECK(ro->list_reports({}).empty());
  CHECK(store::schema_version() >= 1);
}

TEST_CASE("store: a report is stored once, by its identity", "[store][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  auto r = test::parse_report("basic.xml");
  CHECK(store_report(*s, r, "a"));
  CHECK_FALSE(store_report(*s, r, "b"));  // same identity, other message
  auto reports = s->list_reports({});
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].records == 3);
  CHECK(reports[0].messages == 16);
  CHECK(reports[0].copies == 2);
  auto stats = s->report_stats(reports[0].id);
  REQUIRE(stats);
  CHECK(stats->distinct_ips == 3);
  CHECK(stats->dmarc_pass == 12);
  CHECK(stats->disposition_quarantine == 3);
  CHECK(stats->disposition_reject == 1);
  CHECK(stats->meta.report_id == "r-20261101-0001@receiver.example");
  CHECK(stats->meta.errors.size() == 1);

  SECTION("a different report id is a different report") {
    r.meta.report_id = "other";
    CHECK(store_report(*s, r, "c"));
    CHECK(s->list_reports({}).size() == 2);
  }
}

TEST_CASE("store: an aborted report leaves nothing, the message's others stay", "[store][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  auto r = test::parse_report("basic.xml");
  s->begin_message({"m", "test", 1, 1000});
  s->begin_report(r.meta, "1");
  s->add_record(r.records[0]);
  s->abort_report();
  auto r2 = r;
  r2.meta.report_id = "second";
  s->begin_report(r2.meta, "2");
  for (auto rec : r2.records) s->add_record(rec);
  s->end_report(r2.meta);
  s->add_reject({"test", "1", "xml.malformed", "broken", 1000});
  s->commit_message({store::MessageOutcome::partial, 1, 0, 3, {}, "aggregate"});
  auto reports = s->list_reports({});
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].report_id == "second");
  auto rejects = s->list_rejects();
  REQUIRE(rejects.size() == 1);
  CHECK(rejects[0].reason == "broken");
  CHECK(s->has_message("m"));
}

TEST_CASE("sqlite_store: each report's records are one contiguous id range", "[store]") {
  test::TempDir dir;
  auto path = (dir.path() / "t.sqlite").string();
  auto s = store::open_sqlite(path, store::OpenMode::read_write);
  auto r = test::parse_report("basic.xml");
  for (int m = 0; m < 3; ++m) {
    s->begin_message({"m" + std::to_string(m), "test", 1, 1000});
    for (int k = 0; k < 3; ++k) {
      auto copy = r;
      copy.meta.report_id = "r" + std::to_string(m) + "-" + std::to_string(k);
      s->begin_report(copy.meta, std::to_string(k));
      for (auto rec : copy.records) s->add_record(rec);
      if (k == 1) {
        s->abort_report();  // its ids are free again
      } else {
        s->end_report(copy.meta);
      }
    }
    s->commit_message({});
  }
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, sql, -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  };
  CHECK(scalar("SELECT count(*) FROM report") == 6);
  CHECK(scalar("SELECT count(*) FROM record") == 18);
  // Every record lies in its own report's range, and each range is full.
  CHECK(scalar("SELECT count(*) FROM record c JOIN report r ON r.id = c.report_id "
               "WHERE c.id NOT BETWEEN r.first_record AND r.first_record + r.record_count - 1") == 0);
  CHECK(scalar("SELECT count(*) FROM report r WHERE r.record_count != (SELECT count(*) FROM record c "
               "WHERE c.id BETWEEN r.first_record AND r.first_record + r.record_count - 1)") == 0);
  sqlite3_close(raw);
  for (const auto& rep : s->list_reports({})) {
    auto stats = s->report_stats(rep.id);
    REQUIRE(stats);
    CHECK(stats->records == 3);
    CHECK(stats->messages == 16);
  }
}

TEST_CASE("store: a rolled back message leaves nothing", "[store][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  auto r = test::parse_report("basic.xml");
  s->begin_message({"m", "test", 1, 1000});
  s->begin_report(r.meta, "1");
  s->add_record(r.records[0]);
  s->end_report(r.meta);
  s->rollback_message();
  CHECK(s->list_reports({}).empty());
  CHECK_FALSE(s->has_message("m"));
}

TEST_CASE("store: filters by domain and time", "[store][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  auto r = test::parse_report("basic.xml");
  store_report(*s, r, "a");
  store::ReportFilter f;
  f.domain = "example.com";
  CHECK(s->list_reports(f).size() == 1);
  f.domain = "other.example";
  CHECK(s->list_reports(f).empty());
  f.domain.reset();
  f.since = r.meta.end + 1;
  CHECK(s->list_reports(f).empty());
  f.since = r.meta.end;
  CHECK(s->list_reports(f).size() == 1);
}

TEST_CASE("ingest_lock: one holder at a time, released on destruction", "[store]") {
  test::TempDir dir;
  auto db = (dir.path() / "t.sqlite").string();
  {
    auto first = store::IngestLock::try_acquire(db);
    REQUIRE(first);
    CHECK_FALSE(store::IngestLock::try_acquire(db));
  }
  CHECK(store::IngestLock::try_acquire(db));
}

TEST_CASE("store: enrichment rows replace the same address and read back", "[store][backend]") {
  test::TestDb tdb;
  auto s = tdb.open();
  CHECK(s->load_ip_info().empty());
  s->put_ip_info({{"192.0.2.1", "ok", "mail.example.net", true, "example.net", "Example", "Transactional", 100},
                  {"2001:db8::1", "nxdomain", "", false, "", "", "", 100}});
  s->put_ip_info({{"192.0.2.1", "ok", "other.example.org", false, "example.org", "", "", 200}});
  auto info = s->load_ip_info();
  REQUIRE(info.size() == 2);
  const auto& a = info.at("192.0.2.1");
  CHECK(a.ptr == "other.example.org");
  CHECK_FALSE(a.fcrdns);
  CHECK(a.service.empty());
  CHECK(a.resolved_at == 200);
  const auto& b = info.at("2001:db8::1");
  CHECK(b.ptr_status == "nxdomain");
  CHECK(b.resolved_at == 100);
}

TEST_CASE("pg: SQLSTATEs sort into conflicts to retry, transient failures and the rest", "[store]") {
  using Kind = store::StoreError::Kind;
  CHECK(detail::PgError::kind_of("40P01") == Kind::conflict);   // deadlock_detected
  CHECK(detail::PgError::kind_of("40001") == Kind::conflict);   // serialization_failure
  CHECK(detail::PgError::kind_of("08006") == Kind::transient);  // connection_failure
  CHECK(detail::PgError::kind_of("57P01") == Kind::transient);  // admin_shutdown
  CHECK(detail::PgError::kind_of("53100") == Kind::transient);  // disk_full
  CHECK(detail::PgError::kind_of("23505") == Kind::other);      // unique_violation
  CHECK(detail::PgError::kind_of("42P01") == Kind::other);      // undefined_table
  CHECK(detail::PgError::kind_of("") == Kind::other);
  CHECK(detail::PgError("x", "40P01").kind() == Kind::conflict);
}

TEST_CASE("pg: text keeps any bytes through PostgreSQL's valid-UTF-8 text, and valid text unchanged", "[store]") {
  // Valid UTF-8 without U+FFFF: stored as it is.
  for (std::string s : {"", "example.com", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x93\xa7"})
    CHECK(detail::pg_text(s) == s);
  // What PostgreSQL's UTF-8 check accepts: no NUL, whole shortest-form
  // sequences, no surrogates, nothing past U+10FFFF.
  auto valid = [](const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
      const auto c = static_cast<unsigned char>(s[i]);
      const std::size_t len = c == 0 ? 0 : c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3
                              : c >= 0xf0 && c < 0xf5 ? 4 : 0;
      if (len == 0 || i + len > s.size()) return false;
      uint32_t cp = len == 1 ? c : c & (0x7f >> len);
      for (std::size_t k = 1; k < len; ++k) {
        const auto t = static_cast<unsigned char>(s[i + k]);
        if ((t & 0xc0) != 0x80) return false;
        cp = (cp << 6) | (t & 0x3f);
      }
      const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return false;
      i += len;
    }
    return true;
  };
  CHECK_FALSE(valid("\xc0\xaf"));
  CHECK_FALSE(valid(std::string("a\0", 2)));
  CHECK(valid("caf\xc3\xa9"));
  const std::string ffff = "\xef\xbf\xbf";
  for (const std::string& s : {std::string("\xff"), std::string("a\0b", 3), std::string("caf\xe9"), ffff,
                               ffff + ffff, ffff + "\xe2\xa0\x80", std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                               std::string("\xe2\xa0"), "x" + ffff}) {
    INFO(s);
    const std::string stored = detail::pg_text(s);
    CHECK(valid(stored));
    CHECK(detail::pg_untext(stored) == s);
  }
  // Random bytes, many of them invalid.
  std::mt19937 rng(9);
  for (int n = 0; n < 2000; ++n) {
    std::string s(rng() % 24, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 4 == 0 ? "\xef\xbf\xbf\xe2\xa0"[rng() % 5] : rng() % 256);
    const std::string stored = detail::pg_text(s);
    REQUIRE(valid(stored));
    REQUIRE(detail::pg_untext(stored) == s);
  }
  // Text with U+FFFF not written by pg_text reads back as it is.
  CHECK(detail::pg_untext("a" + ffff + "b") == "a" + ffff + "b");
}
