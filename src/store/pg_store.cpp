// PostgreSQL implementation of Store (issue 9), for several ingest hosts
// writing one database. The same protocol as SQLite: one transaction per
// message, a savepoint per report. What differs, and why:
//  - Dedupe is the report table's UNIQUE key with ON CONFLICT DO NOTHING: a
//    host that loses the race for a report stores it as a duplicate.
//  - Records go in with COPY, a report's records in chunks.
//  - A message's rollup rows are written at its commit, in one sorted order
//    (domains, then facts by digest, then days by key), so that concurrent
//    hosts take their row locks in the same order and cannot deadlock.
//  - Records are partitioned by month of their report's begin; the months
//    around today are made when a writer opens the database, the rest go to
//    a default partition (DDL inside a message's transaction would hold the
//    parent table's lock until the message commits).
//  - Text must be valid UTF-8 without NUL; other bytes are escaped on the
//    way in and back out (detail::pg_text, pg_untext).
#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "detail/pg.h"
#include "dmarq/model/ip.h"
#include "dmarq/store/store.h"
#include "pg_schema_sql.h"
#include "store/common.h"
#include "store/rollup.h"
#include "store/rows.h"

namespace dmarq::store {
namespace {

using detail::pg_bytes;
using detail::pg_int;
using detail::pg_text;
using detail::PgConn;
using detail::PgParam;
using detail::PgResult;

// Advisory lock keys: the schema, and partition making ("dmarq" + n).
constexpr int64_t kSchemaLock = 0x646d617271000001;
constexpr int64_t kPartitionLock = 0x646d617271000002;
constexpr int64_t kDay = 86400;
constexpr std::size_t kCopyChunk = 5000;  // records per COPY

PgParam text(std::string_view s) { return pg_text(s); }

// One row of a result, as store/rows.h reads rows.
struct PgRow {
  const PgResult& r;
  int row;
  std::string text(int c) const { return r.text(row, c); }
  int64_t i64(int c) const { return r.i64(row, c); }
  bool null(int c) const { return r.null(row, c); }
};

std::string json_rows(const std::vector<std::vector<std::string>>& rows) {
  auto arr = nlohmann::json::array();
  for (const auto& r : rows) arr.push_back(r);
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// UTC calendar month of `t`: (year, month 1-12). By hand: gmtime_r is exact
// and TZ-independent, and the months need no more.
std::pair<int, int> month_of(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return {tm.tm_year + 1900, tm.tm_mon + 1};
}

int64_t month_start(int year, int month) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = 1;
  return static_cast<int64_t>(timegm(&tm));
}

class PgStore final : public Store {
 public:
  PgStore(const std::string& url, OpenMode mode, const std::string& password)
      : db_(PgConn::connect(url, password)) {
    if (mode == OpenMode::read_write) {
      migrate();
      make_partitions();
    } else {
      check_version();
    }
  }

  // --- write side -------------------------------------------------------------

  bool has_message(const std::string& sha256) override {
    return db_.exec("SELECT 1 FROM message WHERE sha256=$1 AND outcome IN ('ok','partial') LIMIT 1", {text(sha256)})
               .rows() > 0;
  }

  void begin_message(const MessageInfo& info) override {
    db_.exec("BEGIN");
    in_tx_ = true;
    auto r = db_.exec("INSERT INTO message(sha256, origin, size, ingested_at, outcome) VALUES ($1,$2,$3,$4,'pending') "
                      "RETURNING id",
                      {text(info.sha256), text(info.origin), pg_int(static_cast<int64_t>(info.size)),
                       pg_int(info.ingested_at)});
    message_id_ = r.i64(0, 0);
    message_rollup_.clear();
  }

  bool begin_report(const model::ReportMeta& meta, const std::string& part) override {
    db_.exec("SAVEPOINT report");
    part_ = part;
    report_meta_ = meta;
    record_count_ = message_count_ = 0;
    said_ = {};
    copy_.clear();
    copied_ = 0;
    report_rollup_.clear();
    auto r = db_.exec("INSERT INTO report(message_id, part, org_name, report_id, policy_domain, begin_ts, end_ts) "
                      "VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING RETURNING id",
                      {pg_int(message_id_), text(part), text(meta.org_name), text(meta.report_id),
                       text(meta.policy.domain), pg_int(meta.begin), pg_int(meta.end)});
    duplicate_ = r.rows() == 0;
    report_row_ = duplicate_ ? find_report(meta) : r.i64(0, 0);
    return !duplicate_;
  }

  void add_record(model::Record& r) override {
    if (duplicate_) return;
    message_count_ += r.count;
    said_.add(r);
    roll(report_rollup_, report_meta_, r);
    copy_row(r, record_count_);
    ++record_count_;
    if (record_count_ - copied_ >= kCopyChunk) flush_records();
  }

