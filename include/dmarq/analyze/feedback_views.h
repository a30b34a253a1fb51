// Views of the stored complaints, failure reports and bounces: summaries by
// a key, and the suppression list (who to stop mailing).
//
// A complaint is an ARF report that is not an auth-failure report, or a JMRP
// complaint. Times are the report's arrival date, else when dmarq read it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dmarq/store/store.h"

namespace dmarq::analyze {

enum class ComplaintsBy { ip, domain, type, day };

struct ComplaintRow {
  std::string key;
  uint64_t complaints = 0;
  std::set<std::string> types, reporters;  // feedback types, user agents
  int64_t first_seen = 0, last_seen = 0;
};
std::vector<ComplaintRow> complaints(const std::vector<store::StoredFeedback>& feedback, ComplaintsBy by);

bool is_complaint(const model::Feedback& f);
int64_t seen_at(const store::StoredFeedback& f);

enum class BouncesBy { bounce_class, recipient_domain, status, day };

struct BounceRow {
  std::string key;
  uint64_t recipients = 0;                  // bounced recipient entries
  std::map<std::string, uint64_t> classes;  // hard/soft/policy/unknown -> count
  int64_t first_seen = 0, last_seen = 0;
};
std::vector<BounceRow> bounce_summary(const std::vector<store::StoredBounce>& bounces, BouncesBy by);

// Soft bounces put a recipient on the list once they fall on at least
// `min_days` distinct UTC days spread over at least `min_span_days` days
// (first to last).
struct SoftBounceRule {
  int min_days = 3;
  int min_span_days = 7;
};

struct Suppression {
  std::string address;
  std::string reason;  // complaint, hard_bounce, soft_bounces (several joined by ',')
  int64_t first_seen = 0, last_seen = 0;
  uint64_t count = 0;                 // complaints + bounces of this address that count
  std::vector<std::string> evidence;  // "feedback#ID" / "bounce#ID" (store ids)
};
// Sorted by address.
std::vector<Suppression> suppressions(const std::vector<store::StoredFeedback>& feedback,
                                      const std::vector<store::StoredBounce>& bounces, const SoftBounceRule& rule);

}  // namespace dmarq::analyze
