// dmarq reports and dmarq rejects: list what the database holds.
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "dmarq/output/escape.h"
#include "dmarq/output/table.h"
#include "dmarq/store/store.h"
#include "dmarq/util/text.h"

namespace dmarq::cli {
namespace {

struct ListOptions {
  std::string format = "table";
  std::optional<std::string> domain;
  std::optional<std::string> since;
};

void print_csv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::cout << output::csv_line(header);
  for (const auto& r : rows) std::cout << output::csv_line(r);
}

int run_reports(const Globals& g, const ListOptions& o) {
  if (!require_db(g)) return kUsage;
  auto filter = make_filter(o.domain, o.since);
  if (!filter) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  auto reports = db->list_reports(*filter);

  if (o.format == "json") {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& r : reports)
      arr.push_back({{"org_name", r.org_name}, {"report_id", r.report_id}, {"domain", r.policy_domain},
                     {"p", r.p}, {"begin", util::iso8601_utc(r.begin)}, {"end", util::iso8601_utc(r.end)},
                     {"records", r.records}, {"messages", r.messages}, {"copies", r.copies}});
    std::cout << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kOk;
  }
  std::vector<std::string> header{"org", "report_id", "domain", "begin", "end", "records", "messages"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : reports)
    rows.push_back({r.org_name, r.report_id, r.policy_domain,
                    o.format == "csv" ? util::iso8601_utc(r.begin) : util::iso_date_utc(r.begin),
                    o.format == "csv" ? util::iso8601_utc(r.end) : util::iso_date_utc(r.end),
                    std::to_string(r.records), std::to_string(r.messages)});
  if (o.format == "csv") {
    print_csv(header, rows);
    return kOk;
  }
  if (rows.empty()) {
    std::cout << "no reports\n";
    return kOk;
  }
  output::Table table(header);
  table.align_right(5);
  table.align_right(6);
  for (auto& r : rows) table.add_row(std::move(r));
  table.print(std::cout);
  return kOk;
}

int run_rejects(const Globals& g, const std::string& format) {
  if (!require_db(g)) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  auto rejects = db->list_rejects();
  if (format == "json") {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& r : rejects)
      arr.push_back({{"when", util::iso8601_utc(r.rejected_at)}, {"origin", r.origin}, {"part", r.part},
                     {"code", r.code}, {"reason", r.reason}});
    std::cout << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kOk;
  }
  std::vector<std::string> header{"when", "origin", "part", "code", "reason"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : rejects) rows.push_back({util::iso8601_utc(r.rejected_at), r.origin, r.part, r.code, r.reason});
  if (format == "csv") {
    print_csv(header, rows);
    return kOk;
  }
  if (rows.empty()) {
    std::cout << "no rejected inputs\n";
    return kOk;
  }
  // Reasons are the point here: one block per reject rather than a table
  // that would cut them.
  for (const auto& r : rows) {
    auto safe = [](const std::string& text) { return output::terminal_safe(text); };
    std::cout << r[0] << "  " << safe(r[1]) << (r[2].empty() || r[2] == "-" ? "" : " part " + safe(r[2])) << "\n    "
              << safe(r[3]) << ": " << safe(r[4]) << "\n";
  }
  return kOk;
}

}  // namespace

void add_reports(CLI::App& app, Globals& g, Action& run) {
  auto o = std::make_shared<ListOptions>();
  auto* cmd = app.add_subcommand("reports", "List stored aggregate reports");
  cmd->add_option("--domain", o->domain, "Only reports for this policy domain");
  cmd->add_option("--since", o->since, "Only reports ending at or after: Nd, YYYY-MM-DD (UTC)");
  cmd->add_option("--format", o->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  cmd->callback([&g, &run, o] { run = [&g, o] { return run_reports(g, *o); }; });
}

void add_rejects(CLI::App& app, Globals& g, Action& run) {
  auto format = std::make_shared<std::string>("table");
  auto* cmd = app.add_subcommand("rejects", "List rejected inputs: where, why and when");
  cmd->add_option("--format", *format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  cmd->callback([&g, &run, format] { run = [&g, format] { return run_rejects(g, *format); }; });
}

}  // namespace dmarq::cli
