#include "dmarq/analyze/analyzer.h"

#include <algorithm>
#include <fmt/format.h>
#include <unordered_map>
#include <unordered_set>

namespace dmarq::analyze {
namespace {

constexpr int64_t kDay = 86400;

// A known sender's failing mail may be this share of the total and still
// count as ready: forwarding and one-off misroutes never quite reach zero.
constexpr double kReadyTolerance = 0.001;

bool within(uint64_t fails, uint64_t total) {
  return total > 0 && static_cast<double>(fails) <= kReadyTolerance * static_cast<double>(total);
}

std::string percent(uint64_t part, uint64_t total) {
  if (total == 0) return "0%";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(total));
}

std::string source_key(const model::Record& r) {
  if (r.source_ip) return r.source_ip->to_string();
  return r.source_ip_text.empty() ? "(no address)" : r.source_ip_text;
}

bool is_override_spared(std::string_view type) {
  return type == "forwarded" || type == "trusted_forwarder" || type == "mailing_list" || type == "local_policy";
}

}  // namespace

std::string_view to_string(Status status) {
  switch (status) {
    case Status::known: return "known";
    case Status::authenticated: return "authenticated";
    case Status::unknown: return "unknown";
  }
  return "unknown";
}

void Analyzer::for_each(const std::string& domain, const Period& period,
                        const std::function<void(const RecordView&)>& fn) {
  store::ReportFilter filter;
  if (!domain.empty()) filter.domain = normalize_domain(domain);
  filter.since = period.since;
  filter.until = period.until;

  std::vector<DayShare> all, days;
  store_.for_each_record(filter, [&](const store::ExportRow& row) {
    day_shares(row.meta->begin, row.meta->end, row.record->count, all);
    days.clear();
    for (const auto& d : all)
      if (d.day >= period.since && d.day < period.until) days.push_back(d);
    emit(*row.meta, *row.record, days, fn);
  });
}

void Analyzer::for_each_fact(const std::string& domain, const Period& period,
                             const std::function<void(const RecordView&)>& fn) {
  store_.for_each_fact(normalize_domain(domain), period.since, period.until,
                       [&](const store::ExportRow& row, std::span<const DayShare> days) {
                         emit(*row.meta, *row.record, days, fn);
                       });
}

std::vector<store::ReportSummary> Analyzer::reports_in(const std::string& domain, const Period& period) {
  store::ReportFilter filter;
  filter.domain = normalize_domain(domain);
  filter.since = period.since;
  filter.until = period.until;
  auto all = store_.list_reports(filter);
  std::vector<store::ReportSummary> out;
  for (auto& r : all) {
    if (r.records == 0) continue;
    DayRange days = report_days(r.begin, r.end);
    if (days.last < period.since || days.first >= period.until) continue;
    out.push_back(std::move(r));
  }
  return out;
}

ReportsSeen reports_seen(const std::vector<store::ReportSummary>& reports) {
  ReportsSeen out;
  int64_t latest = INT64_MIN;
  // In the records' order (begin, reporter, report id), the last of the
  // latest reports gives the policy, as the record views see it.
  for (const auto& r : reports) {
    ++out.reports;
    if (r.begin >= latest) {
      latest = r.begin;
      out.p = r.p;
      out.sp = r.sp;
    }
  }
  return out;
}

