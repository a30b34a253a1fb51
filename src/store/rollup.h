// The rollups of schema 004: facts (a record without its count, under its
// report's published policy) and their messages per UTC day.
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
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detail/sqlite.h"
#include "dmarq/analyze/days.h"
#include "dmarq/model/aggregate.h"

namespace dmarq::store {

// A fact as bytes: every field length-prefixed ("<len>:<bytes>"), so any
// byte a report carries survives; decode_fact gives back the policy and the
// record (count 0). Hand-written: a few lines, and faster than JSON for the
// hundreds of thousands of facts a large view decodes.
void encode_fact(const model::PolicyPublished& policy, const model::Record& record, std::string& out);
bool decode_fact(std::string_view bytes, model::PolicyPublished& policy, model::Record& record);

class RollupWriter {
 public:
  explicit RollupWriter(sqlite3* db) : db_(db) {}
  // Adds (sign +1) or takes back (sign -1) `record`'s messages under the
  // report's policy, spread over the days of [begin, end].
  void add(const model::ReportMeta& meta, const model::Record& record, int sign = 1);
  void forget_cache();

 private:
  int64_t domain_id(const std::string& name);
  int64_t fact_id(int64_t domain, const std::string& fact);

  sqlite3* db_;
  detail::Stmt find_domain_, insert_domain_, find_fact_, insert_fact_, add_day_, sub_day_, drop_day_;
  std::string fact_;
  std::vector<analyze::DayShare> days_;
  std::unordered_map<std::string, int64_t> domains_;
  // Fact ids by digest, bounded (cleared when full): facts repeat day after
  // day, so most records find theirs here without a lookup.
  struct DigestHash {
    std::size_t operator()(const std::array<unsigned char, 16>& d) const {
      std::size_t h;
      static_assert(sizeof h <= 16);
      std::copy_n(d.begin(), sizeof h, reinterpret_cast<unsigned char*>(&h));
      return h;
    }
  };
  std::unordered_map<std::array<unsigned char, 16>, int64_t, DigestHash> facts_;
  static constexpr std::size_t kCacheFacts = 100000;
};

// Calls `fn` once per fact of `domain` with messages in [since, until), with
// its messages per day (ascending) summed over every report. The meta has
// the fact's policy, no reporter, and begin/end spanning its first to last
// day. Throws StoreError on a fact it cannot decode.
void read_facts(sqlite3* db, const std::string& domain, int64_t since, int64_t until,
                const std::function<void(const model::ReportMeta&, const model::Record&,
                                         std::span<const analyze::DayShare>)>& fn);

}  // namespace dmarq::store