  bool end_report(const model::ReportMeta& m) override {
    if (!duplicate_) {
      flush_records();
      // The records went in under the date seen before them; a report whose
      // metadata came after its records moves them (PostgreSQL moves rows
      // between partitions on UPDATE).
      if (record_count_ > 0 && m.begin != report_meta_.begin)
        db_.exec("UPDATE record SET begin_ts=$3 WHERE report_id=$1 AND begin_ts=$2",
                 {pg_int(report_row_), pg_int(report_meta_.begin), pg_int(m.begin)});
      const auto& pol = m.policy;
      std::vector<PgParam> p{pg_int(report_row_),   text(m.xml_namespace),       text(m.version),
                             text(m.org_name),      text(m.email),               text(m.extra_contact_info),
                             text(m.report_id),     text(m.generator),           pg_int(m.begin),
                             pg_int(m.end),         text(pol.domain),            text(pol.adkim),
                             text(pol.aspf),        text(pol.p),                 text(pol.sp),
                             text(pol.np),          pol.pct ? pg_int(*pol.pct) : PgParam{},
                             text(pol.fo),          text(pol.testing),           text(pol.discovery_method),
                             pg_int(m.has_extensions), pg_int(static_cast<int64_t>(record_count_)),
                             pg_int(static_cast<int64_t>(message_count_)), pg_int(static_cast<int64_t>(said_.pass)),
                             pg_int(static_cast<int64_t>(said_.quarantined)),
                             pg_int(static_cast<int64_t>(said_.rejected))};
      db_.exec("SAVEPOINT meta");
      try {
        db_.exec("UPDATE report SET xml_namespace=$2, version=$3, org_name=$4, email=$5, extra_contact_info=$6, "
                 "report_id=$7, generator=$8, begin_ts=$9, end_ts=$10, policy_domain=$11, adkim=$12, aspf=$13, "
                 "p=$14, sp=$15, np=$16, pct=$17, fo=$18, testing=$19, discovery_method=$20, has_extensions=$21, "
                 "record_count=$22, message_count=$23, evaluated_pass=$24, quarantined=$25, rejected=$26 "
                 "WHERE id=$1",
                 p);
        db_.exec("RELEASE SAVEPOINT meta");
      } catch (const detail::PgError& e) {
        // The metadata after the records names a report we already have.
        if (e.sqlstate() != "23505") throw;
        db_.exec("ROLLBACK TO SAVEPOINT report");
        report_rollup_.clear();
        duplicate_ = true;
        report_row_ = find_report(m);
      }
      if (!duplicate_) {
        if (record_count_ > 0 && !same_rollup(report_meta_, m)) {
          report_rollup_.clear();
          read_records(report_row_, m.begin, [&](const model::Record& rec) { roll(report_rollup_, m, rec); });
        }
        for (auto& [key, days] : report_rollup_)
          for (auto& [day, v] : days) {
            auto& to = message_rollup_[key][day];
            to.first += v.first;
            to.second += v.second;
          }
        int64_t seq = 0;
        for (const auto& e : m.errors)
          db_.exec("INSERT INTO report_error(report_id, seq, text) VALUES ($1,$2,$3)",
                   {pg_int(report_row_), pg_int(seq++), text(e)});
      }
    }
    db_.exec("INSERT INTO report_source(message_id, part, report_id, duplicate) VALUES ($1,$2,$3,$4) "
             "ON CONFLICT (message_id, part) DO UPDATE SET report_id=excluded.report_id, duplicate=excluded.duplicate",
             {pg_int(message_id_), text(part_), pg_int(report_row_), pg_int(duplicate_)});
    db_.exec("RELEASE SAVEPOINT report");
    report_rollup_.clear();
    return !duplicate_;
  }

  void abort_report() override {
    copy_.clear();
    report_rollup_.clear();
    db_.exec("ROLLBACK TO SAVEPOINT report");
    db_.exec("RELEASE SAVEPOINT report");
  }

  void add_reject(const Reject& r) override {
    db_.exec("INSERT INTO rejected_input(message_id, origin, part, code, reason, rejected_at) "
             "VALUES ($1,$2,$3,$4,$5,$6)",
             {pg_int(message_id_), text(r.origin), text(r.part), text(r.code), text(r.reason), pg_int(r.rejected_at)});
  }

