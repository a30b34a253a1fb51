// The rollups (schema 004, laid out by 32-day spans since 005): facts (a
// record without its count, under its report's published policy) and their
// records and messages per UTC day, one row per domain, span and fact.
//
// RollupWriter adds a record's messages as the records are written, in the
// same transaction; after any rollback its cache of fact ids must be
// forgotten (the ids it holds may have been rolled back with the rows).
// read_facts streams one domain's facts with their days inside a period.
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detail/sqlite.h"
#include "dmarq/analyze/days.h"
#include "dmarq/model/aggregate.h"

namespace dmarq::store {

// A fact as bytes: every field prefixed with its length (a LEB128 varint),
// so any byte a report carries survives; decode_fact gives back the policy
// and the record (count 0; no human_result, envelope_to, fo, testing or
// discovery method: no view reads them). Hand-written: a few lines, and
// faster and smaller than JSON for the millions of facts a large database has.
void encode_fact(const model::PolicyPublished& policy, const model::Record& record, std::string& out);
bool decode_fact(std::string_view bytes, model::PolicyPublished& policy, model::Record& record);

// A span is 32 UTC days, numbered from the epoch (floor division). A row's
// days are a blob of entries in day order: the day within its span (one
// byte, 0-31), then its records and its messages as varints. Hand-written
// for the same reason as the fact: a 90-day view reads one row per fact and
// span instead of one per fact and day, a sixth of the rows or less.
constexpr int64_t kSpanDays = 32;
int64_t span_of(int64_t day);  // of a UTC midnight
struct DayCount {
  int64_t day = 0;  // UTC midnight
  uint64_t records = 0, messages = 0;
};
void encode_days(std::span<const DayCount> days, int64_t span, std::string& out);  // days ascending, in `span`
// False on bytes that are not a days blob, or a day outside `span`.
bool decode_days(std::string_view bytes, int64_t span, std::vector<DayCount>& out);

// XXH3-128 of a fact's bytes, seeded with its domain's id: the same fact
// under two domains is two facts.
std::array<unsigned char, 16> digest_of(const std::string& fact, int64_t domain);

// Registers the SQL functions the writer's upserts use on `db`:
// dmarq_days_add(a, b), the per-day sums of two days blobs, and
// dmarq_days_sub(a, b), a's days less b's, dropping a day whose records
// reach 0. Every connection that writes rollups needs them.
void register_rollup_functions(sqlite3* db);

// Rows are buffered and written in multi-row statements of up to kBatch
// (single-row statements inside the report's savepoint cost SQLite a
// statement journal each, which once made ingest three times slower).
class RollupWriter {
 public:
  static constexpr std::size_t kBatch = 64;

  // `cache_facts` bounds the cache of fact ids (tests make it tiny).
  explicit RollupWriter(sqlite3* db, std::size_t cache_facts = 20000) : db_(db), cache_facts_(cache_facts) {}
  // Adds (sign +1) or takes back (sign -1) `record`'s messages under the
  // report's policy, spread over the days of [begin, end]. Additions are
  // buffered; a take-back writes what is buffered first.
  void add(const model::ReportMeta& meta, const model::Record& record, int sign = 1);
  // Adds one day of an existing fact by its id (migrating older rollups).
  void add_day(int64_t domain, int64_t fact_id, int64_t day, uint64_t records, uint64_t messages);
  // Writes what is buffered; before the report's savepoint is released.
  void flush();
  // After any rollback: drops the buffer and the cached ids (they may have
  // been rolled back with the rows).
  void forget_cache();

 private:
  using Digest = std::array<unsigned char, 16>;
  struct DigestHash {
    std::size_t operator()(const Digest& d) const {
      std::size_t h;
      static_assert(sizeof h <= sizeof(Digest));
      std::copy_n(d.begin(), sizeof h, reinterpret_cast<unsigned char*>(&h));
      return h;
    }
  };
  struct Pending {
    Digest digest;
    int64_t domain = 0, day = 0;
    uint64_t records = 0, messages = 0;
    std::size_t fact = 0;  // index into facts_text_ (the fact's bytes)
    int64_t fact_id = 0;   // when known already (add_day); else found by digest
  };
  int64_t domain_id(const std::string& name);
  detail::Stmt& statement(std::map<std::size_t, detail::Stmt>& cache, std::size_t rows, const std::string& head,
                          const char* row, const char* tail);
  void take_back(int64_t domain, const Digest& digest);

  sqlite3* db_;
  detail::Stmt find_domain_, insert_domain_, find_fact_, insert_fact_, sub_days_, drop_span_;
  std::map<std::size_t, detail::Stmt> insert_facts_, find_facts_, add_days_;
  std::string fact_;
  std::vector<analyze::DayShare> days_;
  std::vector<DayCount> counts_;  // scratch for encode_days
  std::vector<Pending> pending_;
  std::vector<std::string> facts_text_;  // reused slots
  std::size_t facts_used_ = 0;
  std::unordered_map<std::string, int64_t> domains_;
  // Fact ids by digest, bounded (cleared when full): facts repeat day after
  // day, so most records find theirs here without a lookup.
  std::unordered_map<Digest, int64_t, DigestHash> ids_;
  std::size_t cache_facts_;
};

// Calls `fn` once per fact of `domain` with messages in [since, until), with
// its messages per day (ascending) summed over every report. The meta has
// the fact's policy, no reporter, and begin/end spanning its first to last
// day. Throws StoreError on a fact it cannot decode.
void read_facts(sqlite3* db, const std::string& domain, int64_t since, int64_t until,
                const std::function<void(const model::ReportMeta&, const model::Record&,
                                         std::span<const analyze::DayShare>)>& fn);

}  // namespace dmarq::store
