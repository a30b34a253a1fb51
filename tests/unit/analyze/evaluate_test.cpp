#include <catch2/catch.hpp>

#include <sstream>

#include "dmarq/analyze/evaluate.h"

using namespace dmarq;
using analyze::Reason;

namespace {

// A record written compactly: "d=domain:result" DKIM results, "s=domain:scope:result" SPF results.
struct Case {
  const char* name;
  const char* header_from;
  const char* envelope_from;
  std::vector<const char*> dkim;  // "domain:result"
  std::vector<const char*> spf;   // "domain:scope:result" (scope may be empty)
  const char* adkim;
  const char* aspf;
  const char* reporter_dkim;
  const char* reporter_spf;
  const char* override_type;
  bool dkim_aligned, spf_aligned;
  std::vector<Reason> reasons;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

model::Record make(const Case& c) {
  model::Record r;
  r.header_from = c.header_from;
  r.envelope_from = c.envelope_from;
  r.count = 1;
  r.dkim = c.reporter_dkim;
  r.spf = c.reporter_spf;
  for (const char* d : c.dkim) {
    auto p = split(d, ':');
    r.dkim_results.push_back({p[0], "sel", p[1], ""});
  }
  for (const char* s : c.spf) {
    auto p = split(s, ':');
    r.spf_results.push_back({p[0], p[1], p[2], ""});
  }
  if (*c.override_type) r.reasons.push_back({c.override_type, ""});
  return r;
}

std::string codes(const std::vector<Reason>& reasons) {
  std::string out;
  for (Reason r : reasons) out += std::string(out.empty() ? "" : ",") + std::string(analyze::code(r));
  return out;
}

}  // namespace

TEST_CASE("evaluate: alignment recomputed and explained, record by record", "[analyze]") {
  const Case cases[] = {
      {"both aligned", "example.com", "", {"example.com:pass"}, {"example.com::pass"}, "r", "r", "pass", "pass", "",
       true, true, {Reason::aligned}},
      {"ESP bounce domain: DKIM carries it", "example.com", "", {"example.com:pass"},
       {"bounces.esp.example:mfrom:pass"}, "r", "r", "pass", "fail", "", true, false,
       {Reason::dkim_only, Reason::spf_pass_unaligned}},
      {"relaxed SPF on a subdomain, unsigned", "example.com", "", {}, {"mail.example.com:mfrom:pass"}, "r", "r",
       "fail", "pass", "", false, true, {Reason::spf_only, Reason::no_dkim}},
      {"strict SPF refuses the subdomain", "example.com", "", {}, {"mail.example.com:mfrom:pass"}, "r", "s", "fail",
       "fail", "", false, false, {Reason::spf_pass_unaligned, Reason::no_dkim}},
      {"strict DKIM refuses the subdomain", "example.com", "", {"news.example.com:pass"}, {"example.com::softfail"},
       "s", "r", "fail", "fail", "", false, false, {Reason::dkim_pass_unaligned, Reason::spf_softfail}},
      {"signed by the ESP only", "example.com", "", {"esp.example:pass"}, {"example.com:mfrom:softfail"}, "r", "r",
       "fail", "fail", "", false, false, {Reason::dkim_pass_unaligned, Reason::spf_softfail}},
      {"seed case: key not where the selector says", "afspraakmanager.be", "", {"afspraakmanager.be:neutral"},
       {"afspraakmanager.be::neutral"}, "r", "r", "fail", "fail", "", false, false,
       {Reason::dkim_fail, Reason::spf_neutral}},
      {"forwarded: the reporter's override comes first", "example.com", "", {}, {"list.example.org:mfrom:fail"},
       "r", "r", "fail", "fail", "forwarded", false, false,
       {Reason::forwarded, Reason::spf_fail, Reason::no_dkim}},
      {"reporter says pass, we say fail", "example.com", "", {"esp.example:pass"}, {"example.com:mfrom:none"}, "r",
       "r", "pass", "fail", "", false, false,
       {Reason::reporter_disagrees, Reason::dkim_pass_unaligned, Reason::spf_none}},
      {"reporter differs on one side only: last", "example.com", "", {"example.com:pass"}, {"example.com::pass"},
       "r", "r", "pass", "fail", "", true, true, {Reason::aligned, Reason::reporter_disagrees}},
      {"HELO only when there is no MAIL FROM", "example.com", "", {}, {"mx.example.com:helo:pass"}, "r", "r", "fail",
       "pass", "", false, true, {Reason::spf_only, Reason::no_dkim}},
      {"MAIL FROM wins over HELO", "example.com", "", {}, {"mx.example.com:helo:pass", "esp.example:mfrom:pass"},
       "r", "r", "", "", "", false, false, {Reason::spf_pass_unaligned, Reason::no_dkim}},
      {"case and trailing dots", "Example.COM.", "", {"EXAMPLE.com.:pass"}, {"example.com.::pass"}, "r", "r", "", "",
       "", true, true, {Reason::aligned}},
      {"no SPF result: envelope_from names the domain", "example.com", "bounce@Example.com", {}, {}, "r", "r", "fail",
       "fail", "", false, false, {Reason::spf_none, Reason::no_dkim}},
      {"co.uk is a public suffix, not an organization", "example.co.uk", "", {"other.co.uk:pass"},
       {"other.co.uk::pass"}, "r", "r", "fail", "fail", "", false, false,
       {Reason::spf_pass_unaligned, Reason::dkim_pass_unaligned}},
      {"private suffix: github.io users are separate", "alice.github.io", "", {"bob.github.io:pass"},
       {"alice.github.io::pass"}, "r", "r", "fail", "pass", "", false, true,
       {Reason::spf_only, Reason::dkim_pass_unaligned}},
      {"lookalike domain is not a subdomain", "example.com", "", {"evil-example.com:pass"},
       {"evil-example.com::pass"}, "r", "r", "", "", "", false, false,
       {Reason::spf_pass_unaligned, Reason::dkim_pass_unaligned}},
      {"SPF permerror", "example.com", "", {"example.com:fail"}, {"example.com::permerror"}, "r", "r", "fail", "fail",
       "", false, false, {Reason::dkim_fail, Reason::spf_error}},
      {"aligned pass among failing signatures", "example.com", "", {"example.com:fail", "example.com:pass"},
       {"example.com::fail"}, "r", "r", "pass", "fail", "", true, false, {Reason::dkim_only, Reason::spf_fail}},
  };
  analyze::OrgDomains org;
  for (const auto& c : cases) {
    INFO(c.name);
    model::PolicyPublished pol;
    pol.domain = "example.com";
    pol.adkim = c.adkim;
    pol.aspf = c.aspf;
    auto e = analyze::evaluate(make(c), pol, org);
    CHECK(e.dkim_aligned == c.dkim_aligned);
    CHECK(e.spf_aligned == c.spf_aligned);
    CHECK(e.dmarc_pass == (c.dkim_aligned || c.spf_aligned));
    CHECK(codes(e.reasons) == codes(c.reasons));
    for (Reason r : e.reasons) CHECK_FALSE(analyze::sentence(r, e, c.header_from).empty());
  }
}

TEST_CASE("evaluate: a record without header_from is judged against the policy domain", "[analyze]") {
  analyze::OrgDomains org;
  model::PolicyPublished pol;
  pol.domain = "example.com";
  model::Record r;
  r.dkim_results.push_back({"mail.example.com", "s1", "pass", ""});
  auto e = analyze::evaluate(r, pol, org);
  CHECK(e.dkim_aligned);
  CHECK(e.dkim_domain == "mail.example.com");
  CHECK(e.dkim_selector == "s1");
}

TEST_CASE("evaluate: sentences name the domains a postmaster has to touch", "[analyze]") {
  analyze::OrgDomains org;
  model::PolicyPublished pol;
  pol.domain = "example.com";
  model::Record r;
  r.header_from = "example.com";
  r.spf_results.push_back({"bounces.esp.example", "mfrom", "pass", ""});
  r.dkim_results.push_back({"esp.example", "s1", "pass", ""});
  auto e = analyze::evaluate(r, pol, org);
  REQUIRE(e.reasons.size() == 2);
  CHECK(analyze::sentence(Reason::spf_pass_unaligned, e, "example.com") ==
        "SPF passes for bounces.esp.example, which is not aligned with example.com. Set up a custom return-path "
        "(bounce domain) under example.com at this sender.");
  CHECK(analyze::sentence(Reason::dkim_pass_unaligned, e, "example.com") ==
        "The message is signed by d=esp.example only. Publish a DKIM key for example.com at this sender and sign "
        "with d=example.com.");
}