  void add_feedback(const model::Feedback& f) override {
    const auto& o = f.original;
    std::vector<PgParam> p{
        pg_int(message_id_), text(f.part), text(f.kind), text(f.feedback_type), text(f.user_agent), text(f.version),
        text(f.original_envelope_id), text(f.original_mail_from),
        f.arrival_date ? pg_int(*f.arrival_date) : PgParam{}, text(f.arrival_date_text), text(f.reporting_mta),
        f.source_ip ? text(f.source_ip->to_string()) : PgParam{}, text(f.source_ip_text),
        f.source_ip ? pg_bytes(std::string_view(reinterpret_cast<const char*>(f.source_ip->bytes.data()), 16))
                    : PgParam{},
        f.incidents ? pg_int(static_cast<int64_t>(*f.incidents)) : PgParam{}, json_array(f.authentication_results),
        text(f.reported_domain.empty() ? std::string_view("") : std::string_view(f.reported_domain[0])),
        json_array(f.reported_domain), json_array(f.reported_uri), text(f.removal_recipient), text(f.auth_failure),
        text(f.delivery_result), text(f.dkim_domain), text(f.dkim_identity), text(f.dkim_selector), text(f.spf_dns),
        text(f.identity_alignment), text(o.from), text(o.to), text(o.subject), text(o.message_id), text(o.date),
        text(o.list_unsubscribe), text(o.return_path), text(o.dkim_domain), text(o.dkim_selector),
        pg_int(o.headers_only), json_array(f.original_rcpt_to)};
    db_.exec("INSERT INTO feedback(message_id, part, kind, feedback_type, user_agent, version, original_envelope_id, "
             "original_mail_from, arrival_date, arrival_date_text, reporting_mta, source_ip, source_ip_raw, ip, "
             "incidents, authentication_results, reported_domain, reported_domains, reported_uri, removal_recipient, "
             "auth_failure, delivery_result, dkim_domain, dkim_identity, dkim_selector, spf_dns, identity_alignment, "
             "orig_from, orig_to, orig_subject, orig_message_id, orig_date, orig_list_unsubscribe, orig_return_path, "
             "orig_dkim_domain, orig_dkim_selector, orig_headers_only, rcpt) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
             "$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30,$31,$32,$33,$34,$35,"
             "$36,$37,$38::jsonb)",
             p);
  }

  void add_bounce(const model::Bounce& b) override {
    for (const auto& r : b.recipients)
      db_.exec("INSERT INTO bounce(message_id, rfc3464, recipient, original_recipient, action, status, "
               "diagnostic_code, remote_mta, reporting_mta, arrival_date, class, seen_at) "
               "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::bigint,$11,"
               "coalesce($10::bigint, (SELECT ingested_at FROM message WHERE id=$1)))",
               {pg_int(message_id_), pg_int(b.rfc3464), text(r.recipient), text(r.original_recipient),
                text(r.action), text(r.status), text(r.diagnostic_code), text(r.remote_mta), text(r.reporting_mta),
                r.arrival_date ? pg_int(*r.arrival_date) : PgParam{},
                text(r.bounce_class.empty() ? std::string_view("unknown") : std::string_view(r.bounce_class))});
  }

  void commit_message(const MessageSummary& s) override {
    write_rollups();
    db_.exec("UPDATE message SET outcome=$2, reports_new=$3, reports_duplicate=$4, records=$5, issues=$6, kind=$7 "
             "WHERE id=$1",
             {pg_int(message_id_), std::string(to_string(s.outcome)), pg_int(static_cast<int64_t>(s.reports_new)),
              pg_int(static_cast<int64_t>(s.reports_duplicate)), pg_int(static_cast<int64_t>(s.records)),
              issues_json(s.issues), text(s.kind)});
    db_.exec("COMMIT");
    in_tx_ = false;
    message_rollup_.clear();
  }

  void rollback_message() noexcept override {
    copy_.clear();
    report_rollup_.clear();
    message_rollup_.clear();
    if (in_tx_) PQclear(PQexec(db_.raw(), "ROLLBACK"));
    in_tx_ = false;
  }

  // --- read side --------------------------------------------------------------

  std::vector<ReportSummary> list_reports(const ReportFilter& f) override {
    auto q = db_.exec(
        "SELECT r.id, r.org_name, r.report_id, r.policy_domain, r.p, r.begin_ts, r.end_ts, r.record_count, "
        "r.message_count, (SELECT count(*) FROM report_source s WHERE s.report_id=r.id), r.sp, "
        "r.evaluated_pass, r.quarantined, r.rejected FROM report r "
        "WHERE ($1::text IS NULL OR r.policy_domain=$1) AND ($2::bigint IS NULL OR r.end_ts>=$2) "
        "AND ($3::bigint IS NULL OR r.begin_ts<$3) ORDER BY r.begin_ts, r.org_name COLLATE \"C\", "
        "r.report_id COLLATE \"C\", r.id",
        filter_params(f));
    std::vector<ReportSummary> out;
    for (int i = 0; i < q.rows(); ++i) out.push_back(rows::summary(PgRow{q, i}));
    return out;
  }

  std::vector<Reject> list_rejects() override {
    auto q = db_.exec("SELECT origin, part, code, reason, rejected_at, message_id FROM rejected_input ORDER BY id");
    std::vector<Reject> out;
    for (int i = 0; i < q.rows(); ++i)
      out.push_back(Reject{q.text(i, 0), q.text(i, 1), q.text(i, 2), q.text(i, 3), q.i64(i, 4), q.i64(i, 5)});
    return out;
  }

