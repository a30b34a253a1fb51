// copy_store: `dmarq migrate`, through the Store interface only, so that
// it copies between any two backends. Each message is replayed as ingest
// wrote it (one transaction: its reports in part order, their records,
// feedback, bounces and rejected inputs, then its summary), so the target
// dedupes and rolls up exactly as an ingest would. A message the target
// already holds (same SHA-256, origin and ingest time) is skipped, which is
// what makes a rerun, or a run after a crash, safe.
#include <map>
#include <set>
#include <tuple>

#include "dmarq/store/store.h"

namespace dmarq::store {

CopyTotals copy_store(Store& from, Store& to, const std::function<void(uint64_t, uint64_t)>& progress) {
  using Key = std::tuple<std::string, std::string, int64_t>;
  std::set<Key> have;
  for (const auto& m : to.list_messages()) have.emplace(m.info.sha256, m.info.origin, m.info.ingested_at);

  // What each message carried, by message id.
  std::map<int64_t, std::vector<SourceLink>> links;
  for (auto& l : from.list_sources()) links[l.message_id].push_back(std::move(l));
  std::map<int64_t, std::vector<Reject>> rejects;
  for (auto& r : from.list_rejects()) rejects[r.message_id].push_back(std::move(r));
  std::map<int64_t, std::vector<model::Feedback>> feedback;
  for (auto& f : from.list_feedback(std::nullopt)) feedback[f.message_id].push_back(std::move(f.feedback));
  std::map<int64_t, model::Bounce> bounces;
  for (auto& b : from.list_bounces(std::nullopt)) {
    model::Bounce& out = bounces[b.message_id];
    out.rfc3464 = b.rfc3464;
    out.recipients.push_back(std::move(b.recipient));
  }

  CopyTotals totals;
  const auto messages = from.list_messages();
  uint64_t done = 0;
  for (const auto& m : messages) {
    if (progress) progress(done++, messages.size());
    if (have.count({m.info.sha256, m.info.origin, m.info.ingested_at})) {
      ++totals.skipped;
      continue;
    }
    to.begin_message(m.info);
    try {
      for (const auto& l : links[m.id]) {
        const auto found = from.report_meta(l.report);
        if (!found) throw StoreError("migrate: report " + std::to_string(l.report) + " is missing");
        const model::ReportMeta& meta = *found;
        if (to.begin_report(meta, l.part)) {
          ++totals.reports;
          ReportFilter only;
          only.report = l.report;
          from.for_each_record(only, [&](const ExportRow& row) {
            model::Record rec = *row.record;
            to.add_record(rec);
            ++totals.records;
          });
        }
        to.end_report(meta);
      }
      for (const auto& f : feedback[m.id]) to.add_feedback(f);
      if (auto b = bounces.find(m.id); b != bounces.end()) to.add_bounce(b->second);
      for (const auto& r : rejects[m.id]) to.add_reject(r);
      to.commit_message(m.summary);
    } catch (...) {
      to.rollback_message();
      throw;
    }
    ++totals.messages;
  }
  if (progress) progress(done, messages.size());
  to.put_ip_info([&] {
    std::vector<IpInfo> rows;
    for (auto& [ip, info] : from.load_ip_info()) rows.push_back(std::move(info));
    return rows;
  }());
  return totals;
}

}  // namespace dmarq::store
