#include <catch2/catch.hpp>

#include <sstream>

#include "dmarq/ingest/ingester.h"
#include "dmarq/output/aggregate_export.h"
#include "support/support.h"

using namespace dmarq;

namespace {

struct Fixture {
  test::TestDb tdb;
  std::unique_ptr<store::Store> db = tdb.open();
  ingest::Ingester ingester{*db, Limits{}};

  ingest::Result ingest_file(const std::string& name) {
    source::RawMessage msg = source::read_file(test::data_path("reports/" + name).string(), Limits{});
    msg.origin = name;
    return ingester.ingest(msg, 1800000000);
  }

  std::string export_csv() {
    std::ostringstream out;
    output::AggregateWriter w(out, output::ExportFormat::csv);
    db->for_each_record({}, [&](const store::ExportRow& row) { w.row(*row.meta, *row.record); });
    w.finish();
    return out.str();
  }
};

std::string describe(const ingest::Result& r) {
  std::string s;
  for (const auto& i : r.issues) s += model::describe(i) + "\n";
  return s;
}

}  // namespace

TEST_CASE("ingester: the same report as xml, gz, zip and inside e-mails gives the same rows", "[ingest][backend]") {
  auto file = GENERATE(as<std::string>{}, "basic.xml", "basic.xml.gz", "basic.zip", "basic-trailing-garbage.xml.gz",
                       "basic-multipart.eml", "basic-whole-body.eml", "basic-forwarded.eml");
  INFO(file);
  Fixture f;
  auto r = f.ingest_file(file);
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::ok);
  CHECK(r.reports_new == 1);
  CHECK(r.records == 3);
  CHECK(r.rejects.empty());
  test::check_golden("ingest/basic.csv", f.export_csv());
}

TEST_CASE("ingester: where each report came from is kept", "[ingest][backend]") {
  Fixture f;
  f.ingest_file("basic-multipart.eml");
  f.ingest_file("basic.zip");
  f.ingest_file("basic-forwarded.eml");
  auto links = f.db->list_sources();
  REQUIRE(links.size() == 3);
  CHECK(links[0].origin == "basic-multipart.eml");
  CHECK(links[0].part == "2:receiver.example!example.com!1793491200!1793577599.xml");
  CHECK_FALSE(links[0].duplicate);
  CHECK(links[1].part == "receiver.example!example.com!1793491200!1793577599.xml");
  CHECK(links[1].duplicate);
  CHECK(links[2].part == "2.1");
  CHECK(links[2].duplicate);
  CHECK(f.db->list_reports({}).size() == 1);
}

TEST_CASE("ingester: the same bytes twice are a no-op", "[ingest][backend]") {
  Fixture f;
  CHECK(f.ingest_file("basic.xml").outcome == ingest::Outcome::ok);
  auto again = f.ingest_file("basic.xml");
  CHECK(again.outcome == ingest::Outcome::duplicate);
  CHECK(again.reports_new == 0);
  CHECK(f.db->list_reports({})[0].copies == 1);
}

TEST_CASE("ingester: bad inputs are rejected with a reason and recorded", "[ingest][backend]") {
  struct Case {
    std::string file, code;
  };
  auto c = GENERATE(Case{"doctype-bomb.xml", "xml.doctype"}, Case{"not-feedback.xml", "xml.not_aggregate"},
                    Case{"truncated.xml", "xml.malformed"});
  INFO(c.file);
  Fixture f;
  auto r = f.ingest_file(c.file);
  CHECK(r.outcome == ingest::Outcome::rejected);
  REQUIRE(r.rejects.size() == 1);
  CHECK(r.rejects[0].code == c.code);
  CHECK_FALSE(r.rejects[0].reason.empty());
  CHECK(f.db->list_rejects().size() == 1);
  CHECK(f.db->list_reports({}).empty());
}

TEST_CASE("ingester: one bad attachment does not lose the good one", "[ingest][backend]") {
  Fixture f;
  std::string good = test::read_data("reports/basic-multipart.eml");
  // Append a second, broken attachment before the closing boundary.
  auto close = good.rfind("--outer-b--");
  REQUIRE(close != std::string::npos);
  std::string msg = good.substr(0, close) +
                    "--outer-b\nContent-Type: application/gzip; name=x.xml.gz\nContent-Transfer-Encoding: base64\n\n"
                    "H4sIAAAAAAAAA/NIzcnJBwAAAP//\n\n" + good.substr(close);
  source::RawMessage raw{msg, "mixed.eml", "", 0};
  auto r = f.ingester.ingest(raw, 1800000000);
  CHECK(r.outcome == ingest::Outcome::partial);
  CHECK(r.reports_new == 1);
  REQUIRE(r.rejects.size() == 1);
  CHECK(r.rejects[0].part == "3");
  CHECK(f.db->list_reports({}).size() == 1);
}

TEST_CASE("ingester: non-report inputs say what they are", "[ingest][backend]") {
  Fixture f;
  source::RawMessage json{"{\"organization-name\":\"x\"}", "tls.json", "", 0};
  auto r = f.ingester.ingest(json, 1);
  REQUIRE(r.rejects.size() == 1);
  CHECK(r.rejects[0].reason.find("JSON") != std::string::npos);
  source::RawMessage mail{"From: a@b\nSubject: hi\n\nhello\n", "mail.eml", "", 0};
  auto m = f.ingester.ingest(mail, 1);
  REQUIRE(m.rejects.size() == 1);
  CHECK(m.rejects[0].code == "input.not_report");
  CHECK(m.kind == "not_report");
  CHECK(r.kind == "not_report");
  source::RawMessage unreadable{"", "big.eml", "file is too large", 0};
  auto u = f.ingester.ingest(unreadable, 1);
  REQUIRE(u.rejects.size() == 1);
  CHECK(u.rejects[0].code == "input.unreadable");
}

TEST_CASE("ingester: undeclared parts count as reports only when their root is <feedback>", "[ingest][backend]") {
  Fixture f;
  std::string xml = test::read_data("reports/basic.xml");
  std::string msg = "From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
                    "--B\nContent-Type: text/html\n\n<?xml version=\"1.0\"?>\n<!-- x -->\n<html><body>Report</body></html>\n"
                    "--B\nContent-Type: text/plain\n\n" + xml + "\n--B--\n";
  source::RawMessage raw{msg, "inline.eml", "", 0};
  auto r = f.ingester.ingest(raw, 1800000000);
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::ok);
  CHECK(r.reports_new == 1);
  auto links = f.db->list_sources();
  REQUIRE(links.size() == 1);
  CHECK(links[0].part == "2");
}

TEST_CASE("ingester: one message may carry several reports", "[ingest][backend]") {
  Fixture f;
  std::string good = test::read_data("reports/basic-multipart.eml");
  auto close = good.rfind("--outer-b--");
  REQUIRE(close != std::string::npos);
  std::string msg = good.substr(0, close) + "--outer-b\nContent-Type: text/xml; name=bis.xml\n\n" +
                    test::read_data("reports/dmarcbis.xml") + "\n" + good.substr(close);
  source::RawMessage raw{msg, "two.eml", "", 0};
  auto r = f.ingester.ingest(raw, 1800000000);
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::ok);
  CHECK(r.reports_new == 2);
  CHECK(r.records == 4);
  auto links = f.db->list_sources();
  REQUIRE(links.size() == 2);
  CHECK(links[0].part == "2:receiver.example!example.com!1793491200!1793577599.xml");
  CHECK(links[1].part == "3");
}
