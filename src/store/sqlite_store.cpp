// SQLite implementation of Store. WAL mode, one IMMEDIATE transaction per
// message, a SAVEPOINT per report so that a report that fails half-way (bad
// XML after some records) leaves nothing behind while the message's other
// reports stay.
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "detail/sqlite.h"
#include "dmarq/store/store.h"
#include "schema_sql.h"
#include "store/common.h"
#include "store/record_writer.h"
#include "store/rows.h"
#include "store/rollup.h"

namespace dmarq::store {
namespace {

using detail::Stmt;

// Process-wide SQLite settings, before the library initialises: no memory
// statistics, whose global mutex every allocation would otherwise take
// (it showed as a tenth of the loading thread's time).
void configure_once() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)done;
}

// Schema 004 added the rollups as rollup_day; 005 keeps them as rollup_span
// and drops rollup_day, which is what migrating to 005 fills them from.
constexpr int kSpanVersion = 5;

// Reads a range of records back, with their DKIM, SPF and override rows.
class RecordReader {
 public:
  explicit RecordReader(sqlite3* db);
  void read(int64_t first, int64_t last, const std::function<void(const model::Record&)>& fn);

 private:
  Stmt records_, dkim_, spf_, reasons_;
  model::Record rec_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(const std::string& path, OpenMode mode) {
    configure_once();
    int flags = mode == OpenMode::read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    records_ = RecordWriter(raw);
    rollup_ = RollupWriter(raw);
    if (rc != SQLITE_OK)
      throw StoreError("cannot open database " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
    register_rollup_functions(raw);
    sqlite3_busy_timeout(db_.get(), 5000);
    sqlite3_extended_result_codes(db_.get(), 1);
    if (mode == OpenMode::read_write) {
      detail::exec_sql(db_.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;");
      migrate();
    } else {
      check_version();
    }
    // Ingest appends, so a small cache does as well as a large one and keeps
    // the ingest within its memory budget; readers scan and get more.
    detail::exec_sql(db_.get(), mode == OpenMode::read_write ? "PRAGMA cache_size=-8000; PRAGMA temp_store=MEMORY;"
                                                             : "PRAGMA cache_size=-32000; PRAGMA temp_store=MEMORY;");
  }

  // --- write side -------------------------------------------------------------

  bool has_message(const std::string& sha256) override {
    auto& q = stmt(has_message_, "SELECT 1 FROM message WHERE sha256=?1 AND outcome IN ('ok','partial') LIMIT 1");
    q.bind(1, sha256);
    bool found = q.step();
    q.reset();
    return found;
  }

  void begin_message(const MessageInfo& info) override {
    detail::exec_sql(db_.get(), "BEGIN IMMEDIATE");
    in_tx_ = true;
    auto& q = stmt(insert_message_,
                   "INSERT INTO message(sha256, origin, size, ingested_at, outcome) VALUES (?1,?2,?3,?4,'pending')");
    q.bind(1, info.sha256).bind(2, info.origin).bind(3, static_cast<int64_t>(info.size)).bind(4, info.ingested_at);
    q.exec();
    message_id_ = sqlite3_last_insert_rowid(db_.get());
    records_.start_transaction();
  }

  bool begin_report(const model::ReportMeta& meta, const std::string& part) override {
    detail::exec_sql(db_.get(), "SAVEPOINT report");
    part_ = part;
    report_meta_ = meta;
    record_count_ = message_count_ = 0;
    said_ = {};
    first_record_ = records_.next_id();
    auto& q = stmt(insert_report_,
                   "INSERT INTO report(message_id, part, org_name, report_id, policy_domain, begin_ts, end_ts) "
                   "VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT DO NOTHING");
    q.bind(1, message_id_).bind(2, part).bind(3, meta.org_name).bind(4, meta.report_id)
        .bind(5, meta.policy.domain).bind(6, meta.begin).bind(7, meta.end);
    q.exec();
    if (sqlite3_changes(db_.get()) == 0) {
      duplicate_ = true;
      report_row_ = find_report(meta);
    } else {
      duplicate_ = false;
      report_row_ = sqlite3_last_insert_rowid(db_.get());
    }
    return !duplicate_;
  }

  void add_record(model::Record& r) override {
    if (duplicate_) return;
    message_count_ += r.count;  // before add(), which takes the record
    said_.add(r);
    rollup_.add(report_meta_, r);
    records_.add(report_row_, r);
    ++record_count_;
  }

  bool end_report(const model::ReportMeta& m) override {
    if (!duplicate_) {
      records_.flush();
      rollup_.flush();
      auto& q = stmt(update_report_,
                     "UPDATE report SET xml_namespace=?2, version=?3, org_name=?4, email=?5, extra_contact_info=?6, "
                     "report_id=?7, generator=?8, begin_ts=?9, end_ts=?10, policy_domain=?11, adkim=?12, aspf=?13, "
                     "p=?14, sp=?15, np=?16, pct=?17, fo=?18, testing=?19, discovery_method=?20, "
                     "has_extensions=?21, record_count=?22, message_count=?23, first_record=?24, evaluated_pass=?25, "
                     "quarantined=?26, rejected=?27 WHERE id=?1");
      const auto& pol = m.policy;
      q.bind(1, report_row_).bind(2, m.xml_namespace).bind(3, m.version).bind(4, m.org_name).bind(5, m.email)
          .bind(6, m.extra_contact_info).bind(7, m.report_id).bind(8, m.generator).bind(9, m.begin)
          .bind(10, m.end).bind(11, pol.domain).bind(12, pol.adkim).bind(13, pol.aspf).bind(14, pol.p)
          .bind(15, pol.sp).bind(16, pol.np);
      if (pol.pct) q.bind(17, *pol.pct); else q.bind_null(17);
      q.bind(18, pol.fo).bind(19, pol.testing).bind(20, pol.discovery_method)
          .bind(21, int64_t{m.has_extensions}).bind(22, static_cast<int64_t>(record_count_))
          .bind(23, static_cast<int64_t>(message_count_));
      if (record_count_ > 0) q.bind(24, first_record_); else q.bind_null(24);
      q.bind(25, static_cast<int64_t>(said_.pass)).bind(26, static_cast<int64_t>(said_.quarantined))
          .bind(27, static_cast<int64_t>(said_.rejected));
      if (q.exec(true) != SQLITE_DONE) {
        // The metadata after the records names a report we already have.
        detail::exec_sql(db_.get(), "ROLLBACK TO report");
        records_.start_transaction();
        rollup_.forget_cache();
        duplicate_ = true;
        report_row_ = find_report(m);
      } else {
        // The records were rolled up under the metadata seen before them;
        // when the rest of the report changed what counts (a policy after
        // the records, say), they are taken back and added again.
        if (record_count_ > 0 && !same_rollup(report_meta_, m)) {
          RecordReader reader(db_.get());
          reader.read(first_record_, first_record_ + static_cast<int64_t>(record_count_) - 1,
                      [&](const model::Record& rec) {
                        rollup_.add(report_meta_, rec, -1);
                        rollup_.add(m, rec, +1);
                      });
          rollup_.flush();
        }
        int64_t seq = 0;
        for (const auto& e : m.errors) {
          auto& s = stmt(insert_error_, "INSERT INTO report_error(report_id, seq, text) VALUES (?1,?2,?3)");
          s.bind(1, report_row_).bind(2, seq++).bind(3, e);
          s.exec();
        }
      }
    }
    auto& src = stmt(insert_source_,
                     "INSERT OR REPLACE INTO report_source(message_id, part, report_id, duplicate) VALUES (?1,?2,?3,?4)");
    src.bind(1, message_id_).bind(2, part_).bind(3, report_row_).bind(4, int64_t{duplicate_});
    src.exec();
    detail::exec_sql(db_.get(), "RELEASE report");
    return !duplicate_;
  }

  void abort_report() override {
    records_.discard();
    rollup_.forget_cache();
    detail::exec_sql(db_.get(), "ROLLBACK TO report; RELEASE report");
    records_.start_transaction();  // the rolled-back ids are free again
  }

  void add_reject(const Reject& r) override {
    auto& q = stmt(insert_reject_,
                   "INSERT INTO rejected_input(message_id, origin, part, code, reason, rejected_at) "
                   "VALUES (?1,?2,?3,?4,?5,?6)");
    q.bind(1, message_id_).bind(2, r.origin).bind(3, r.part).bind(4, r.code).bind(5, r.reason).bind(6, r.rejected_at);
    q.exec();
  }

  void commit_message(const MessageSummary& s) override {
    auto& q = stmt(update_message_,
                   "UPDATE message SET outcome=?2, reports_new=?3, reports_duplicate=?4, records=?5, issues=?6, "
                   "kind=?7 WHERE id=?1");
    q.bind(1, message_id_).bind(2, to_string(s.outcome)).bind(3, static_cast<int64_t>(s.reports_new))
        .bind(4, static_cast<int64_t>(s.reports_duplicate)).bind(5, static_cast<int64_t>(s.records))
        .bind_copy(6, issues_json(s.issues)).bind(7, s.kind);
    q.exec();
    detail::exec_sql(db_.get(), "COMMIT");
    in_tx_ = false;
  }

  void add_feedback(const model::Feedback& f) override {
    auto& q = stmt(insert_feedback_,
                   "INSERT INTO feedback(message_id, part, kind, feedback_type, user_agent, version, "
                   "original_envelope_id, original_mail_from, arrival_date, arrival_date_text, reporting_mta, "
                   "source_ip, source_ip_raw, ip, incidents, authentication_results, reported_domain, "
                   "reported_domains, reported_uri, removal_recipient, auth_failure, delivery_result, dkim_domain, "
                   "dkim_identity, dkim_selector, spf_dns, identity_alignment, orig_from, orig_to, orig_subject, "
                   "orig_message_id, orig_date, orig_list_unsubscribe, orig_return_path, orig_dkim_domain, "
                   "orig_dkim_selector, orig_headers_only) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
                   "?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37)");
    std::string ip_text = f.source_ip ? f.source_ip->to_string() : std::string();
    std::string auth = json_array(f.authentication_results), domains = json_array(f.reported_domain),
                uris = json_array(f.reported_uri);
    const auto& o = f.original;
    q.bind(1, message_id_).bind(2, f.part).bind(3, f.kind).bind(4, f.feedback_type).bind(5, f.user_agent)
        .bind(6, f.version).bind(7, f.original_envelope_id).bind(8, f.original_mail_from);
    if (f.arrival_date) q.bind(9, *f.arrival_date); else q.bind_null(9);
    q.bind(10, f.arrival_date_text).bind(11, f.reporting_mta);
    if (f.source_ip) q.bind(12, ip_text).bind_blob(14, f.source_ip->bytes.data(), 16);
    else q.bind_null(12).bind_null(14);
    q.bind(13, f.source_ip_text);
    if (f.incidents) q.bind(15, static_cast<int64_t>(*f.incidents)); else q.bind_null(15);
    q.bind(16, auth).bind(17, f.reported_domain.empty() ? std::string_view("") : std::string_view(f.reported_domain[0]))
        .bind(18, domains).bind(19, uris).bind(20, f.removal_recipient).bind(21, f.auth_failure)
        .bind(22, f.delivery_result).bind(23, f.dkim_domain).bind(24, f.dkim_identity).bind(25, f.dkim_selector)
        .bind(26, f.spf_dns).bind(27, f.identity_alignment).bind(28, o.from).bind(29, o.to).bind(30, o.subject)
        .bind(31, o.message_id).bind(32, o.date).bind(33, o.list_unsubscribe).bind(34, o.return_path)
        .bind(35, o.dkim_domain).bind(36, o.dkim_selector).bind(37, int64_t{o.headers_only});
    q.exec();
    int64_t id = sqlite3_last_insert_rowid(db_.get());
    auto& r = stmt(insert_feedback_rcpt_, "INSERT INTO feedback_rcpt(feedback_id, seq, address) VALUES (?1,?2,?3)");
    int64_t seq = 0;
    for (const auto& a : f.original_rcpt_to) {
      r.bind(1, id).bind(2, seq++).bind(3, a);
      r.exec();
    }
  }

  void add_bounce(const model::Bounce& b) override {
    auto& q = stmt(insert_bounce_,
                   "INSERT INTO bounce(message_id, rfc3464, recipient, original_recipient, action, status, "
                   "diagnostic_code, remote_mta, reporting_mta, arrival_date, class, seen_at) "
                   "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
                   "coalesce(?10, (SELECT ingested_at FROM message WHERE id=?1)))");
    for (const auto& r : b.recipients) {
      q.bind(1, message_id_).bind(2, int64_t{b.rfc3464}).bind(3, r.recipient).bind(4, r.original_recipient)
          .bind(5, r.action).bind(6, r.status).bind(7, r.diagnostic_code).bind(8, r.remote_mta)
          .bind(9, r.reporting_mta);
      if (r.arrival_date) q.bind(10, *r.arrival_date); else q.bind_null(10);
      q.bind(11, r.bounce_class.empty() ? std::string_view("unknown") : std::string_view(r.bounce_class));
      q.exec();
    }
  }

  void rollback_message() noexcept override {
    records_.discard();
    rollup_.forget_cache();
    if (in_tx_) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    in_tx_ = false;
  }

  // --- read side --------------------------------------------------------------

  std::vector<ReportSummary> list_reports(const ReportFilter& f) override {
    Stmt q(db_.get(),
           "SELECT r.id, r.org_name, r.report_id, r.policy_domain, r.p, r.begin_ts, r.end_ts, r.record_count, "
           "r.message_count, (SELECT count(*) FROM report_source s WHERE s.report_id=r.id), r.sp, "
           "r.evaluated_pass, r.quarantined, r.rejected "
           "FROM report r WHERE (?1 IS NULL OR r.policy_domain=?1) AND (?2 IS NULL OR r.end_ts>=?2) "
           "AND (?3 IS NULL OR r.begin_ts<?3) "
           "ORDER BY r.begin_ts, r.org_name, r.report_id, r.id");
    bind_filter(q, f);
    std::vector<ReportSummary> out;
    while (q.step()) out.push_back(rows::summary(q));
    return out;
  }

  std::vector<Reject> list_rejects() override {
    Stmt q(db_.get(), "SELECT origin, part, code, reason, rejected_at, message_id FROM rejected_input ORDER BY id");
    std::vector<Reject> out;
    while (q.step()) out.push_back(Reject{q.text(0), q.text(1), q.text(2), q.text(3), q.i64(4), q.i64(5)});
    return out;
  }

  std::vector<StoredMessage> list_messages() override {
    Stmt q(db_.get(), "SELECT id, sha256, origin, size, ingested_at, outcome, reports_new, reports_duplicate, "
                      "records, issues, kind FROM message WHERE outcome <> 'pending' ORDER BY id");
    std::vector<StoredMessage> out;
    while (q.step()) out.push_back(rows::message(q));
    return out;
  }

  std::vector<SourceLink> list_sources() override {
    Stmt q(db_.get(),
           "SELECT m.origin, s.part, s.duplicate, s.report_id, m.id FROM report_source s "
           "JOIN message m ON m.id=s.message_id ORDER BY m.id, s.part");
    std::vector<SourceLink> out;
    while (q.step()) out.push_back(SourceLink{q.text(0), q.text(1), q.i64(2) != 0, q.i64(3), q.i64(4)});
    return out;
  }

  void for_each_record(const ReportFilter& f, const std::function<void(const ExportRow&)>& fn) override;
  void for_each_fact(const std::string& domain, int64_t since, int64_t until,
                     const std::function<void(const ExportRow&, std::span<const analyze::DayShare>)>& fn) override {
    read_facts(db_.get(), domain, since, until,
               [&](const model::ReportMeta& meta, const model::Record& rec,
                   std::span<const analyze::DayShare> days) { fn(ExportRow{&meta, &rec}, days); });
  }
  std::vector<StoredFeedback> list_feedback(std::optional<int64_t> since) override;
  std::vector<StoredBounce> list_bounces(std::optional<int64_t> since) override;
  void put_ip_info(const std::vector<IpInfo>& rows) override;
  std::map<std::string, IpInfo> load_ip_info() override;
  std::optional<ReportStats> report_stats(int64_t id) override;
  std::optional<model::ReportMeta> report_meta(int64_t id) override;

 private:
  model::ReportMeta load_meta(int64_t id);

  Stmt& stmt(Stmt& slot, std::string_view sql) {
    if (!prepared_.count(&slot)) {
      slot = Stmt(db_.get(), sql);
      prepared_.insert(&slot);
    }
    return slot;
  }

  static void bind_filter(Stmt& q, const ReportFilter& f) {
    if (f.domain) q.bind(1, *f.domain); else q.bind_null(1);
    if (f.since) q.bind(2, *f.since); else q.bind_null(2);
    if (f.until) q.bind(3, *f.until); else q.bind_null(3);
  }

  int64_t find_report(const model::ReportMeta& m) {
    auto& q = stmt(find_report_,
                   "SELECT id FROM report WHERE org_name=?1 AND report_id=?2 AND policy_domain=?3 AND begin_ts=?4 "
                   "AND end_ts=?5");
    q.bind(1, m.org_name).bind(2, m.report_id).bind(3, m.policy.domain).bind(4, m.begin).bind(5, m.end);
    int64_t id = q.step() ? q.i64(0) : 0;
    q.reset();
    return id;
  }

  int user_version() {
    Stmt q(db_.get(), "PRAGMA user_version");
    return q.step() ? static_cast<int>(q.i64(0)) : 0;
  }

  void check_version() {
    int v = user_version();
    if (v != schema_version())
      throw StoreError("database schema version " + std::to_string(v) + " is not " +
                       std::to_string(schema_version()) + "; run 'dmarq ingest' once to migrate it");
  }

  void migrate() {
    int v = user_version();
    if (v > schema_version())
      throw StoreError("database schema version " + std::to_string(v) + " is newer than this dmarq (" +
                       std::to_string(schema_version()) + ")");
    for (int i = v; i < schema_version(); ++i) {
      detail::exec_sql(db_.get(), "BEGIN IMMEDIATE");
      try {
        // Another process may have migrated meanwhile.
        if (user_version() > i) {
          detail::exec_sql(db_.get(), "COMMIT");
          continue;
        }
        detail::exec_sql(db_.get(), std::string(schema::kMigrations[static_cast<std::size_t>(i)]));
        if (i + 1 == kSpanVersion) fill_rollup_span();
        detail::exec_sql(db_.get(), "PRAGMA user_version=" + std::to_string(i + 1));
        detail::exec_sql(db_.get(), "COMMIT");
      } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    }
  }

  // Migrating to 005: the rollups move from rollup_day (schema 004) to
  // rollup_span. A database that was at 003 or older has an empty
  // rollup_day, made by the 004 step, and is rolled up from its records.
  void fill_rollup_span() {
    bool had_days = false;
    {
      Stmt days(db_.get(), "SELECT domain_id, day, fact_id, records, messages FROM rollup_day");
      while (days.step()) {
        had_days = true;
        rollup_.add_day(days.i64(0), days.i64(2), days.i64(1), static_cast<uint64_t>(days.i64(3)),
                        static_cast<uint64_t>(days.i64(4)));
      }
      rollup_.flush();
      rollup_.forget_cache();
    }
    if (!had_days) backfill_rollup();
    detail::exec_sql(db_.get(), "DROP TABLE rollup_day");
  }

  // Rolls up every stored record, and fills the reporters' sums of 004.
  void backfill_rollup() {
    Stmt reports(db_.get(), "SELECT id, first_record, first_record + record_count - 1 FROM report "
                            "WHERE record_count > 0 ORDER BY id");
    RecordReader reader(db_.get());
    Stmt said(db_.get(), "UPDATE report SET evaluated_pass=?2, quarantined=?3, rejected=?4 WHERE id=?1");
    while (reports.step()) {
      model::ReportMeta meta = load_meta(reports.i64(0));
      Said tally;
      reader.read(reports.i64(1), reports.i64(2), [&](const model::Record& rec) {
        rollup_.add(meta, rec);
        tally.add(rec);
      });
      said.bind(1, reports.i64(0)).bind(2, static_cast<int64_t>(tally.pass))
          .bind(3, static_cast<int64_t>(tally.quarantined)).bind(4, static_cast<int64_t>(tally.rejected));
      said.exec();
    }
    rollup_.flush();
    rollup_.forget_cache();
  }

  std::unique_ptr<sqlite3, detail::DbDeleter> db_;
  RecordWriter records_{nullptr};
  RollupWriter rollup_{nullptr};
  model::ReportMeta report_meta_;  // as begin_report saw it
  Said said_;                      // what the reporter said of the current report's messages
  std::set<const Stmt*> prepared_;
  Stmt has_message_, insert_message_, insert_report_,
      update_report_, insert_error_, insert_source_, insert_reject_, update_message_, find_report_, load_meta_, load_errors_,
      insert_feedback_, insert_feedback_rcpt_, insert_bounce_;
  bool in_tx_ = false;
  int64_t message_id_ = 0;
  int64_t report_row_ = 0;
  bool duplicate_ = false;
  std::string part_;
  uint64_t record_count_ = 0, message_count_ = 0;
  int64_t first_record_ = 0;
};

model::ReportMeta SqliteStore::load_meta(int64_t id) {
  auto& q = stmt(load_meta_,
                 "SELECT xml_namespace, version, org_name, email, extra_contact_info, report_id, generator, "
                 "begin_ts, end_ts, policy_domain, adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, "
                 "has_extensions FROM report WHERE id=?1");
  q.bind(1, id);
  model::ReportMeta m;
  if (q.step()) m = rows::meta(q);
  q.reset();
  auto& e = stmt(load_errors_, "SELECT text FROM report_error WHERE report_id=?1 ORDER BY seq");
  e.bind(1, id);
  while (e.step()) m.errors.push_back(e.text(0));
  e.reset();
  return m;
}

std::optional<model::ReportMeta> SqliteStore::report_meta(int64_t id) {
  Stmt exists(db_.get(), "SELECT 1 FROM report WHERE id=?1");
  exists.bind(1, id);
  if (!exists.step()) return std::nullopt;
  return load_meta(id);
}

std::optional<ReportStats> SqliteStore::report_stats(int64_t id) {
  Stmt exists(db_.get(), "SELECT 1 FROM report WHERE id=?1");
  exists.bind(1, id);
  if (!exists.step()) return std::nullopt;
  ReportStats s;
  s.meta = load_meta(id);
  Stmt q(db_.get(),
         "SELECT count(*), total(count), count(DISTINCT ip), "
         "total(CASE WHEN dkim_eval='pass' OR spf_eval='pass' THEN count END), "
         "total(CASE WHEN dkim_eval='pass' THEN count END), total(CASE WHEN spf_eval='pass' THEN count END), "
         "total(CASE WHEN disposition IN ('', 'none', 'pass') THEN count END), "
         "total(CASE WHEN disposition='quarantine' THEN count END), "
         "total(CASE WHEN disposition='reject' THEN count END) FROM record "
         "WHERE id BETWEEN (SELECT first_record FROM report WHERE id=?1) "
         "AND (SELECT first_record + record_count - 1 FROM report WHERE id=?1)");
  q.bind(1, id);
  q.step();
  rows::stats(q, s);
  return s;
}

// Records come in report order; each report's records are one id range, so
// its DKIM, SPF and override rows are read with one range scan per table and
// merged, rather than looked up record by record.
RecordReader::RecordReader(sqlite3* db)
    : records_(db, "SELECT id, source_ip, source_ip_raw, count, disposition, dkim_eval, spf_eval, envelope_to, "
                   "envelope_from, header_from, ip FROM record WHERE id BETWEEN ?1 AND ?2 ORDER BY id"),
      dkim_(db, "SELECT record_id, domain, selector, result, human_result FROM dkim_result "
                "WHERE record_id BETWEEN ?1 AND ?2 ORDER BY record_id, seq"),
      spf_(db, "SELECT record_id, domain, scope, result, human_result FROM spf_result "
               "WHERE record_id BETWEEN ?1 AND ?2 ORDER BY record_id, seq"),
      reasons_(db, "SELECT record_id, type, comment FROM override_reason "
                   "WHERE record_id BETWEEN ?1 AND ?2 ORDER BY record_id, seq") {}

void RecordReader::read(int64_t first, int64_t last, const std::function<void(const model::Record&)>& fn) {
  // Steps `q` (already positioned on a row, or done) while its record_id is
  // `id`, filling `items` slot by slot: the slots' strings keep their
  // capacity from record to record, so reading allocates little.
  auto merge = [](Stmt& q, bool& more, int64_t id, auto& items, auto fill) {
    std::size_t n = 0;
    while (more && q.i64(0) < id) more = q.step();  // orphans: none expected
    while (more && q.i64(0) == id) {
      if (n == items.size()) items.emplace_back();
      fill(q, items[n++]);
      more = q.step();
    }
    items.resize(n);
  };
  Stmt& records = records_;
  Stmt& dkim = dkim_;
  Stmt& spf = spf_;
  Stmt& reasons = reasons_;
  model::Record& rec = rec_;
  for (Stmt* q : {&records, &dkim, &spf, &reasons}) q->bind(1, first).bind(2, last);
  bool more_dkim = dkim.step(), more_spf = spf.step(), more_reasons = reasons.step();
  while (records.step()) {
    int64_t id = records.i64(0);
    rec.source_ip.reset();
    if (auto ip = records.blob(10); ip.size() == 16) {
      // The stored 16 bytes, not the text: no parsing per row.
      model::IpAddress a;
      std::copy(ip.begin(), ip.end(), a.bytes.begin());
      static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      // "::ffff:192.0.2.1" written as IPv6 has the same bytes; its text says which.
      a.v4 = std::equal(std::begin(kMapped), std::end(kMapped), a.bytes.begin()) &&
             records.view(1).find(':') == std::string_view::npos;
      rec.source_ip = a;
    }
    rec.source_ip_text.assign(records.view(records.is_null(2) ? 1 : 2));
    rec.count = static_cast<uint64_t>(records.i64(3));
    rec.disposition.assign(records.view(4));
    rec.dkim.assign(records.view(5));
    rec.spf.assign(records.view(6));
    rec.envelope_to.assign(records.view(7));
    rec.envelope_from.assign(records.view(8));
    rec.header_from.assign(records.view(9));
    rec.has_extensions = false;
    merge(dkim, more_dkim, id, rec.dkim_results, [](Stmt& q, model::DkimResult& d) {
      d.domain.assign(q.view(1));
      d.selector.assign(q.view(2));
      d.result.assign(q.view(3));
      d.human_result.assign(q.view(4));
    });
    merge(spf, more_spf, id, rec.spf_results, [](Stmt& q, model::SpfResult& f) {
      f.domain.assign(q.view(1));
      f.scope.assign(q.view(2));
      f.result.assign(q.view(3));
      f.human_result.assign(q.view(4));
    });
    merge(reasons, more_reasons, id, rec.reasons, [](Stmt& q, model::OverrideReason& o) {
      o.type.assign(q.view(1));
      o.comment.assign(q.view(2));
    });
    fn(rec);
  }
  for (Stmt* q : {&records, &dkim, &spf, &reasons}) q->reset();
}

void SqliteStore::for_each_record(const ReportFilter& f, const std::function<void(const ExportRow&)>& fn) {
  // The domain test is spelled out when there is one, so that SQLite can use
  // report_domain_begin ("?1 IS NULL OR ..." would make it scan every report).
  Stmt reports(db_.get(),
               std::string("SELECT id, first_record, first_record + record_count - 1 FROM report WHERE ") +
                   (f.report ? "id=?4 AND " : "") + (f.domain ? "policy_domain=?1" : "?1 IS NULL") +
                   " AND (?2 IS NULL OR end_ts>=?2) AND (?3 IS NULL OR begin_ts<?3) AND record_count > 0 "
                   "ORDER BY begin_ts, org_name, report_id, id");
  bind_filter(reports, f);
  if (f.report) reports.bind(4, *f.report);
  RecordReader reader(db_.get());
  while (reports.step()) {
    model::ReportMeta meta = load_meta(reports.i64(0));
    reader.read(reports.i64(1), reports.i64(2), [&](const model::Record& rec) { fn(ExportRow{&meta, &rec}); });
  }
}

std::vector<StoredFeedback> SqliteStore::list_feedback(std::optional<int64_t> since) {
  Stmt q(db_.get(),
         "SELECT f.id, f.message_id, m.origin, m.ingested_at, f.part, f.kind, f.feedback_type, f.user_agent, f.version, "
         "f.original_envelope_id, f.original_mail_from, f.arrival_date, f.arrival_date_text, f.reporting_mta, "
         "f.source_ip, f.source_ip_raw, f.incidents, f.authentication_results, f.reported_domains, f.reported_uri, "
         "f.removal_recipient, f.auth_failure, f.delivery_result, f.dkim_domain, f.dkim_identity, f.dkim_selector, "
         "f.spf_dns, f.identity_alignment, f.orig_from, f.orig_to, f.orig_subject, f.orig_message_id, f.orig_date, "
         "f.orig_list_unsubscribe, f.orig_return_path, f.orig_dkim_domain, f.orig_dkim_selector, f.orig_headers_only "
         "FROM feedback f JOIN message m ON m.id=f.message_id "
         "WHERE ?1 IS NULL OR coalesce(f.arrival_date, m.ingested_at) >= ?1 ORDER BY f.id");
  if (since) q.bind(1, *since); else q.bind_null(1);
  Stmt rcpt(db_.get(), "SELECT address FROM feedback_rcpt WHERE feedback_id=?1 ORDER BY seq");
  std::vector<StoredFeedback> out;
  while (q.step()) {
    StoredFeedback s = rows::feedback(q);
    model::Feedback& f = s.feedback;
    rcpt.bind(1, s.id);
    while (rcpt.step()) f.original_rcpt_to.push_back(rcpt.text(0));
    rcpt.reset();
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<StoredBounce> SqliteStore::list_bounces(std::optional<int64_t> since) {
  Stmt q(db_.get(),
         "SELECT b.id, b.message_id, m.origin, m.ingested_at, b.rfc3464, b.seen_at, b.recipient, b.original_recipient, "
         "b.action, b.status, b.diagnostic_code, b.remote_mta, b.reporting_mta, b.arrival_date, b.class "
         "FROM bounce b JOIN message m ON m.id=b.message_id WHERE ?1 IS NULL OR b.seen_at >= ?1 ORDER BY b.id");
  if (since) q.bind(1, *since); else q.bind_null(1);
  std::vector<StoredBounce> out;
  while (q.step()) out.push_back(rows::bounce(q));
  return out;
}

void SqliteStore::put_ip_info(const std::vector<IpInfo>& rows) {
  if (rows.empty()) return;
  detail::exec_sql(db_.get(), "BEGIN IMMEDIATE");
  try {
    Stmt q(db_.get(),
           "INSERT OR REPLACE INTO ip_info (ip, ptr_status, ptr, fcrdns, base_domain, service, service_type, "
           "resolved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    for (const auto& r : rows) {
      q.bind(1, r.ip).bind(2, r.ptr_status).bind(3, r.ptr).bind(4, int64_t{r.fcrdns}).bind(5, r.base_domain)
          .bind(6, r.service).bind(7, r.service_type).bind(8, r.resolved_at);
      q.exec();
    }
    detail::exec_sql(db_.get(), "COMMIT");
  } catch (...) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::map<std::string, IpInfo> SqliteStore::load_ip_info() {
  Stmt q(db_.get(),
         "SELECT ip, ptr_status, ptr, fcrdns, base_domain, service, service_type, resolved_at FROM ip_info");
  std::map<std::string, IpInfo> out;
  while (q.step()) {
    IpInfo r = rows::ip_info(q);
    std::string key = r.ip;
    out.emplace(std::move(key), std::move(r));
  }
  return out;
}

}  // namespace

std::string_view to_string(MessageOutcome outcome) {
  switch (outcome) {
    case MessageOutcome::ok: return "ok";
    case MessageOutcome::partial: return "partial";
    case MessageOutcome::rejected: return "rejected";
  }
  return "ok";
}

std::unique_ptr<Store> open_sqlite(const std::string& path, OpenMode mode) {
  return std::make_unique<SqliteStore>(path, mode);
}

int schema_version() { return static_cast<int>(schema::kMigrations.size()); }

}  // namespace dmarq::store
