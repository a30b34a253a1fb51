#include <catch2/catch.hpp>

#include <fstream>

#include "dmarq/analyze/senders.h"
#include "support/support.h"

using dmarq::analyze::Cidr;
using dmarq::analyze::ConfigError;
using dmarq::analyze::parse_cidr;
using dmarq::analyze::parse_senders;
using dmarq::analyze::Sender;
using dmarq::analyze::Senders;
using dmarq::analyze::SourceFacts;

namespace {

dmarq::model::IpAddress ip(const std::string& text) {
  auto parsed = dmarq::model::parse_ip(text);
  REQUIRE(parsed);
  return *parsed;
}

Cidr cidr(const std::string& text) {
  auto parsed = parse_cidr(text);
  REQUIRE(parsed);
  return *parsed;
}

}  // namespace

TEST_CASE("senders: parse_cidr reads addresses and ranges, v4 and v6", "[analyze]") {
  struct Row {
    std::string in;
    int bits;
    std::string text;  // to_string(): base masked, user's family
  };
  const Row rows[] = {
      {"192.0.2.1", 128, "192.0.2.1"},
      {"192.0.2.1/32", 128, "192.0.2.1"},
      {"192.0.2.0/24", 120, "192.0.2.0/24"},
      {"192.0.2.77/24", 120, "192.0.2.0/24"},  // host bits masked off
      {"10.1.2.3/8", 104, "10.0.0.0/8"},
      {"10.1.2.3/0", 96, "0.0.0.0/0"},
      {"172.16.255.1/12", 108, "172.16.0.0/12"},
      {"2001:db8::1", 128, "2001:db8::1"},
      {"2001:db8::1/128", 128, "2001:db8::1"},
      {"2001:DB8::/32", 32, "2001:db8::/32"},
      {"2001:db8:aaaa:bbbb::1/48", 48, "2001:db8:aaaa::/48"},
      {"2001:db8::ff/121", 121, "2001:db8::80/121"},
      {"::/0", 0, "::/0"},
      {"::ffff:192.0.2.1/120", 120, "::ffff:192.0.2.0/120"},
  };
  for (const auto& row : rows) {
    INFO(row.in);
    auto c = parse_cidr(row.in);
    REQUIRE(c);
    CHECK(c->bits == row.bits);
    CHECK(c->to_string() == row.text);
    // The printed form reads back as the same range.
    auto back = parse_cidr(c->to_string());
    REQUIRE(back);
    CHECK(back->base == c->base);
    CHECK(back->bits == c->bits);
  }
}

TEST_CASE("senders: parse_cidr refuses what it cannot use", "[analyze]") {
  const std::string bad[] = {"300.1.1.1", "10.0.0.0/33", "2001:db8::/129", "/24", "", "10.0.0.0/", "10.0.0.0/-1",
                             "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0.0/0008",
                             "10.0.0.0/x", "example.com", "2001:db8::/", "1.2.3", "fe80::1%eth0"};
  for (const auto& text : bad) {
    INFO("'" << text << "'");
    CHECK_FALSE(parse_cidr(text));
  }
}

TEST_CASE("senders: IPv4 CIDR boundaries from /0 to /32", "[analyze]") {
  struct Row {
    std::string range, address;
    bool inside;
  };
  const Row rows[] = {
      {"0.0.0.0/0", "0.0.0.0", true},
      {"0.0.0.0/0", "255.255.255.255", true},
      {"128.0.0.0/1", "127.255.255.255", false},
      {"128.0.0.0/1", "128.0.0.0", true},
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"10.0.0.0/8", "9.255.255.255", false},
      {"172.16.0.0/12", "172.31.255.255", true},
      {"172.16.0.0/12", "172.32.0.0", false},
      {"192.0.2.0/24", "192.0.2.0", true},
      {"192.0.2.0/24", "192.0.2.255", true},
      {"192.0.2.0/24", "192.0.3.0", false},
      {"192.0.2.0/25", "192.0.2.127", true},
      {"192.0.2.0/25", "192.0.2.128", false},
      {"192.0.2.4/31", "192.0.2.5", true},
      {"192.0.2.4/31", "192.0.2.6", false},
      {"192.0.2.1/32", "192.0.2.1", true},
      {"192.0.2.1/32", "192.0.2.2", false},
      {"192.0.2.1", "192.0.2.1", true},
      {"192.0.2.1", "192.0.2.0", false},
      {"192.0.2.0/24", "::ffff:192.0.2.9", true},  // the same address, written the IPv6 way
  };
  for (const auto& row : rows) {
    INFO(row.range << " contains " << row.address);
    CHECK(cidr(row.range).contains(ip(row.address)) == row.inside);
  }
}

