// dmarq sources, readiness, trend, senders and export sources: the analyzer's
// views of one domain, as a table, CSV or JSON.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "dmarq/analyze/analyzer.h"
#include "dmarq/spf/spf.h"
#include "dmarq/analyze/senders.h"
#include "dmarq/output/escape.h"
#include "dmarq/output/table.h"
#include "dmarq/util/text.h"

namespace dmarq::cli {
namespace {

using nlohmann::ordered_json;
constexpr int64_t kDay = 86400;

std::string pct(uint64_t part, uint64_t total) {
  return total == 0 ? std::string("-") : fmt::format("{:.1f}", 100.0 * double(part) / double(total));
}

std::string joined(const std::set<std::string>& items, std::string_view sep = " ") {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

ordered_json json_set(const std::set<std::string>& items) {
  auto arr = ordered_json::array();
  for (const auto& i : items) arr.push_back(i);
  return arr;
}

void print_json(const ordered_json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void print_csv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
               std::ostream& out) {
  out << output::csv_line(header);
  for (const auto& r : rows) out << output::csv_line(r);
}

// Senders from the config file; a missing default config means none.
std::optional<analyze::Senders> load_config(const Globals& g) {
  if (!g.config_explicit && !std::filesystem::exists(g.config)) return analyze::Senders{};
  try {
    return analyze::load_senders(g.config);
  } catch (const analyze::ConfigError& e) {
    complain(std::string("config: ") + e.what());
    return std::nullopt;
  }
}

std::string period_text(const analyze::Period& p) {
  return fmt::format("{} to {}", util::iso_date_utc(p.since), util::iso_date_utc(p.until - kDay));
}

}  // namespace

std::optional<AnalyzeContext> open_context(const Globals& g) {
  if (!require_db(g)) return std::nullopt;
  auto senders = load_config(g);
  if (!senders) return std::nullopt;
  AnalyzeContext c;
  c.db = open_db(g, store::OpenMode::read_only);
  c.senders = std::make_unique<analyze::Senders>(std::move(*senders));
  c.analyzer = std::make_unique<analyze::Analyzer>(*c.db, *c.senders);
  return c;
}

analyze::SpfPredictor spf_predictor(DnsContext& dns) {
  auto memo = std::make_shared<std::map<std::string, std::optional<bool>>>();
  return [&dns, memo](const model::IpAddress& ip, const std::string& domain) {
    std::string key = ip.to_string() + ' ' + domain;
    if (auto it = memo->find(key); it != memo->end()) return it->second;
    spf::Options opts;
    opts.strict_all = true;
    auto e = spf::check_host(dns.resolver(), ip, domain, "postmaster@" + domain, opts);
    std::optional<bool> pass;
    // Unknowable from here: no record, DNS trouble, or offline.
    if (e.result != spf::Result::none && e.result != spf::Result::temperror) pass = e.result == spf::Result::pass;
    return (*memo)[key] = pass;
  };
}

std::optional<analyze::Period> make_period(const std::string& since, const std::optional<std::string>& until) {
  int64_t today = analyze::utc_day(now_utc());
  analyze::Period p;
  p.until = today + kDay;
  if (until) {
    auto t = util::parse_iso_utc(*until);
    if (!t) {
      complain("--until: expected YYYY-MM-DD (UTC), got " + *until);
      return std::nullopt;
    }
    p.until = analyze::utc_day(*t) + kDay;  // the whole day is included
  }
  if (since.size() >= 2 && since.back() == 'd') {
    auto days = parse_since(since, 0);  // -N days from 0
    if (!days || *days > 0) {
      complain("--since: expected Nd or YYYY-MM-DD (UTC), got " + since);
      return std::nullopt;
    }
    p.since = p.until - (-*days / kDay) * kDay;  // the N days ending with --until
  } else {
    auto t = util::parse_iso_utc(since);
    if (!t) {
      complain("--since: expected Nd or YYYY-MM-DD (UTC), got " + since);
      return std::nullopt;
    }
    p.since = analyze::utc_day(*t);
  }
  if (p.since >= p.until) {
    complain("--since must come before --until");
    return std::nullopt;
  }
  return p;
}

// --- sources -----------------------------------------------------------------

int run_sources(const Globals& g, const SourcesOptions& o, std::ostream& out) {
  auto period = make_period(o.since, o.until);
  if (!period) return kUsage;
  auto ctx = open_context(g);
  if (!ctx) return kUsage;
  analyze::GroupBy by = o.by == "sender" ? analyze::GroupBy::sender
                        : o.by == "reporter" ? analyze::GroupBy::reporter
                                             : analyze::GroupBy::ip;
  auto rows = analyze::sources(*ctx->analyzer, o.domain, *period, by, o.unknown);
  bool by_reporter = by == analyze::GroupBy::reporter;

  if (o.format == "json") {
    auto arr = ordered_json::array();
    for (const auto& r : rows) {
      ordered_json j;
      j[o.by] = r.key;
      if (!by_reporter) {
        j["status"] = std::string(analyze::to_string(r.status));
        j["sender"] = r.sender;
        j["matched_by"] = r.matched;
      }
      j["messages"] = r.messages;
      j["dmarc_pass"] = r.dmarc_pass;
      j["spf_aligned"] = r.spf_aligned;
      j["dkim_aligned"] = r.dkim_aligned;
      j["reporter_dmarc_pass"] = r.reporter_pass;
      j["disposition"] = {{"none", r.disposition_none}, {"quarantine", r.disposition_quarantine},
                          {"reject", r.disposition_reject}};
      if (by != analyze::GroupBy::ip) j["ips"] = json_set(r.ips);
      if (by == analyze::GroupBy::ip) {  // from `dmarq enrich`; empty until it has run
        j["reverse_dns"] = r.reverse_dns;
        j["fcrdns"] = r.fcrdns;
        j["service"] = r.service;
      }
      j["header_from"] = json_set(r.header_from);
      j["envelope_from"] = json_set(r.envelope_from);
      j["dkim_domains"] = json_set(r.dkim_domains);
      j["dkim_selectors"] = json_set(r.dkim_selectors);
      j["spf_results"] = json_set(r.spf_results);
      j["dkim_results"] = json_set(r.dkim_results);
      j["reporters"] = json_set(r.reporters);
      j["first_seen"] = util::iso8601_utc(r.first_seen);
      j["last_seen"] = util::iso8601_utc(r.last_seen);
      j["reason"] = std::string(analyze::code(r.main_reason));
      j["explanation"] = r.explanation;
      auto reasons = ordered_json::object();
      for (const auto& [reason, n] : r.reasons) reasons[std::string(analyze::code(reason))] = n;
      j["reasons"] = reasons;
      arr.push_back(std::move(j));
    }
    ordered_json doc = {{"domain", analyze::normalize_domain(o.domain)},
                        {"since", util::iso_date_utc(period->since)},
                        {"until", util::iso_date_utc(period->until - kDay)},
                        {"alignment_method", std::string(analyze::OrgDomains::method())},
                        {"sources", std::move(arr)}};
    out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kOk;
  }
  if (o.format == "csv") {
    std::vector<std::string> header{o.by,           "status",         "sender",       "matched_by",
                                    "messages",     "dmarc_pass_pct", "spf_aligned_pct", "dkim_aligned_pct",
                                    "reporter_dmarc_pass_pct",
                                    "disposition_none", "disposition_quarantine", "disposition_reject",
                                    "ips",          "header_from",    "envelope_from", "dkim_domains",
                                    "dkim_selectors", "spf_results",  "dkim_results",
                                    "reporters",    "first_seen",   "last_seen",
                                    "reason",       "explanation",
                                    "reverse_dns",  "fcrdns",       "service"};
    std::vector<std::vector<std::string>> cells;
    for (const auto& r : rows)
      cells.push_back({r.key, by_reporter ? "" : std::string(analyze::to_string(r.status)), r.sender, r.matched,
                       std::to_string(r.messages), pct(r.dmarc_pass, r.messages), pct(r.spf_aligned, r.messages),
                       pct(r.dkim_aligned, r.messages), pct(r.reporter_pass, r.messages),
                       std::to_string(r.disposition_none),
                       std::to_string(r.disposition_quarantine), std::to_string(r.disposition_reject),
                       joined(r.ips), joined(r.header_from), joined(r.envelope_from), joined(r.dkim_domains),
                       joined(r.dkim_selectors), joined(r.spf_results), joined(r.dkim_results),
                       joined(r.reporters), util::iso8601_utc(r.first_seen),
                       util::iso8601_utc(r.last_seen), std::string(analyze::code(r.main_reason)), r.explanation,
                       r.reverse_dns, r.reverse_dns.empty() ? "" : r.fcrdns ? "true" : "false", r.service});
    print_csv(header, cells, out);
    return kOk;
  }
  if (rows.empty()) {
    out << fmt::format("no {}sources for {} from {}\n", o.unknown ? "unknown " : "",
                       analyze::normalize_domain(o.domain), period_text(*period));
    return kOk;
  }
  std::vector<std::string> header{o.by, by_reporter ? "sources" : "status", "messages", "dmarc%", "spf%", "dkim%",
                                  "header_from", "dkim d=", "reason"};
  // The PTR column once `dmarq enrich` has named some source.
  const bool ptr_column = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return !r.reverse_dns.empty(); });
  if (ptr_column) header.insert(header.begin() + 1, "ptr");
  output::Table table(header);
  for (std::size_t c : {2, 3, 4, 5}) table.align_right(c + (ptr_column ? 1 : 0));
  if (by_reporter) table.align_right(1);
  for (const auto& r : rows) {
    std::string status = by_reporter ? std::to_string(r.ips.size())
                         : r.status == analyze::Status::authenticated ? "authenticated, not listed"
                         : r.status == analyze::Status::unknown && !r.service.empty() ? "unknown: PTR of " + r.service
                         : r.status == analyze::Status::unknown       ? "unknown"
                         : by == analyze::GroupBy::ip                 ? "known: " + r.sender
                                                                      : "known";
    std::vector<std::string> cells{r.key, status, std::to_string(r.messages), pct(r.dmarc_pass, r.messages),
                                   pct(r.spf_aligned, r.messages), pct(r.dkim_aligned, r.messages),
                                   joined(r.header_from), joined(r.dkim_domains),
                                   std::string(analyze::code(r.main_reason))};
    if (ptr_column)
      cells.insert(cells.begin() + 1, r.reverse_dns.empty() ? "" : r.reverse_dns + (r.fcrdns ? "" : " (unconfirmed)"));
    table.add_row(std::move(cells));
  }
  table.print(out);
  return kOk;
}