  std::vector<StoredMessage> list_messages() override {
    auto q = db_.exec("SELECT id, sha256, origin, size, ingested_at, outcome, reports_new, reports_duplicate, "
                      "records, issues, kind FROM message WHERE outcome <> 'pending' ORDER BY id");
    std::vector<StoredMessage> out;
    for (int i = 0; i < q.rows(); ++i) out.push_back(rows::message(PgRow{q, i}));
    return out;
  }

  std::vector<SourceLink> list_sources() override {
    auto q = db_.exec("SELECT m.origin, s.part, s.duplicate, s.report_id, m.id FROM report_source s "
                      "JOIN message m ON m.id=s.message_id ORDER BY m.id, s.part COLLATE \"C\"");
    std::vector<SourceLink> out;
    for (int i = 0; i < q.rows(); ++i)
      out.push_back(SourceLink{q.text(i, 0), q.text(i, 1), q.i64(i, 2) != 0, q.i64(i, 3), q.i64(i, 4)});
    return out;
  }

  std::optional<model::ReportMeta> report_meta(int64_t id) override {
    if (db_.exec("SELECT 1 FROM report WHERE id=$1", {pg_int(id)}).rows() == 0) return std::nullopt;
    return load_meta(id);
  }

  std::optional<ReportStats> report_stats(int64_t id) override {
    if (db_.exec("SELECT 1 FROM report WHERE id=$1", {pg_int(id)}).rows() == 0) return std::nullopt;
    ReportStats s;
    s.meta = load_meta(id);
    auto q = db_.exec(
        "SELECT count(*), coalesce(sum(count),0), count(DISTINCT ip), "
        "coalesce(sum(CASE WHEN dkim_eval='pass' OR spf_eval='pass' THEN count END),0), "
        "coalesce(sum(CASE WHEN dkim_eval='pass' THEN count END),0), "
        "coalesce(sum(CASE WHEN spf_eval='pass' THEN count END),0), "
        "coalesce(sum(CASE WHEN disposition IN ('', 'none', 'pass') THEN count END),0), "
        "coalesce(sum(CASE WHEN disposition='quarantine' THEN count END),0), "
        "coalesce(sum(CASE WHEN disposition='reject' THEN count END),0) FROM record WHERE report_id=$1",
        {pg_int(id)});
    rows::stats(PgRow{q, 0}, s);
    return s;
  }

  void for_each_record(const ReportFilter& f, const std::function<void(const ExportRow&)>& fn) override {
    auto reports = db_.exec(
        "SELECT id, begin_ts FROM report WHERE ($1::text IS NULL OR policy_domain=$1) "
        "AND ($2::bigint IS NULL OR end_ts>=$2) AND ($3::bigint IS NULL OR begin_ts<$3) AND record_count > 0 "
        "AND ($4::bigint IS NULL OR id=$4) ORDER BY begin_ts, org_name COLLATE \"C\", report_id COLLATE \"C\", id",
        [&] {
          auto p = filter_params(f);
          p.push_back(f.report ? pg_int(*f.report) : PgParam{});
          return p;
        }());
    for (int i = 0; i < reports.rows(); ++i) {
      model::ReportMeta meta = load_meta(reports.i64(i, 0));
      read_records(reports.i64(i, 0), reports.i64(i, 1),
                   [&](const model::Record& rec) { fn(ExportRow{&meta, &rec}); });
    }
  }

  void for_each_fact(const std::string& domain, int64_t since, int64_t until,
                     const std::function<void(const ExportRow&, std::span<const analyze::DayShare>)>& fn) override {
    auto q = db_.exec(
        "SELECT f.fact, string_agg(d.day::text || ':' || d.messages::text, ',' ORDER BY d.day) "
        "FROM rollup_day d JOIN rollup_domain m ON m.id=d.domain_id JOIN rollup_fact f ON f.id=d.fact_id "
        "WHERE m.name=$1 AND d.day>=$2 AND d.day<$3 GROUP BY f.id ORDER BY f.id",
        {text(domain), pg_int(since), pg_int(until)});
    model::ReportMeta meta;
    meta.policy.domain = domain;
    model::Record rec;
    std::vector<analyze::DayShare> days;
    for (int i = 0; i < q.rows(); ++i) {
      if (!decode_fact(q.bytes(i, 0), meta.policy, rec)) throw StoreError("rollup: a fact cannot be decoded");
      days.clear();
      std::string list = q.text(i, 1);
      for (std::size_t at = 0; at < list.size();) {
        std::size_t end = list.find(',', at);
        if (end == std::string::npos) end = list.size();
        std::string item = list.substr(at, end - at);
        std::size_t colon = item.find(':');
        days.push_back({std::stoll(item.substr(0, colon)), std::stoull(item.substr(colon + 1))});
        at = end + 1;
      }
      if (days.empty()) continue;
      meta.begin = days.front().day;
      meta.end = days.back().day + kDay;
      fn(ExportRow{&meta, &rec}, days);
    }
  }

