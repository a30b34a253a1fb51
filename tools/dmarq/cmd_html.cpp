// dmarq html: the self-contained HTML report of one, several or all domains.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "cli.h"
#include "dmarq/analyze/domain.h"
#include "dmarq/analyze/feedback_views.h"
#include "dmarq/output/html_report.h"
#include "dmarq/util/text.h"

namespace dmarq::cli {
namespace {

constexpr int64_t kDay = 86400;

struct HtmlOptions {
  std::vector<std::string> domains;  // none: every domain with reports in the period
  std::string since = "30d";
  std::optional<std::string> until;
  std::string output = "-";
  std::size_t top = 100;
  DnsOptions dns;
};

// Complaints and bounces of the period, per day and per reason; the
// suppression list counts everything stored, as `dmarq suppressions` does.
output::HtmlFeedback feedback_of(store::Store& db, const analyze::Period& period) {
  output::HtmlFeedback f;
  auto all_feedback = db.list_feedback(std::nullopt);
  auto all_bounces = db.list_bounces(std::nullopt);
  f.suppressions = analyze::suppressions(all_feedback, all_bounces, {}).size();
  std::vector<store::StoredFeedback> feedback;
  for (auto& s : all_feedback) {
    int64_t t = analyze::seen_at(s);
    if (t >= period.since && t < period.until) feedback.push_back(std::move(s));
  }
  std::vector<store::StoredBounce> bounces;
  for (auto& b : all_bounces)
    if (b.seen_at >= period.since && b.seen_at < period.until) bounces.push_back(std::move(b));

  for (int64_t d = period.since; d < period.until; d += kDay) f.days.push_back(d);
  f.complaints_per_day.assign(f.days.size(), 0);
  f.bounces_per_day.assign(f.days.size(), 0);
  auto index = [&](const std::string& iso) -> std::optional<std::size_t> {
    auto t = util::parse_iso_utc(iso);
    if (!t || *t < period.since || *t >= period.until) return std::nullopt;
    return static_cast<std::size_t>((*t - period.since) / kDay);
  };
  for (const auto& r : analyze::complaints(feedback, analyze::ComplaintsBy::day))
    if (auto i = index(r.key)) f.complaints_per_day[*i] += r.complaints;
  for (const auto& r : analyze::bounce_summary(bounces, analyze::BouncesBy::day))
    if (auto i = index(r.key)) f.bounces_per_day[*i] += r.recipients;
  f.complaints_by_type = analyze::complaints(feedback, analyze::ComplaintsBy::type);
  f.bounces_by_class = analyze::bounce_summary(bounces, analyze::BouncesBy::bounce_class);
  for (const auto& r : f.complaints_by_type) f.complaints += r.complaints;
  f.bounces = bounces.size();
  return f;
}

// Writes next to the target and renames, so that a web root or a mail job
// never sees half a report.
bool write_atomically(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return static_cast<bool>(std::cout.flush());
  }
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f || !(f << text) || !f.flush()) {
      complain("cannot write " + tmp);
      std::remove(tmp.c_str());
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    complain("cannot write " + path + ": " + ec.message());
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

// A thread's own read-only connection, analyzer and resolver.
struct Worker {
  AnalyzeContext ctx;
  DnsContext dns;
};

// The domains' overviews, on as many threads as there are CPUs (domains are
// independent). This thread works with `first`; the others get their own
// worker, made here before any of them starts (c-ares initialises globally).
std::vector<analyze::Overview> overviews(const Globals& g, const HtmlOptions& o, const std::vector<std::string>& domains,
                                         const analyze::Period& period, Worker& first) {
  std::size_t n = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, std::max<std::size_t>(domains.size(), 1));
  std::vector<Worker> more;
  for (std::size_t i = 1; i < n; ++i) {
    auto ctx = open_context(g);
    auto dns = make_dns(g, o.dns, false);
    if (!ctx || !dns) throw std::runtime_error("cannot open the database or the resolver again for a worker");
    more.push_back({std::move(*ctx), std::move(*dns)});
  }
  std::vector<analyze::Overview> out(domains.size());
  // The page shows this many source rows (table or chart) and sums the rest.
  const std::size_t keep = std::max(o.top, output::HtmlReport{}.top_chart);
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::exception_ptr error;
  auto work = [&](Worker& w) {
    try {
      auto predict = o.dns.offline ? analyze::SpfPredictor{} : spf_predictor(w.dns);
      for (std::size_t i; (i = next++) < domains.size();)
        out[i] = analyze::overview(*w.ctx.analyzer, domains[i], period, predict, analyze::Via::rollup, keep);
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
      next = domains.size();  // the others stop too
    }
  };
  std::vector<std::thread> threads;
  for (auto& w : more) threads.emplace_back(work, std::ref(w));
  work(first);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return out;
}

int run_html(const Globals& g, const HtmlOptions& o) {
  auto period = make_period(o.since, o.until);
  if (!period) return kUsage;
  auto ctx = open_context(g);
  if (!ctx) return kUsage;
  auto dns = make_dns(g, o.dns, false);
  if (!dns) return kUsage;
  Worker main{std::move(*ctx), std::move(*dns)};

  std::vector<std::string> domains;
  std::set<std::string> seen;
  for (const auto& d : o.domains)
    if (std::string name = analyze::normalize_domain(d); seen.insert(name).second) domains.push_back(name);
  if (domains.empty()) {
    store::ReportFilter filter;
    filter.since = period->since;
    filter.until = period->until;
    for (const auto& r : main.ctx.db->list_reports(filter)) seen.insert(analyze::normalize_domain(r.policy_domain));
    domains.assign(seen.begin(), seen.end());
  }

  output::HtmlReport report;
  report.generated_at = now_utc();
  report.period = *period;
  report.top_sources = o.top;
  report.alignment_method = std::string(analyze::OrgDomains::method());
  report.domains = overviews(g, o, domains, *period, main);
  report.feedback = feedback_of(*main.ctx.db, *period);

  std::ostringstream text;
  output::write_html_report(text, report);
  return write_atomically(o.output, text.str()) ? kOk : kUsage;
}

}  // namespace

void add_html(CLI::App& app, Globals& g, Action& run) {
  auto o = std::make_shared<HtmlOptions>();
  auto* cmd = app.add_subcommand("html", "One self-contained HTML report: trend, sources, reporters, readiness");
  cmd->add_option("--domain", o->domains, "A policy domain (repeat for several; default: every domain with reports)")
      ->allow_extra_args(false);
  cmd->add_option("--since", o->since, "Start: Nd (the last N UTC days) or YYYY-MM-DD")->capture_default_str();
  cmd->add_option("--until", o->until, "Last day included, YYYY-MM-DD (default: today, UTC)");
  cmd->add_option("-o,--output", o->output, "The HTML file to write (replaced atomically; - for standard output)")
      ->capture_default_str();
  cmd->add_option("--top", o->top, "Source rows per domain before the rest is summed up as \"others\"")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  add_dns_options(cmd, o->dns);
  cmd->footer("The file needs no network and no server: open it, mail it, or copy it to a web root.\n"
              "Readiness evaluates the live SPF record as `dmarq readiness` does; --offline uses the\n"
              "reporters' SPF results instead.");
  cmd->callback([&g, &run, o] { run = [&g, o] { return run_html(g, *o); }; });
}

}  // namespace dmarq::cli