namespace {

// --- readiness ---------------------------------------------------------------

struct ReadinessOptions {
  std::string domain;
  std::string since = "30d";
  std::optional<std::string> until;
  std::string format = "text";
  bool fail_if_not_ready = false;
  DnsOptions dns;
};

ordered_json split_json(const analyze::Split& s, const char* safe_name) {
  return {{"messages", s.total}, {"passes", s.passes}, {safe_name, s.safe},
          {"known_fail", s.known_fail}, {"unknown_fail", s.unknown_fail}};
}

void print_split(const analyze::Split& s, const std::vector<std::string>& labels) {
  output::Table t({"", "messages", "%"});
  t.align_right(1);
  t.align_right(2);
  const uint64_t values[] = {s.passes, s.safe, s.known_fail, s.unknown_fail};
  for (std::size_t i = 0; i < 4; ++i) t.add_row({labels[i], std::to_string(values[i]), pct(values[i], s.total)});
  t.add_row({"total", std::to_string(s.total), s.total ? "100.0" : "-"});
  t.print(std::cout);
}

int run_readiness(const Globals& g, const ReadinessOptions& o) {
  auto period = make_period(o.since, o.until);
  if (!period) return kUsage;
  auto ctx = open_context(g);
  if (!ctx) return kUsage;
  // The SPF split comes from the live record evaluated with -all (RFC 7208
  // engine), once per address and MAIL FROM domain.
  auto dns = make_dns(g, o.dns, false);
  if (!dns) return kUsage;
  // Offline, no address can be evaluated: no predictor, the reporters' results.
  auto r = analyze::readiness(*ctx->analyzer, o.domain, *period,
                              o.dns.offline ? analyze::SpfPredictor{} : spf_predictor(*dns));
  int code = o.fail_if_not_ready && !r.ready() ? kNotReady : kOk;

  if (o.format == "json") {
    auto actions = ordered_json::array();
    for (const auto& a : r.actions) actions.push_back(a);
    print_json({{"domain", r.domain},
                {"since", util::iso_date_utc(period->since)},
                {"until", util::iso_date_utc(period->until - kDay)},
                {"reports", r.reports},
                {"p", r.p},
                {"sp", r.sp},
                {"spf_all", split_json(r.spf, "safe_dkim")},
                {"spf_live_messages", r.spf_live},
                {"spf_ready", r.spf_ready},
                {"dmarc_enforce", split_json(r.dmarc, "spared_override")},
                {"dmarc_ready", r.dmarc_ready},
                {"verdict", r.ready() ? "ready" : "not ready"},
                {"actions", actions}});
    return code;
  }
  std::cout << fmt::format("Readiness of {}, {} (UTC): {} report(s), {} message(s); published p={}\n\n",
                           output::terminal_safe(r.domain), period_text(*period), r.reports, r.spf.total,
                           r.p.empty() ? "?" : output::terminal_safe(r.p));
  if (r.spf_live == 0)
    std::cout << "SPF to -all (from the reporters' SPF results):\n";
  else
    std::cout << fmt::format("SPF to -all (the live SPF record evaluated with -all for {} of {} message(s); the "
                             "reporters' results for the rest):\n",
                             r.spf_live, r.spf.total);
  print_split(r.spf, {"passes SPF today", "would fail SPF, still pass DMARC on aligned DKIM (safe)",
                      "would fail from known senders (fix these first)",
                      "would fail from unknown sources (spoofing, good to block)"});
  std::cout << "  -> " << (r.spf_ready ? "ready" : "not ready") << "\n\n";
  std::cout << "DMARC to p=quarantine or p=reject:\n";
  print_split(r.dmarc, {"passes DMARC today", "fails, spared by the receiver's override (forwarded, lists)",
                        "would fail from known senders (fix these first)",
                        "would fail from unknown sources (spoofing, good to block)"});
  std::cout << "  -> " << (r.dmarc_ready ? "ready" : "not ready") << "\n\n";
  std::cout << "Verdict: " << (r.ready() ? "ready" : "not ready") << "\n\nActions:\n";
  for (std::size_t i = 0; i < r.actions.size(); ++i)
    std::cout << fmt::format("{:>3}. {}\n", i + 1, output::terminal_safe(r.actions[i]));
  return code;
}

// --- trend -------------------------------------------------------------------

struct TrendOptions {
  std::string domain;
  int days = 90;
  std::optional<std::string> until;
  std::string format = "table";
};

int run_trend(const Globals& g, const TrendOptions& o) {
  auto period = make_period(std::to_string(o.days) + "d", o.until);
  if (!period) return kUsage;
  auto ctx = open_context(g);
  if (!ctx) return kUsage;
  auto days = analyze::trend(*ctx->analyzer, o.domain, *period);
  if (o.format == "json") {
    auto arr = ordered_json::array();
    for (const auto& d : days)
      arr.push_back({{"day", util::iso_date_utc(d.day)}, {"messages", d.messages}, {"dmarc_pass", d.dmarc_pass},
                     {"unknown", d.unknown}});
    print_json({{"domain", analyze::normalize_domain(o.domain)}, {"days", arr}});
    return kOk;
  }
  std::vector<std::string> header{"day", "messages", "dmarc_pass_pct", "unknown"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : days)
    rows.push_back({util::iso_date_utc(d.day), std::to_string(d.messages), pct(d.dmarc_pass, d.messages),
                    std::to_string(d.unknown)});
  if (o.format == "csv") {
    print_csv(header, rows, std::cout);
    return kOk;
  }
  output::Table t({"day", "messages", "dmarc%", "unknown"});
  for (std::size_t c : {1, 2, 3}) t.align_right(c);
  for (auto& r : rows) t.add_row(std::move(r));
  t.print(std::cout);
  return kOk;
}

// --- senders -----------------------------------------------------------------

struct SendersOptions {
  std::string domain;  // empty: all
  std::string since = "30d";
  std::optional<std::string> until;
  std::string format = "table";
};

int run_senders(const Globals& g, const SendersOptions& o) {
  auto period = make_period(o.since, o.until);
  if (!period) return kUsage;
  auto ctx = open_context(g);
  if (!ctx) return kUsage;
  auto uses = analyze::sender_usage(*ctx->analyzer, o.domain, *period);
  if (o.format == "json") {
    auto arr = ordered_json::array();
    for (const auto& u : uses) {
      auto matched = ordered_json::object();
      for (const auto& [what, n] : u.matched) matched[what] = n;
      arr.push_back({{"sender", u.name}, {"messages", u.messages}, {"dmarc_pass", u.dmarc_pass},
                     {"matched", matched}, {"ips", json_set(u.ips)}, {"domains", json_set(u.domains)}});
    }
    print_json(arr);
    return kOk;
  }
  std::vector<std::string> header{"sender", "messages", "dmarc_pass_pct", "matched", "ips", "domains"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : uses) {
    std::string matched;
    for (const auto& [what, n] : u.matched) matched += (matched.empty() ? "" : "; ") + fmt::format("{} ({})", what, n);
    rows.push_back({u.name, std::to_string(u.messages), pct(u.dmarc_pass, u.messages),
                    matched.empty() ? std::string(u.messages ? "" : "nothing") : matched, std::to_string(u.ips.size()),
                    joined(u.domains)});
  }
  if (o.format == "csv") {
    print_csv(header, rows, std::cout);
    return kOk;
  }
  if (rows.empty()) {
    std::cout << "no senders configured in " << output::terminal_safe(g.config) << "\n";
    return kOk;
  }
  output::Table t({"sender", "messages", "dmarc%", "matched", "ips", "domains"});
  for (std::size_t c : {1, 2, 4}) t.align_right(c);
  for (auto& r : rows) t.add_row(std::move(r));
  t.print(std::cout);
  return kOk;
}

}  // namespace