void Analyzer::emit(const model::ReportMeta& meta, const model::Record& rec, std::span<const DayShare> days,
                    const std::function<void(const RecordView&)>& fn) {
  if (days.empty()) return;
  uint64_t messages = 0;
  for (const auto& d : days) messages += d.count;
  if (!ip_info_) ip_info_ = store_.load_ip_info();

  Evaluation eval = evaluate(rec, meta.policy, org_);
  facts_.ip = rec.source_ip;
  // A forward-confirmed PTR name lets ptr_suffixes rules match.
  const store::IpInfo* info = nullptr;
  facts_.ptr_names.clear();
  if (rec.source_ip && !ip_info_->empty())
    if (auto it = ip_info_->find(rec.source_ip->to_string()); it != ip_info_->end()) {
      info = &it->second;
      if (info->fcrdns && !info->ptr.empty()) facts_.ptr_names.push_back(info->ptr);
    }
  facts_.dkim_domains.clear();
  for (const auto& d : rec.dkim_results)
    if (d.result == "pass") facts_.dkim_domains.push_back(normalize_domain(d.domain));
  std::optional<SenderMatch> match = senders_.match(facts_);

  RecordView v;
  v.meta = &meta;
  v.record = &rec;
  v.eval = &eval;
  v.header_from = normalize_domain(rec.header_from.empty() ? meta.policy.domain : rec.header_from);
  v.days = days;
  v.messages = messages;
  v.status = match ? Status::known : eval.dkim_aligned ? Status::authenticated : Status::unknown;
  v.match = match ? &*match : nullptr;
  v.source = info;
  fn(v);
}

// --- sources -------------------------------------------------------------------

namespace {

struct Example {  // the record that explains a reason best: the one with most messages
  uint64_t messages = 0;
  Evaluation eval;
  std::string header_from;
};

struct Group {
  SourceRow row;
  std::map<std::string, uint64_t> senders;  // name -> messages, for ip rows
  std::map<std::string, std::string> matched_by;
  uint64_t authenticated = 0;
  std::map<Reason, Example> examples;
};

}  // namespace

struct SourcesView::Groups {
  std::unordered_map<std::string, Group> map;
  std::string key;  // reused: most records add to a group that exists
};

SourcesView::SourcesView(GroupBy by, bool unknown_only, bool sets)
    : by_(by), unknown_only_(unknown_only), sets_(sets), groups_(std::make_unique<Groups>()) {}
SourcesView::~SourcesView() = default;
SourcesView::SourcesView(SourcesView&&) noexcept = default;

std::vector<SourceRow> sources(Analyzer& a, const std::string& domain, const Period& period, GroupBy by,
                               bool unknown_only) {
  SourcesView view(by, unknown_only);
  a.for_each(domain, period, [&](const RecordView& v) { view.add(v); });
  return view.finish();
}

void SourcesView::add(const RecordView& v) {
  const GroupBy by = by_;
  auto& groups = groups_->map;
  std::string& key = groups_->key;
  const model::Record& rec = *v.record;
  switch (by) {
    case GroupBy::ip:
      key = source_key(rec);
      key += '\0';
      key += v.header_from;
      break;
    case GroupBy::sender:
      key = v.match ? v.match->sender->name
            : v.status == Status::authenticated ? "(authenticated)" : "(unknown)";
      break;
    case GroupBy::reporter: key = v.meta->org_name; break;
  }
  auto found = groups.find(key);
  const bool fresh = found == groups.end();
  if (fresh) found = groups.try_emplace(key).first;
  Group& g = found->second;
  SourceRow& r = g.row;
  const Evaluation& e = *v.eval;
  if (fresh) {
    r.key = by == GroupBy::ip ? source_key(rec) : key;
    r.first_seen = v.meta->begin;
    r.last_seen = v.meta->end;
    if (by == GroupBy::ip && v.source) {
      r.reverse_dns = v.source->ptr;
      r.fcrdns = v.source->fcrdns;
      r.service = v.source->service;
    }
  }
  r.messages += v.messages;
  if (e.dmarc_pass) r.dmarc_pass += v.messages;
  if (e.spf_aligned) r.spf_aligned += v.messages;
  if (e.dkim_aligned) r.dkim_aligned += v.messages;
  if (e.reporter_pass) r.reporter_pass += v.messages;
  if (rec.disposition == "quarantine") r.disposition_quarantine += v.messages;
  else if (rec.disposition == "reject") r.disposition_reject += v.messages;
  else r.disposition_none += v.messages;
  // An ip row's key holds its header_from: one name, set when it is new.
  if (fresh || by != GroupBy::ip) r.header_from.insert(v.header_from);
  if (sets_) {
    r.ips.insert(source_key(rec));
    if (!rec.envelope_from.empty()) r.envelope_from.insert(normalize_domain(rec.envelope_from));
    for (const auto& d : rec.dkim_results) {
      if (!d.domain.empty()) r.dkim_domains.insert(normalize_domain(d.domain));
      if (!d.selector.empty()) r.dkim_selectors.insert(d.selector);
      r.dkim_results.insert(d.result.empty() ? "none" : d.result);
    }
    if (rec.dkim_results.empty()) r.dkim_results.insert("none");
    r.spf_results.insert(e.spf_result);
    r.reporters.insert(v.meta->org_name);
  }
  r.first_seen = std::min(r.first_seen, v.meta->begin);
  r.last_seen = std::max(r.last_seen, v.meta->end);
  if (v.match) {
    g.senders[v.match->sender->name] += v.messages;
    std::string& how = g.matched_by[v.match->sender->name];  // the last record's rule, as before
    how.assign(v.match->kind).append(" ").append(v.match->value);
  }
  if (v.status == Status::authenticated) g.authenticated += v.messages;
  Reason main = e.main();
  r.reasons[main] += v.messages;
  Example& ex = g.examples[main];
  if (ex.header_from.empty() || v.messages > ex.messages) {
    ex.messages = v.messages;
    ex.eval = e;
    ex.header_from = v.header_from;
  }
}

