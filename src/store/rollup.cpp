#include "rollup.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <queue>
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

// --- days blobs ------------------------------------------------------------

namespace {

constexpr int64_t kDaySeconds = 86400;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Appends one entry; `day` must lie in `span`.
void put_day(std::string& out, const DayCount& d, int64_t span) {
  out.push_back(static_cast<char>(floor_div(d.day, kDaySeconds) - span * kSpanDays));
  put_size(out, d.records);
  put_size(out, d.messages);
}

// Reads entries one at a time, checking order and range as it goes.
struct DaysReader {
  Reader in;
  int64_t span;
  int last = -1;

  // False at the end or on bad bytes (then ok is false too).
  bool next(DayCount& d) {
    if (in.in.empty() || !in.ok) return false;
    auto index = static_cast<unsigned char>(in.in.front());
    in.in.remove_prefix(1);
    if (index >= kSpanDays || static_cast<int>(index) <= last) {
      in.ok = false;
      return false;
    }
    last = index;
    d.day = (span * kSpanDays + index) * kDaySeconds;
    d.records = in.size();
    d.messages = in.size();
    return in.ok;
  }
};

// dmarq_days_add / dmarq_days_sub. The span does not matter to a merge, so
// both read their blobs as span 0.
void merge_days(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  const bool sub = sqlite3_user_data(ctx) != nullptr;
  auto view = [](sqlite3_value* v) {
    const void* p = sqlite3_value_blob(v);
    return std::string_view(static_cast<const char*>(p), p ? static_cast<std::size_t>(sqlite3_value_bytes(v)) : 0);
  };
  if (argc != 2) return sqlite3_result_error(ctx, "dmarq_days: two arguments", -1);
  DaysReader a{Reader{view(argv[0])}, 0}, b{Reader{view(argv[1])}, 0};
  std::string out;
  DayCount x, y;
  bool has_x = a.next(x), has_y = b.next(y);
  while (has_x || has_y) {
    if (has_x && (!has_y || x.day < y.day)) {
      put_day(out, x, 0);
      has_x = a.next(x);
    } else if (!has_x || y.day < x.day) {
      if (!sub) put_day(out, y, 0);  // a day to take back that is not there: nothing to take
      has_y = b.next(y);
    } else {
      DayCount d{x.day, 0, 0};
      if (sub) {
        d.records = x.records > y.records ? x.records - y.records : 0;
        d.messages = x.messages > y.messages ? x.messages - y.messages : 0;
      } else {
        d.records = x.records + y.records;
        d.messages = x.messages + y.messages;
      }
      if (d.records > 0) put_day(out, d, 0);
      has_x = a.next(x);
      has_y = b.next(y);
    }
  }
  if (!a.in.ok || !b.in.ok) return sqlite3_result_error(ctx, "dmarq_days: not a days blob", -1);
  sqlite3_result_blob64(ctx, out.data(), out.size(), SQLITE_TRANSIENT);
}

}  // namespace

int64_t span_of(int64_t day) { return floor_div(floor_div(day, kDaySeconds), kSpanDays); }

void encode_days(std::span<const DayCount> days, int64_t span, std::string& out) {
  out.clear();
  for (const auto& d : days) put_day(out, d, span);
}

bool decode_days(std::string_view bytes, int64_t span, std::vector<DayCount>& out) {
  out.clear();
  DaysReader r{Reader{bytes}, span};
  for (DayCount d; r.next(d);) out.push_back(d);
  return r.in.ok;
}

void register_rollup_functions(sqlite3* db) {
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
  static int sub_tag = 1;
  if (sqlite3_create_function_v2(db, "dmarq_days_add", 2, flags, nullptr, merge_days, nullptr, nullptr, nullptr) !=
          SQLITE_OK ||
      sqlite3_create_function_v2(db, "dmarq_days_sub", 2, flags, &sub_tag, merge_days, nullptr, nullptr, nullptr) !=
          SQLITE_OK)
    throw StoreError(std::string("rollup: cannot register the days functions: ") + sqlite3_errmsg(db));
}

// --- writing ---------------------------------------------------------------

