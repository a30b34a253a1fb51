// The aggregate export: one row per record, in parsedmarc's aggregate CSV
// columns and order (so existing spreadsheets keep working), as CSV or as a
// JSON array of objects with the same keys. Dates are ISO 8601 UTC.
// The reverse-DNS columns come from `dmarq enrich` (source_fcrdns, last, is
// dmarq's own); country and ASN stay empty.
#pragma once

#include <array>
#include <ostream>
#include <string>
#include <string_view>

#include "dmarq/model/aggregate.h"

namespace dmarq::output {

inline constexpr std::array<std::string_view, 45> kAggregateColumns{
    "xml_schema", "org_name", "org_email", "org_extra_contact_info", "report_id", "begin_date", "end_date",
    "normalized_timespan", "errors", "domain", "adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing",
    "discovery_method", "source_ip_address", "source_country", "source_reverse_dns", "source_base_domain",
    "source_name", "source_type", "source_asn", "source_as_name", "source_as_domain", "count", "spf_aligned",
    "dkim_aligned", "dmarc_aligned", "disposition", "policy_override_reasons", "policy_override_comments",
    "envelope_from", "header_from", "envelope_to", "dkim_domains", "dkim_selectors", "dkim_results",
    "spf_domains", "spf_scopes", "spf_results", "source_fcrdns"};

// What enrichment knows of a record's source address.
struct SourceInfo {
  std::string reverse_dns;  // PTR name
  std::string base_domain;  // its registrable domain
  std::string name, type;   // mail service, when one matched
  bool fcrdns = false;      // the PTR name resolves back to the address
};

enum class ExportFormat { csv, json };

class AggregateWriter {
 public:
  AggregateWriter(std::ostream& out, ExportFormat format);
  // `source` is null when the address has not been enriched.
  void row(const model::ReportMeta& meta, const model::Record& record, const SourceInfo* source = nullptr);
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
