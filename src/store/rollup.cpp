#include "rollup.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>

#include "dmarq/model/ip.h"
#include "dmarq/store/store.h"

namespace dmarq::store {
namespace {

void put(std::string& out, std::string_view s) {
  char len[24];
  auto [end, ec] = std::to_chars(len, len + sizeof len, s.size());
  (void)ec;
  out.append(len, end);
  out.push_back(':');
  out.append(s);
}

void put(std::string& out, std::size_t n) {
  char text[24];
  auto [end, ec] = std::to_chars(text, text + sizeof text, n);
  (void)ec;
  put(out, std::string_view(text, static_cast<std::size_t>(end - text)));
}

// Reads one field; false when the bytes end early or are not a field.
struct Reader {
  std::string_view in;
  bool ok = true;

  std::string_view field() {
    std::size_t len = 0;
    auto [p, ec] = std::from_chars(in.data(), in.data() + in.size(), len);
    std::size_t used = static_cast<std::size_t>(p - in.data());
    if (ec != std::errc{} || used >= in.size() || in[used] != ':' || in.size() - used - 1 < len) {
      ok = false;
      in = {};
      return {};
    }
    std::string_view v = in.substr(used + 1, len);
    in.remove_prefix(used + 1 + len);
    return v;
  }
  void get(std::string& s) { s.assign(field()); }
  std::size_t count(std::size_t limit) {
    std::string_view f = field();
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), n);
    if (ec != std::errc{} || p != f.data() + f.size() || n > limit) ok = false;
    return ok ? n : 0;
  }
};

std::array<unsigned char, 16> digest_of(std::string_view domain, std::string_view fact) {
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) throw StoreError("out of memory for a digest");
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, domain.data(), domain.size());
  EVP_DigestUpdate(ctx, "\0", 1);
  EVP_DigestUpdate(ctx, fact.data(), fact.size());
  EVP_DigestFinal_ex(ctx, full, &len);
  EVP_MD_CTX_free(ctx);
  std::array<unsigned char, 16> out{};
  std::copy_n(full, out.size(), out.begin());
  return out;
}

}  // namespace

void encode_fact(const model::PolicyPublished& pol, const model::Record& r, std::string& out) {
  out.clear();
  for (const std::string* s : {&pol.adkim, &pol.aspf, &pol.p, &pol.sp, &pol.np, &pol.fo, &pol.testing,
                               &pol.discovery_method})
    put(out, *s);
  put(out, pol.pct ? std::to_string(*pol.pct) : std::string("-"));
  for (const std::string* s : {&r.source_ip_text, &r.disposition, &r.dkim, &r.spf, &r.envelope_to,
                               &r.envelope_from, &r.header_from})
    put(out, *s);
  put(out, r.reasons.size());
  for (const auto& o : r.reasons) {
    put(out, o.type);
    put(out, o.comment);
  }
  put(out, r.dkim_results.size());
  for (const auto& d : r.dkim_results) {
    put(out, d.domain);
    put(out, d.selector);
    put(out, d.result);
    put(out, d.human_result);
  }
  put(out, r.spf_results.size());
  for (const auto& s : r.spf_results) {
    put(out, s.domain);
    put(out, s.scope);
    put(out, s.result);
    put(out, s.human_result);
  }
}

bool decode_fact(std::string_view bytes, model::PolicyPublished& pol, model::Record& r) {
  Reader in{bytes};
  for (std::string* s : {&pol.adkim, &pol.aspf, &pol.p, &pol.sp, &pol.np, &pol.fo, &pol.testing,
                         &pol.discovery_method})
    in.get(*s);
  std::string_view pct = in.field();
  pol.pct.reset();
  if (pct != "-") {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(pct.data(), pct.data() + pct.size(), v);
    if (ec != std::errc{} || p != pct.data() + pct.size()) return false;
    pol.pct = v;
  }
  for (std::string* s : {&r.source_ip_text, &r.disposition, &r.dkim, &r.spf, &r.envelope_to, &r.envelope_from,
                         &r.header_from})
    in.get(*s);
  r.source_ip = model::parse_ip(r.source_ip_text);
  r.count = 0;
  r.has_extensions = false;
  // No list can be longer than the fact has bytes.
  r.reasons.resize(in.count(bytes.size()));
  for (auto& o : r.reasons) {
    in.get(o.type);
    in.get(o.comment);
  }
  r.dkim_results.resize(in.count(bytes.size()));
  for (auto& d : r.dkim_results) {
    in.get(d.domain);
    in.get(d.selector);
    in.get(d.result);
    in.get(d.human_result);
  }
  r.spf_results.resize(in.count(bytes.size()));
  for (auto& s : r.spf_results) {
    in.get(s.domain);
    in.get(s.scope);
    in.get(s.result);
    in.get(s.human_result);
  }
  return in.ok && in.in.empty();
}