TEST_CASE("senders: IPv6 CIDR boundaries, and the families never cross", "[analyze]") {
  struct Row {
    std::string range, address;
    bool inside;
  };
  const Row rows[] = {
      {"2001:db8::/32", "2001:db8::1", true},
      {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"2001:db8::/32", "2001:db9::", false},
      {"2001:db8::/32", "2001:db7:ffff::1", false},
      {"2001:db8:1:2::/64", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
      {"2001:db8:1:2::/64", "2001:db8:1:3::", false},
      {"2001:db8::1/128", "2001:db8::1", true},
      {"2001:db8::1/128", "2001:db8::2", false},
      {"::/0", "2001:db8::1", true},
      {"::/0", "::1", true},
      // IPv6 ranges never contain IPv4 addresses, even ones that cover
      // ::ffff:0:0/96 byte-wise.
      {"::/0", "192.0.2.1", false},
      {"::/8", "10.0.0.1", false},
      {"::/95", "10.0.0.1", false},
      {"2001:db8::/32", "192.0.2.1", false},
      // IPv4 ranges never contain IPv6 addresses.
      {"0.0.0.0/0", "::", false},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"0.0.0.0/0", "::c000:201", false},  // 192.0.2.1's low bytes outside ::ffff:0:0/96
      {"192.0.2.0/24", "::192.0.2.1", false},
      {"192.0.2.0/24", "64:ff9b::192.0.2.1", false},
  };
  for (const auto& row : rows) {
    INFO(row.range << " contains " << row.address);
    CHECK(cidr(row.range).contains(ip(row.address)) == row.inside);
  }
}

TEST_CASE("senders: match goes sender by sender, ip then ptr then dkim then spf", "[analyze]") {
  std::vector<Sender> list(3);
  list[0].name = "office";
  list[0].ips = {cidr("192.0.2.0/24"), cidr("2001:db8::/32")};
  list[0].ptr_suffixes = {"mail.example.net"};
  list[1].name = "esp";
  list[1].dkim_domains = {"esp.example"};
  list[1].spf_includes = {"_spf.esp.example"};
  list[1].ips = {cidr("198.51.100.7")};
  list[2].name = "late";
  list[2].ips = {cidr("192.0.2.0/25")};  // overlaps office; office comes first
  list[2].dkim_domains = {"example.com"};
  const Senders senders(list);

  struct Row {
    std::string what;
    SourceFacts facts;
    std::string sender, kind, value;  // sender "" = no match
  };
  auto facts = [](std::optional<std::string> address, std::vector<std::string> ptr, std::vector<std::string> dkim,
                  std::vector<std::string> spf) {
    SourceFacts f;
    if (address) f.ip = dmarq::model::parse_ip(*address);
    f.ptr_names = std::move(ptr);
    f.dkim_domains = std::move(dkim);
    f.spf_includes = std::move(spf);
    return f;
  };
  const Row rows[] = {
      {"ip v4", facts("192.0.2.5", {}, {}, {}), "office", "ip", "192.0.2.0/24"},
      {"ip v6", facts("2001:db8::25", {}, {}, {}), "office", "ip", "2001:db8::/32"},
      {"ip host", facts("198.51.100.7", {}, {}, {}), "esp", "ip", "198.51.100.7"},
      {"ptr, no ip", facts(std::nullopt, {"out1.mail.example.net"}, {}, {}), "office", "ptr", "mail.example.net"},
      {"ptr exact, mixed case", facts("203.0.113.1", {"Mail.Example.NET."}, {}, {}), "office", "ptr",
       "mail.example.net"},
      {"ptr not on a label boundary", facts("203.0.113.1", {"evilmail.example.net"}, {}, {}), "", "", ""},
      {"ptr parent is not under", facts("203.0.113.1", {"example.net"}, {}, {}), "", "", ""},
      {"second ptr name matches", facts("203.0.113.1", {"x.other.example", "a.mail.example.net"}, {}, {}), "office",
       "ptr", "mail.example.net"},
      {"dkim exact", facts("203.0.113.1", {}, {"esp.example"}, {}), "esp", "dkim", "esp.example"},
      {"dkim subdomain", facts("203.0.113.1", {}, {"s1.esp.example"}, {}), "esp", "dkim", "esp.example"},
      {"dkim boundary", facts("203.0.113.1", {}, {"evil-esp.example", "esp.example.evil"}, {}), "", "", ""},
      {"spf exact", facts("203.0.113.1", {}, {}, {"_spf.esp.example"}), "esp", "spf", "_spf.esp.example"},
      {"spf boundary", facts("203.0.113.1", {}, {}, {"x_spf.esp.example", "spf.esp.example"}), "", "", ""},
      {"spf case and dot", facts("203.0.113.1", {}, {}, {"_SPF.esp.example."}), "esp", "spf", "_spf.esp.example"},
      // The earlier sender wins even when a later one matches by a stronger kind.
      {"order beats kind", facts("192.0.2.9", {}, {"esp.example"}, {}), "office", "ip", "192.0.2.0/24"},
      {"office ptr before esp ip", facts("198.51.100.7", {"a.mail.example.net"}, {}, {}), "office", "ptr",
       "mail.example.net"},
      // Within one sender: ip before dkim before spf.
      {"ip before dkim", facts("198.51.100.7", {}, {"esp.example"}, {"_spf.esp.example"}), "esp", "ip", "198.51.100.7"},
      {"dkim before spf", facts("203.0.113.1", {}, {"esp.example"}, {"_spf.esp.example"}), "esp", "dkim",
       "esp.example"},
      {"third sender", facts("203.0.113.1", {}, {"mail.example.com"}, {}), "late", "dkim", "example.com"},
      {"v4-mapped ip", facts("::ffff:192.0.2.200", {}, {}, {}), "office", "ip", "192.0.2.0/24"},
      {"nothing known", facts(std::nullopt, {}, {}, {}), "", "", ""},
      {"unknown ip", facts("203.0.113.1", {}, {}, {}), "", "", ""},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    auto m = senders.match(row.facts);
    if (row.sender.empty()) {
      CHECK_FALSE(m);
      continue;
    }
    REQUIRE(m);
    REQUIRE(m->sender);
    CHECK(m->sender->name == row.sender);
    CHECK(m->kind == row.kind);
    CHECK(m->value == row.value);
  }
  CHECK_FALSE(Senders().match(facts("192.0.2.1", {"a.b"}, {"c.d"}, {"e.f"})));
}

