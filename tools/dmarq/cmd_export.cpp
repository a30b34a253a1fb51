// dmarq export aggregate: one row per record, parsedmarc's CSV columns.
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "cli.h"
#include "dmarq/output/aggregate_export.h"
#include "dmarq/store/store.h"

namespace dmarq::cli {
namespace {

struct ExportOptions {
  std::string format = "csv";
  std::string out;
  std::optional<std::string> domain;
  std::optional<std::string> since;
};

int run_export(const Globals& g, const ExportOptions& o) {
  if (!require_db(g)) return kUsage;
  auto filter = make_filter(o.domain, o.since);
  if (!filter) return kUsage;
  auto db = open_db(g, store::OpenMode::read_only);
  std::ofstream file;
  if (!o.out.empty() && o.out != "-") {
    file.open(o.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      complain("cannot write " + o.out);
      return kUsage;
    }
  }
  std::ostream& out = file.is_open() ? static_cast<std::ostream&>(file) : std::cout;
  output::AggregateWriter writer(out, o.format == "json" ? output::ExportFormat::json : output::ExportFormat::csv);
  // Enrichment, when `dmarq enrich` has run: one lookup table for the export.
  std::map<std::string, output::SourceInfo> sources;
  for (const auto& [ip, info] : db->load_ip_info())
    sources[ip] = output::SourceInfo{info.ptr, info.base_domain, info.service, info.service_type, info.fcrdns};
  db->for_each_record(*filter, [&](const store::ExportRow& row) {
    const output::SourceInfo* source = nullptr;
    if (row.record->source_ip)
      if (auto it = sources.find(row.record->source_ip->to_string()); it != sources.end()) source = &it->second;
    writer.row(*row.meta, *row.record, source);
  });
  writer.finish();
  out.flush();
  if (!out) {
    complain("write failed" + (o.out.empty() ? std::string() : " on " + o.out));
    return kUsage;
  }
  return kOk;
}

}  // namespace

void add_export(CLI::App& app, Globals& g, Action& run) {
  auto o = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand("export", "Export stored data for spreadsheets and scripts");
  cmd->require_subcommand(1);
  auto* agg = cmd->add_subcommand("aggregate", "One row per record, in parsedmarc's aggregate CSV columns");
  agg->add_option("--format", o->format, "csv or json")->check(CLI::IsMember({"csv", "json"}))->capture_default_str();
  agg->add_option("-o,--output", o->out, "Write to FILE instead of standard output");
  agg->add_option("--domain", o->domain, "Only this policy domain");
  agg->add_option("--since", o->since, "Only reports ending at or after: Nd, YYYY-MM-DD (UTC)");
  agg->callback([&g, &run, o] { run = [&g, o] { return run_export(g, *o); }; });

  add_export_feedback(cmd, g, run);

  auto so = std::make_shared<SourcesOptions>();
  so->format = "csv";
  auto* src = cmd->add_subcommand("sources", "What 'dmarq sources' shows, every column, for review in a spreadsheet");
  add_sources_options(src, *so, false);
  src->add_option("-o,--output", o->out, "Write to FILE instead of standard output");
  src->callback([&g, &run, o, so] {
    run = [&g, o, so] {
      std::ofstream file;
      if (!o->out.empty() && o->out != "-") {
        file.open(o->out, std::ios::binary | std::ios::trunc);
        if (!file) {
          complain("cannot write " + o->out);
          return int{kUsage};
        }
      }
      int code = run_sources(g, *so, file.is_open() ? static_cast<std::ostream&>(file) : std::cout);
      if (file.is_open() && !file.flush()) {
        complain("write failed on " + o->out);
        return int{kUsage};
      }
      return code;
    };
  });
}

}  // namespace dmarq::cli