// --- writing ---------------------------------------------------------------

void RollupWriter::forget_cache() {
  facts_.clear();
  domains_.clear();
}

int64_t RollupWriter::domain_id(const std::string& name) {
  if (auto it = domains_.find(name); it != domains_.end()) return it->second;
  if (!insert_domain_) {
    insert_domain_ = detail::Stmt(db_, "INSERT INTO rollup_domain(name) VALUES (?1) ON CONFLICT DO NOTHING");
    find_domain_ = detail::Stmt(db_, "SELECT id FROM rollup_domain WHERE name=?1");
  }
  insert_domain_.bind(1, name).exec();
  find_domain_.bind(1, name);
  if (!find_domain_.step()) throw StoreError("rollup: domain row missing after insert");
  int64_t id = find_domain_.i64(0);
  find_domain_.reset();
  return domains_[name] = id;
}

int64_t RollupWriter::fact_id(int64_t domain, const std::string& fact) {
  // The digest covers the domain's id too: the same fact under two domains is two facts.
  const std::string key = std::to_string(domain);
  const auto digest = digest_of(key, fact);
  if (auto it = facts_.find(digest); it != facts_.end()) return it->second;
  if (!find_fact_) {
    find_fact_ = detail::Stmt(db_, "SELECT id FROM rollup_fact WHERE digest=?1");
    insert_fact_ = detail::Stmt(db_, "INSERT INTO rollup_fact(domain_id, digest, fact) VALUES (?1,?2,?3)");
  }
  int64_t id = 0;
  find_fact_.bind_blob(1, digest.data(), static_cast<int>(digest.size()));
  if (find_fact_.step()) {
    id = find_fact_.i64(0);
    find_fact_.reset();
  } else {
    find_fact_.reset();
    insert_fact_.bind(1, domain)
        .bind_blob(2, digest.data(), static_cast<int>(digest.size()))
        .bind_blob(3, fact.data(), static_cast<int>(fact.size()));
    insert_fact_.exec();
    id = sqlite3_last_insert_rowid(db_);
  }
  if (facts_.size() >= kCacheFacts) facts_.clear();
  facts_[digest] = id;
  return id;
}

void RollupWriter::add(const model::ReportMeta& meta, const model::Record& record, int sign) {
  encode_fact(meta.policy, record, fact_);
  const int64_t domain = domain_id(meta.policy.domain);
  const int64_t fact = fact_id(domain, fact_);
  analyze::day_shares(meta.begin, meta.end, record.count, days_);
  if (!add_day_) {
    add_day_ = detail::Stmt(db_,
                            "INSERT INTO rollup_day(domain_id, day, fact_id, records, messages) VALUES (?1,?2,?3,1,?4) "
                            "ON CONFLICT DO UPDATE SET records=records+1, messages=messages+excluded.messages");
    sub_day_ = detail::Stmt(db_, "UPDATE rollup_day SET records=records-1, messages=messages-?4 "
                                 "WHERE domain_id=?1 AND day=?2 AND fact_id=?3");
    drop_day_ = detail::Stmt(db_, "DELETE FROM rollup_day WHERE domain_id=?1 AND day=?2 AND fact_id=?3 AND records<=0");
  }
  for (const auto& d : days_) {
    auto& q = sign > 0 ? add_day_ : sub_day_;
    q.bind(1, domain).bind(2, d.day).bind(3, fact).bind(4, static_cast<int64_t>(d.count));
    q.exec();
    if (sign < 0) drop_day_.bind(1, domain).bind(2, d.day).bind(3, fact).exec();
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