TEST_CASE("senders: parse_senders reads a good document in file order", "[analyze]") {
  const std::string doc = R"(# dmarq config
title = "ignored: other features own other tables"

[report]
whatever = 1

[senders.zeta]
ips = ["192.0.2.10", "2001:db8::/32", " 198.51.100.0/24 "]
ptr_suffixes = ["Mail.Example.NET."]

[senders.alpha]
dkim_domains = ["example.com", "esp.example"]
spf_includes = ["_spf.esp.example"]
ips = []

[senders]
middle = { ips = ["10.0.0.0/8"] }
)";
  Senders s = parse_senders(doc, "test.toml");
  REQUIRE(s.list().size() == 3);
  const Sender& zeta = s.list()[0];
  CHECK(zeta.name == "zeta");
  REQUIRE(zeta.ips.size() == 3);
  CHECK(zeta.ips[0].to_string() == "192.0.2.10");
  CHECK(zeta.ips[1].to_string() == "2001:db8::/32");
  CHECK(zeta.ips[2].to_string() == "198.51.100.0/24");
  CHECK(zeta.ptr_suffixes == std::vector<std::string>{"mail.example.net"});
  const Sender& alpha = s.list()[1];
  CHECK(alpha.name == "alpha");
  CHECK(alpha.ips.empty());
  CHECK(alpha.dkim_domains == std::vector<std::string>{"example.com", "esp.example"});
  CHECK(alpha.spf_includes == std::vector<std::string>{"_spf.esp.example"});
  CHECK(s.list()[2].name == "middle");
  CHECK(s.list()[2].ips.at(0).to_string() == "10.0.0.0/8");

  SourceFacts f;
  f.ip = dmarq::model::parse_ip("10.9.9.9");
  auto m = s.match(f);
  REQUIRE(m);
  CHECK(m->sender == &s.list()[2]);

  CHECK(parse_senders("", "empty.toml").list().empty());
  CHECK(parse_senders("[other]\nx = 1\n", "other.toml").list().empty());
  CHECK(parse_senders("senders.a.ips = [\"192.0.2.1\"]\n", "dotted.toml").list().at(0).name == "a");
}

