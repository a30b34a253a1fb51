#include "dmarq/analyze/feedback_views.h"

#include <algorithm>
#include <unordered_map>

#include "dmarq/analyze/days.h"
#include "dmarq/util/text.h"

namespace dmarq::analyze {
namespace {

std::string domain_of_address(std::string_view address) {
  auto at = address.rfind('@');
  std::string d(at == std::string_view::npos ? std::string_view() : address.substr(at + 1));
  for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!d.empty() && (d.back() == '>' || d.back() == ' ')) d.pop_back();
  return d;
}

template <typename Row>
void see(Row& r, int64_t t) {
  if (r.first_seen == 0 || t < r.first_seen) r.first_seen = t;
  r.last_seen = std::max(r.last_seen, t);
}

template <typename Row>
std::vector<Row> sorted(std::unordered_map<std::string, Row>& rows, uint64_t Row::*count) {
  std::vector<Row> out;
  for (auto& [k, r] : rows) out.push_back(std::move(r));
  std::sort(out.begin(), out.end(), [count](const Row& a, const Row& b) {
    return a.*count != b.*count ? a.*count > b.*count : a.key < b.key;
  });
  return out;
}

}  // namespace

bool is_complaint(const model::Feedback& f) { return f.kind == "jmrp" || (f.kind == "arf" && f.feedback_type != "auth-failure"); }

int64_t seen_at(const store::StoredFeedback& f) { return f.feedback.arrival_date.value_or(f.ingested_at); }

std::vector<ComplaintRow> complaints(const std::vector<store::StoredFeedback>& feedback, ComplaintsBy by) {
  std::unordered_map<std::string, ComplaintRow> rows;
  for (const auto& s : feedback) {
    const model::Feedback& f = s.feedback;
    if (!is_complaint(f)) continue;
    std::string key;
    switch (by) {
      case ComplaintsBy::ip:
        key = f.source_ip ? f.source_ip->to_string() : (f.source_ip_text.empty() ? "(none)" : f.source_ip_text);
        break;
      case ComplaintsBy::domain:
        key = !f.reported_domain.empty() ? f.reported_domain.front() : domain_of_address(f.original.from);
        if (key.empty()) key = "(none)";
        break;
      case ComplaintsBy::type: key = f.feedback_type.empty() ? "(none)" : f.feedback_type; break;
      case ComplaintsBy::day: key = util::iso_date_utc(seen_at(s)); break;
    }
    ComplaintRow& r = rows[key];
    r.key = key;
    ++r.complaints;
    r.types.insert(f.feedback_type);
    if (!f.user_agent.empty()) r.reporters.insert(f.user_agent);
    else if (f.kind == "jmrp") r.reporters.insert("Microsoft JMRP");
    see(r, seen_at(s));
  }
  return sorted(rows, &ComplaintRow::complaints);
}

std::vector<BounceRow> bounce_summary(const std::vector<store::StoredBounce>& bounces, BouncesBy by) {
  std::unordered_map<std::string, BounceRow> rows;
  for (const auto& b : bounces) {
    const auto& r = b.recipient;
    std::string key;
    switch (by) {
      case BouncesBy::bounce_class: key = r.bounce_class; break;
      case BouncesBy::recipient_domain: key = domain_of_address(r.recipient); break;
      case BouncesBy::status: key = r.status; break;
      case BouncesBy::day: key = util::iso_date_utc(b.seen_at); break;
    }
    if (key.empty()) key = "(none)";
    BounceRow& row = rows[key];
    row.key = key;
    ++row.recipients;
    ++row.classes[r.bounce_class];
    see(row, b.seen_at);
  }
  return sorted(rows, &BounceRow::recipients);
}

std::vector<Suppression> suppressions(const std::vector<store::StoredFeedback>& feedback,
                                      const std::vector<store::StoredBounce>& bounces, const SoftBounceRule& rule) {
  std::map<std::string, Suppression> out;
  std::map<std::string, std::set<std::string>> reasons;
  auto add = [&](const std::string& address, const std::string& reason, int64_t t, const std::string& evidence) {
    if (address.empty()) return;
    Suppression& s = out[address];
    s.address = address;
    reasons[address].insert(reason);
    see(s, t);
    ++s.count;
    s.evidence.push_back(evidence);
  };
  for (const auto& s : feedback) {
    const model::Feedback& f = s.feedback;
    bool complainant = f.kind == "jmrp" || (f.kind == "arf" && f.feedback_type == "abuse");
    if (!complainant) continue;
    for (const auto& a : f.original_rcpt_to) add(a, "complaint", seen_at(s), "feedback#" + std::to_string(s.id));
  }
  // Soft bounces per recipient: the days they fell on.
  std::map<std::string, std::vector<const store::StoredBounce*>> soft;
  for (const auto& b : bounces) {
    const auto& r = b.recipient;
    if (r.bounce_class == "hard") add(r.recipient, "hard_bounce", b.seen_at, "bounce#" + std::to_string(b.id));
    else if (r.bounce_class == "soft" && !r.recipient.empty()) soft[r.recipient].push_back(&b);
  }
  for (const auto& [address, list] : soft) {
    std::set<int64_t> days;
    for (const auto* b : list) days.insert(utc_day(b->seen_at));
    int64_t span = (*days.rbegin() - *days.begin()) / 86400;
    if (static_cast<int>(days.size()) < rule.min_days || span < rule.min_span_days) continue;
    for (const auto* b : list) add(address, "soft_bounces", b->seen_at, "bounce#" + std::to_string(b->id));
  }
  std::vector<Suppression> list;
  for (auto& [address, s] : out) {
    for (const auto& r : reasons[address]) s.reason += (s.reason.empty() ? "" : ",") + r;
    list.push_back(std::move(s));
  }
  return list;
}

}  // namespace dmarq::analyze