  std::vector<StoredFeedback> list_feedback(std::optional<int64_t> since) override {
    auto q = db_.exec(
        "SELECT f.id, f.message_id, m.origin, m.ingested_at, f.part, f.kind, f.feedback_type, f.user_agent, "
        "f.version, f.original_envelope_id, f.original_mail_from, f.arrival_date, f.arrival_date_text, "
        "f.reporting_mta, f.source_ip, f.source_ip_raw, f.incidents, f.authentication_results, f.reported_domains, "
        "f.reported_uri, f.removal_recipient, f.auth_failure, f.delivery_result, f.dkim_domain, f.dkim_identity, "
        "f.dkim_selector, f.spf_dns, f.identity_alignment, f.orig_from, f.orig_to, f.orig_subject, "
        "f.orig_message_id, f.orig_date, f.orig_list_unsubscribe, f.orig_return_path, f.orig_dkim_domain, "
        "f.orig_dkim_selector, f.orig_headers_only, f.rcpt::text FROM feedback f JOIN message m ON m.id=f.message_id "
        "WHERE $1::bigint IS NULL OR coalesce(f.arrival_date, m.ingested_at) >= $1 ORDER BY f.id",
        {since ? pg_int(*since) : PgParam{}});
    std::vector<StoredFeedback> out;
    for (int i = 0; i < q.rows(); ++i) {
      StoredFeedback s = rows::feedback(PgRow{q, i});
      s.feedback.original_rcpt_to = from_json_array(q.text(i, 38));
      out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<StoredBounce> list_bounces(std::optional<int64_t> since) override {
    auto q = db_.exec(
        "SELECT b.id, b.message_id, m.origin, m.ingested_at, b.rfc3464, b.seen_at, b.recipient, "
        "b.original_recipient, b.action, b.status, b.diagnostic_code, b.remote_mta, b.reporting_mta, "
        "b.arrival_date, b.class FROM bounce b JOIN message m ON m.id=b.message_id "
        "WHERE $1::bigint IS NULL OR b.seen_at >= $1 ORDER BY b.id",
        {since ? pg_int(*since) : PgParam{}});
    std::vector<StoredBounce> out;
    for (int i = 0; i < q.rows(); ++i) out.push_back(rows::bounce(PgRow{q, i}));
    return out;
  }

  void put_ip_info(const std::vector<IpInfo>& rows) override {
    if (rows.empty()) return;
    db_.in_transaction([&] {
      for (const auto& r : rows)
        db_.exec("INSERT INTO ip_info(ip, ptr_status, ptr, fcrdns, base_domain, service, service_type, resolved_at) "
                 "VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (ip) DO UPDATE SET ptr_status=excluded.ptr_status, "
                 "ptr=excluded.ptr, fcrdns=excluded.fcrdns, base_domain=excluded.base_domain, "
                 "service=excluded.service, service_type=excluded.service_type, resolved_at=excluded.resolved_at",
                 {text(r.ip), text(r.ptr_status), text(r.ptr), pg_int(r.fcrdns), text(r.base_domain),
                  text(r.service), text(r.service_type), pg_int(r.resolved_at)});
    });
  }

  // A session advisory lock: released when the connection ends, also when
  // the process dies.
  bool try_lock(const std::string& name) override {
    return db_.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {text(name)}).text(0, 0) == "t";
  }

  std::map<std::string, IpInfo> load_ip_info() override {
    auto q = db_.exec("SELECT ip, ptr_status, ptr, fcrdns, base_domain, service, service_type, resolved_at FROM ip_info");
    std::map<std::string, IpInfo> out;
    for (int i = 0; i < q.rows(); ++i) {
      IpInfo r = rows::ip_info(PgRow{q, i});
      std::string key = r.ip;
      out.emplace(std::move(key), std::move(r));
    }
    return out;
  }

 private:
  // (domain, fact bytes) -> day -> (records, messages)
  using Rollup = std::map<std::pair<std::string, std::string>, std::map<int64_t, std::pair<uint64_t, uint64_t>>>;

  static std::vector<PgParam> filter_params(const ReportFilter& f) {
    return {f.domain ? text(*f.domain) : PgParam{}, f.since ? pg_int(*f.since) : PgParam{},
            f.until ? pg_int(*f.until) : PgParam{}};
  }

  // Schema migrations, numbered like SQLite's, under a transaction-level
  // advisory lock: a second host waits, then finds the work done.
  void migrate() {
    // Up to date already: nothing to write, so a writer on a read-only
    // session (a hot standby) opens as a reader would.
    if (found_version() == pg_schema_version()) return;
    db_.in_transaction([&] {
      db_.exec("SELECT pg_advisory_xact_lock($1)", {pg_int(kSchemaLock)});
      db_.exec("CREATE TABLE IF NOT EXISTS dmarq_schema (version INTEGER NOT NULL)");
      const int have = stored_version(), want = pg_schema_version();
      if (have > want)
        throw StoreError(fmt::format("database schema version {} is newer than this dmarq ({})", have, want));
      for (int i = have; i < want; ++i) {
        db_.exec(std::string(pg_schema::kMigrations[static_cast<std::size_t>(i)]));
        db_.exec("INSERT INTO dmarq_schema(version) VALUES ($1)", {pg_int(i + 1)});
      }
    });
  }

  int stored_version() {
    auto v = db_.exec("SELECT max(version) FROM dmarq_schema");
    return v.null(0, 0) ? 0 : static_cast<int>(v.i64(0, 0));
  }

  // The stored version, 0 before the first migration made the table.
  int found_version() {
    return db_.exec("SELECT to_regclass('dmarq_schema') IS NOT NULL").text(0, 0) == "t" ? stored_version() : 0;
  }

  void check_version() {
    const int want = pg_schema_version();
    const int have = found_version();
    if (have != want)
      throw StoreError(fmt::format("database schema version {} is not {}; run 'dmarq ingest' once to migrate it",
                                   have, want));
  }

  // The months from two years back to three ahead, and a default partition
  // for any other date, made under an advisory lock when missing.
  void make_partitions() {
    auto [y, m] = month_of(static_cast<int64_t>(std::time(nullptr)));
    int index = y * 12 + (m - 1) - 24;
    std::vector<std::tuple<std::string, int64_t, int64_t>> months;
    for (int k = 0; k < 28; ++k, ++index) {
      int yy = index / 12, mm = index % 12 + 1;
      int ny = (index + 1) / 12, nm = (index + 1) % 12 + 1;
      months.emplace_back(fmt::format("record_{:04}_{:02}", yy, mm), month_start(yy, mm), month_start(ny, nm));
    }
    auto have_rows = db_.exec("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid=i.inhrelid "
                              "WHERE i.inhparent='record'::regclass");
    std::set<std::string> have;
    for (int i = 0; i < have_rows.rows(); ++i) have.insert(have_rows.text(i, 0));
    bool missing = !have.count("record_default");
    for (const auto& mo : months) missing = missing || !have.count(std::get<0>(mo));
    if (!missing) return;
    db_.in_transaction([&] {
      db_.exec("SELECT pg_advisory_xact_lock($1)", {pg_int(kPartitionLock)});
      db_.exec("CREATE TABLE IF NOT EXISTS record_default PARTITION OF record DEFAULT");
      for (const auto& [name, from, to] : months) {
        if (have.count(name)) continue;
        // A month whose rows already sit in the default partition stays there.
        auto in_default = db_.exec("SELECT 1 FROM record_default WHERE begin_ts >= $1 AND begin_ts < $2 LIMIT 1",
                                   {pg_int(from), pg_int(to)});
        if (in_default.rows() > 0) continue;
        db_.exec(fmt::format("CREATE TABLE IF NOT EXISTS {} PARTITION OF record FOR VALUES FROM ({}) TO ({})", name,
                             from, to));
      }
    });
  }

  int64_t find_report(const model::ReportMeta& m) {
    auto q = db_.exec("SELECT id FROM report WHERE org_name=$1 AND report_id=$2 AND policy_domain=$3 AND begin_ts=$4 "
                      "AND end_ts=$5",
                      {text(m.org_name), text(m.report_id), text(m.policy.domain), pg_int(m.begin), pg_int(m.end)});
    if (q.rows() == 0) throw StoreError("duplicate report vanished");
    return q.i64(0, 0);
  }

  void copy_row(const model::Record& r, uint64_t seq) {
    using detail::copy_field;
    auto field = [&](std::string_view v) {
      copy_field(copy_, pg_text(v));
      copy_.push_back('\t');
    };
    auto null = [&] { copy_ += "\\N\t"; };
    // Under the begin seen before the records; end_report moves the rows
    // when the report's final metadata says otherwise.
    copy_ += std::to_string(report_meta_.begin);
    copy_.push_back('\t');
    copy_ += std::to_string(report_row_);
    copy_.push_back('\t');
    copy_ += std::to_string(seq);
    copy_.push_back('\t');
    std::string ip = r.source_ip ? r.source_ip->to_string() : std::string();
    if (r.source_ip) field(ip); else null();
    if (r.source_ip_text != ip) field(r.source_ip_text); else null();
    if (r.source_ip) {
      copy_field(copy_, *pg_bytes(std::string_view(reinterpret_cast<const char*>(r.source_ip->bytes.data()), 16)));
      copy_.push_back('\t');
    } else {
      null();
    }
    copy_ += std::to_string(r.count);
    copy_.push_back('\t');
    for (const std::string* s : {&r.disposition, &r.dkim, &r.spf, &r.envelope_to, &r.envelope_from, &r.header_from})
      field(*s);
    copy_ += r.has_extensions ? "1\t" : "0\t";
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : r.dkim_results) rows.push_back({d.domain, d.selector, d.result, d.human_result});
    field(json_rows(rows));
    rows.clear();
    for (const auto& s : r.spf_results) rows.push_back({s.domain, s.scope, s.result, s.human_result});
    field(json_rows(rows));
    rows.clear();
    for (const auto& o : r.reasons) rows.push_back({o.type, o.comment});
    copy_field(copy_, json_rows(rows));
    copy_.push_back('\n');
  }