TEST_CASE("senders: every config error names the origin, line, sender and key", "[analyze]") {
  struct Row {
    std::string what, doc;
    std::string where;                 // "origin:line:" prefix expected
    std::vector<std::string> mention;  // substrings the message must hold
  };
  const Row rows[] = {
      {"ips is a string", "[senders.office]\nips = \"192.0.2.1\"\n", "cfg.toml:2:", {"senders.office.ips", "array"}},
      {"bad address", "[senders.office]\nips = [\"192.0.2.1\",\n  \"300.1.1.1\"]\n", "cfg.toml:3:",
       {"senders.office.ips", "\"300.1.1.1\"", "not an IP address or CIDR"}},
      {"prefix too long", "[senders.office]\nips = [\"10.0.0.0/33\"]\n", "cfg.toml:2:",
       {"senders.office.ips", "10.0.0.0/33"}},
      {"v6 prefix too long", "\n\n[senders.v6]\nips = [\"2001:db8::/129\"]\n", "cfg.toml:4:",
       {"senders.v6.ips", "2001:db8::/129"}},
      {"empty ip", "[senders.office]\nips = [\"\"]\n", "cfg.toml:2:", {"senders.office.ips", "empty"}},
      {"non-string element", "[senders.office]\nips = [\"192.0.2.1\", 7]\n", "cfg.toml:2:",
       {"senders.office.ips", "integer"}},
      {"unknown key", "[senders.office]\nips = [\"192.0.2.1\"]\nptr_suffix = [\"a.example\"]\n", "cfg.toml:3:",
       {"senders.office", "\"ptr_suffix\"", "unknown key"}},
      {"nested table is an unknown key", "[senders.office.extra]\nx = 1\n", "cfg.toml:1:",
       {"senders.office", "\"extra\""}},
      {"empty domain", "[senders.esp]\ndkim_domains = [\"  \"]\n", "cfg.toml:2:", {"senders.esp.dkim_domains", "empty"}},
      {"domain with a space", "[senders.esp]\ndkim_domains = [\"esp example\"]\n", "cfg.toml:2:",
       {"senders.esp.dkim_domains", "not a domain name"}},
      {"wildcard suffix", "[senders.esp]\nptr_suffixes = [\"*.example.net\"]\n", "cfg.toml:2:",
       {"senders.esp.ptr_suffixes", "*.example.net"}},
      {"empty label", "[senders.esp]\nspf_includes = [\"_spf..esp.example\"]\n", "cfg.toml:2:",
       {"senders.esp.spf_includes", "not a domain name"}},
      {"spf_includes is a table", "[senders.esp]\nspf_includes = { a = 1 }\n", "cfg.toml:2:",
       {"senders.esp.spf_includes", "table"}},
      {"sender is not a table", "[senders]\noffice = [\"192.0.2.1\"]\n", "cfg.toml:2:", {"senders.office", "table"}},
      {"senders is not a table", "senders = 3\n", "cfg.toml:1:", {"senders", "integer"}},
      {"sender lists nothing", "[senders.idle]\n", "cfg.toml:1:", {"senders.idle", "matches nothing"}},
      {"sender lists only empty arrays", "[senders.idle]\nips = []\n", "cfg.toml:1:",
       {"senders.idle", "matches nothing"}},
      {"empty sender name", "[senders.\"\"]\nips = [\"192.0.2.1\"]\n", "cfg.toml:1:", {"senders", "name"}},
      {"TOML syntax error", "[senders.office]\nips = [\"192.0.2.1\"\n\n", "cfg.toml:", {}},
      {"duplicate table", "[senders.a]\nips = [\"192.0.2.1\"]\n[senders.a]\nips = [\"192.0.2.2\"]\n",
       "cfg.toml:3:", {}},
      {"invalid UTF-8", "[senders.a]\nptr_suffixes = [\"\xff.example\"]\n", "cfg.toml:2:", {}},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    try {
      parse_senders(row.doc, "cfg.toml");
      FAIL("no error");
    } catch (const ConfigError& e) {
      std::string message = e.what();
      INFO(message);
      CHECK(message.rfind(row.where, 0) == 0);
      for (const auto& m : row.mention) CHECK(message.find(m) != std::string::npos);
    }
  }
}

TEST_CASE("senders: load_senders reads a file, and a missing file is an error", "[analyze]") {
  dmarq::test::TempDir dir;
  auto path = (dir.path() / "dmarq.toml").string();
  {
    std::ofstream out(path);
    out << "[senders.office]\nips = [\"192.0.2.0/24\"]\n";
  }
  auto senders = dmarq::analyze::load_senders(path);
  REQUIRE(senders.list().size() == 1);
  CHECK(senders.list()[0].name == "office");

  {
    std::ofstream out(path);
    out << "\n[senders.office]\nips = [\"nope\"]\n";
  }
  CHECK_THROWS_WITH(dmarq::analyze::load_senders(path), Catch::StartsWith(path + ":3:"));

  {
    std::ofstream out(path, std::ios::trunc);
  }
  CHECK(dmarq::analyze::load_senders(path).list().empty());

  auto missing = (dir.path() / "missing.toml").string();
  CHECK_THROWS_AS(dmarq::analyze::load_senders(missing), ConfigError);
  CHECK_THROWS_WITH(dmarq::analyze::load_senders(missing), Catch::StartsWith(missing + ":"));
  CHECK_THROWS_AS(dmarq::analyze::load_senders(dir.path().string()), ConfigError);
}