void add_sources_options(CLI::App* cmd, SourcesOptions& o, bool table) {
  cmd->add_option("--domain", o.domain, "The policy domain (required)")->required();
  cmd->add_option("--since", o.since, "Start: Nd (the last N UTC days) or YYYY-MM-DD")->capture_default_str();
  cmd->add_option("--until", o.until, "Last day included, YYYY-MM-DD (default: today, UTC)");
  cmd->add_option("--by", o.by, "Group by ip, sender or reporter")
      ->check(CLI::IsMember({"ip", "sender", "reporter"}))
      ->capture_default_str();
  cmd->add_flag("--unknown", o.unknown, "Only sources that match no known sender");
  if (table)
    cmd->add_option("--format", o.format, "table, csv or json")
        ->check(CLI::IsMember({"table", "csv", "json"}))
        ->capture_default_str();
  else
    cmd->add_option("--format", o.format, "csv or json")->check(CLI::IsMember({"csv", "json"}))->capture_default_str();
}

void add_analyze(CLI::App& app, Globals& g, Action& run) {
  {
    auto o = std::make_shared<SourcesOptions>();
    auto* cmd = app.add_subcommand("sources", "Who sends as a domain: one row per source, by volume");
    add_sources_options(cmd, *o, true);
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_sources(g, *o, std::cout); }; });
  }
  {
    auto o = std::make_shared<ReadinessOptions>();
    auto* cmd = app.add_subcommand("readiness", "Is it safe to move SPF to -all and DMARC to quarantine/reject?");
    cmd->add_option("--domain", o->domain, "The policy domain (required)")->required();
    cmd->add_option("--since", o->since, "Start: Nd (the last N UTC days) or YYYY-MM-DD")->capture_default_str();
    cmd->add_option("--until", o->until, "Last day included, YYYY-MM-DD (default: today, UTC)");
    cmd->add_option("--format", o->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->add_flag("--fail-if-not-ready", o->fail_if_not_ready, "Exit with status 3 when the verdict is not ready");
    add_dns_options(cmd, o->dns);
    cmd->footer("The SPF split evaluates the domain's live SPF record with \"all\" read as \"-all\" for each\n"
                "source address; with --offline (or when DNS does not answer) it falls back to the\n"
                "reporters' SPF results.");
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_readiness(g, *o); }; });
  }
  {
    auto o = std::make_shared<TrendOptions>();
    auto* cmd = app.add_subcommand("trend", "Per-day volume, DMARC pass rate and unknown-source volume");
    cmd->add_option("--domain", o->domain, "The policy domain (required)")->required();
    cmd->add_option("--days", o->days, "Number of UTC days, ending with --until")
        ->check(CLI::Range(1, 3660))
        ->capture_default_str();
    cmd->add_option("--until", o->until, "Last day included, YYYY-MM-DD (default: today, UTC)");
    cmd->add_option("--format", o->format, "table, csv or json")
        ->check(CLI::IsMember({"table", "csv", "json"}))
        ->capture_default_str();
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_trend(g, *o); }; });
  }
  {
    auto o = std::make_shared<SendersOptions>();
    auto* cmd = app.add_subcommand("senders", "The known senders of the config file and what each matched");
    cmd->add_option("--domain", o->domain, "Only this policy domain (default: all)");
    cmd->add_option("--since", o->since, "Start: Nd (the last N UTC days) or YYYY-MM-DD")->capture_default_str();
    cmd->add_option("--until", o->until, "Last day included, YYYY-MM-DD (default: today, UTC)");
    cmd->add_option("--format", o->format, "table, csv or json")
        ->check(CLI::IsMember({"table", "csv", "json"}))
        ->capture_default_str();
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_senders(g, *o); }; });
  }
}

}  // namespace dmarq::cli