  void flush_records() {
    if (copy_.empty()) return;
    db_.copy_in("COPY record(begin_ts, report_id, seq, source_ip, source_ip_raw, ip, count, disposition, dkim_eval, "
                "spf_eval, envelope_to, envelope_from, header_from, has_extensions, dkim, spf, reasons) FROM STDIN",
                copy_);
    copied_ = record_count_;
    copy_.clear();
  }

  void read_records(int64_t report, int64_t begin, const std::function<void(const model::Record&)>& fn) {
    auto q = db_.exec("SELECT source_ip, source_ip_raw, count, disposition, dkim_eval, spf_eval, envelope_to, "
                      "envelope_from, header_from, dkim::text, spf::text, reasons::text FROM record "
                      "WHERE report_id=$1 AND begin_ts=$2 ORDER BY seq",
                      {pg_int(report), pg_int(begin)});
    model::Record rec;
    for (int i = 0; i < q.rows(); ++i) {
      rec.clear();
      if (!q.null(i, 0)) rec.source_ip = model::parse_ip(q.text(i, 0));
      rec.source_ip_text = q.text(i, q.null(i, 1) ? 0 : 1);
      rec.count = static_cast<uint64_t>(q.i64(i, 2));
      rec.disposition = q.text(i, 3);
      rec.dkim = q.text(i, 4);
      rec.spf = q.text(i, 5);
      rec.envelope_to = q.text(i, 6);
      rec.envelope_from = q.text(i, 7);
      rec.header_from = q.text(i, 8);
      auto rows = [&](int col) {
        std::vector<std::vector<std::string>> out;
        auto j = nlohmann::json::parse(q.text(i, col), nullptr, false);
        if (j.is_array())
          for (const auto& r : j) {
            std::vector<std::string> row;
            if (r.is_array())
              for (const auto& v : r) row.push_back(v.is_string() ? v.get<std::string>() : std::string());
            row.resize(4);
            out.push_back(std::move(row));
          }
        return out;
      };
      for (auto& r : rows(9)) rec.dkim_results.push_back({r[0], r[1], r[2], r[3]});
      for (auto& r : rows(10)) rec.spf_results.push_back({r[0], r[1], r[2], r[3]});
      for (auto& r : rows(11)) rec.reasons.push_back({r[0], r[1]});
      fn(rec);
    }
  }

