#include <catch2/catch.hpp>

#include "dmarq/parse/aggregate_xml.h"
#include "support/support.h"

using namespace dmarq;

namespace {

std::optional<model::AggregateReport> parse_xml(const std::string& xml, model::Issues& issues,
                                            const Limits& limits = Limits{}) {
  return parse::parse_aggregate_xml(xml, limits, issues);
}

bool has_code(const model::Issues& issues, const std::string& code) {
  for (const auto& i : issues)
    if (i.code == code) return true;
  return false;
}

std::string first_error(const model::Issues& issues) {
  for (const auto& i : issues)
    if (i.severity == model::Severity::error) return i.code + ": " + i.message + " @ " + i.where;
  return {};
}

}  // namespace

TEST_CASE("aggregate_xml: golden dumps of well-formed reports", "[parse]") {
  auto name = GENERATE(as<std::string>{}, "basic", "dmarcbis", "quirks-1252", "bom-oneline");
  INFO(name);
  model::Issues issues;
  auto report = parse_xml(test::read_data("reports/" + name + ".xml"), issues);
  INFO(first_error(issues));
  REQUIRE(report);
  CHECK_FALSE(model::has_error(issues));
  test::check_golden("parse/" + name + ".dump", test::dump(*report));
}

TEST_CASE("aggregate_xml: the same report read in any chunking gives the same result", "[parse]") {
  std::string xml = test::read_data("reports/basic.xml");
  model::Issues whole_issues;
  auto whole = parse_xml(xml, whole_issues);
  REQUIRE(whole);
  auto chunk = GENERATE(1, 3, 7, 64, 1000);
  struct Collect : parse::AggregateHandler {
    model::AggregateReport r;
    void begin_report(const model::ReportMeta& m) override { r.meta = m; }
    void record(model::Record& rec) override { r.records.push_back(rec); }
    void end_report(const model::ReportMeta& m) override { r.meta = m; }
  } handler;
  Limits limits;
  parse::AggregateXmlParser parser(handler, limits);
  util::ViewReader reader(xml, static_cast<std::size_t>(chunk));
  REQUIRE(parser.parse(reader));
  CHECK(test::dump(handler.r) == test::dump(*whole));
}

TEST_CASE("aggregate_xml: tolerated quirks are warnings, not errors", "[parse]") {
  model::Issues issues;
  auto report = parse_xml(test::read_data("reports/quirks-1252.xml"), issues);
  REQUIRE(report);
  CHECK(report->meta.org_name == "\"B\xc3\xa4" "ckerei M\xc3\xbcller");  // windows-1252 -> UTF-8
  CHECK(report->meta.xml_namespace == "http://dmarc.org/dmarc-xml/0.1");
  CHECK(report->meta.begin == 1793491200);
  CHECK(report->meta.end == 1793577599);
  CHECK(report->meta.policy.p == "none");
  CHECK(report->meta.policy.adkim == "r");
  REQUIRE(report->records.size() == 2);
  CHECK(report->records[0].disposition.empty());
  CHECK(report->records[0].dkim.empty());  // policy_evaluated without dkim/spf
  CHECK(report->records[0].source_ip->to_string() == "192.0.2.99");
  CHECK(report->records[0].spf_results[0].result == "HARDFAIL");  // unknown word kept as written
  CHECK(report->records[1].disposition == "quarantine");
  CHECK_FALSE(report->records[1].source_ip.has_value());
  CHECK(report->records[1].source_ip_text == "not-an-ip");
  CHECK(has_code(issues, "xml.float_time"));
  CHECK(has_code(issues, "xml.unknown_value"));
  CHECK(has_code(issues, "xml.bad_source_ip"));
  CHECK(has_code(issues, "xml.no_disposition"));
}

