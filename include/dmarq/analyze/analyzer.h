// The analyzer: per-source, readiness and per-day views of one domain's
// reports over a period, computed from the stored records on each call.
//
// Every record is evaluated (evaluate.h), matched against the known senders
// (senders.h) and its message count spread over UTC days (days.h); the views
// only add those up. Counts are pro-rated to the days of the period, so a
// report that straddles the period's start counts only its share.
//
// Status of a source: "known" when it matches a [senders.NAME] entry;
// "authenticated" when it is not listed but passes aligned DKIM (it holds our
// key, or forwards signed mail intact); "unknown" otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "dmarq/analyze/days.h"
#include "dmarq/analyze/evaluate.h"
#include "dmarq/analyze/senders.h"
#include "dmarq/store/store.h"

namespace dmarq::analyze {

struct Period {
  int64_t since = 0;  // UTC midnight, inclusive
  int64_t until = 0;  // UTC midnight, exclusive
};

enum class Status { known, authenticated, unknown };
std::string_view to_string(Status status);

// One record as the views see it.
struct RecordView {
  const model::ReportMeta* meta = nullptr;
  const model::Record* record = nullptr;
  const Evaluation* eval = nullptr;
  std::string header_from;            // normalized, policy domain when absent
  std::span<const DayShare> days;     // its messages per day inside the period
  uint64_t messages = 0;              // sum of `days`
  Status status = Status::unknown;
  const SenderMatch* match = nullptr;  // when known
  const store::IpInfo* source = nullptr;  // what `dmarq enrich` found, when it ran
};

// The reports a view of `domain` over a period counts (those with records
// whose days reach into it), and the policy of the latest.
struct ReportsSeen {
  uint64_t reports = 0;
  std::string p, sp;
};
// Of Analyzer::reports_in's list.
ReportsSeen reports_seen(const std::vector<store::ReportSummary>& reports);

class Analyzer {
 public:
  Analyzer(store::Store& store, const Senders& senders) : store_(store), senders_(senders) {}
  // Calls `fn` for every record of `domain`'s reports (every domain's when it
  // is empty) that has messages in `period`, in report order.
  void for_each(const std::string& domain, const Period& period, const std::function<void(const RecordView&)>& fn);
  // The same sums from the store's rollups (store.h): `fn` sees each fact
  // once, with its messages per day of the period added up over every
  // report. A fact's view has no reporter (meta->org_name is empty) and its
  // meta's begin and end are whole days; every sum the views make of
  // messages and days equals that of for_each.
  void for_each_fact(const std::string& domain, const Period& period,
                     const std::function<void(const RecordView&)>& fn);
  // The reports of `domain` with records whose days reach into `period`, in
  // the records' order.
  std::vector<store::ReportSummary> reports_in(const std::string& domain, const Period& period);
  const Senders& senders() const { return senders_; }

 private:
  void emit(const model::ReportMeta& meta, const model::Record& rec, std::span<const DayShare> days,
            const std::function<void(const RecordView&)>& fn);

  store::Store& store_;
  const Senders& senders_;
  OrgDomains org_;
  SourceFacts facts_;
  std::optional<std::map<std::string, store::IpInfo>> ip_info_;  // loaded on first use
};

// Which of the two the views read: every record, or the rollups (faster;
// no reporter per source, and first/last seen in whole days).
enum class Via { records, rollup };

// --- sources ---------------------------------------------------------------

enum class GroupBy { ip, sender, reporter };

// By ip, a row is one (source address, header_from) pair; by sender or
// reporter, one name.
struct SourceRow {
  std::string key;  // the address, the sender name, or the reporter
  Status status = Status::unknown;  // for ip and sender rows
  std::string sender, matched;      // sender name and "ip 192.0.2.0/24" etc. when known
  uint64_t messages = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0;
  uint64_t reporter_pass = 0;  // messages the reporters' policy_evaluated passed
  uint64_t disposition_none = 0, disposition_quarantine = 0, disposition_reject = 0;
  std::set<std::string> ips, header_from, envelope_from, dkim_domains, dkim_selectors, reporters;
  std::set<std::string> spf_results, dkim_results;  // raw results seen: "pass", "neutral", ...
  // ip rows, after `dmarq enrich`: the PTR name, whether it resolves back,
  // and the mail service it names (known sender or the shipped map).
  std::string reverse_dns, service;
  bool fcrdns = false;
  int64_t first_seen = 0, last_seen = 0;  // report begin / end
  std::map<Reason, uint64_t> reasons;     // messages per main reason
  Reason main_reason = Reason::aligned;   // the main reason with the most messages
  std::string explanation;                // sentences for main_reason, then its record's other reasons
};

// Rows sorted by messages, then key. `unknown_only` keeps unknown sources.
std::vector<SourceRow> sources(Analyzer& a, const std::string& domain, const Period& period, GroupBy by,
                               bool unknown_only);

// The same view fed one record at a time, so that several views can share
// one pass over the records (`dmarq html` needs all of them).
class SourcesView {
 public:
  // Without `sets`, the rows leave their sets empty but header_from (what
  // `dmarq html` shows), which saves most of the time a row costs.
  SourcesView(GroupBy by, bool unknown_only, bool sets = true);
  ~SourcesView();
  SourcesView(SourcesView&&) noexcept;
  void add(const RecordView& v);
  // Every row, sorted; only the first `explain` get their explanation (the
  // sentences cost the most, and `dmarq html` shows only the biggest rows).
  std::vector<SourceRow> finish(std::size_t explain = SIZE_MAX);