  model::ReportMeta load_meta(int64_t id) {
    auto q = db_.exec("SELECT xml_namespace, version, org_name, email, extra_contact_info, report_id, generator, "
                      "begin_ts, end_ts, policy_domain, adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, "
                      "has_extensions FROM report WHERE id=$1",
                      {pg_int(id)});
    model::ReportMeta m;
    if (q.rows() > 0) m = rows::meta(PgRow{q, 0});
    auto e = db_.exec("SELECT text FROM report_error WHERE report_id=$1 ORDER BY seq", {pg_int(id)});
    for (int i = 0; i < e.rows(); ++i) m.errors.push_back(e.text(i, 0));
    return m;
  }

  void roll(Rollup& into, const model::ReportMeta& meta, const model::Record& r) {
    encode_fact(meta.policy, r, fact_);
    analyze::day_shares(meta.begin, meta.end, r.count, days_);
    auto& days = into[{meta.policy.domain, fact_}];
    for (const auto& d : days_) {
      auto& v = days[d.day];
      v.first += 1;
      v.second += d.count;
    }
  }

  // A message's rollups, in one global order (see the top of the file).
  void write_rollups() {
    if (message_rollup_.empty()) return;
    std::map<std::string, int64_t> domains;
    for (const auto& [key, days] : message_rollup_) domains.emplace(key.first, 0);
    for (auto& [name, id] : domains) {
      db_.exec("INSERT INTO rollup_domain(name) VALUES ($1) ON CONFLICT (name) DO NOTHING", {text(name)});
      id = db_.exec("SELECT id FROM rollup_domain WHERE name=$1", {text(name)}).i64(0, 0);
    }
    struct Fact {
      std::array<unsigned char, 16> digest;
      int64_t domain;
      const std::string* bytes;
      const std::map<int64_t, std::pair<uint64_t, uint64_t>>* days;
      int64_t id = 0;
    };
    std::vector<Fact> facts;
    for (const auto& [key, days] : message_rollup_) {
      int64_t domain = domains.at(key.first);
      facts.push_back({digest_of(key.second, domain), domain, &key.second, &days});
    }
    std::sort(facts.begin(), facts.end(), [](const Fact& a, const Fact& b) { return a.digest < b.digest; });
    // Every fact of the message in two statements: arrays unnested, in
    // digest order (WITH ORDINALITY keeps it), then every id by digest.
    // An array literal of one item per fact; bytea items as quoted "\\x...".
    auto array = [&](auto item) {
      std::string out = "{";
      for (std::size_t i = 0; i < facts.size(); ++i) {
        if (i) out.push_back(',');
        out += item(facts[i]);
      }
      out.push_back('}');
      return out;
    };
    auto quoted = [](std::string_view raw) { return "\"\\" + *pg_bytes(raw) + "\""; };
    std::string domains_arr = array([](const Fact& f) { return std::to_string(f.domain); });
    std::string digests_arr = array([&](const Fact& f) {
      return quoted(std::string_view(reinterpret_cast<const char*>(f.digest.data()), f.digest.size()));
    });
    std::string facts_arr = array([&](const Fact& f) { return quoted(*f.bytes); });
    db_.exec("INSERT INTO rollup_fact(domain_id, digest, fact) SELECT d, g, f FROM "
             "unnest($1::bigint[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS t(d, g, f, n) ORDER BY n "
             "ON CONFLICT (digest) DO NOTHING",
             {domains_arr, digests_arr, facts_arr});
    auto ids = db_.exec("SELECT digest, id FROM rollup_fact WHERE digest = ANY($1::bytea[])", {digests_arr});
    std::map<std::string, int64_t> by_digest;
    for (int i = 0; i < ids.rows(); ++i) by_digest[ids.bytes(i, 0)] = ids.i64(i, 1);
    for (auto& f : facts) {
      auto it = by_digest.find(std::string(reinterpret_cast<const char*>(f.digest.data()), 16));
      if (it == by_digest.end()) throw StoreError("rollup: fact rows missing after insert");
      f.id = it->second;
    }
    std::map<std::tuple<int64_t, int64_t, int64_t>, std::pair<uint64_t, uint64_t>> rows;
    for (const auto& f : facts)
      for (const auto& [day, v] : *f.days) {
        auto& to = rows[{f.domain, day, f.id}];
        to.first += v.first;
        to.second += v.second;
      }
    // In multi-row statements of up to 200 rows, in key order.
    for (auto it = rows.begin(); it != rows.end();) {
      std::string sql = "INSERT INTO rollup_day(domain_id, day, fact_id, records, messages) VALUES ";
      std::vector<PgParam> p;
      for (int k = 0; k < 200 && it != rows.end(); ++k, ++it) {
        const auto& [key, v] = *it;
        std::size_t n = p.size();
        sql += fmt::format("{}(${},${},${},${},${})", k == 0 ? "" : ",", n + 1, n + 2, n + 3, n + 4, n + 5);
        p.push_back(pg_int(std::get<0>(key)));
        p.push_back(pg_int(std::get<1>(key)));
        p.push_back(pg_int(std::get<2>(key)));
        p.push_back(pg_int(static_cast<int64_t>(v.first)));
        p.push_back(pg_int(static_cast<int64_t>(v.second)));
      }
      sql += " ON CONFLICT (domain_id, day, fact_id) DO UPDATE SET records=rollup_day.records+excluded.records, "
             "messages=rollup_day.messages+excluded.messages";
      db_.exec(sql, p);
    }
  }

