// dmarq complaints, bounces and suppressions, and export feedback/bounces:
// the feedback loops, failure reports and bounces of the reports mailbox.
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "dmarq/analyze/feedback_views.h"
#include "dmarq/output/escape.h"
#include "dmarq/output/table.h"
#include "dmarq/util/text.h"

namespace dmarq::cli {
namespace {

using nlohmann::ordered_json;

struct ViewOptions {
  std::optional<std::string> since;
  std::string by;
  std::string format = "table";
  std::string out;
  int soft_days = 3, soft_span = 7;
};

std::string joined(const std::set<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

std::string joined(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

// Output to -o FILE or standard output; complains and returns null on error.
class Out {
 public:
  explicit Out(const std::string& path) {
    if (!path.empty() && path != "-") {
      file_.open(path, std::ios::binary | std::ios::trunc);
      ok_ = file_.is_open();
      if (!ok_) complain("cannot write " + path);
    }
  }
  bool ok() const { return ok_; }
  std::ostream& stream() { return file_.is_open() ? static_cast<std::ostream&>(file_) : std::cout; }
  int finish(const std::string& path) {
    stream().flush();
    if (!stream()) {
      complain("write failed" + (path.empty() ? std::string() : " on " + path));
      return kUsage;
    }
    return kOk;
  }

 private:
  std::ofstream file_;
  bool ok_ = true;
};

std::optional<std::optional<int64_t>> since_of(const ViewOptions& o) {
  if (!o.since) return std::optional<int64_t>();
  auto t = parse_since(*o.since, now_utc());
  if (!t) {
    complain("--since: expected Nd, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, got " + *o.since);
    return std::nullopt;
  }
  return std::optional<int64_t>(*t);
}

void emit(const ViewOptions& o, const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
          const std::vector<std::size_t>& right, const ordered_json& json, const std::string& empty) {
  if (o.format == "json") {
    std::cout << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else if (o.format == "csv") {
    std::cout << output::csv_line(header);
    for (const auto& r : rows) std::cout << output::csv_line(r);
  } else if (rows.empty()) {
    std::cout << empty << '\n';
  } else {
    output::Table t(header);
    for (auto c : right) t.align_right(c);
    for (const auto& r : rows) t.add_row(r);
    t.print(std::cout);
  }
}

int run_complaints(const Globals& g, const ViewOptions& o) {
  if (!require_db(g)) return kUsage;
  auto since = since_of(o);
  if (!since) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  analyze::ComplaintsBy by = o.by == "domain" ? analyze::ComplaintsBy::domain
                             : o.by == "type" ? analyze::ComplaintsBy::type
                             : o.by == "day"  ? analyze::ComplaintsBy::day
                                              : analyze::ComplaintsBy::ip;
  auto rows = analyze::complaints(db->list_feedback(*since), by);
  std::vector<std::vector<std::string>> cells;
  auto arr = ordered_json::array();
  for (const auto& r : rows) {
    cells.push_back({r.key, std::to_string(r.complaints), joined(r.types), joined(r.reporters),
                     util::iso8601_utc(r.first_seen), util::iso8601_utc(r.last_seen)});
    arr.push_back({{o.by, r.key}, {"complaints", r.complaints}, {"types", r.types}, {"reporters", r.reporters},
                   {"first_seen", util::iso8601_utc(r.first_seen)}, {"last_seen", util::iso8601_utc(r.last_seen)}});
  }
  emit(o, {o.by, "complaints", "types", "reporters", "first_seen", "last_seen"}, cells, {1}, arr, "no complaints");
  return kOk;
}

int run_bounces(const Globals& g, const ViewOptions& o) {
  if (!require_db(g)) return kUsage;
  auto since = since_of(o);
  if (!since) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  analyze::BouncesBy by = o.by == "recipient-domain" ? analyze::BouncesBy::recipient_domain
                          : o.by == "status"         ? analyze::BouncesBy::status
                          : o.by == "day"            ? analyze::BouncesBy::day
                                                     : analyze::BouncesBy::bounce_class;
  auto rows = analyze::bounce_summary(db->list_bounces(*since), by);
  std::vector<std::vector<std::string>> cells;
  auto arr = ordered_json::array();
  auto n = [](const analyze::BounceRow& r, const char* c) {
    auto it = r.classes.find(c);
    return it == r.classes.end() ? uint64_t{0} : it->second;
  };
  for (const auto& r : rows) {
    cells.push_back({r.key, std::to_string(r.recipients), std::to_string(n(r, "hard")), std::to_string(n(r, "soft")),
                     std::to_string(n(r, "policy")), std::to_string(n(r, "unknown")), util::iso8601_utc(r.first_seen),
                     util::iso8601_utc(r.last_seen)});
    arr.push_back({{o.by, r.key}, {"recipients", r.recipients}, {"hard", n(r, "hard")}, {"soft", n(r, "soft")},
                   {"policy", n(r, "policy")}, {"unknown", n(r, "unknown")},
                   {"first_seen", util::iso8601_utc(r.first_seen)}, {"last_seen", util::iso8601_utc(r.last_seen)}});
  }
  emit(o, {o.by, "recipients", "hard", "soft", "policy", "unknown", "first_seen", "last_seen"}, cells,
       {1, 2, 3, 4, 5}, arr, "no bounces");
  return kOk;
}

int run_suppressions(const Globals& g, const ViewOptions& o) {
  if (!require_db(g)) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  analyze::SoftBounceRule rule{o.soft_days, o.soft_span};
  auto list = analyze::suppressions(db->list_feedback(std::nullopt), db->list_bounces(std::nullopt), rule);
  Out out(o.out);
  if (!out.ok()) return kUsage;
  if (o.format == "json") {
    auto arr = ordered_json::array();
    for (const auto& s : list)
      arr.push_back({{"address", s.address}, {"reason", s.reason}, {"first_seen", util::iso8601_utc(s.first_seen)},
                     {"last_seen", util::iso8601_utc(s.last_seen)}, {"count", s.count}, {"evidence", s.evidence}});
    out.stream() << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else {
    out.stream() << output::csv_line({"address", "reason", "first_seen", "last_seen", "count", "evidence"});
    for (const auto& s : list)
      out.stream() << output::csv_line({s.address, s.reason, util::iso8601_utc(s.first_seen),
                                        util::iso8601_utc(s.last_seen), std::to_string(s.count),
                                        joined(s.evidence, " ")});
  }
  return out.finish(o.out);
}

// "2026-10-20 04:05:06", as parsedmarc writes arrival_date_utc.
std::string parsedmarc_time(int64_t t) {
  std::string iso = util::iso8601_utc(t);  // 2026-10-20T04:05:06Z
  iso[10] = ' ';
  iso.pop_back();
  return iso;
}

std::string mechanisms(const std::vector<std::string>& auth_results) {
  std::set<std::string> found;
  for (const auto& a : auth_results)
    for (const char* m : {"dkim", "spf", "dmarc", "arc"}) {
      std::string needle = std::string(m) + "=";
      for (std::size_t pos = a.find(needle); pos != std::string::npos; pos = a.find(needle, pos + 1))
        if (pos == 0 || !std::isalnum(static_cast<unsigned char>(a[pos - 1]))) found.insert(m);
    }
  return joined(found, ",");
}

int run_export_feedback(const Globals& g, const ViewOptions& o) {
  if (!require_db(g)) return kUsage;
  auto since = since_of(o);
  if (!since) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  Out out(o.out);
  if (!out.ok()) return kUsage;
  // parsedmarc's failure CSV columns, in its order; enrichment stays empty.
  const std::vector<std::string> header{
      "feedback_type", "user_agent", "version", "original_envelope_id", "original_mail_from", "original_rcpt_to",
      "arrival_date", "arrival_date_utc", "subject", "message_id", "authentication_results", "dkim_domain",
      "source_ip_address", "source_country", "source_reverse_dns", "source_base_domain", "source_name",
      "source_type", "source_asn", "source_as_name", "source_as_domain", "delivery_result", "auth_failure",
      "reported_domain", "authentication_mechanisms", "sample_headers_only"};
  auto arr = ordered_json::array();
  if (o.format == "csv") out.stream() << output::csv_line(header);
  for (const auto& s : db->list_feedback(*since)) {
    const model::Feedback& f = s.feedback;
    std::vector<std::string> v{
        f.feedback_type, f.user_agent, f.version, f.original_envelope_id, f.original_mail_from,
        joined(f.original_rcpt_to, ","), f.arrival_date_text,
        f.arrival_date ? parsedmarc_time(*f.arrival_date) : std::string(), f.original.subject, f.original.message_id,
        joined(f.authentication_results, "; "), f.dkim_domain.empty() ? f.original.dkim_domain : f.dkim_domain,
        f.source_ip ? f.source_ip->to_string() : f.source_ip_text, "", "", "", "", "", "", "", "",
        f.delivery_result, f.auth_failure, f.reported_domain.empty() ? std::string() : f.reported_domain.front(),
        mechanisms(f.authentication_results), f.original.headers_only ? "True" : "False"};
    if (o.format == "csv") {
      out.stream() << output::csv_line(v);
    } else {
      ordered_json j;
      for (std::size_t i = 0; i < header.size(); ++i) j[header[i]] = v[i];
      j["kind"] = f.kind;
      j["origin"] = s.origin;
      arr.push_back(std::move(j));
    }
  }
  if (o.format == "json") out.stream() << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  return out.finish(o.out);
}

int run_export_bounces(const Globals& g, const ViewOptions& o) {
  if (!require_db(g)) return kUsage;
  auto since = since_of(o);
  if (!since) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  Out out(o.out);
  if (!out.ok()) return kUsage;
  const std::vector<std::string> header{"seen_at", "recipient", "original_recipient", "action", "status", "class",
                                        "diagnostic_code", "remote_mta", "reporting_mta", "rfc3464", "origin"};
  auto arr = ordered_json::array();
  if (o.format == "csv") out.stream() << output::csv_line(header);
  for (const auto& b : db->list_bounces(*since)) {
    const auto& r = b.recipient;
    std::vector<std::string> v{util::iso8601_utc(b.seen_at), r.recipient, r.original_recipient, r.action, r.status,
                               r.bounce_class, r.diagnostic_code, r.remote_mta, r.reporting_mta,
                               b.rfc3464 ? "True" : "False", b.origin};
    if (o.format == "csv") {
      out.stream() << output::csv_line(v);
    } else {
      ordered_json j;
      for (std::size_t i = 0; i < header.size(); ++i) j[header[i]] = v[i];
      j["rfc3464"] = b.rfc3464;
      arr.push_back(std::move(j));
    }
  }
  if (o.format == "json") out.stream() << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  return out.finish(o.out);
}

CLI::Option* add_format(CLI::App* cmd, std::string& format, std::vector<std::string> choices) {
  return cmd->add_option("--format", format, "One of: " + [&] {
                           std::string s;
                           for (const auto& c : choices) s += (s.empty() ? "" : ", ") + c;
                           return s;
                         }())
      ->check(CLI::IsMember(choices))
      ->capture_default_str();
}

}  // namespace

void add_feedback(CLI::App& app, Globals& g, Action& run) {
  {
    auto o = std::make_shared<ViewOptions>();
    o->by = "ip";
    auto* cmd = app.add_subcommand("complaints", "Feedback-loop complaints (ARF and JMRP), summarized");
    cmd->add_option("--since", o->since, "Only complaints at or after: Nd, YYYY-MM-DD (UTC)");
    cmd->add_option("--by", o->by, "ip, domain, type or day")
        ->check(CLI::IsMember({"ip", "domain", "type", "day"}))
        ->capture_default_str();
    add_format(cmd, o->format, {"table", "csv", "json"});
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_complaints(g, *o); }; });
  }
  {
    auto o = std::make_shared<ViewOptions>();
    o->by = "class";
    auto* cmd = app.add_subcommand("bounces", "Bounced recipients, summarized");
    cmd->add_option("--since", o->since, "Only bounces at or after: Nd, YYYY-MM-DD (UTC)");
    cmd->add_option("--by", o->by, "class, recipient-domain, status or day")
        ->check(CLI::IsMember({"class", "recipient-domain", "status", "day"}))
        ->capture_default_str();
    add_format(cmd, o->format, {"table", "csv", "json"});
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_bounces(g, *o); }; });
  }
  {
    auto o = std::make_shared<ViewOptions>();
    o->format = "csv";
    auto* cmd = app.add_subcommand("suppressions",
                                   "Recipients to stop mailing: complainants, hard bounces, repeated soft bounces");
    add_format(cmd, o->format, {"csv", "json"});
    cmd->add_option("-o,--output", o->out, "Write to FILE instead of standard output");
    cmd->add_option("--soft-days", o->soft_days, "Soft bounces on at least this many distinct UTC days ...")
        ->check(CLI::Range(1, 365))
        ->capture_default_str();
    cmd->add_option("--soft-span", o->soft_span, "... spread over at least this many days put a recipient on the list")
        ->check(CLI::Range(0, 3650))
        ->capture_default_str();
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_suppressions(g, *o); }; });
  }
}

void add_export_feedback(CLI::App* export_cmd, Globals& g, Action& run) {
  {
    auto o = std::make_shared<ViewOptions>();
    o->format = "csv";
    auto* cmd = export_cmd->add_subcommand(
        "feedback", "One row per feedback or failure report (JMRP too), in parsedmarc's failure CSV columns");
    add_format(cmd, o->format, {"csv", "json"});
    cmd->add_option("-o,--output", o->out, "Write to FILE instead of standard output");
    cmd->add_option("--since", o->since, "Only reports at or after: Nd, YYYY-MM-DD (UTC)");
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_export_feedback(g, *o); }; });
  }
  {
    auto o = std::make_shared<ViewOptions>();
    o->format = "csv";
    auto* cmd = export_cmd->add_subcommand("bounces", "One row per bounced recipient");
    add_format(cmd, o->format, {"csv", "json"});
    cmd->add_option("-o,--output", o->out, "Write to FILE instead of standard output");
    cmd->add_option("--since", o->since, "Only bounces at or after: Nd, YYYY-MM-DD (UTC)");
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_export_bounces(g, *o); }; });
  }
}

}  // namespace dmarq::cli