TEST_CASE("aggregate_xml: hostile and broken documents are rejected with a reason", "[parse]") {
  struct Case {
    std::string file, code;
  };
  auto c = GENERATE(Case{"doctype-bomb.xml", "xml.doctype"}, Case{"xxe.xml", "xml.doctype"},
                    Case{"not-feedback.xml", "xml.not_aggregate"}, Case{"truncated.xml", "xml.malformed"},
                    Case{"bad-1252.xml", "xml.encoding"});
  INFO(c.file);
  model::Issues issues;
  auto report = parse_xml(test::read_data("reports/" + c.file), issues);
  CHECK_FALSE(report);
  REQUIRE(model::has_error(issues));
  CHECK(first_error(issues).rfind(c.code, 0) == 0);
  for (const auto& i : issues) CHECK(i.message.find("root:") == std::string::npos);  // never /etc/passwd
}

TEST_CASE("aggregate_xml: limits on depth, text, records and results", "[parse]") {
  Limits limits;
  model::Issues issues;
  SECTION("depth") {
    std::string deep = "<feedback>";
    for (int i = 0; i < 100; ++i) deep += "<x>";
    CHECK_FALSE(parse_xml(deep, issues, limits));
    CHECK(has_code(issues, "xml.too_deep"));
  }
  SECTION("text") {
    limits.max_text_bytes = 100;
    std::string xml = "<feedback><report_metadata><org_name>" + std::string(200, 'a') + "</org_name>";
    CHECK_FALSE(parse_xml(xml, issues, limits));
    CHECK(has_code(issues, "xml.text_too_long"));
  }
  SECTION("records") {
    limits.max_records = 2;
    std::string xml = test::read_data("reports/basic.xml");  // 3 records
    CHECK_FALSE(parse_xml(xml, issues, limits));
    CHECK(has_code(issues, "xml.too_many_records"));
  }
  SECTION("results per record") {
    limits.max_auth_results = 1;
    CHECK_FALSE(parse_xml(test::read_data("reports/basic.xml"), issues, limits));  // 2 dkim results
    CHECK(has_code(issues, "xml.too_many_results"));
  }
}

TEST_CASE("aggregate_xml: missing identity fields", "[parse]") {
  model::Issues issues;
  SECTION("no report_id is an error") {
    CHECK_FALSE(parse_xml("<feedback><report_metadata><org_name>x</org_name><date_range><begin>1</begin><end>2</end>"
                      "</date_range></report_metadata></feedback>",
                      issues));
    CHECK(has_code(issues, "xml.no_report_id"));
  }
  SECTION("no date_range is an error") {
    CHECK_FALSE(parse_xml("<feedback><report_metadata><report_id>x</report_id></report_metadata></feedback>", issues));
    CHECK(has_code(issues, "xml.no_date_range"));
  }
  SECTION("data_range is read as date_range") {
    auto r = parse_xml("<feedback><report_metadata><report_id>x</report_id><data_range><begin>10</begin><end>20</end>"
                   "</data_range></report_metadata></feedback>",
                   issues);
    REQUIRE(r);
    CHECK(r->meta.begin == 10);
    CHECK(has_code(issues, "xml.data_range"));
  }
  SECTION("a non-numeric time is an error") {
    CHECK_FALSE(parse_xml("<feedback><report_metadata><report_id>x</report_id><date_range><begin>yesterday</begin>"
                      "</date_range></report_metadata></feedback>",
                      issues));
    CHECK(has_code(issues, "xml.bad_time"));
  }
  SECTION("empty input") {
    CHECK_FALSE(parse_xml("", issues));
    CHECK(model::has_error(issues));
  }
}