 private:
  struct Groups;
  GroupBy by_;
  bool unknown_only_, sets_;
  std::unique_ptr<Groups> groups_;
};

// --- readiness -------------------------------------------------------------

struct Split {
  uint64_t total = 0;
  uint64_t passes = 0;         // passes today (SPF pass; or DMARC pass)
  uint64_t safe = 0;           // would change, yet still pass DMARC (aligned DKIM) or be spared (override)
  uint64_t known_fail = 0;     // would fail from known or authenticated senders: fix these first
  uint64_t unknown_fail = 0;   // would fail from unknown sources: spoofing, good to block
};

struct Readiness {
  std::string domain;
  Period period;
  std::string p, sp;           // the most recent published policy seen
  uint64_t reports = 0;
  Split spf;                   // SPF to -all
  Split dmarc;                 // DMARC to quarantine/reject
  bool spf_ready = false, dmarc_ready = false;
  std::vector<std::string> actions;  // numbered in output, most important first
  // Messages whose SPF split came from the domain's live record evaluated
  // with "all" as "-all" (the rest from the reporters' SPF results).
  uint64_t spf_live = 0;
  bool ready() const { return spf_ready && dmarc_ready; }
};

// Whether `ip` passes the live SPF record of `domain` once its "all" is
// "-all"; nullopt when that cannot be known (offline, DNS trouble, no
// record), and the reporters' own SPF result is used instead.
using SpfPredictor = std::function<std::optional<bool>(const model::IpAddress& ip, const std::string& domain)>;

Readiness readiness(Analyzer& a, const std::string& domain, const Period& period, const SpfPredictor& spf = {},
                    Via via = Via::rollup);

class ReadinessView {
 public:
  ReadinessView(const std::string& domain, const Period& period, SpfPredictor spf = {});
  ~ReadinessView();
  ReadinessView(ReadinessView&&) noexcept;
  void add(const RecordView& v);
  // The report count and policy from the report table, for views fed with
  // facts (which know no report); call it before the first add().
  void use_reports(const ReportsSeen& seen);
  Readiness finish();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// --- trend -----------------------------------------------------------------

struct TrendDay {
  int64_t day = 0;
  uint64_t messages = 0, dmarc_pass = 0, unknown = 0;
  // DMARC failures from known or authenticated senders, and from unknown
  // sources (messages - dmarc_pass = fail_known + fail_unknown).
  uint64_t fail_known = 0, fail_unknown = 0;
};
// One entry per day of the period, including days without data.
std::vector<TrendDay> trend(Analyzer& a, const std::string& domain, const Period& period, Via via = Via::rollup);

class TrendView {
 public:
  explicit TrendView(const Period& period);
  void add(const RecordView& v);
  std::vector<TrendDay> finish() { return std::move(days_); }

 private:
  Period period_;
  std::vector<TrendDay> days_;
};

// --- overview --------------------------------------------------------------

// Everything `dmarq html` shows of one domain, from one pass over its records.
// One reporting organisation: its reports that reach into the period, whole.
struct ReporterRow {
  std::string org_name;
  uint64_t reports = 0, records = 0, messages = 0;
  uint64_t evaluated_pass = 0, quarantined = 0, rejected = 0;  // as the reporter itself judged
  int64_t first_begin = 0, last_end = 0;
};
// By messages, then name.
// Of Analyzer::reports_in's list.
std::vector<ReporterRow> reporters(const std::vector<store::ReportSummary>& reports);

// Source rows past the ones an overview keeps, summed up.
struct SourcesRest {
  uint64_t rows = 0, messages = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0;
  uint64_t unknown_fail = 0;  // messages failing DMARC in rows whose status is unknown
};

struct Overview {
  Readiness readiness;
  std::vector<TrendDay> trend;
  std::vector<SourceRow> sources;  // by ip, the biggest `keep_sources`
  SourcesRest rest;                // the others
  std::vector<ReporterRow> reporters;
  uint64_t unknown_sources = 0;  // distinct unknown source addresses, kept rows and rest
};
Overview overview(Analyzer& a, const std::string& domain, const Period& period, const SpfPredictor& spf = {},
                  Via via = Via::rollup, std::size_t keep_sources = SIZE_MAX);

// --- senders ---------------------------------------------------------------

struct SenderUse {
  std::string name;
  std::map<std::string, uint64_t> matched;  // "ip 192.0.2.0/24" -> messages
  uint64_t messages = 0, dmarc_pass = 0;
  std::set<std::string> ips, domains;  // sources and policy domains seen
};
// Every configured sender in file order, with what it matched over the
// period, in `domain` or in every domain when it is empty.
std::vector<SenderUse> sender_usage(Analyzer& a, const std::string& domain, const Period& period);

}  // namespace dmarq::analyze
