// Store: where normalized reports live. Two backends: SQLite, the embedded
// default (open_sqlite), and PostgreSQL for many ingest hosts writing one
// database (open_postgres); open_store picks by the --db string.
//
// Write protocol, one message at a time:
//   begin_message -> { begin_report -> add_record* -> end_report | abort_report }*
//                 -> add_reject* -> commit_message | rollback_message
// Everything between begin_message and commit_message is one transaction, so
// a crash loses and duplicates nothing. A report is identified by (org_name,
// report_id, policy domain, begin, end); a second copy is a duplicate and its
// records are not stored again.
//
// Failure mode: environment problems (disk, locked or corrupt database) throw
// StoreError. A Store is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/analyze/days.h"
#include "dmarq/model/aggregate.h"
#include "dmarq/model/feedback.h"
#include "dmarq/model/issue.h"

namespace dmarq::store {

class StoreError : public std::runtime_error {
 public:
  // What a caller can do about it. `conflict`: another writer's transaction
  // crossed this one (a deadlock, a serialization failure); this one was
  // rolled back, and running it again will do. `transient`: the server is
  // going away, lost the connection or ran short of resources; try again
  // later. `other`: anything else.
  enum class Kind { other, conflict, transient };
  explicit StoreError(const std::string& what, Kind kind = Kind::other) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct MessageInfo {
  std::string sha256;
  std::string origin;
  uint64_t size = 0;
  int64_t ingested_at = 0;
};

enum class MessageOutcome { ok, partial, rejected };
std::string_view to_string(MessageOutcome outcome);

struct MessageSummary {
  MessageOutcome outcome = MessageOutcome::ok;
  uint64_t reports_new = 0;
  uint64_t reports_duplicate = 0;
  uint64_t records = 0;
  model::Issues issues;
  std::string kind;  // aggregate, arf, failure, jmrp, bounce, auto_reply, not_report
};

struct Reject {
  std::string origin;
  std::string part;  // empty for the whole message
  std::string code;
  std::string reason;
  int64_t rejected_at = 0;
  int64_t message_id = 0;  // when read back: the message that carried it
};

// A stored message (the ingest log), as read back for `dmarq migrate`.
struct StoredMessage {
  int64_t id = 0;
  MessageInfo info;
  MessageSummary summary;
};

// --- read side -------------------------------------------------------------

struct ReportFilter {
  std::optional<std::string> domain;
  std::optional<int64_t> since;  // report end >= since
  std::optional<int64_t> until;  // report begin < until
  std::optional<int64_t> report;  // that report only (its id)
};

struct ReportSummary {
  int64_t id = 0;
  std::string org_name, report_id, policy_domain, p, sp;
  int64_t begin = 0, end = 0;
  uint64_t records = 0, messages = 0;
  uint64_t copies = 0;  // e-mails/files that carried it
  // Messages the reporter's own policy_evaluated passed (aligned DKIM or
  // SPF), quarantined and rejected.
  uint64_t evaluated_pass = 0, quarantined = 0, rejected = 0;
};

struct SourceLink {  // one (origin, part) that carried a report
  std::string origin, part;
  bool duplicate = false;
  int64_t report = 0;
  int64_t message_id = 0;
};

// A report's metadata with sums over its records.
struct ReportStats {
  model::ReportMeta meta;
  uint64_t records = 0, messages = 0, distinct_ips = 0;
  uint64_t dmarc_pass = 0, dkim_aligned = 0, spf_aligned = 0;  // messages, per policy_evaluated
  uint64_t disposition_none = 0, disposition_quarantine = 0, disposition_reject = 0;
};

// A stored feedback or failure report, or JMRP complaint.
struct StoredFeedback {
  int64_t id = 0, message_id = 0;
  std::string origin;       // of the message that carried it
  int64_t ingested_at = 0;
  model::Feedback feedback;
};

// A stored bounced recipient.
struct StoredBounce {
  int64_t id = 0, message_id = 0;
  std::string origin;
  int64_t ingested_at = 0;
  bool rfc3464 = false;
  int64_t seen_at = 0;  // arrival date, else ingest time
  model::BounceRecipient recipient;
};

// What enrichment learned of one source address (table ip_info).
struct IpInfo {
  std::string ip;          // canonical
  std::string ptr_status;  // ok | nodata | nxdomain
  std::string ptr;         // first PTR name, lower case, no trailing dot
  bool fcrdns = false;     // a PTR name resolves back to the address
  std::string base_domain;
  std::string service;     // mail service name, when one matched
  std::string service_type;
  int64_t resolved_at = 0;
};

// One record with its report, for export.
struct ExportRow {
  const model::ReportMeta* meta = nullptr;
  const model::Record* record = nullptr;
};

class Store {
 public:
  virtual ~Store() = default;