std::vector<SourceRow> SourcesView::finish(std::size_t explain) {
  const bool unknown_only = unknown_only_;
  std::vector<Group*> kept;  // sorted as pointers: a row is large to move
  for (auto& [key, g] : groups_->map) {
    SourceRow& r = g.row;
    if (!g.senders.empty()) {
      auto best = std::max_element(g.senders.begin(), g.senders.end(),
                                   [](const auto& x, const auto& y) { return x.second < y.second; });
      r.status = Status::known;
      r.sender = best->first;
      r.matched = g.matched_by[best->first];
    } else {
      r.status = g.authenticated > 0 ? Status::authenticated : Status::unknown;
    }
    if (unknown_only && r.status != Status::unknown) continue;
    auto best = std::max_element(r.reasons.begin(), r.reasons.end(), [](const auto& x, const auto& y) {
      return x.second < y.second;  // ties: the earlier (more actionable) reason
    });
    if (best != r.reasons.end()) r.main_reason = best->first;
    kept.push_back(&g);
  }
  std::sort(kept.begin(), kept.end(), [](const Group* gx, const Group* gy) {
    const SourceRow &x = gx->row, &y = gy->row;
    if (x.messages != y.messages) return x.messages > y.messages;
    return x.key != y.key ? x.key < y.key : x.header_from < y.header_from;
  });
  std::vector<SourceRow> out;
  out.reserve(kept.size());
  for (Group* g : kept) {
    SourceRow& r = g->row;
    if (out.size() < explain && !r.reasons.empty()) {
      const Example& ex = g->examples[r.main_reason];
      r.explanation = sentence(r.main_reason, ex.eval, ex.header_from);
      // The other reasons say what else to fix; not worth saying when DMARC
      // passes on DKIM, nor for forwarded mail, which is not the sender's.
      bool more = r.main_reason != Reason::aligned && r.main_reason != Reason::dkim_only &&
                  r.main_reason != Reason::forwarded;
      for (std::size_t i = 1; more && i < ex.eval.reasons.size(); ++i) {
        r.explanation += ' ';
        r.explanation += sentence(ex.eval.reasons[i], ex.eval, ex.header_from);
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

// --- readiness -----------------------------------------------------------------

namespace {

// What a failing known source needs, keyed by the action's text so that each
// is said once, ordered by the messages it would fix.
struct Actions {
  std::map<std::string, uint64_t> weight;
  void add(std::string text, uint64_t messages) { weight[std::move(text)] += messages; }
  std::vector<std::string> sorted() const {
    std::vector<std::pair<std::string, uint64_t>> v(weight.begin(), weight.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    std::vector<std::string> out;
    for (auto& [text, n] : v) out.push_back(text);
    return out;
  }
};

std::string who(const RecordView& v) {
  std::string ip = source_key(*v.record);
  return v.match ? fmt::format("{} ({})", ip, v.match->sender->name) : ip;
}

// What a known source needs so that DMARC holds without it: aligned DKIM
// (the part that survives forwarding), and when it has none, SPF too.
void fix_for(const RecordView& v, Actions& out) {
  const Evaluation& e = *v.eval;
  if (e.dkim_aligned) return;
  const std::string& hf = v.header_from;
  uint64_t n = v.messages;
  if (!e.dkim_domain.empty() && e.dkim_result != "pass" && e.dkim_result != "none" &&
      domain_is_under(e.dkim_domain, hf))
    out.add(fmt::format("Fix DKIM for d={} s={}: its signatures do not verify. Publish the public key at "
                        "{}._domainkey.{}, or sign with the selector whose key is published.",
                        e.dkim_domain, e.dkim_selector, e.dkim_selector, e.dkim_domain),
            n);
  else if (!e.dkim_domain.empty() && e.dkim_result == "pass")
    out.add(fmt::format("{} signs with d={} only: publish a DKIM key for {} at that sender and sign with d={}.",
                        who(v), e.dkim_domain, hf, hf),
            n);
  else
    out.add(fmt::format("Sign mail from {} with DKIM for d={}.", who(v), hf), n);
  if (e.spf_aligned) return;
  const auto& ip = v.record->source_ip;
  std::string spf_domain = e.spf_domain.empty() ? hf : e.spf_domain;
  if (e.spf_result == "pass")
    out.add(fmt::format("{} passes SPF for {}, not aligned with {}: set up a custom return-path under {}.", who(v),
                        spf_domain, hf, hf),
            n);
  else
    out.add(fmt::format("Authorize {} in the SPF record of {}: add {} (SPF says {} today).", who(v), spf_domain,
                        ip ? fmt::format("{}:{}", ip->v4 ? "ip4" : "ip6", ip->to_string()) : "its address",
                        e.spf_result),
            n);
}

}  // namespace

struct ReadinessView::State {
  Readiness out;
  SpfPredictor spf;
  Actions actions;
  std::set<std::string> reports;
  int64_t latest = INT64_MIN;
  uint64_t authenticated_unlisted = 0;
  std::unordered_set<std::string> unlisted;  // only counted
  std::optional<ReportsSeen> reports_seen;
};

ReadinessView::ReadinessView(const std::string& domain, const Period& period, SpfPredictor spf)
    : s_(std::make_unique<State>()) {
  s_->out.domain = normalize_domain(domain);
  s_->out.period = period;
  s_->spf = std::move(spf);
}
ReadinessView::~ReadinessView() = default;
ReadinessView::ReadinessView(ReadinessView&&) noexcept = default;

Readiness readiness(Analyzer& a, const std::string& domain, const Period& period, const SpfPredictor& spf,
                    Via via) {
  ReadinessView view(domain, period, spf);
  if (via == Via::records) {
    a.for_each(domain, period, [&](const RecordView& v) { view.add(v); });
  } else {
    view.use_reports(reports_seen(a.reports_in(domain, period)));
    a.for_each_fact(domain, period, [&](const RecordView& v) { view.add(v); });
  }
  return view.finish();
}

void ReadinessView::use_reports(const ReportsSeen& seen) {
  s_->reports_seen = seen;
}

void ReadinessView::add(const RecordView& v) {
  Readiness& out = s_->out;
  const SpfPredictor& spf = s_->spf;
  Actions& actions = s_->actions;
  auto& reports = s_->reports;
  int64_t& latest = s_->latest;
  uint64_t& authenticated_unlisted = s_->authenticated_unlisted;
  auto& unlisted = s_->unlisted;
  const Evaluation& e = *v.eval;
  uint64_t n = v.messages;
  if (!s_->reports_seen) reports.insert(v.meta->org_name + '\0' + v.meta->report_id);
  if (v.meta->begin >= latest) {
    latest = v.meta->begin;
    out.p = v.meta->policy.p;
    out.sp = v.meta->policy.sp;
  }
  bool known = v.status != Status::unknown;

  // SPF to -all: the live record evaluated with -all says what passes;
  // without it, every reported result that is not pass becomes fail.
  out.spf.total += n;
  std::optional<bool> live;
  if (spf && v.record->source_ip && !e.spf_domain.empty()) live = spf(*v.record->source_ip, e.spf_domain);
  if (live) out.spf_live += n;
  if (live ? *live : e.spf_result == "pass") out.spf.passes += n;
  else if (e.dkim_aligned) out.spf.safe += n;
  else if (known) out.spf.known_fail += n;
  else out.spf.unknown_fail += n;

  // DMARC to quarantine/reject: every DMARC failure is acted on, unless
  // the receiver overrides (it told us it did, for forwarded mail).
  out.dmarc.total += n;
  if (e.dmarc_pass) out.dmarc.passes += n;
  else if (is_override_spared(e.override_type)) out.dmarc.safe += n;
  else if (known) out.dmarc.known_fail += n;
  else out.dmarc.unknown_fail += n;

  if (v.status == Status::known) fix_for(v, actions);
  if (v.status == Status::authenticated) {
    authenticated_unlisted += n;
    unlisted.insert(source_key(*v.record));
  }
}

Readiness ReadinessView::finish() {
  Readiness out = std::move(s_->out);
  const Actions& actions = s_->actions;
  const auto& unlisted = s_->unlisted;
  const uint64_t authenticated_unlisted = s_->authenticated_unlisted;
  out.reports = s_->reports.size();
  if (s_->reports_seen) {
    out.reports = s_->reports_seen->reports;
    out.p = s_->reports_seen->p;
    out.sp = s_->reports_seen->sp;
  }
  out.spf_ready = within(out.spf.known_fail, out.spf.total);
  out.dmarc_ready = within(out.dmarc.known_fail, out.dmarc.total);

  if (out.spf.total == 0) {
    out.actions.push_back(fmt::format("No reports for {} in this period: publish a DMARC record with rua= and "
                                      "wait for reports before changing anything.", out.domain));
    return out;
  }
  out.actions = actions.sorted();
  if (out.dmarc.unknown_fail > 0)
    out.actions.push_back(fmt::format(
        "Unknown sources sent {} messages that fail DMARC ({}). If any of them is yours, list it under "
        "[senders.NAME] in the config; the rest is spoofing or forwarding that p=reject would block.",
        out.dmarc.unknown_fail, percent(out.dmarc.unknown_fail, out.dmarc.total)));
  if (!unlisted.empty())
    out.actions.push_back(fmt::format("{} source(s) pass aligned DKIM but are not listed ({} messages): add them "
                                      "to [senders] so that they are tracked.",
                                      unlisted.size(), authenticated_unlisted));
  if (out.spf_ready)
    out.actions.push_back(fmt::format("SPF is ready: change the SPF record of {} to end in -all.", out.domain));
  else
    out.actions.push_back("Do not end SPF in -all yet: first make the known senders above pass, then change the "
                          "record's last term to -all.");
  if (out.dmarc_ready) {
    if (out.p == "none" || out.p.empty())
      out.actions.push_back(fmt::format("DMARC is ready: move {} to p=quarantine (with pct= to go step by step), "
                                        "then to p=reject.", out.domain));
    else if (out.p == "quarantine")
      out.actions.push_back(fmt::format("DMARC is ready: move {} from p=quarantine to p=reject.", out.domain));
  } else {
    out.actions.push_back(fmt::format("Keep p={} until the known senders above pass DMARC.",
                                      out.p.empty() ? "none" : out.p));
  }
  return out;
}

// --- trend -----------------------------------------------------------------------

TrendView::TrendView(const Period& period) : period_(period) {
  for (int64_t d = period.since; d < period.until; d += kDay) days_.push_back({d});
}

void TrendView::add(const RecordView& v) {
  for (const auto& share : v.days) {
    if (share.day < period_.since) continue;
    auto i = static_cast<std::size_t>((share.day - period_.since) / kDay);
    if (i >= days_.size()) continue;
    TrendDay& d = days_[i];
    d.messages += share.count;
    if (v.status == Status::unknown) d.unknown += share.count;
    if (v.eval->dmarc_pass) d.dmarc_pass += share.count;
    else if (v.status == Status::unknown) d.fail_unknown += share.count;
    else d.fail_known += share.count;
  }
}

std::vector<TrendDay> trend(Analyzer& a, const std::string& domain, const Period& period, Via via) {
  TrendView view(period);
  auto add = [&](const RecordView& v) { view.add(v); };
  if (via == Via::records) a.for_each(domain, period, add);
  else a.for_each_fact(domain, period, add);
  return view.finish();
}

// --- overview ------------------------------------------------------------------

std::vector<ReporterRow> reporters(const std::vector<store::ReportSummary>& reports) {
  std::map<std::string, ReporterRow> rows;
  for (const auto& r : reports) {
    ReporterRow& row = rows[r.org_name];
    if (row.reports == 0) {
      row.org_name = r.org_name;
      row.first_begin = r.begin;
      row.last_end = r.end;
    }
    ++row.reports;
    row.records += r.records;
    row.messages += r.messages;
    row.evaluated_pass += r.evaluated_pass;
    row.quarantined += r.quarantined;
    row.rejected += r.rejected;
    row.first_begin = std::min(row.first_begin, r.begin);
    row.last_end = std::max(row.last_end, r.end);
  }
  std::vector<ReporterRow> out;
  for (auto& [name, row] : rows) out.push_back(std::move(row));
  std::stable_sort(out.begin(), out.end(),
                   [](const ReporterRow& x, const ReporterRow& y) { return x.messages > y.messages; });
  return out;
}

Overview overview(Analyzer& a, const std::string& domain, const Period& period, const SpfPredictor& spf, Via via,
                  std::size_t keep_sources) {
  ReadinessView ready(domain, period, spf);
  TrendView trend(period);
  SourcesView by_ip(GroupBy::ip, false, via == Via::records);
  auto add = [&](const RecordView& v) {
    ready.add(v);
    trend.add(v);
    by_ip.add(v);
  };
  // One read of the report table serves the reporters and, through the
  // rollups, readiness's report count and policy.
  const auto reports = a.reports_in(domain, period);
  if (via == Via::records) {
    a.for_each(domain, period, add);
  } else {
    ready.use_reports(reports_seen(reports));
    a.for_each_fact(domain, period, add);
  }
  Overview out{ready.finish(), trend.finish(), by_ip.finish(keep_sources), {}, reporters(reports), 0};
  // Rows are (address, header From); an address counts once.
  std::unordered_set<std::string_view> unknown;
  for (const auto& r : out.sources)
    if (r.status == Status::unknown) unknown.insert(r.key);
  out.unknown_sources = unknown.size();
  if (out.sources.size() > keep_sources) {
    SourcesRest& rest = out.rest;
    for (auto r = out.sources.begin() + static_cast<std::ptrdiff_t>(keep_sources); r != out.sources.end(); ++r) {
      ++rest.rows;
      rest.messages += r->messages;
      rest.dmarc_pass += r->dmarc_pass;
      rest.spf_aligned += r->spf_aligned;
      rest.dkim_aligned += r->dkim_aligned;
      if (r->status == Status::unknown) rest.unknown_fail += r->messages - r->dmarc_pass;
    }
    out.sources.resize(keep_sources);
  }
  return out;
}

// --- senders -------------------------------------------------------------------

std::vector<SenderUse> sender_usage(Analyzer& a, const std::string& domain, const Period& period) {
  std::vector<SenderUse> out;
  std::unordered_map<const Sender*, std::size_t> index;
  for (const auto& s : a.senders().list()) {
    index[&s] = out.size();
    out.push_back(SenderUse{s.name, {}, 0, 0, {}, {}});
  }
  a.for_each(domain, period, [&](const RecordView& v) {
    if (!v.match) return;
    SenderUse& u = out[index.at(v.match->sender)];
    u.matched[v.match->kind + " " + v.match->value] += v.messages;
    u.messages += v.messages;
    if (v.eval->dmarc_pass) u.dmarc_pass += v.messages;
    u.ips.insert(source_key(*v.record));
    u.domains.insert(v.meta->policy.domain);
  });
  return out;
}

}  // namespace dmarq::analyze
