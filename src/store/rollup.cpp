#include "rollup.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include "dmarq/model/ip.h"
#include "dmarq/store/store.h"

namespace dmarq::store {
namespace {

// Lengths and counts as LEB128 varints: one byte below 128.
void put_size(std::string& out, std::size_t n) {
  do {
    unsigned char b = n & 0x7f;
    n >>= 7;
    out.push_back(static_cast<char>(n ? b | 0x80 : b));
  } while (n);
}

void put(std::string& out, std::string_view s) {
  put_size(out, s.size());
  out.append(s);
}

// Reads one field; false when the bytes end early or are not a field.
struct Reader {
  std::string_view in;
  bool ok = true;

  std::size_t size() {
    std::size_t n = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty()) break;
      auto b = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      n |= static_cast<std::size_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return n;
    }
    ok = false;
    in = {};
    return 0;
  }
  std::string_view field() {
    std::size_t len = size();
    if (!ok || len > in.size()) {
      ok = false;
      in = {};
      return {};
    }
    std::string_view v = in.substr(0, len);
    in.remove_prefix(len);
    return v;
  }
  void get(std::string& s) { s.assign(field()); }
  std::size_t count() {
    std::size_t n = size();
    if (n > in.size()) ok = false;  // every item takes at least one byte
    return ok ? n : 0;
  }
};

}  // namespace

// Only what the views read: no human_result, envelope_to, fo, testing or
// discovery method, which would only split facts that count alike.
void encode_fact(const model::PolicyPublished& pol, const model::Record& r, std::string& out) {
  out.clear();
  for (const std::string* s : {&pol.adkim, &pol.aspf, &pol.p, &pol.sp, &pol.np}) put(out, *s);
  put(out, pol.pct ? std::to_string(*pol.pct) : std::string("-"));
  for (const std::string* s : {&r.source_ip_text, &r.disposition, &r.dkim, &r.spf, &r.envelope_from, &r.header_from})
    put(out, *s);
  put_size(out, r.reasons.size());
  for (const auto& o : r.reasons) {
    put(out, o.type);
    put(out, o.comment);
  }
  put_size(out, r.dkim_results.size());
  for (const auto& d : r.dkim_results) {
    put(out, d.domain);
    put(out, d.selector);
    put(out, d.result);
  }
  put_size(out, r.spf_results.size());
  for (const auto& s : r.spf_results) {
    put(out, s.domain);
    put(out, s.scope);
    put(out, s.result);
  }
}

bool decode_fact(std::string_view bytes, model::PolicyPublished& pol, model::Record& r) {
  Reader in{bytes};
  for (std::string* s : {&pol.adkim, &pol.aspf, &pol.p, &pol.sp, &pol.np}) in.get(*s);
  std::string_view pct = in.field();
  pol.pct.reset();
  if (in.ok && pct != "-") {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(pct.data(), pct.data() + pct.size(), v);
    if (ec != std::errc{} || p != pct.data() + pct.size()) return false;
    pol.pct = v;
  }
  for (std::string* s : {&r.source_ip_text, &r.disposition, &r.dkim, &r.spf, &r.envelope_from, &r.header_from})
    in.get(*s);
  r.source_ip = model::parse_ip(r.source_ip_text);
  r.count = 0;
  r.envelope_to.clear();
  r.has_extensions = false;
  r.reasons.resize(in.count());
  for (auto& o : r.reasons) {
    in.get(o.type);
    in.get(o.comment);
  }
  r.dkim_results.resize(in.count());
  for (auto& d : r.dkim_results) {
    in.get(d.domain);
    in.get(d.selector);
    in.get(d.result);
    d.human_result.clear();
  }
  r.spf_results.resize(in.count());
  for (auto& s : r.spf_results) {
    in.get(s.domain);
    in.get(s.scope);
    in.get(s.result);
    s.human_result.clear();
  }
  return in.ok && in.in.empty();
}

// --- writing ---------------------------------------------------------------

namespace {

// XXH3-128 seeded with the domain's id: the same fact under two domains is
// two facts. Random inputs collide with odds of about 2^-128 per pair.
std::array<unsigned char, 16> digest_of(const std::string& fact, int64_t domain) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical,
                           XXH3_128bits_withSeed(fact.data(), fact.size(), static_cast<XXH64_hash_t>(domain)));
  std::array<unsigned char, 16> digest;
  std::copy_n(canonical.digest, digest.size(), digest.begin());
  return digest;
}

}  // namespace

void RollupWriter::forget_cache() {
  ids_.clear();
  domains_.clear();
  pending_.clear();
  facts_used_ = 0;
}

