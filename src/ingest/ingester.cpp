#include "dmarq/ingest/ingester.h"

#include "dmarq/ingest/extractor.h"

namespace dmarq::ingest {

using model::Issue;
using model::Severity;

void Loader::begin_message(const store::MessageInfo& info, bool readable) {
  result_ = Result{};
  report_records_ = 0;
  completed_ = 0;
  // The same bytes were stored before: a no-op. Unreadable inputs have no
  // bytes to compare and are always recorded.
  skip_ = readable && store_.has_message(info.sha256);
  if (skip_) {
    result_.outcome = Outcome::duplicate;
    return;
  }
  store_.begin_message(info);
}

void Loader::begin_report(const model::ReportMeta& meta, const std::string& part) {
  if (skip_) return;
  store_.begin_report(meta, part);
  report_records_ = 0;
}

void Loader::record(model::Record& record) {
  if (skip_) return;
  store_.add_record(record);
  ++report_records_;
}

void Loader::end_report(const model::ReportMeta& meta) {
  if (skip_) return;
  ++completed_;
  if (store_.end_report(meta)) {
    ++result_.reports_new;
    result_.records += report_records_;
  } else {
    ++result_.reports_duplicate;
  }
}

void Loader::abort_report() {
  if (!skip_) store_.abort_report();
}

void Loader::reject(const store::Reject& r) {
  if (skip_) return;
  std::string where = r.part.empty() || r.part == "-" ? std::string() : "part " + r.part;
  result_.issues.push_back(Issue{r.code, Severity::error, r.reason, where});
  result_.rejects.push_back(r);
}

void Loader::warning(const model::Issue& issue) {
  if (!skip_) result_.issues.push_back(issue);
}

void Loader::feedback(const model::Feedback& f) {
  if (skip_) return;
  store_.add_feedback(f);
  ++result_.feedback;
}

void Loader::bounce(const model::Bounce& b) {
  if (skip_) return;
  store_.add_bounce(b);
  result_.bounced_recipients += b.recipients.size();
}

void Loader::kind(const std::string& kind) { result_.kind = kind; }

void Loader::end_message() {
  if (skip_) return;
  for (const auto& r : result_.rejects) store_.add_reject(r);
  if (result_.rejects.empty()) result_.outcome = Outcome::ok;
  else if (completed_ > 0) result_.outcome = Outcome::partial;
  else result_.outcome = Outcome::rejected;

  store::MessageSummary summary;
  summary.outcome = result_.outcome == Outcome::ok        ? store::MessageOutcome::ok
                    : result_.outcome == Outcome::partial ? store::MessageOutcome::partial
                                                          : store::MessageOutcome::rejected;
  summary.kind = result_.kind;
  summary.reports_new = result_.reports_new;
  summary.reports_duplicate = result_.reports_duplicate;
  summary.records = result_.records;
  summary.issues = result_.issues;
  store_.commit_message(summary);
}

void Loader::abandon() noexcept { store_.rollback_message(); }

Result Ingester::ingest(const source::RawMessage& message, int64_t now) {
  try {
    extract(message, now, limits_, loader_);
  } catch (...) {
    loader_.abandon();
    throw;
  }
  return loader_.result();
}

}  // namespace dmarq::ingest
