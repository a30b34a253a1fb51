#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <sstream>

#include "dmarq/output/aggregate_export.h"
#include "dmarq/parse/aggregate_xml.h"
#include "support/support.h"

using namespace dmarq;


TEST_CASE("aggregate_export: CSV header is parsedmarc's, in order", "[output]") {
  std::ostringstream out;
  { output::AggregateWriter w(out, output::ExportFormat::csv); }
  CHECK(out.str() ==
        "xml_schema,org_name,org_email,org_extra_contact_info,report_id,begin_date,end_date,normalized_timespan,"
        "errors,domain,adkim,aspf,p,sp,np,pct,fo,testing,discovery_method,source_ip_address,source_country,"
        "source_reverse_dns,source_base_domain,source_name,source_type,source_asn,source_as_name,source_as_domain,"
        "count,spf_aligned,dkim_aligned,dmarc_aligned,disposition,policy_override_reasons,"
        "policy_override_comments,envelope_from,header_from,envelope_to,dkim_domains,dkim_selectors,dkim_results,"
        "spf_domains,spf_scopes,spf_results,source_fcrdns\r\n");
}

TEST_CASE("aggregate_export: golden CSV and JSON of a report", "[output]") {
  auto r = test::parse_report("basic.xml");
  std::ostringstream csv, json;
  {
    output::AggregateWriter w(csv, output::ExportFormat::csv);
    output::AggregateWriter j(json, output::ExportFormat::json);
    for (const auto& rec : r.records) {
      w.row(r.meta, rec);
      j.row(r.meta, rec);
    }
  }
  test::check_golden("export/basic.csv", csv.str());
  test::check_golden("export/basic.json", json.str());
  auto parsed = nlohmann::json::parse(json.str());
  REQUIRE(parsed.size() == 3);
  CHECK(parsed[0]["count"] == 12);
  CHECK(parsed[0]["dmarc_aligned"] == true);
  CHECK(parsed[1]["source_ip_address"] == "2001:db8::1");
  CHECK(parsed[1]["policy_override_reasons"] == "forwarded,local_policy");
  CHECK(parsed[0]["begin_date"] == "2026-11-01T00:00:00Z");
}

TEST_CASE("aggregate_export: a hostile value cannot become a formula", "[output]") {
  auto r = test::parse_report("basic.xml");
  r.meta.org_name = "=HYPERLINK(\"http://x\")";
  std::ostringstream csv;
  {
    output::AggregateWriter w(csv, output::ExportFormat::csv);
    w.row(r.meta, r.records[0]);
  }
  CHECK(csv.str().find(",\"'=HYPERLINK(\"\"http://x\"\")\",") != std::string::npos);
}

TEST_CASE("aggregate_export: enrichment fills the reverse-DNS columns", "[output]") {
  auto r = test::parse_report("basic.xml");
  REQUIRE_FALSE(r.records.empty());
  output::SourceInfo info{"mail.example.net", "example.net", "Example Mail", "Transactional", true};
  std::ostringstream csv, json;
  {
    output::AggregateWriter w(csv, output::ExportFormat::csv);
    output::AggregateWriter j(json, output::ExportFormat::json);
    w.row(r.meta, r.records[0], &info);
    j.row(r.meta, r.records[0], &info);
    j.row(r.meta, r.records[0]);
  }
  CHECK(csv.str().find(",mail.example.net,example.net,Example Mail,Transactional,") != std::string::npos);
  CHECK(csv.str().substr(csv.str().size() - 7) == ",True\r\n");
  auto parsed = nlohmann::json::parse(json.str());
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[0]["source_reverse_dns"] == "mail.example.net");
  CHECK(parsed[0]["source_base_domain"] == "example.net");
  CHECK(parsed[0]["source_name"] == "Example Mail");
  CHECK(parsed[0]["source_type"] == "Transactional");
  CHECK(parsed[0]["source_fcrdns"] == true);
  CHECK(parsed[1]["source_reverse_dns"].is_null());
  CHECK(parsed[1]["source_fcrdns"].is_null());
}