int64_t RollupWriter::domain_id(const std::string& name) {
  if (auto it = domains_.find(name); it != domains_.end()) return it->second;
  if (!insert_domain_) {
    insert_domain_ = detail::Stmt(db_, "INSERT OR IGNORE INTO rollup_domain(name) VALUES (?1)");
    find_domain_ = detail::Stmt(db_, "SELECT id FROM rollup_domain WHERE name=?1");
  }
  insert_domain_.bind(1, name).exec();
  find_domain_.bind(1, name);
  if (!find_domain_.step()) throw StoreError("rollup: domain row missing after insert");
  int64_t id = find_domain_.i64(0);
  find_domain_.reset();
  return domains_[name] = id;
}

detail::Stmt& RollupWriter::statement(std::map<std::size_t, detail::Stmt>& cache, std::size_t rows,
                                      const std::string& head, const char* row, const char* tail) {
  if (auto it = cache.find(rows); it != cache.end()) return it->second;
  std::string sql = head;
  for (std::size_t i = 0; i < rows; ++i) {
    if (i) sql += ',';
    sql += row;
  }
  sql += tail;
  return cache.emplace(rows, detail::Stmt(db_, sql)).first->second;
}

void RollupWriter::add(const model::ReportMeta& meta, const model::Record& record, int sign) {
  encode_fact(meta.policy, record, fact_);
  const int64_t domain = domain_id(meta.policy.domain);
  const Digest digest = digest_of(fact_, domain);
  analyze::day_shares(meta.begin, meta.end, record.count, days_);
  if (sign < 0) {
    flush();
    take_back(domain, digest, fact_);
    return;
  }
  if (facts_used_ == facts_text_.size()) facts_text_.emplace_back();
  facts_text_[facts_used_].assign(fact_);
  for (const auto& d : days_) pending_.push_back({digest, domain, d.day, d.count, facts_used_});
  ++facts_used_;
  if (pending_.size() >= kBatch) flush();
}

namespace {

// Calls fn(first, count) over [0, n) in chunks of kBatch rows, then powers of
// two: at most seven statement shapes are ever prepared per kind of write.
template <typename Fn>
void in_chunks(std::size_t n, std::size_t batch, Fn fn) {
  std::size_t at = 0;
  while (at < n) {
    std::size_t size = batch;
    while (size > n - at) size /= 2;
    fn(at, size);
    at += size;
  }
}

}  // namespace

void RollupWriter::flush() {
  if (pending_.empty()) return;
  if (ids_.size() >= cache_facts_) ids_.clear();  // bounded; before anything below relies on it
  // 1. Ids of the facts the cache does not know: insert those that are new,
  //    then read every one's id.
  std::vector<const Pending*> unknown;
  for (const auto& p : pending_)
    if (!ids_.count(p.digest) &&
        std::none_of(unknown.begin(), unknown.end(), [&](const Pending* u) { return u->digest == p.digest; }))
      unknown.push_back(&p);
  in_chunks(unknown.size(), kBatch, [&](std::size_t first, std::size_t n) {
    auto& insert =
        statement(insert_facts_, n, "INSERT OR IGNORE INTO rollup_fact(domain_id, digest, fact) VALUES ", "(?,?,?)", "");
    for (std::size_t k = 0; k < n; ++k) {
      const Pending* u = unknown[first + k];
      const std::string& text = facts_text_[u->fact];
      const int i = static_cast<int>(3 * k);
      insert.bind(i + 1, u->domain)
          .bind_blob(i + 2, u->digest.data(), static_cast<int>(u->digest.size()))
          .bind_blob(i + 3, text.data(), static_cast<int>(text.size()));
    }
    insert.exec();
    auto& find = statement(find_facts_, n, "SELECT id, digest FROM rollup_fact WHERE digest IN (", "?", ")");
    for (std::size_t k = 0; k < n; ++k)
      find.bind_blob(static_cast<int>(k + 1), unknown[first + k]->digest.data(), 16);
    std::size_t found = 0;
    while (find.step()) {
      auto blob = find.blob(1);
      Digest d{};
      if (blob.size() != d.size()) continue;
      std::copy(blob.begin(), blob.end(), d.begin());
      ids_[d] = find.i64(0);
      ++found;
    }
    find.reset();
    if (found != n) throw StoreError("rollup: fact rows missing after insert");
  });
  // 2. The days, summed within the batch first: one row per key.
  struct Key {
    int64_t domain, day, fact;
    bool operator<(const Key& o) const { return std::tie(domain, day, fact) < std::tie(o.domain, o.day, o.fact); }
  };
  std::map<Key, std::pair<int64_t, uint64_t>> sums;
  for (const auto& p : pending_) {
    auto& r = sums[Key{p.domain, p.day, ids_.at(p.digest)}];
    r.first += 1;
    r.second += p.messages;
  }
  std::vector<std::pair<Key, std::pair<int64_t, uint64_t>>> rows(sums.begin(), sums.end());
  in_chunks(rows.size(), kBatch, [&](std::size_t first, std::size_t n) {
    auto& add = statement(add_days_, n, "INSERT INTO rollup_day(domain_id, day, fact_id, records, messages) VALUES ",
                          "(?,?,?,?,?)",
                          " ON CONFLICT DO UPDATE SET records=records+excluded.records, "
                          "messages=messages+excluded.messages");
    for (std::size_t k = 0; k < n; ++k) {
      const auto& [key, v] = rows[first + k];
      const int i = static_cast<int>(5 * k);
      add.bind(i + 1, key.domain).bind(i + 2, key.day).bind(i + 3, key.fact).bind(i + 4, v.first)
          .bind(i + 5, static_cast<int64_t>(v.second));
    }
    add.exec();
  });
  pending_.clear();
  facts_used_ = 0;
}

