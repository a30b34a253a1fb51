#include <catch2/catch.hpp>

#include "dmarq/analyze/domain.h"

using dmarq::analyze::AlignMode;
using dmarq::analyze::OrgDomains;

TEST_CASE("domain: normalize lower-cases, trims and drops one trailing dot", "[analyze]") {
  struct Row {
    std::string in, out;
  };
  const Row rows[] = {
      {"Example.COM", "example.com"},
      {"example.com.", "example.com"},
      {"  example.com \t\r\n", "example.com"},
      {" MAIL.Example.Com. ", "mail.example.com"},
      {"example.com..", "example.com."},  // only one dot goes; the rest is malformed, not ours to fix
      {"", ""},
      {"   ", ""},
      {".", ""},
      {"B\xc3\x9c" "CHER.de", "b\xc3\x9c" "cher.de"},  // ASCII only: non-ASCII bytes stay as they are
  };
  for (const auto& row : rows) {
    INFO("in: '" << row.in << "'");
    CHECK(dmarq::analyze::normalize_domain(row.in) == row.out);
  }
}

TEST_CASE("domain: domain_is_under works on label boundaries", "[analyze]") {
  struct Row {
    std::string domain, suffix;
    bool under;
  };
  const Row rows[] = {
      {"example.com", "example.com", true},
      {"mail.example.com", "example.com", true},
      {"a.b.mail.example.com", "example.com", true},
      {"evil-example.com", "example.com", false},
      {"evilexample.com", "example.com", false},
      {"example.com", "mail.example.com", false},
      {"example.com.", "example.com", true},
      {"mail.example.com", "example.com.", true},
      {"MAIL.Example.COM", "example.com", true},
      {"mail.example.com", "EXAMPLE.com", true},
      {"example.co", "example.com", false},
      {"example.com", "com", true},
      {"example.com", "", false},
      {"", "example.com", false},
      {"", "", false},
  };
  for (const auto& row : rows) {
    INFO(row.domain << " under " << row.suffix);
    CHECK(dmarq::analyze::domain_is_under(row.domain, row.suffix) == row.under);
  }
}

TEST_CASE("domain: align_mode reads adkim/aspf words", "[analyze]") {
  using dmarq::analyze::align_mode;
  CHECK(align_mode("s") == AlignMode::strict);
  CHECK(align_mode(" S ") == AlignMode::strict);
  CHECK(align_mode("r") == AlignMode::relaxed);
  CHECK(align_mode("") == AlignMode::relaxed);
  CHECK(align_mode("strict") == AlignMode::relaxed);  // only the RFC word counts
}

TEST_CASE("domain: organizational domain from the public suffix list", "[analyze]") {
  struct Row {
    std::string in, org;
  };
  const Row rows[] = {
      {"example.com", "example.com"},
      {"mail.example.com", "example.com"},
      {"a.b.example.co.uk", "example.co.uk"},
      {"example.co.uk", "example.co.uk"},
      {"co.uk", "co.uk"},                      // a suffix alone is its own
      {"com", "com"},
      {"alice.github.io", "alice.github.io"},  // private section of the list
      {"x.alice.github.io", "alice.github.io"},
      {"github.io", "github.io"},
      {"www.EXAMPLE.com.", "example.com"},
      {"example.invalidtld", "example.invalidtld"},  // default rule "*"
      {"mail.example.invalidtld", "example.invalidtld"},
      {"localhost", "localhost"},
      {"192.0.2.1", "192.0.2.1"},  // libpsl alone would say "2.1"
      {"2001:db8::1", "2001:db8::1"},
      {"a..example.com", "a..example.com"},  // libpsl alone would say "example.com"
      {".example.com", ".example.com"},
      {"", ""},
      {"  ", ""},
  };
  OrgDomains orgs;
  for (const auto& row : rows) {
    INFO(row.in);
    CHECK(orgs.of(row.in) == row.org);
    CHECK(orgs.of(row.in) == row.org);  // again, from the cache
  }
  CHECK(OrgDomains::method() == "psl");
}

TEST_CASE("domain: references from of() survive later lookups", "[analyze]") {
  OrgDomains orgs;
  const std::string& first = orgs.of("mail.example.com");
  for (int i = 0; i < 2000; ++i) orgs.of("host" + std::to_string(i) + ".example.org");
  CHECK(first == "example.com");
}

TEST_CASE("domain: identifier alignment, strict and relaxed", "[analyze]") {
  struct Row {
    std::string a, b;
    bool strict, relaxed;
  };
  const Row rows[] = {
      {"example.com", "example.com", true, true},
      {"mail.example.com", "example.com", false, true},
      {"example.com", "mail.example.com", false, true},
      {"a.example.com", "b.example.com", false, true},
      {"evil-example.com", "example.com", false, false},
      {"alice.github.io", "bob.github.io", false, false},
      {"alice.github.io", "alice.github.io", true, true},
      {"x.alice.github.io", "alice.github.io", false, true},
      {"example.co.uk", "other.co.uk", false, false},
      {"mail.example.co.uk", "example.co.uk", false, true},
      {"co.uk", "co.uk", true, true},  // a suffix aligns only with itself
      {"example.co.uk", "co.uk", false, false},
      {"EXAMPLE.com", "example.COM", true, true},
      {"example.com.", "example.com", true, true},
      {"Mail.Example.com.", "example.com", false, true},
      {"", "", false, false},
      {"", "example.com", false, false},
      {"example.com", "", false, false},
      {" ", " ", false, false},
  };
  OrgDomains orgs;
  for (const auto& row : rows) {
    INFO(row.a << " vs " << row.b);
    CHECK(orgs.aligned(row.a, row.b, AlignMode::strict) == row.strict);
    CHECK(orgs.aligned(row.a, row.b, AlignMode::relaxed) == row.relaxed);
    CHECK(orgs.aligned(row.b, row.a, AlignMode::relaxed) == row.relaxed);  // symmetric
  }
}
