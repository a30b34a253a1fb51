#include <catch2/catch.hpp>

#include "dmarq/analyze/domain.h"
#include "dmarq/enrich/enrich.h"
#include "support/fake_resolver.h"

using namespace dmarq;
using dmarq::test::FakeResolver;

TEST_CASE("enrich: PTR, forward confirmation and base domain of each address", "[enrich]") {
  FakeResolver dns;
  // Confirmed: the PTR name resolves back.
  dns.add("10.2.0.192.in-addr.arpa", dns::Type::ptr, "mail-wr1-f54.google.com")
      .add("mail-wr1-f54.google.com", dns::Type::a, "192.0.2.10");
  // A PTR name that points elsewhere.
  dns.add("11.2.0.192.in-addr.arpa", dns::Type::ptr, "host.example.co.uk")
      .add("host.example.co.uk", dns::Type::a, "198.51.100.1");
  // No PTR at all: 192.0.2.12. DNS trouble: 192.0.2.13.
  dns.fail("13.2.0.192.in-addr.arpa");
  // Two PTR names, the second one confirmed: that is the one shown.
  dns.add("14.2.0.192.in-addr.arpa", dns::Type::ptr, "a.example.net")
      .add("14.2.0.192.in-addr.arpa", dns::Type::ptr, "b.example.net")
      .add("a.example.net", dns::Type::a, "203.0.113.9")
      .add("b.example.net", dns::Type::a, "192.0.2.14");
  // IPv6: AAAA is asked, not A.
  dns.add("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", dns::Type::ptr, "v6.example.org")
      .add("v6.example.org", dns::Type::a, "192.0.2.99")
      .add("v6.example.org", dns::Type::aaaa, "2001:db8::1");

  auto infos = enrich::resolve_ips(
      dns, {"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14", "2001:db8::1", "not-an-ip"});
  REQUIRE(infos.size() == 7);

  CHECK(infos[0].ip == "192.0.2.10");
  CHECK(infos[0].ptr_status == dns::Status::ok);
  CHECK(infos[0].ptr == "mail-wr1-f54.google.com");
  CHECK(infos[0].fcrdns);
  CHECK(infos[0].base_domain == "google.com");

  CHECK(infos[1].ptr == "host.example.co.uk");
  CHECK_FALSE(infos[1].fcrdns);
  CHECK(infos[1].base_domain == "example.co.uk");  // the PSL, not the last two labels

  CHECK(infos[2].ptr_status == dns::Status::nxdomain);
  CHECK(infos[2].ptr.empty());
  CHECK_FALSE(infos[2].fcrdns);
  CHECK(infos[2].base_domain.empty());

  CHECK(infos[3].ptr_status == dns::Status::temporary);
  CHECK(infos[3].ptr.empty());

  CHECK(infos[4].ptr == "b.example.net");
  CHECK(infos[4].fcrdns);

  CHECK(infos[5].ptr == "v6.example.org");
  CHECK(infos[5].fcrdns);
  CHECK(dns.count("v6.example.org", dns::Type::aaaa) == 1);
  CHECK(dns.count("v6.example.org", dns::Type::a) == 0);

  CHECK(infos[6].ptr_status == dns::Status::temporary);  // nothing asked for a non-address
  CHECK(infos[6].ptr.empty());
}

TEST_CASE("enrich: the number of PTR names checked per address is bounded", "[enrich]") {
  FakeResolver dns;
  for (int i = 0; i < 50; ++i) dns.add("20.2.0.192.in-addr.arpa", dns::Type::ptr, "n" + std::to_string(i) + ".example");
  auto infos = enrich::resolve_ips(dns, {"192.0.2.20"});
  REQUIRE(infos.size() == 1);
  std::size_t forward = 0;
  for (const auto& [name, type] : dns.queries()) forward += type == dns::Type::a;
  CHECK(forward == enrich::kMaxPtrNames);
  CHECK_FALSE(infos[0].fcrdns);
}

TEST_CASE("enrich: suffixes match on label boundaries", "[enrich]") {
  CHECK(analyze::domain_is_under("mail.google.com", "google.com"));
  CHECK(analyze::domain_is_under("google.com", "google.com"));
  CHECK_FALSE(analyze::domain_is_under("notgoogle.com", "google.com"));
  CHECK_FALSE(analyze::domain_is_under("google.com.evil.example", "google.com"));
  CHECK_FALSE(analyze::domain_is_under("com", "google.com"));
  CHECK_FALSE(analyze::domain_is_under("mail.google.com", ""));
}

TEST_CASE("enrich: the shipped map of mail services", "[enrich]") {
  const auto& map = enrich::ServiceMap::shipped();
  REQUIRE(map.services().size() >= 10);
  struct Row {
    std::string ptr, service;
  };
  for (const auto& row : std::vector<Row>{
           {"mail-wr1-f54.google.com", "Google"},
           {"MAIL-OI1-F170.GOOGLE.COM.", "Google"},
           {"mail-db8eur05on2100.outbound.protection.outlook.com", "Microsoft 365 / Outlook.com"},
           {"a8-30.smtp-out.amazonses.com", "Amazon SES"},
           {"o1.ptr4321.sendgrid.net", "SendGrid"},
           {"mail132-3.atl131.mcsv.net", "Mailchimp"},
           {"mta-12-34.mtasv.net", "Postmark"},
           {"sender4-op-o12.zoho.com", "Zoho Mail"},
           {"notgoogle.com", ""},
           {"google.com.attacker.example", ""},
       }) {
    INFO(row.ptr);
    const auto* s = map.match(row.ptr);
    CHECK((s ? s->name : std::string()) == row.service);
  }
  // File order: the first table of the file comes first.
  CHECK(map.services().front().key == "google");
}

TEST_CASE("enrich: a service map with a bad entry is refused with where it is", "[enrich]") {
  CHECK_THROWS_WITH(enrich::ServiceMap::parse("[service.x]\nname = \"X\"\nptr_suffixes = [\"com\"]\n", "m.toml"),
                    Catch::Contains("service.x") && Catch::Contains("dot"));
  CHECK_THROWS_WITH(enrich::ServiceMap::parse("[service.x]\nptr_suffixes = [\"x.example\"]\n", "m.toml"),
                    Catch::Contains("no name"));
  CHECK_THROWS_WITH(enrich::ServiceMap::parse("[other]\n", "m.toml"), Catch::Contains("no [service.*]"));
  CHECK_THROWS(enrich::ServiceMap::parse("[service.x\n", "m.toml"));
  auto ok = enrich::ServiceMap::parse(
      "[service.b]\nname = \"B\"\nptr_suffixes = [\".B.Example.\"]\n[service.a]\nname = \"A\"\nptr_suffixes = "
      "[\"a.example\"]\n",
      "m.toml");
  REQUIRE(ok.services().size() == 2);
  CHECK(ok.services()[0].key == "b");  // file order, not key order
  CHECK(ok.services()[0].ptr_suffixes[0] == "b.example");
  CHECK(ok.match("x.b.example")->name == "B");
}