TEST_CASE("aggregate_xml: each record gets only its own results when records are swapped out", "[parse]") {
  // The pipeline swaps each record out of the parser and hands back one it
  // has finished with, results and all; the parser reuses those elements.
  std::string xml = R"(<feedback><report_metadata><org_name>o</org_name><report_id>r</report_id>
<date_range><begin>1</begin><end>2</end></date_range></report_metadata>
<policy_published><domain>d.example</domain></policy_published>
<record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated><disposition>none</disposition>
<reason><type>forwarded</type><comment>c1</comment></reason><reason><type>other</type></reason></policy_evaluated></row>
<identifiers><header_from>d.example</header_from></identifiers>
<auth_results><dkim><domain>a.example</domain><selector>s1</selector><result>pass</result></dkim>
<dkim><domain>b.example</domain><result>fail</result><human_result>h</human_result></dkim>
<spf><domain>d.example</domain><result>pass</result></spf></auth_results></record>
<record><row><source_ip>192.0.2.2</source_ip><count>2</count><policy_evaluated><disposition>none</disposition></policy_evaluated></row>
<identifiers><header_from>d.example</header_from></identifiers>
<auth_results><spf><domain>x.example</domain><scope>helo</scope><result>none</result></spf>
<spf><domain>y.example</domain><result>fail</result></spf></auth_results></record>
<record><row><source_ip>192.0.2.3</source_ip><count>3</count><policy_evaluated><disposition>none</disposition></policy_evaluated></row>
<identifiers><header_from>d.example</header_from></identifiers>
<auth_results><dkim><domain>c.example</domain><result>pass</result></dkim><spf><domain>z.example</domain><result>pass</result></spf></auth_results></record>
</feedback>)";
  struct Swapping : parse::AggregateHandler {
    model::Record spare;
    std::vector<model::Record> got;
    Swapping() {
      // A used record: more results than any record above, all stale.
      spare.dkim_results.assign(4, model::DkimResult{"stale", "stale", "stale", "stale"});
      spare.spf_results.assign(4, model::SpfResult{"stale", "stale", "stale", "stale"});
      spare.reasons.assign(4, model::OverrideReason{"stale", "stale"});
      spare.header_from = "stale";
    }
    void begin_report(const model::ReportMeta&) override {}
    void record(model::Record& rec) override {
      swap(spare, rec);
      got.push_back(spare);  // `spare` goes back to the parser on the next record
    }
    void end_report(const model::ReportMeta&) override {}
  } handler;
  Limits limits;
  parse::AggregateXmlParser parser(handler, limits);
  util::ViewReader reader(xml, 64);
  REQUIRE(parser.parse(reader));
  REQUIRE(handler.got.size() == 3);
  const auto& r1 = handler.got[0];
  REQUIRE(r1.dkim_results.size() == 2);
  CHECK(r1.dkim_results[0].domain == "a.example");
  CHECK(r1.dkim_results[0].selector == "s1");
  CHECK(r1.dkim_results[0].human_result.empty());
  CHECK(r1.dkim_results[1].domain == "b.example");
  CHECK(r1.dkim_results[1].selector.empty());
  CHECK(r1.dkim_results[1].human_result == "h");
  REQUIRE(r1.spf_results.size() == 1);
  CHECK(r1.spf_results[0].scope.empty());
  REQUIRE(r1.reasons.size() == 2);
  CHECK(r1.reasons[0].comment == "c1");
  CHECK(r1.reasons[1].type == "other");
  CHECK(r1.reasons[1].comment.empty());
  const auto& r2 = handler.got[1];
  CHECK(r2.dkim_results.empty());
  CHECK(r2.reasons.empty());
  REQUIRE(r2.spf_results.size() == 2);
  CHECK(r2.spf_results[0].scope == "helo");
  CHECK(r2.spf_results[1].domain == "y.example");
  CHECK(r2.spf_results[1].scope.empty());
  CHECK(r2.spf_results[1].human_result.empty());
  const auto& r3 = handler.got[2];
  REQUIRE(r3.dkim_results.size() == 1);
  CHECK(r3.dkim_results[0].domain == "c.example");
  CHECK(r3.dkim_results[0].selector.empty());
  REQUIRE(r3.spf_results.size() == 1);
  CHECK(r3.reasons.empty());
  for (const auto& r : handler.got) CHECK(r.header_from == "d.example");
}