// The rare way back (a report's metadata changed after its records): row by row.
void RollupWriter::take_back(int64_t domain, const Digest& digest, const std::string& fact) {
  (void)fact;
  if (!find_fact_) {
    find_fact_ = detail::Stmt(db_, "SELECT id FROM rollup_fact WHERE digest=?1");
    sub_day_ = detail::Stmt(db_, "UPDATE rollup_day SET records=records-1, messages=messages-?4 "
                                 "WHERE domain_id=?1 AND day=?2 AND fact_id=?3");
    drop_day_ = detail::Stmt(db_, "DELETE FROM rollup_day WHERE domain_id=?1 AND day=?2 AND fact_id=?3 AND records<=0");
  }
  find_fact_.bind_blob(1, digest.data(), static_cast<int>(digest.size()));
  if (!find_fact_.step()) throw StoreError("rollup: taking back a fact that was never added");
  const int64_t id = find_fact_.i64(0);
  find_fact_.reset();
  for (const auto& d : days_) {
    sub_day_.bind(1, domain).bind(2, d.day).bind(3, id).bind(4, static_cast<int64_t>(d.count)).exec();
    drop_day_.bind(1, domain).bind(2, d.day).bind(3, id).exec();
  }
}

// --- reading ---------------------------------------------------------------

void read_facts(sqlite3* db, const std::string& domain, int64_t since, int64_t until,
                const std::function<void(const model::ReportMeta&, const model::Record&,
                                         std::span<const analyze::DayShare>)>& fn) {
  detail::Stmt find(db, "SELECT id FROM rollup_domain WHERE name=?1");
  find.bind(1, domain);
  if (!find.step()) return;
  const int64_t domain_id = find.i64(0);

  // The period's rows come in day order; a fact's days are gathered by
  // sorting on (fact, day), in memory: 24 bytes a row.
  struct Row {
    int64_t fact, day;
    uint64_t messages;
  };
  std::vector<Row> rows;
  detail::Stmt days(db, "SELECT fact_id, day, messages FROM rollup_day WHERE domain_id=?1 AND day>=?2 AND day<?3");
  days.bind(1, domain_id).bind(2, since).bind(3, until);
  while (days.step()) rows.push_back({days.i64(0), days.i64(1), static_cast<uint64_t>(days.i64(2))});
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.fact != b.fact ? a.fact < b.fact : a.day < b.day; });

  detail::Stmt fact(db, "SELECT fact FROM rollup_fact WHERE id=?1");
  model::ReportMeta meta;
  meta.policy.domain = domain;
  model::Record rec;
  std::vector<analyze::DayShare> shares;
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t j = i;
    shares.clear();
    for (; j < rows.size() && rows[j].fact == rows[i].fact; ++j) shares.push_back({rows[j].day, rows[j].messages});
    fact.bind(1, rows[i].fact);
    if (!fact.step()) throw StoreError("rollup: fact " + std::to_string(rows[i].fact) + " is missing");
    auto bytes = fact.blob(0);
    if (!decode_fact(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), meta.policy, rec))
      throw StoreError("rollup: fact " + std::to_string(rows[i].fact) + " cannot be decoded");
    fact.reset();
    meta.begin = shares.front().day;
    meta.end = shares.back().day + 86400;
    fn(meta, rec, shares);
    i = j;
  }
}

}  // namespace dmarq::store
