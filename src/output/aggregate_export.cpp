#include "dmarq/output/aggregate_export.h"

#include <nlohmann/json.hpp>

#include "dmarq/output/escape.h"
#include "dmarq/util/text.h"

namespace dmarq::output {
namespace {

template <typename T, typename F>
std::string join(const std::vector<T>& items, F field, std::string_view sep = ",") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += field(items[i]);
  }
  return out;
}

struct Values {
  std::array<std::string, kAggregateColumns.size()> text;
  bool spf_aligned = false, dkim_aligned = false;
  uint64_t count = 0;
};

Values values(const model::ReportMeta& m, const model::Record& r, const SourceInfo* s) {
  Values v;
  v.spf_aligned = r.spf == "pass";
  v.dkim_aligned = r.dkim == "pass";
  v.count = r.count;
  auto b = [](bool x) { return std::string(x ? "True" : "False"); };
  const auto& p = m.policy;
  v.text = {m.version.empty() ? "draft" : m.version,
            m.org_name,
            m.email,
            m.extra_contact_info,
            m.report_id,
            util::iso8601_utc(m.begin),
            util::iso8601_utc(m.end),
            "False",
            join(m.errors, [](const std::string& e) { return e; }, "; "),
            p.domain,
            p.adkim,
            p.aspf,
            p.p,
            p.sp,
            p.np,
            p.pct ? std::to_string(*p.pct) : "",
            p.fo,
            p.testing,
            p.discovery_method,
            r.source_ip ? r.source_ip->to_string() : r.source_ip_text,
            "",
            s ? s->reverse_dns : "",
            s ? s->base_domain : "",
            s ? s->name : "",
            s ? s->type : "",
            "", "", "",
            std::to_string(r.count),
            b(v.spf_aligned),
            b(v.dkim_aligned),
            b(v.spf_aligned || v.dkim_aligned),
            r.disposition,
            join(r.reasons, [](const auto& x) { return x.type; }),
            join(r.reasons, [](const auto& x) { return x.comment; }),
            r.envelope_from,
            r.header_from,
            r.envelope_to,
            join(r.dkim_results, [](const auto& x) { return x.domain; }),
            join(r.dkim_results, [](const auto& x) { return x.selector; }),
            join(r.dkim_results, [](const auto& x) { return x.result; }),
            join(r.spf_results, [](const auto& x) { return x.domain; }),
            join(r.spf_results, [](const auto& x) { return x.scope; }),
            join(r.spf_results, [](const auto& x) { return x.result; }),
            s ? b(s->fcrdns) : ""};
  return v;
}

}  // namespace

AggregateWriter::AggregateWriter(std::ostream& out, ExportFormat format) : out_(out), format_(format) {
  if (format_ == ExportFormat::csv) {
    for (std::size_t i = 0; i < kAggregateColumns.size(); ++i) out_ << (i ? "," : "") << kAggregateColumns[i];
    out_ << "\r\n";
  } else {
    out_ << "[";
  }
}

void AggregateWriter::row(const model::ReportMeta& meta, const model::Record& record, const SourceInfo* source) {
  Values v = values(meta, record, source);
  if (format_ == ExportFormat::csv) {
    for (std::size_t i = 0; i < v.text.size(); ++i) out_ << (i ? "," : "") << csv_field(v.text[i]);
    out_ << "\r\n";
    return;
  }
  nlohmann::ordered_json obj;
  for (std::size_t i = 0; i < v.text.size(); ++i) {
    std::string key(kAggregateColumns[i]);
    if (key == "count") obj[key] = v.count;
    else if (key == "spf_aligned") obj[key] = v.spf_aligned;
    else if (key == "dkim_aligned") obj[key] = v.dkim_aligned;
    else if (key == "dmarc_aligned") obj[key] = v.spf_aligned || v.dkim_aligned;
    else if (key == "normalized_timespan") obj[key] = false;
    else if (key == "source_fcrdns" && source) obj[key] = source->fcrdns;
    else if (key == "pct" && meta.policy.pct) obj[key] = *meta.policy.pct;
    else if (v.text[i].empty() && key != "domain") obj[key] = nullptr;
    else obj[key] = v.text[i];
  }
  out_ << (first_ ? "\n" : ",\n") << obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  first_ = false;
}

void AggregateWriter::finish() {
  if (finished_) return;
  finished_ = true;
  if (format_ == ExportFormat::json) out_ << (first_ ? "]\n" : "\n]\n");
}

}  // namespace dmarq::output