  // Write side.
  virtual bool has_message(const std::string& sha256) = 0;
  virtual void begin_message(const MessageInfo& info) = 0;
  // Returns true when the report is new, false when it is a duplicate (its
  // records are then ignored by add_record).
  virtual bool begin_report(const model::ReportMeta& meta, const std::string& part) = 0;
  // May take the record's contents, leaving it valid but unspecified.
  virtual void add_record(model::Record& record) = 0;
  // Returns true when stored as new, false when it turned out a duplicate.
  virtual bool end_report(const model::ReportMeta& meta) = 0;
  virtual void abort_report() = 0;
  virtual void add_reject(const Reject& reject) = 0;
  virtual void add_feedback(const model::Feedback& feedback) = 0;
  virtual void add_bounce(const model::Bounce& bounce) = 0;
  virtual void commit_message(const MessageSummary& summary) = 0;
  // Rolls back the open message, if any; a no-op otherwise.
  virtual void rollback_message() noexcept = 0;

  // Read side.
  virtual std::vector<ReportSummary> list_reports(const ReportFilter& filter) = 0;
  virtual std::vector<Reject> list_rejects() = 0;
  virtual std::vector<StoredMessage> list_messages() = 0;  // committed ones, in ingest order
  virtual std::vector<SourceLink> list_sources() = 0;
  virtual std::optional<ReportStats> report_stats(int64_t report) = 0;
  // A report's metadata alone (report_stats without its sums over records).
  virtual std::optional<model::ReportMeta> report_meta(int64_t report) = 0;
  virtual void for_each_record(const ReportFilter& filter, const std::function<void(const ExportRow&)>& fn) = 0;
  // The rollups (schema 004): every fact of `domain` (exact, normalized name)
  // with messages in [since, until), once, with its messages per UTC day
  // summed over every report. ExportRow's meta has the fact's policy, no
  // reporter, and begin/end over its first to last day.
  virtual void for_each_fact(const std::string& domain, int64_t since, int64_t until,
                             const std::function<void(const ExportRow&, std::span<const analyze::DayShare>)>& fn) = 0;
  // Feedback and bounces seen (arrival date, else ingest time) at or after `since`.
  virtual std::vector<StoredFeedback> list_feedback(std::optional<int64_t> since) = 0;
  virtual std::vector<StoredBounce> list_bounces(std::optional<int64_t> since) = 0;
  // Enrichment: replaces the rows of the same addresses, in one transaction.
  virtual void put_ip_info(const std::vector<IpInfo>& rows) = 0;
  // Takes the lock named `name` for the life of the store; false when
  // another process holds it. SQLite needs none (its ingest locks the file).
  virtual bool try_lock(const std::string& name) {
    (void)name;
    return true;
  }
  // Every enriched address, keyed by its canonical text.
  virtual std::map<std::string, IpInfo> load_ip_info() = 0;
};

enum class OpenMode { read_write, read_only };

// Opens (creating and migrating when read_write) an SQLite database.
std::unique_ptr<Store> open_sqlite(const std::string& path, OpenMode mode);

// Opens a PostgreSQL database by libpq connection URI (postgresql://...),
// migrating it when read_write. The password is `password` when given (from
// the config's [database] secret), else libpq's PGPASSFILE or ~/.pgpass;
// never the URL.
std::unique_ptr<Store> open_postgres(const std::string& url, OpenMode mode, const std::string& password = {});
bool is_postgres_url(std::string_view db);
// The file a --db that is not a URL names: "sqlite:PATH" or PATH.
std::string sqlite_path(std::string_view db);

// Opens `db` by what it names: a postgresql:// or postgres:// URL, an
// "sqlite:PATH", or else an SQLite file path. Throws StoreError for a URL
// that carries a password.
std::unique_ptr<Store> open_store(const std::string& db, OpenMode mode, const std::string& password = {});

// Copies every committed message of `from` that `to` does not hold yet (by
// SHA-256, origin and ingest time) with its reports, records, feedback,
// bounces and rejected inputs, then the enrichment. Safe to run again.
struct CopyTotals {
  uint64_t messages = 0, skipped = 0, reports = 0, records = 0;
};
CopyTotals copy_store(Store& from, Store& to, const std::function<void(uint64_t done, uint64_t total)>& progress = {});

// Schema version the code expects (the number of migrations).
int schema_version();
int pg_schema_version();

}  // namespace dmarq::store