  PgConn db_;
  bool in_tx_ = false;
  int64_t message_id_ = 0, report_row_ = 0;
  bool duplicate_ = false;
  std::string part_;
  model::ReportMeta report_meta_;
  uint64_t record_count_ = 0, message_count_ = 0, copied_ = 0;
  Said said_;
  std::string copy_;
  Rollup report_rollup_, message_rollup_;
  std::string fact_;
  std::vector<analyze::DayShare> days_;
};

}  // namespace

bool is_postgres_url(std::string_view db) {
  return db.starts_with("postgresql://") || db.starts_with("postgres://");
}

std::string sqlite_path(std::string_view db) {
  if (db.starts_with("sqlite:")) db.remove_prefix(7);
  return std::string(db);
}

std::unique_ptr<Store> open_postgres(const std::string& url, OpenMode mode, const std::string& password) {
  return std::make_unique<PgStore>(url, mode, password);
}

std::unique_ptr<Store> open_store(const std::string& db, OpenMode mode, const std::string& password) {
  if (is_postgres_url(db)) {
    // Not in argv, nor in an environment variable anyone can read from
    // /proc: libpq reads it from PGPASSFILE or ~/.pgpass.
    std::string_view rest = std::string_view(db).substr(db.find("//") + 2);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    std::size_t at = authority.rfind('@');
    bool has_password = at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos;
    if (has_password || db.find("password=") != std::string::npos)
      throw StoreError("the database URL carries a password: put it in ~/.pgpass or the file PGPASSFILE names, "
                       "not in --db or DMARQ_DB");
    return open_postgres(db, mode, password);
  }
  return open_sqlite(sqlite_path(db), mode);
}

int pg_schema_version() { return static_cast<int>(pg_schema::kMigrations.size()); }

}  // namespace dmarq::store