// Random inputs collide with odds of about 2^-128 per pair.
std::array<unsigned char, 16> digest_of(const std::string& fact, int64_t domain) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical,
                           XXH3_128bits_withSeed(fact.data(), fact.size(), static_cast<XXH64_hash_t>(domain)));
  std::array<unsigned char, 16> digest;
  std::copy_n(canonical.digest, digest.size(), digest.begin());
  return digest;
}

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
    take_back(domain, digest);
    return;
  }
  if (facts_used_ == facts_text_.size()) facts_text_.emplace_back();
  facts_text_[facts_used_].assign(fact_);
  for (const auto& d : days_) pending_.push_back({digest, domain, d.day, 1, d.count, facts_used_, 0});
  ++facts_used_;
  if (pending_.size() >= kBatch) flush();
}

void RollupWriter::add_day(int64_t domain, int64_t fact_id, int64_t day, uint64_t records, uint64_t messages) {
  pending_.push_back({Digest{}, domain, day, records, messages, 0, fact_id});
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
    if (p.fact_id == 0 && !ids_.count(p.digest) &&
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
  // 2. The days, summed within the batch first, one blob per (domain, span,
  //    fact), added to the row's days by dmarq_days_add.
  struct Key {
    int64_t domain, span, fact, day;
    bool operator<(const Key& o) const {
      return std::tie(domain, span, fact, day) < std::tie(o.domain, o.span, o.fact, o.day);
    }
  };
  std::map<Key, std::pair<uint64_t, uint64_t>> sums;
  for (const auto& p : pending_) {
    auto& r = sums[Key{p.domain, span_of(p.day), p.fact_id ? p.fact_id : ids_.at(p.digest), p.day}];
    r.first += p.records;
    r.second += p.messages;
  }
  struct Row {
    int64_t domain, span, fact;
    std::string days;
  };
  std::vector<Row> rows;
  for (auto it = sums.begin(); it != sums.end();) {
    const Key& k = it->first;
    counts_.clear();
    auto end = it;
    for (; end != sums.end() && end->first.domain == k.domain && end->first.span == k.span &&
           end->first.fact == k.fact;
         ++end)
      counts_.push_back({end->first.day, end->second.first, end->second.second});
    rows.push_back({k.domain, k.span, k.fact, {}});
    encode_days(counts_, k.span, rows.back().days);
    it = end;
  }
  in_chunks(rows.size(), kBatch, [&](std::size_t first, std::size_t n) {
    auto& add = statement(add_days_, n, "INSERT INTO rollup_span(domain_id, span, fact_id, days) VALUES ",
                          "(?,?,?,?)", " ON CONFLICT DO UPDATE SET days=dmarq_days_add(days, excluded.days)");
    for (std::size_t k = 0; k < n; ++k) {
      const Row& r = rows[first + k];
      const int i = static_cast<int>(4 * k);
      add.bind(i + 1, r.domain).bind(i + 2, r.span).bind(i + 3, r.fact)
          .bind_blob(i + 4, r.days.data(), static_cast<int>(r.days.size()));
    }
    add.exec();
  });
  pending_.clear();
  facts_used_ = 0;
}

// The rare way back (a report's metadata changed after its records): fact by
// fact, one statement per span its days reach.
void RollupWriter::take_back(int64_t domain, const Digest& digest) {
  if (!find_fact_) {
    find_fact_ = detail::Stmt(db_, "SELECT id FROM rollup_fact WHERE digest=?1");
    sub_days_ = detail::Stmt(db_, "UPDATE rollup_span SET days=dmarq_days_sub(days, ?4) "
                                  "WHERE domain_id=?1 AND span=?2 AND fact_id=?3");
    drop_span_ = detail::Stmt(db_, "DELETE FROM rollup_span WHERE domain_id=?1 AND span=?2 AND fact_id=?3 "
                                   "AND length(days)=0");
  }
  find_fact_.bind_blob(1, digest.data(), static_cast<int>(digest.size()));
  if (!find_fact_.step()) throw StoreError("rollup: taking back a fact that was never added");
  const int64_t id = find_fact_.i64(0);
  find_fact_.reset();
  std::string blob;
  for (std::size_t i = 0; i < days_.size();) {
    const int64_t span = span_of(days_[i].day);
    counts_.clear();
    for (; i < days_.size() && span_of(days_[i].day) == span; ++i) counts_.push_back({days_[i].day, 1, days_[i].count});
    encode_days(counts_, span, blob);
    sub_days_.bind(1, domain).bind(2, span).bind(3, id).bind_blob(4, blob.data(), static_cast<int>(blob.size()));
    sub_days_.exec();
    drop_span_.bind(1, domain).bind(2, span).bind(3, id).exec();
  }
}

// --- reading ---------------------------------------------------------------

void read_facts(sqlite3* db, const std::string& domain, int64_t since, int64_t until,
                const std::function<void(const model::ReportMeta&, const model::Record&,
                                         std::span<const analyze::DayShare>)>& fn) {
  if (until <= since) return;
  detail::Stmt find(db, "SELECT id FROM rollup_domain WHERE name=?1");
  find.bind(1, domain);
  if (!find.step()) return;
  const int64_t domain_id = find.i64(0);

  // Rows come in (span, fact) order: one run per span, each sorted by fact.
  // Their days inside the period go to `days`; a piece is one row's share.
  struct Piece {
    int64_t fact;
    std::size_t first, count;
  };
  std::vector<Piece> pieces;
  std::vector<std::size_t> runs;  // where each span's pieces start
  std::vector<analyze::DayShare> days;
  std::vector<DayCount> counts;
  detail::Stmt rows(db, "SELECT span, fact_id, days FROM rollup_span WHERE domain_id=?1 AND span>=?2 AND span<=?3");
  rows.bind(1, domain_id).bind(2, span_of(since)).bind(3, span_of(until - 1));
  int64_t last_span = 0;
  while (rows.step()) {
    const int64_t span = rows.i64(0), fact_id = rows.i64(1);
    auto bytes = rows.blob(2);
    if (!decode_days(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), span, counts))
      throw StoreError("rollup: the days of fact " + std::to_string(fact_id) + " cannot be decoded");
    Piece piece{fact_id, days.size(), 0};
    for (const auto& c : counts)
      if (c.day >= since && c.day < until) days.push_back({c.day, c.messages});
    piece.count = days.size() - piece.first;
    if (piece.count == 0) continue;
    if (runs.empty() || span != last_span) runs.push_back(pieces.size());
    last_span = span;
    pieces.push_back(piece);
  }
  // Merges the runs by fact; a fact's pieces then come in span order, so its
  // days stay ascending.
  using Head = std::tuple<int64_t, std::size_t, std::size_t>;  // (fact, piece index, end of its run)
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  for (std::size_t r = 0; r < runs.size(); ++r)
    heads.push({pieces[runs[r]].fact, runs[r], r + 1 < runs.size() ? runs[r + 1] : pieces.size()});
  std::vector<std::size_t> order;  // piece indices by (fact, span)
  order.reserve(pieces.size());
  while (!heads.empty()) {
    auto [f, i, end] = heads.top();
    heads.pop();
    order.push_back(i);
    if (i + 1 < end) heads.push({pieces[i + 1].fact, i + 1, end});
  }

  detail::Stmt fact(db, "SELECT fact FROM rollup_fact WHERE id=?1");
  model::ReportMeta meta;
  meta.policy.domain = domain;
  model::Record rec;
  std::vector<analyze::DayShare> shares;
  for (std::size_t i = 0; i < order.size();) {
    const int64_t fact_id = pieces[order[i]].fact;
    shares.clear();
    for (; i < order.size() && pieces[order[i]].fact == fact_id; ++i) {
      const Piece& p = pieces[order[i]];
      shares.insert(shares.end(), days.begin() + static_cast<std::ptrdiff_t>(p.first),
                    days.begin() + static_cast<std::ptrdiff_t>(p.first + p.count));
    }
    fact.bind(1, fact_id);
    if (!fact.step()) throw StoreError("rollup: fact " + std::to_string(fact_id) + " is missing");
    auto bytes = fact.blob(0);
    if (!decode_fact(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), meta.policy, rec))
      throw StoreError("rollup: fact " + std::to_string(fact_id) + " cannot be decoded");
    fact.reset();
    meta.begin = shares.front().day;
    meta.end = shares.back().day + 86400;
    fn(meta, rec, shares);
  }
}

}  // namespace dmarq::store
