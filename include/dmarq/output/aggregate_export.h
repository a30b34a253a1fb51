// The aggregate export: one row per record, in parsedmarc's aggregate CSV
// columns and order (so existing spreadsheets keep working), as CSV or as a
// JSON array of objects with the same keys. Dates are ISO 8601 UTC.
// Enrichment columns (country, reverse DNS, ASN, ...) stay empty until known.
#pragma once

#include <array>
#include <ostream>
#include <string>
#include <string_view>

#include "dmarq/model/aggregate.h"

namespace dmarq::output {

inline constexpr std::array<std::string_view, 44> kAggregateColumns{
    "xml_schema", "org_name", "org_email", "org_extra_contact_info", "report_id", "begin_date", "end_date",
    "normalized_timespan", "errors", "domain", "adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing",
    "discovery_method", "source_ip_address", "source_country", "source_reverse_dns", "source_base_domain",
    "source_name", "source_type", "source_asn", "source_as_name", "source_as_domain", "count", "spf_aligned",
    "dkim_aligned", "dmarc_aligned", "disposition", "policy_override_reasons", "policy_override_comments",
    "envelope_from", "header_from", "envelope_to", "dkim_domains", "dkim_selectors", "dkim_results",
    "spf_domains", "spf_scopes", "spf_results"};

enum class ExportFormat { csv, json };

class AggregateWriter {
 public:
  AggregateWriter(std::ostream& out, ExportFormat format);
  void row(const model::ReportMeta& meta, const model::Record& record);
  // Closes the JSON array; idempotent.
  void finish();
  ~AggregateWriter() { finish(); }

 private:
  std::ostream& out_;
  ExportFormat format_;
  bool first_ = true;
  bool finished_ = false;
};

}  // namespace dmarq::output
