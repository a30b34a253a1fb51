// The SPF engine against in-memory zones. Many cases are modelled on the
// RFC 7208 test suite (openspf/pyspf rfc7208-tests.yml), rewritten here with
// documentation addresses where the suite's own are not needed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "dmarq/spf/spf.h"
#include "support/fake_resolver.h"

using dmarq::dns::Type;
using dmarq::spf::check_host;
using dmarq::spf::count_lookups;
using dmarq::spf::Evaluation;
using dmarq::spf::is_spf_record;
using dmarq::spf::Options;
using dmarq::spf::parse_record;
using dmarq::spf::Result;
using dmarq::spf::result_name;
using dmarq::test::FakeResolver;

namespace {

dmarq::model::IpAddress ip(const std::string& text) {
  auto parsed = dmarq::model::parse_ip(text);
  REQUIRE(parsed);
  return *parsed;
}

// check_host for MAIL FROM foo@<domain>.
Evaluation run(FakeResolver& dns, const std::string& address, const std::string& domain, Options options = {}) {
  return check_host(dns, ip(address), domain, "foo@" + domain, options);
}

std::string name_of(Result r) { return std::string(result_name(r)); }

bool trace_has(const Evaluation& e, const std::string& line) {
  return std::find(e.trace.begin(), e.trace.end(), line) != e.trace.end();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Rows of (domain, address, expected result) against one zone.
struct Row {
  std::string domain;
  std::string address;
  Result want;
};

void check_rows(FakeResolver& dns, const std::vector<Row>& rows, Options options = {}) {
  for (const auto& row : rows) {
    Evaluation e = run(dns, row.address, row.domain, options);
    INFO(row.domain << " from " << row.address << "\n" << joined(e.trace) << "problem: " << e.problem);
    CHECK(name_of(e.result) == name_of(row.want));
    if (e.result == Result::permerror || e.result == Result::temperror) CHECK_FALSE(e.problem.empty());
  }
}

}  // namespace

// --- Records ----------------------------------------------------------------

TEST_CASE("spf: is_spf_record wants v=spf1 then a space or the end", "[spf]") {
  struct R {
    std::string txt;
    bool want;
  };
  const R rows[] = {
      {"v=spf1", true},
      {"v=spf1 -all", true},
      {"V=SpF1 ~all", true},
      {"v=spf1  a  -all", true},
      {"v=spf10", false},
      {"v=spf1mx", false},
      {"v=spf1\t-all", false},
      {"v=spf2 -all", false},
      {"spf2.0/pra -all", false},
      {" v=spf1 -all", false},
      {"", false},
      {"v=spf", false},
      {"google-site-verification=abc", false},
  };
  for (const auto& r : rows) {
    INFO(r.txt);
    CHECK(is_spf_record(r.txt) == r.want);
  }
}

TEST_CASE("spf: result_name names every result", "[spf]") {
  CHECK(result_name(Result::none) == "none");
  CHECK(result_name(Result::neutral) == "neutral");
  CHECK(result_name(Result::pass) == "pass");
  CHECK(result_name(Result::fail) == "fail");
  CHECK(result_name(Result::softfail) == "softfail");
  CHECK(result_name(Result::temperror) == "temperror");
  CHECK(result_name(Result::permerror) == "permerror");
}

TEST_CASE("spf: parse_record takes terms apart", "[spf]") {
  std::string error;
  auto r = parse_record("v=spf1  +A:Mail.Example.com/24//64 -IP4:192.0.2.0/24 ~mx ?ptr include:_spf.example.net "
                        "exists:%{i}.bl.example.org Redirect=_spf.example.com exp=why.example.com moo.cow=x ",
                        error);
  REQUIRE(r);
  CHECK(error.empty());
  REQUIRE(r->terms.size() == 9);
  const auto& a = r->terms[0];
  CHECK_FALSE(a.modifier);
  CHECK(a.qualifier == '+');
  CHECK(a.name == "a");
  CHECK(a.value == "Mail.Example.com/24//64");
  CHECK(a.text == "+A:Mail.Example.com/24//64");
  CHECK(r->terms[1].qualifier == '-');
  CHECK(r->terms[1].name == "ip4");
  CHECK(r->terms[1].value == "192.0.2.0/24");
  CHECK(r->terms[2].qualifier == '~');
  CHECK(r->terms[2].name == "mx");
  CHECK(r->terms[2].value.empty());
  CHECK(r->terms[3].qualifier == '?');
  CHECK(r->terms[3].name == "ptr");
  CHECK(r->terms[4].name == "include");
  CHECK(r->terms[4].value == "_spf.example.net");
  CHECK(r->terms[5].name == "exists");
  CHECK(r->terms[5].value == "%{i}.bl.example.org");
  CHECK(r->terms[6].modifier);
  CHECK(r->terms[6].name == "redirect");
  CHECK(r->terms[6].value == "_spf.example.com");
  CHECK(r->terms[7].name == "exp");
  CHECK(r->terms[8].modifier);
  CHECK(r->terms[8].name == "moo.cow");
  CHECK(r->terms[8].value == "x");

  auto empty = parse_record("v=spf1", error);
  REQUIRE(empty);
  CHECK(empty->terms.empty());
  auto cidr_only = parse_record("v=spf1 a/24 mx//64", error);
  REQUIRE(cidr_only);
  CHECK(cidr_only->terms[0].value == "/24");
  CHECK(cidr_only->terms[1].value == "//64");
}

TEST_CASE("spf: parse_record accepts the grammar's corners", "[spf]") {
  const std::string rows[] = {
      "v=spf1 ip4:192.0.2.0/0 ip4:192.0.2.1/32 ip6:::/0 ip6:2001:db8::/128 -all",
      "v=spf1 ip6:::ffff:192.0.2.1 ip6:Cafe:Babe:8000::/33",
      "v=spf1 a a/0 a//0 a/32//128 a:example.com a:example.com/24 a:example.com//64 a:example.com/24//64",
      "v=spf1 mx mx/30 mx:example.com//48 ptr ptr:example.com",
      "v=spf1 a:foo.example.xn--zckzah a:foo:bar/baz.example.com a:example.com. a:123-45.example.12-34",
      "v=spf1 exists:%{ir}.%{v}._spf.%{d2} include:%{l1r-}.lp._spf.%{d2} a:%{H}",
      "v=spf1 exists:%{i}.%{l2r+-}.user.%{d2} exists:macro%%percent%_%_space%-url-space.example.com",
      "v=spf1 moo.cow-far_out=man:dog/cat default=pass x=%{c}%{r}%{t} y=",
      "v=spf1 redirect=_spf.example.com exp=explain.%{d}",
      "v=spf1 include:o.spf.example.com. ~all",
      "v=spf1 -ALL",
  };
  for (const auto& text : rows) {
    INFO(text);
    std::string error;
    CHECK(parse_record(text, error));
    CHECK(error.empty());
  }
}

TEST_CASE("spf: parse_record refuses bad syntax with a sentence naming the term", "[spf]") {
  struct R {
    std::string record;
    std::string named;  // the term the error must quote
  };
  const std::vector<R> rows = {
      {"v=spf1 foo -all", "\"foo\""},
      {"v=spf1 ip4:192.0.2.0/33", "\"ip4:192.0.2.0/33\""},
      {"v=spf1 ip4:192.0.2.0/032", "\"ip4:192.0.2.0/032\""},
      {"v=spf1 ip4:192.0.2.0/", "\"ip4:192.0.2.0/\""},
      {"v=spf1 ip4:192.0.2.0//32", "\"ip4:192.0.2.0//32\""},
      {"v=spf1 ip4:mail.example.com", "\"ip4:mail.example.com\""},
      {"v=spf1 ip4:192.0.2", "\"ip4:192.0.2\""},
      {"v=spf1 ip4:192.0.2.1:8080", "\"ip4:192.0.2.1:8080\""},
      {"v=spf1 ip4:2001:db8::1", "\"ip4:2001:db8::1\""},
      {"v=spf1 ip4", "\"ip4\""},
      {"v=spf1 ip6:2001:db8::/129", "\"ip6:2001:db8::/129\""},
      {"v=spf1 ip6:192.0.2.1", "\"ip6:192.0.2.1\""},
      {"v=spf1 ip6::CAFE::BABE", "\"ip6::CAFE::BABE\""},
      {"v=spf1 ip6:::1.1.1.1//33", "\"ip6:::1.1.1.1//33\""},
      {"v=spf1 -all ip6", "\"ip6\""},
      {"v=spf1 a/33", "\"a/33\""},
      {"v=spf1 a//129", "\"a//129\""},
      {"v=spf1 a/24/64", "\"a/24/64\""},
      {"v=spf1 mx/33", "\"mx/33\""},
      {"v=spf1 a:", "\"a:\""},
      {"v=spf1 mx: -all", "\"mx:\""},
      {"v=spf1 a:192.0.2.1", "\"a:192.0.2.1\""},
      {"v=spf1 a:abc.123", "\"a:abc.123\""},
      {"v=spf1 a:museum", "\"a:museum\""},
      {"v=spf1 a:museum.", "\"a:museum.\""},
      {"v=spf1 a:example.-com", "\"a:example.-com\""},
      {"v=spf1 a:example.com:8080", "\"a:example.com:8080\""},
      {"v=spf1 a:foo-bar -all", "\"a:foo-bar\""},
      {"v=spf1 include", "\"include\""},
      {"v=spf1 include: -all", "\"include:\""},
      {"v=spf1 include:ip5.example.com/24", "\"include:ip5.example.com/24\""},
      {"v=spf1 exists", "\"exists\""},
      {"v=spf1 exists:mail.example.com/24", "\"exists:mail.example.com/24\""},
      {"v=spf1 ptr/0 -all", "\"ptr/0\""},
      {"v=spf1 ptr:", "\"ptr:\""},
      {"v=spf1 -all.", "\"-all.\""},
      {"v=spf1 -all:foobar", "\"-all:foobar\""},
      {"v=spf1 -all/8", "\"-all/8\""},
      {"v=spf1 ip4:192.0.2.1 redirect:example.com", "\"redirect:example.com\""},
      {"v=spf1 redirect=", "\"redirect=\""},
      {"v=spf1 exp=", "\"exp=\""},
      {"v=spf1 redirect=-all ?all", "\"redirect=-all\""},
      {"v=spf1 1up=foo", "\"1up=foo\""},
      {"v=spf1 =all", "\"=all\""},
      {"v=spf1 moo.cow/far_out=man:dog/cat", "\"moo.cow/far_out=man:dog/cat\""},
      {"v=spf1 -all foo=%abc", "\"foo=%abc\""},
      {"v=spf1 -exists:%(ir).sbl.example.com ?all", "\"-exists:%(ir).sbl.example.com\""},
      {"v=spf1 exists:foo%.sbl.example.com", "\"exists:foo%.sbl.example.com\""},
      {"v=spf1 exists:%{ir.sbl.example.com", "\"exists:%{ir.sbl.example.com\""},
      {"v=spf1 a:%{a}.example.com -all", "\"a:%{a}.example.com\""},
      {"v=spf1 -all exp=%{r}.example.com", "\"exp=%{r}.example.com\""},
      {"v=spf1 exists:%{c}.example.com", "\"exists:%{c}.example.com\""},
      {"v=spf1 exists:%{d0}.example.com", "\"exists:%{d0}.example.com\""},
      {"v=spf1 exists:%{d2x}.example.com", "\"exists:%{d2x}.example.com\""},
      {"v=spf1 exists:%{}.example.com", "\"exists:%{}.example.com\""},
      {"v=spf1 a:ctrl.example.com\rptr -all", "\"a:ctrl.example.com\rptr\""},
      {"v=spf1 \x80" "a:example.net -all", "a:example.net"},
      {"v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all", "garbage.example.net"},
      {"v=spf1 redirect=a.example.com redirect=b.example.com", "redirect=b.example.com"},
      {"v=spf1 exp=a.example.com -all exp=b.example.com", "exp=b.example.com"},
  };
  for (const auto& r : rows) {
    INFO(r.record);
    std::string error;
    auto parsed = parse_record(r.record, error);
    CHECK_FALSE(parsed);
    CHECK(error.find(r.named) != std::string::npos);
    CHECK(error.back() == '.');
  }

  std::string error;
  CHECK_FALSE(parse_record("v=spf10", error));
  CHECK(error.find("v=spf1") != std::string::npos);
  CHECK_FALSE(parse_record("v=spf1-all", error));
  CHECK_FALSE(parse_record("", error));
}

TEST_CASE("spf: parse_record quotes a long bad term only in part", "[spf]") {
  std::string record = "v=spf1 foo" + std::string(10000, 'x');
  std::string error;
  CHECK_FALSE(parse_record(record, error));
  CHECK(error.size() < 300);
  CHECK(error.find("...") != std::string::npos);
}

// --- Record selection (RFC 7208 4.4, 4.5) ------------------------------------

TEST_CASE("spf: record selection", "[spf]") {
  FakeResolver dns;
  dns.add("none.example", Type::a, "192.0.2.1");
  dns.add("other.example", Type::txt, "google-site-verification=xyz");
  dns.add("other.example", Type::txt, "v=spf10 +all");
  dns.add("two.example", Type::txt, "v=spf1 -all");
  dns.add("two.example", Type::txt, "V=sPf1 +all");
  dns.add("same.example", Type::txt, "v=spf1 -all");
  dns.add("same.example", Type::txt, "v=spf1 -all");
  dns.add("one.example", Type::txt, "hello");
  dns.add("one.example", Type::txt, "v=spf1 +all");
  dns.add("one.example", Type::txt, "\x96");
  dns.add("case.example", Type::txt, "v=SpF1 ~all");
  dns.add("empty.example", Type::txt, "v=spf1");
  dns.add("twospaces.example", Type::txt, "v=spf1 a  -all");
  dns.add("twospaces.example", Type::a, "192.0.2.200");
  // Type 99 is not consulted (RFC 7208 3.1): only TXT.
  dns.add("spfonly.example", Type::spf, "v=spf1 -all");
  dns.add("spfonly.example", Type::a, "192.0.2.1");
  dns.add("spfoverride.example", Type::spf, "v=spf1 +all");
  dns.add("spfoverride.example", Type::txt, "v=spf1 -all");
  dns.fail("slow.example");

  check_rows(dns, {
                      {"nxdomain.example", "192.0.2.3", Result::none},
                      {"none.example", "192.0.2.3", Result::none},
                      {"other.example", "192.0.2.3", Result::none},
                      {"two.example", "192.0.2.3", Result::permerror},
                      {"same.example", "192.0.2.3", Result::permerror},
                      {"one.example", "192.0.2.3", Result::pass},
                      {"case.example", "192.0.2.3", Result::softfail},
                      {"empty.example", "192.0.2.3", Result::neutral},
                      {"twospaces.example", "192.0.2.3", Result::fail},
                      {"spfonly.example", "192.0.2.3", Result::none},
                      {"spfoverride.example", "192.0.2.3", Result::fail},
                      {"slow.example", "192.0.2.3", Result::temperror},
                  });
  CHECK(dns.count("spfonly.example", Type::spf) == 0);

  Evaluation e = run(dns, "192.0.2.3", "two.example");
  CHECK(e.problem.find("more than one") != std::string::npos);
  CHECK(e.dns_lookups == 0);
  Evaluation t = run(dns, "192.0.2.3", "slow.example");
  CHECK(t.problem.find("slow.example") != std::string::npos);
  CHECK(t.problem.find("timeout (fake)") != std::string::npos);
  Evaluation n = run(dns, "192.0.2.3", "nxdomain.example");
  CHECK(n.problem.empty());
  CHECK(n.decided_by == "nxdomain.example");
}

TEST_CASE("spf: an offline resolver gives temperror", "[spf]") {
  struct Offline : dmarq::dns::Resolver {
    dmarq::dns::Answer lookup(const std::string&, Type) override {
      dmarq::dns::Answer a;
      a.status = dmarq::dns::Status::offline;
      return a;
    }
  } dns;
  Evaluation e = check_host(dns, ip("192.0.2.3"), "example.com", "foo@example.com");
  CHECK(e.result == Result::temperror);
  CHECK(e.problem.find("offline") != std::string::npos);
}

TEST_CASE("spf: initial processing refuses malformed domains with none", "[spf]") {
  FakeResolver dns;
  std::string label63(63, 'a'), label64(64, 'a');
  dns.add(label63 + ".example.com", Type::txt, "v=spf1 -all");
  dns.add(label64 + ".example.com", Type::txt, "v=spf1 -all");
  dns.add("a...example.com", Type::txt, "v=spf1 -all");
  dns.add("oemcomputer", Type::txt, "v=spf1 -all");
  check_rows(dns, {
                      {label63 + ".example.com", "192.0.2.3", Result::fail},
                      {label64 + ".example.com", "192.0.2.3", Result::none},
                      {"a...example.com", "192.0.2.3", Result::none},
                      {"oemcomputer", "192.0.2.3", Result::none},
                      {"[192.0.2.3]", "192.0.2.3", Result::none},
                      {"192.0.2.3", "192.0.2.3", Result::none},
                      {"", "192.0.2.3", Result::none},
                  });
  // No query at all for a name that cannot be one.
  CHECK(dns.count(label64 + ".example.com", Type::txt) == 0);
}

// --- Mechanisms (RFC 7208 5) --------------------------------------------------

TEST_CASE("spf: all and the four qualifiers", "[spf]") {
  FakeResolver dns;
  dns.add("plus.example", Type::txt, "v=spf1 +all");
  dns.add("bare.example", Type::txt, "v=spf1 all");
  dns.add("minus.example", Type::txt, "v=spf1 -all");
  dns.add("tilde.example", Type::txt, "v=spf1 ~all");
  dns.add("question.example", Type::txt, "v=spf1 ?all");
  dns.add("double.example", Type::txt, "v=spf1 all -all");
  dns.add("upper.example", Type::txt, "v=spf1 -ALL");
  dns.add("first.example", Type::txt, "v=spf1 ?ip4:192.0.2.3 -ip4:192.0.2.0/24 +all");
  dns.add("default.example", Type::txt, "v=spf1 ip4:198.51.100.1");
  check_rows(dns, {
                      {"plus.example", "192.0.2.3", Result::pass},
                      {"bare.example", "192.0.2.3", Result::pass},
                      {"minus.example", "192.0.2.3", Result::fail},
                      {"tilde.example", "192.0.2.3", Result::softfail},
                      {"question.example", "192.0.2.3", Result::neutral},
                      {"double.example", "192.0.2.3", Result::pass},
                      {"upper.example", "2001:db8::1", Result::fail},
                      {"first.example", "192.0.2.3", Result::neutral},
                      {"first.example", "192.0.2.4", Result::fail},
                      {"first.example", "198.51.100.9", Result::pass},
                      {"default.example", "192.0.2.3", Result::neutral},
                  });
}

TEST_CASE("spf: ip4 and ip6 ranges at their edges", "[spf]") {
  FakeResolver dns;
  dns.add("v4-0.example", Type::txt, "v=spf1 ip4:198.51.100.1/0 -all");
  dns.add("v4-32.example", Type::txt, "v=spf1 ip4:192.0.2.3/32 -all");
  dns.add("v4-24.example", Type::txt, "v=spf1 ip4:192.0.2.77/24 -all");  // host bits ignored
  dns.add("v4-31.example", Type::txt, "v=spf1 ip4:192.0.2.2/31 -all");
  dns.add("v4-host.example", Type::txt, "v=spf1 ip4:192.0.2.3 -all");
  dns.add("v6-0.example", Type::txt, "v=spf1 ip6:::1.1.1.1/0");
  dns.add("v6-33.example", Type::txt, "v=spf1 ip6:Cafe:Babe:8000::/33");
  dns.add("v6-128.example", Type::txt, "v=spf1 ip6:2001:db8::cb01/128 -all");
  dns.add("v6-64.example", Type::txt, "v=spf1 ip6:2001:db8:1:2::/64 -all");
  dns.add("mapped.example", Type::txt, "v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4");
  dns.add("bad.example", Type::txt, "v=spf1 ip4:192.0.2.3 ip4:192.0.2.0/33 -all");
  check_rows(dns, {
                      {"v4-0.example", "192.0.2.3", Result::pass},
                      {"v4-0.example", "2001:db8::1", Result::fail},  // ip4 never matches IPv6
                      {"v4-32.example", "192.0.2.3", Result::pass},
                      {"v4-32.example", "192.0.2.4", Result::fail},
                      {"v4-24.example", "192.0.2.254", Result::pass},
                      {"v4-24.example", "192.0.3.1", Result::fail},
                      {"v4-31.example", "192.0.2.3", Result::pass},
                      {"v4-31.example", "192.0.2.4", Result::fail},
                      {"v4-host.example", "::ffff:192.0.2.3", Result::pass},  // IPv4-mapped is IPv4
                      {"v6-0.example", "2001:db8::1", Result::pass},
                      {"v6-0.example", "192.0.2.3", Result::neutral},  // ip6 never matches IPv4
                      {"v6-0.example", "::ffff:1.2.3.4", Result::neutral},
                      {"v6-33.example", "cafe:babe:8000::", Result::pass},
                      {"v6-33.example", "cafe:babe:ffff::1", Result::pass},
                      {"v6-33.example", "cafe:babe::1", Result::neutral},
                      {"v6-33.example", "1.2.3.4", Result::neutral},
                      {"v6-128.example", "2001:db8::cb01", Result::pass},
                      {"v6-128.example", "2001:db8::cb02", Result::fail},
                      {"v6-64.example", "2001:db8:1:2:ffff:ffff:ffff:ffff", Result::pass},
                      {"v6-64.example", "2001:db8:1:3::", Result::fail},
                      {"mapped.example", "::ffff:1.2.3.4", Result::fail},
                      // A syntax error anywhere is found before anything matches.
                      {"bad.example", "192.0.2.3", Result::permerror},
                  });
}

TEST_CASE("spf: a with a domain and dual CIDR lengths", "[spf]") {
  FakeResolver dns;
  dns.add("mail.example.com", Type::a, "192.0.2.3");
  dns.add("e1.example.com", Type::txt, "v=spf1 a/0 -all");  // no A records at all
  dns.add("e2.example.com", Type::txt, "v=spf1 a/0 -all");
  dns.add("e2.example.com", Type::a, "198.51.100.1");
  dns.add("e2.example.com", Type::aaaa, "2001:db8::2");
  dns.add("e2a.example.com", Type::txt, "v=spf1 a//0 -all");
  dns.add("e2a.example.com", Type::aaaa, "2001:db8::99");
  dns.add("e2b.example.com", Type::txt, "v=spf1 a//0 -all");
  dns.add("e2b.example.com", Type::a, "198.51.100.1");
  dns.add("dual.example.com", Type::txt, "v=spf1 a/24//64 -all");
  dns.add("dual.example.com", Type::a, "192.0.2.5");
  dns.add("dual.example.com", Type::aaaa, "2001:db8:1234::dead:beef");
  dns.add("v4only.example.com", Type::txt, "v=spf1 a/24 -all");
  dns.add("v4only.example.com", Type::a, "192.0.2.5");
  dns.add("v4only.example.com", Type::aaaa, "2001:db8:1234::dead:beef");
  dns.add("v6only.example.com", Type::txt, "v=spf1 a//64 -all");
  dns.add("v6only.example.com", Type::a, "192.0.2.5");
  dns.add("v6only.example.com", Type::aaaa, "2001:db8:1234::dead:beef");
  dns.add("named.example.com", Type::txt, "v=spf1 a:foo.example.com/24 -all");
  dns.add("foo.example.com", Type::a, "198.51.100.1");
  dns.add("foo.example.com", Type::a, "192.0.2.5");
  dns.add("colon.example.com", Type::txt, "v=spf1 a:foo:bar/baz.example.com -all");
  dns.add("foo:bar/baz.example.com", Type::a, "192.0.2.3");
  dns.add("idn.example.com", Type::txt, "v=spf1 a:foo.example.xn--zckzah -all");
  dns.add("foo.example.xn--zckzah", Type::a, "192.0.2.3");
  dns.add("dualstack.example.com", Type::txt, "v=spf1 a -all");
  dns.add("dualstack.example.com", Type::a, "198.51.100.1");
  dns.add("dualstack.example.com", Type::aaaa, "2001:db8::1");
  dns.add("emptylabel.example.com", Type::txt, "v=spf1 a:mail.example...com -all");
  dns.add("numeric.example.com", Type::txt, "v=spf1 a:192.0.2.3 -all");
  check_rows(dns, {
                      {"e1.example.com", "192.0.2.3", Result::fail},
                      {"e2.example.com", "192.0.2.3", Result::pass},
                      {"e2.example.com", "2001:db8::1", Result::fail},
                      {"e2a.example.com", "192.0.2.3", Result::fail},
                      {"e2a.example.com", "::ffff:192.0.2.3", Result::fail},
                      {"e2a.example.com", "2001:db8::1", Result::pass},
                      {"e2b.example.com", "2001:db8::1", Result::fail},
                      {"dual.example.com", "192.0.2.3", Result::pass},
                      {"dual.example.com", "2001:db8:1234::cafe:babe", Result::pass},
                      {"dual.example.com", "2001:db8:1235::1", Result::fail},
                      {"v4only.example.com", "2001:db8:1234::cafe:babe", Result::fail},
                      {"v4only.example.com", "192.0.2.200", Result::pass},
                      {"v6only.example.com", "192.0.2.3", Result::fail},
                      {"v6only.example.com", "2001:db8:1234::1", Result::pass},
                      {"named.example.com", "192.0.2.3", Result::pass},
                      {"colon.example.com", "192.0.2.3", Result::pass},
                      {"colon.example.com", "::ffff:192.0.2.3", Result::pass},
                      {"idn.example.com", "192.0.2.3", Result::pass},
                      {"dualstack.example.com", "2001:db8::1", Result::pass},
                      {"dualstack.example.com", "192.0.2.3", Result::fail},
                      // An empty label cannot be queried: the name does not exist.
                      {"emptylabel.example.com", "192.0.2.3", Result::fail},
                      {"numeric.example.com", "192.0.2.3", Result::permerror},
                  });
  CHECK(dns.count("dual.example.com", Type::aaaa) == 2);
  CHECK(dns.count("mail.example...com", Type::a) == 0);
  Evaluation numeric = run(dns, "192.0.2.3", "numeric.example.com");
  CHECK(numeric.problem.find("ip4:") != std::string::npos);
}

TEST_CASE("spf: a lists any number of addresses", "[spf]") {
  FakeResolver dns;
  dns.add("many.example", Type::txt, "v=spf1 a -all");
  for (int i = 1; i <= 12; ++i) dns.add("many.example", Type::a, "192.0.2." + std::to_string(i));
  check_rows(dns, {{"many.example", "192.0.2.12", Result::pass}, {"many.example", "192.0.2.13", Result::fail}});
}

TEST_CASE("spf: mx with dual CIDR, null MX and no implicit A", "[spf]") {
  FakeResolver dns;
  dns.add("e1.example.com", Type::txt, "v=spf1 mx/0 -all");
  dns.add("e1.example.com", Type::mx, "0 e1.example.com");  // MX host without addresses
  dns.add("e2.example.com", Type::txt, "v=spf1 mx/0 -all");
  dns.add("e2.example.com", Type::mx, "0 e2.example.com");
  dns.add("e2.example.com", Type::a, "198.51.100.1");
  dns.add("e2.example.com", Type::aaaa, "2001:db8::2");
  dns.add("e2a.example.com", Type::txt, "v=spf1 mx//0 -all");
  dns.add("e2a.example.com", Type::mx, "0 e2a.example.com");
  dns.add("e2a.example.com", Type::aaaa, "2001:db8::99");
  dns.add("named.example.com", Type::txt, "v=spf1 mx:foo.example.com/24 -all");
  dns.add("foo.example.com", Type::mx, "0 foo1.example.com");
  dns.add("foo1.example.com", Type::a, "198.51.100.1");
  dns.add("foo1.example.com", Type::a, "192.0.2.5");
  dns.add("two.example.com", Type::txt, "v=spf1 mx -all");
  dns.add("two.example.com", Type::mx, "10 mx1.example.net");
  dns.add("two.example.com", Type::mx, "20 MX2.Example.NET");
  dns.add("mx1.example.net", Type::a, "198.51.100.1");
  dns.add("mx2.example.net", Type::a, "192.0.2.3");
  dns.add("mx2.example.net", Type::aaaa, "2001:db8::25");
  dns.add("nullmx.example.com", Type::txt, "v=spf1 mx");
  dns.add("nullmx.example.com", Type::mx, "0 .");
  dns.add("nullmx.example.com", Type::a, "192.0.2.3");
  dns.add("implicit.example.com", Type::txt, "v=spf1 mx");
  dns.add("implicit.example.com", Type::a, "192.0.2.3");
  check_rows(dns, {
                      {"e1.example.com", "192.0.2.3", Result::fail},
                      {"e2.example.com", "192.0.2.3", Result::pass},
                      {"e2.example.com", "2001:db8::1", Result::fail},
                      {"e2a.example.com", "2001:db8::1", Result::pass},
                      {"e2a.example.com", "192.0.2.3", Result::fail},
                      {"named.example.com", "192.0.2.3", Result::pass},
                      {"two.example.com", "192.0.2.3", Result::pass},
                      {"two.example.com", "2001:db8::25", Result::pass},
                      {"two.example.com", "198.51.100.2", Result::fail},
                      {"nullmx.example.com", "192.0.2.3", Result::neutral},
                      {"implicit.example.com", "192.0.2.3", Result::neutral},
                  });
  // A null MX host is never looked up; an MX-less target never falls back to A.
  CHECK(dns.count("implicit.example.com", Type::a) == 0);
  CHECK(dns.count("", Type::a) == 0);
}

TEST_CASE("spf: mx with more than 10 names is a permerror", "[spf]") {
  FakeResolver dns;
  dns.add("ten.example", Type::txt, "v=spf1 mx -all");
  dns.add("eleven.example", Type::txt, "v=spf1 mx -all");
  for (int i = 0; i < 11; ++i) {
    std::string host = "mx" + std::to_string(i) + ".example.net";
    dns.add(host, Type::a, "198.51.100." + std::to_string(i + 1));
    if (i < 10) dns.add("ten.example", Type::mx, std::to_string(i) + " " + host);
    dns.add("eleven.example", Type::mx, std::to_string(i) + " " + host);
  }
  check_rows(dns, {
                      {"ten.example", "198.51.100.10", Result::pass},
                      {"ten.example", "192.0.2.3", Result::fail},
                      {"eleven.example", "198.51.100.1", Result::permerror},
                  });
  Evaluation e = run(dns, "198.51.100.1", "eleven.example");
  CHECK(e.problem.find("11 MX hosts") != std::string::npos);
  CHECK(e.mechanism == "mx");
}

TEST_CASE("spf: ptr validates names and matches the target or below", "[spf]") {
  FakeResolver dns;
  dns.add("mail.example.com", Type::a, "192.0.2.3");
  dns.add("mail.example.com", Type::aaaa, "2001:db8::1");
  dns.add("3.2.0.192.in-addr.arpa", Type::ptr, "e3.example.com");
  dns.add("3.2.0.192.in-addr.arpa", Type::ptr, "e4.example.com");
  dns.add("3.2.0.192.in-addr.arpa", Type::ptr, "mail.example.com");
  dns.add("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", Type::ptr, "mail.Example.com");
  dns.add("e2.example.com", Type::txt, "v=spf1 ptr:example.com -all");
  dns.add("e3.example.com", Type::txt, "v=spf1 ptr -all");
  dns.add("e3.example.com", Type::a, "192.0.2.3");
  dns.add("e4.example.com", Type::txt, "v=spf1 ptr -all");  // its PTR name does not validate
  dns.add("e6.example.com", Type::txt, "v=spf1 ptr:example.Com -all");
  dns.add("other.example.com", Type::txt, "v=spf1 ptr:example.org -all");
  dns.add("evil.example.com", Type::txt, "v=spf1 ptr:ample.com -all");  // label boundary
  check_rows(dns, {
                      {"e2.example.com", "192.0.2.3", Result::pass},
                      {"e3.example.com", "192.0.2.3", Result::pass},
                      {"e4.example.com", "192.0.2.3", Result::fail},
                      {"e6.example.com", "2001:db8::1", Result::pass},
                      {"other.example.com", "192.0.2.3", Result::fail},
                      {"evil.example.com", "192.0.2.3", Result::fail},
                      {"e3.example.com", "192.0.2.4", Result::fail},  // no PTR records: void, no match
                  });
  // Only names under the target are validated.
  FakeResolver counted = dns;
  run(counted, "192.0.2.3", "other.example.com");
  CHECK(counted.count("mail.example.com", Type::a) == 0);
}

TEST_CASE("spf: ptr looks at no more than 10 names and ignores DNS errors", "[spf]") {
  FakeResolver dns;
  dns.add("e5.example.com", Type::txt, "v=spf1 ptr");
  dns.add("e5.example.com", Type::a, "192.0.2.5");
  for (int i = 1; i <= 10; ++i) dns.add("5.2.0.192.in-addr.arpa", Type::ptr, "e" + std::to_string(i) + "0.example.org");
  dns.add("5.2.0.192.in-addr.arpa", Type::ptr, "e5.example.com");  // the eleventh
  dns.add("broken.example.com", Type::txt, "v=spf1 ptr -all");
  dns.fail("6.2.0.192.in-addr.arpa");
  check_rows(dns, {
                      {"e5.example.com", "192.0.2.5", Result::neutral},
                      {"broken.example.com", "192.0.2.6", Result::fail},
                  });
}

TEST_CASE("spf: exists looks up A whatever the address family", "[spf]") {
  FakeResolver dns;
  dns.add("mail.example.com", Type::a, "192.0.2.3");
  dns.add("mail6.example.com", Type::aaaa, "2001:db8::4");
  dns.add("e4.example.com", Type::txt, "v=spf1 exists:mail.example.com");
  dns.add("e5.example.com", Type::txt, "v=spf1 exists:mail6.example.com -all");
  dns.add("e6.example.com", Type::txt, "v=spf1 exists:err.example.com -all");
  dns.fail("err.example.com");
  check_rows(dns, {
                      {"e4.example.com", "192.0.2.3", Result::pass},
                      {"e4.example.com", "2001:db8::3", Result::pass},
                      {"e5.example.com", "2001:db8::3", Result::fail},
                      {"e6.example.com", "2001:db8::3", Result::temperror},
                  });
  CHECK(dns.count("mail6.example.com", Type::aaaa) == 0);
}

// --- include and redirect (RFC 7208 5.2, 6.1) --------------------------------

TEST_CASE("spf: include maps the included result", "[spf]") {
  FakeResolver dns;
  dns.add("ip5.example.com", Type::txt, "v=spf1 ip4:192.0.2.5 -all");
  dns.add("ip6.example.com", Type::txt, "v=spf1 ip4:192.0.2.6 ~all");
  dns.add("ip7.example.com", Type::txt, "v=spf1 ip4:192.0.2.7 ?all");
  dns.fail("ip8.example.com");
  dns.add("erehwon.example.com", Type::txt, "v=spfl am not an SPF record");
  dns.add("e1.example.com", Type::txt, "v=spf1 include:ip5.example.com ~all");
  dns.add("e2.example.com", Type::txt, "v=spf1 include:ip6.example.com all");
  dns.add("e3.example.com", Type::txt, "v=spf1 include:ip7.example.com -all");
  dns.add("e4.example.com", Type::txt, "v=spf1 include:ip8.example.com -all");
  dns.add("e5.example.com", Type::txt, "v=spf1 include:e6.example.com -all");
  dns.add("e6.example.com", Type::txt, "v=spf1 include +all");
  dns.add("e7.example.com", Type::txt, "v=spf1 include:erehwon.example.com -all");
  dns.add("e8.example.com", Type::txt, "v=spf1 include:nxdomain.example.com -all");
  dns.add("e9.example.com", Type::txt, "v=spf1 -include:ip5.example.com ?all");
  dns.add("e10.example.com", Type::txt, "v=spf1 include:multi.example.com -all");
  dns.add("multi.example.com", Type::txt, "v=spf1 +all");
  dns.add("multi.example.com", Type::txt, "v=spf1 -all");
  check_rows(dns, {
                      {"e1.example.com", "192.0.2.4", Result::softfail},  // fail -> no match
                      {"e1.example.com", "192.0.2.5", Result::pass},
                      {"e2.example.com", "192.0.2.4", Result::pass},      // softfail -> no match
                      {"e3.example.com", "192.0.2.4", Result::fail},      // neutral -> no match
                      {"e3.example.com", "192.0.2.7", Result::pass},
                      {"e4.example.com", "192.0.2.4", Result::temperror},
                      {"e5.example.com", "192.0.2.4", Result::permerror},
                      {"e7.example.com", "192.0.2.4", Result::permerror},  // none -> permerror
                      {"e8.example.com", "192.0.2.4", Result::permerror},
                      {"e9.example.com", "192.0.2.5", Result::fail},       // the include's qualifier
                      {"e9.example.com", "192.0.2.4", Result::neutral},
                      {"e10.example.com", "192.0.2.4", Result::permerror},
                  });
  Evaluation none = run(dns, "192.0.2.4", "e7.example.com");
  CHECK(none.problem.find("erehwon.example.com") != std::string::npos);
  CHECK(none.problem.find("no SPF record") != std::string::npos);
  CHECK(none.mechanism == "include:erehwon.example.com");
  Evaluation temp = run(dns, "192.0.2.4", "e4.example.com");
  CHECK(temp.problem.find("ip8.example.com") != std::string::npos);
}

TEST_CASE("spf: redirect applies only when nothing matched and never beside all", "[spf]") {
  FakeResolver dns;
  dns.add("mail.example.com", Type::a, "192.0.2.4");
  dns.add("t2.example.com", Type::txt, "v=spf1 moo.cow-far_out=man:dog/cat ip4:192.0.2.4 -all");
  // Would loop past the limit, but "all" means the redirect is never used.
  dns.add("t5.example.com", Type::txt, "v=spf1 redirect=t5.example.com ~all");
  dns.add("t6.example.com", Type::txt, "v=spf1 ip4:192.0.2.4 redirect=t2.example.com");
  dns.add("t7.example.com", Type::txt, "v=spf1 redirect=t2.example.com ip4:192.0.2.9");
  dns.add("e10.example.com", Type::txt, "v=spf1 redirect=erehwon.example.com");
  dns.add("e24.example.com", Type::txt, "v=spf1 redirect=testimplicit.example.com");
  dns.add("e24.example.com", Type::a, "192.0.2.1");
  dns.add("testimplicit.example.com", Type::txt, "v=spf1 a -all");
  dns.add("testimplicit.example.com", Type::a, "192.0.2.2");
  dns.add("chain.example.com", Type::txt, "v=spf1 redirect=t6.example.com");
  check_rows(dns, {
                      {"t5.example.com", "192.0.2.4", Result::softfail},
                      {"t6.example.com", "192.0.2.4", Result::pass},
                      {"t6.example.com", "192.0.2.5", Result::fail},
                      {"t7.example.com", "192.0.2.9", Result::pass},  // position does not matter
                      {"t7.example.com", "192.0.2.5", Result::fail},
                      {"e10.example.com", "192.0.2.4", Result::permerror},
                      {"e24.example.com", "192.0.2.2", Result::pass},  // %{d} and "a" follow the redirect
                      {"e24.example.com", "192.0.2.1", Result::fail},
                      {"chain.example.com", "192.0.2.5", Result::fail},
                  });
  Evaluation e = run(dns, "192.0.2.5", "t6.example.com");
  CHECK(e.decided_by == "t2.example.com");
  CHECK(e.mechanism == "-all");
  CHECK(e.dns_lookups == 1);
  std::size_t before = dns.count("t5.example.com", Type::txt);
  Evaluation t5 = run(dns, "192.0.2.4", "t5.example.com");
  CHECK(t5.dns_lookups == 0);
  CHECK(dns.count("t5.example.com", Type::txt) == before + 1);
  Evaluation none = run(dns, "192.0.2.4", "e10.example.com");
  CHECK(none.problem.find("erehwon.example.com") != std::string::npos);
}

TEST_CASE("spf: exp and unknown modifiers do not change the result", "[spf]") {
  FakeResolver dns;
  dns.add("e1.example.com", Type::txt, "v=spf1 exp=exp1.example.com redirect=e2.example.com");
  dns.add("e2.example.com", Type::txt, "v=spf1 -all");
  dns.add("e19.example.com", Type::txt, "v=spf1 default=pass");
  dns.add("e20.example.com", Type::txt, "v=spf1 default=+");
  dns.add("e23.example.com", Type::txt, "v=spf1 a:erehwon.example.com a:foobar.com exp=nxdomain.com -all");
  dns.add("e21.example.com", Type::txt, "v=spf1 exp=e21msg.example.com -all");
  dns.fail("e21msg.example.com");
  dns.add("e14.example.com", Type::txt, "v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com");
  dns.add("e15.example.com", Type::txt, "v=spf1 redirect=e12.example.com -all redirect=e12.example.com");
  dns.add("e12.example.com", Type::txt, "v=spf1 exp= -all");
  dns.add("e9.example.com", Type::txt, "v=spf1 -all foo=%abc");
  check_rows(dns, {
                      {"e1.example.com", "192.0.2.4", Result::fail},
                      {"e19.example.com", "192.0.2.4", Result::neutral},
                      {"e20.example.com", "192.0.2.4", Result::neutral},
                      {"e23.example.com", "192.0.2.4", Result::fail},  // exp= is no void lookup
                      {"e21.example.com", "192.0.2.4", Result::fail},  // nor a DNS error
                      {"e14.example.com", "192.0.2.4", Result::permerror},
                      {"e15.example.com", "192.0.2.4", Result::permerror},
                      {"e12.example.com", "192.0.2.4", Result::permerror},
                      {"e9.example.com", "192.0.2.4", Result::permerror},
                  });
  CHECK(dns.count("exp1.example.com", Type::txt) == 0);
  CHECK(dns.count("nxdomain.com", Type::txt) == 0);
  Evaluation e23 = run(dns, "192.0.2.4", "e23.example.com");
  CHECK(e23.void_lookups == 2);
}

// --- Temporary failures --------------------------------------------------------

TEST_CASE("spf: a temporary DNS failure is a temperror, except under ptr", "[spf]") {
  FakeResolver dns;
  dns.fail("down.example");
  dns.add("txt.example", Type::txt, "v=spf1 include:down.example -all");
  dns.add("a.example", Type::txt, "v=spf1 a:down.example -all");
  dns.add("mx.example", Type::txt, "v=spf1 mx:down.example -all");
  dns.add("mxhost.example", Type::txt, "v=spf1 mx -all");
  dns.add("mxhost.example", Type::mx, "10 down.example");
  dns.add("exists.example", Type::txt, "v=spf1 exists:down.example -all");
  dns.add("redirect.example", Type::txt, "v=spf1 redirect=down.example");
  dns.add("ptr.example", Type::txt, "v=spf1 ptr:down.example -all");
  dns.add("3.2.0.192.in-addr.arpa", Type::ptr, "host.down.example");
  dns.fail("host.down.example");
  dns.add("after.example", Type::txt, "v=spf1 ip4:192.0.2.3 a:down.example -all");
  check_rows(dns, {
                      {"txt.example", "192.0.2.3", Result::temperror},
                      {"a.example", "192.0.2.3", Result::temperror},
                      {"mx.example", "192.0.2.3", Result::temperror},
                      {"mxhost.example", "192.0.2.3", Result::temperror},
                      {"exists.example", "192.0.2.3", Result::temperror},
                      {"redirect.example", "192.0.2.3", Result::temperror},
                      {"ptr.example", "192.0.2.3", Result::fail},
                      {"after.example", "192.0.2.3", Result::pass},  // matched before the failing term
                  });
  Evaluation e = run(dns, "192.0.2.3", "a.example");
  CHECK(e.problem.find("down.example") != std::string::npos);
  CHECK(e.mechanism == "a:down.example");
  CHECK(e.decided_by == "a.example");
}

// --- Limits (RFC 7208 4.6.4) ----------------------------------------------------

TEST_CASE("spf: the 10-lookup limit: 10 pass, 11 permerror", "[spf]") {
  FakeResolver dns;
  dns.add("mail.example.com", Type::a, "192.0.2.4");
  dns.add("e6.example.com", Type::txt, "v=spf1 a mx a mx a mx a mx a ptr ip4:192.0.2.4 -all");
  dns.add("e6.example.com", Type::a, "192.0.2.8");
  dns.add("e6.example.com", Type::mx, "10 e6.example.com");
  dns.add("e7.example.com", Type::txt, "v=spf1 a mx a mx a mx a mx a ptr a ip4:192.0.2.4 -all");
  dns.add("e7.example.com", Type::a, "192.0.2.20");
  dns.add("e7.example.com", Type::mx, "10 e7.example.com");
  dns.add("e8.example.com", Type::txt, "v=spf1 a include:inc.example.com ip4:192.0.2.4 mx -all");
  dns.add("e8.example.com", Type::a, "192.0.2.80");
  dns.add("inc.example.com", Type::txt, "v=spf1 a a a a a a a a");
  dns.add("inc.example.com", Type::a, "192.0.2.10");
  dns.add("e9.example.com", Type::txt, "v=spf1 a include:inc.example.com a ip4:192.0.2.4 -all");
  dns.add("e9.example.com", Type::a, "192.0.2.21");
  check_rows(dns, {
                      {"e6.example.com", "192.0.2.4", Result::pass},
                      {"e7.example.com", "192.0.2.4", Result::permerror},
                      {"e8.example.com", "192.0.2.4", Result::pass},
                      {"e9.example.com", "192.0.2.4", Result::permerror},
                  });
  Evaluation at = run(dns, "192.0.2.4", "e6.example.com");
  CHECK(at.dns_lookups == 10);
  Evaluation over = run(dns, "192.0.2.4", "e7.example.com");
  CHECK(over.dns_lookups == 11);
  CHECK(over.problem.find("More than 10") != std::string::npos);
  CHECK(over.mechanism == "a");
  Evaluation through = run(dns, "192.0.2.4", "e8.example.com");
  CHECK(through.dns_lookups == 10);
  CHECK(through.mechanism == "ip4:192.0.2.4");

  // The limit is an option.
  Options tight;
  tight.max_dns_lookups = 1;
  check_rows(dns, {{"e8.example.com", "192.0.2.4", Result::permerror}}, tight);
}

TEST_CASE("spf: the void lookup limit: 2 allowed, 3 permerror", "[spf]") {
  FakeResolver dns;
  dns.add("e11.example.com", Type::txt, "v=spf1 a:err.example.com a:err1.example.com a:err2.example.com ?all");
  dns.add("e12.example.com", Type::txt, "v=spf1 a:err.example.com a:err1.example.com ?all");
  dns.add("mixed.example.com", Type::txt, "v=spf1 mx:nomx.example.com exists:none.example.com ptr -all");
  dns.add("nomx.example.com", Type::a, "192.0.2.99");  // exists, but no MX: nodata
  dns.add("mxvoid.example.com", Type::txt, "v=spf1 mx -all");
  dns.add("mxvoid.example.com", Type::mx, "10 h1.example.com");
  dns.add("mxvoid.example.com", Type::mx, "20 h2.example.com");
  dns.add("mxvoid.example.com", Type::mx, "30 h3.example.com");
  check_rows(dns, {
                      {"e12.example.com", "192.0.2.4", Result::neutral},
                      {"e11.example.com", "192.0.2.4", Result::permerror},
                      {"mixed.example.com", "192.0.2.4", Result::permerror},
                      {"mxvoid.example.com", "192.0.2.4", Result::permerror},
                  });
  Evaluation at = run(dns, "192.0.2.4", "e12.example.com");
  CHECK(at.void_lookups == 2);
  Evaluation over = run(dns, "192.0.2.4", "e11.example.com");
  CHECK(over.void_lookups == 3);
  CHECK(over.problem.find("void") != std::string::npos);
  CHECK(over.mechanism == "a:err2.example.com");

  Options lenient;
  lenient.max_void_lookups = 3;
  check_rows(dns, {{"e11.example.com", "192.0.2.4", Result::neutral}}, lenient);
}

TEST_CASE("spf: include and redirect loops are permerrors", "[spf]") {
  FakeResolver dns;
  dns.add("e1.example.com", Type::txt, "v=spf1 ip4:198.51.100.1 redirect=e1.example.com");
  dns.add("e2.example.com", Type::txt, "v=spf1 include:e3.example.com");
  dns.add("e3.example.com", Type::txt, "v=spf1 include:E2.example.com.");
  dns.add("self.example.com", Type::txt, "v=spf1 include:self.example.com -all");
  check_rows(dns, {
                      {"e1.example.com", "192.0.2.4", Result::permerror},
                      {"e2.example.com", "192.0.2.4", Result::permerror},
                      {"self.example.com", "192.0.2.4", Result::permerror},
                  });
  Evaluation e = run(dns, "192.0.2.4", "e2.example.com");
  CHECK(e.problem == "Include loop: e2.example.com -> e3.example.com -> e2.example.com.");
  CHECK(e.dns_lookups == 2);
  Evaluation r = run(dns, "192.0.2.4", "e1.example.com");
  CHECK(r.problem.find("Redirect loop") != std::string::npos);

  // Loops through macros are stopped by the limits, even when they are raised.
  FakeResolver macro;
  macro.add("m.example.com", Type::txt, "v=spf1 include:x.%{d}");
  for (std::string d = "m.example.com"; d.size() < 200; d = "x." + d)
    macro.add("x." + d, Type::txt, "v=spf1 include:x.%{d}");
  Options huge;
  huge.max_dns_lookups = 1000000;
  Evaluation m = check_host(macro, ip("192.0.2.4"), "m.example.com", "foo@m.example.com", huge);
  CHECK(m.result == Result::permerror);
  CHECK(m.dns_lookups <= 33);
  Evaluation m10 = check_host(macro, ip("192.0.2.4"), "m.example.com", "foo@m.example.com");
  CHECK(m10.result == Result::permerror);
  CHECK(m10.dns_lookups == 11);
}

// --- Macros (RFC 7208 7) ------------------------------------------------------

namespace {

// What exists:<spec> looks up, for sender strong-bad@email.example.com.
std::string expand(const std::string& spec, const std::string& address,
                   const std::string& sender = "strong-bad@email.example.com", Options options = {}) {
  FakeResolver dns;
  std::string domain = "email.example.com";
  dns.add(domain, Type::txt, "v=spf1 exists:" + spec + " -all");
  Evaluation e = check_host(dns, ip(address), domain, sender, options);
  INFO(joined(e.trace) << e.problem);
  CHECK(e.result == Result::fail);
  std::vector<std::string> asked;
  for (const auto& [name, type] : dns.queries())
    if (type == Type::a) asked.push_back(name);
  REQUIRE(asked.size() == 1);
  return asked.front();
}

}  // namespace

TEST_CASE("spf: macro expansion, the examples of RFC 7208 7.4", "[spf]") {
  struct R {
    std::string spec;
    std::string want;
  };
  const R rows[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
  };
  for (const auto& r : rows) {
    INFO(r.spec);
    CHECK(expand(r.spec, "192.0.2.3") == r.want);
  }
  CHECK(expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01") ==
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST_CASE("spf: macro letters, transformers, escapes and URL encoding", "[spf]") {
  struct R {
    std::string spec;
    std::string want;
  };
  const R rows[] = {
      {"%{i}.x.example", "192.0.2.3.x.example"},
      {"%{v}.x.example", "in-addr.x.example"},
      {"%{h}.x.example", "email.example.com.x.example"},  // no HELO: the domain
      {"%{D2}.x.example", "example.com.x.example"},
      {"%{l2r+-}.user.%{d2}", "bad.strong.user.example.com"},
      {"%{d99}.x.example", "email.example.com.x.example"},
      {"%{d00002}.x.example", "example.com.x.example"},
      {"%{l=}.x.example", "strong-bad.x.example"},
      {"%{dR}", "com.example.email"},
      {"%{o}.x.example.", "email.example.com.x.example"},  // a trailing dot is dropped
      {"macro%%percent%_%_space%-url-space.example.com", "macro%percent  space%20url-space.example.com"},
      {"%{p}.x.example", "unknown.x.example"},
  };
  for (const auto& r : rows) {
    INFO(r.spec);
    CHECK(expand(r.spec, "192.0.2.3") == r.want);
  }
  CHECK(expand("%{i}.x.example", "2001:db8::cb01") ==
        "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1.x.example");
  CHECK(expand("%{v}.x.example", "2001:db8::cb01") == "ip6.x.example");
  CHECK(expand("%{i}.x.example", "::ffff:192.0.2.3") == "192.0.2.3.x.example");
  // The fake resolver records names in lower case.
  CHECK(expand("%{L}.x.example", "192.0.2.3", "~jack&jill=up-a_b3.c@e8.example.com") ==
        "~jack%26jill%3dup-a_b3.c.x.example");
  // A sender without a local part is postmaster (RFC 7208 4.3).
  CHECK(expand("%{l}.x.example", "192.0.2.3", "@email.example.com") == "postmaster.x.example");
  CHECK(expand("%{s}", "192.0.2.3", "") == "postmaster@email.example.com");
  CHECK(expand("%{s}", "192.0.2.3", "email.example.com") == "postmaster@email.example.com");
  Options helo;
  helo.helo = "mx.Example.org";
  CHECK(expand("%{h}.x.example", "192.0.2.3", "strong-bad@email.example.com", helo) == "mx.example.org.x.example");
}

TEST_CASE("spf: URL-escaping uses upper-case hex, as the trace shows", "[spf]") {
  FakeResolver dns;
  dns.add("e8.example.com", Type::txt, "v=spf1 exists:%{L}.x.%{d} -all");
  Evaluation e = check_host(dns, ip("192.0.2.3"), "e8.example.com", "~jack&jill=up-a_b3.c@e8.example.com");
  INFO(joined(e.trace));
  CHECK(e.result == Result::fail);
  CHECK(trace_has(e, "  exists:%{L}.x.%{d} did not match (~jack%26jill%3Dup-a_b3.c.x.e8.example.com has no A "
                     "records: void lookup)"));
}

TEST_CASE("spf: %{p} is a validated name, preferring one under the domain", "[spf]") {
  FakeResolver dns;
  dns.add("e7.example.com", Type::txt, "v=spf1 exists:%{p}.should.example.com ~exists:%{p}.ok.example.com");
  dns.add("42.2.0.192.in-addr.arpa", Type::ptr, "mx.example.com");
  dns.add("42.2.0.192.in-addr.arpa", Type::ptr, "mx.e7.example.com");
  dns.add("mx.example.com", Type::a, "192.0.2.42");
  dns.add("mx.e7.example.com", Type::a, "192.0.2.42");
  dns.add("mx.e7.example.com.should.example.com", Type::a, "127.0.0.2");
  dns.add("mx.example.com.ok.example.com", Type::a, "127.0.0.2");
  Evaluation e = run(dns, "192.0.2.42", "e7.example.com");
  CHECK(e.result == Result::pass);
  // %{p} costs no counted lookups and is computed once.
  CHECK(e.dns_lookups == 1);
  CHECK(dns.count("42.2.0.192.in-addr.arpa", Type::ptr) == 1);
}

TEST_CASE("spf: an expanded name over 253 characters loses labels from the left", "[spf]") {
  std::string sender = "test@somewhat.long.exp.example.com";
  std::string spec = "foobar";
  for (int i = 0; i < 8; ++i) spec += ".%{o}";
  spec += ".example.com";
  std::string got = expand(spec, "192.0.2.3", sender);
  std::string want;
  for (int i = 0; i < 8; ++i) want += "somewhat.long.exp.example.com.";
  want += "example.com";
  // foobar (and as many labels as needed) went; the result fits.
  CHECK(got.size() <= 253);
  CHECK(want.ends_with(got));
  CHECK(got.ends_with(".example.com"));
  CHECK(got.find("foobar") == std::string::npos);
  CHECK(got.front() != '.');
}

TEST_CASE("spf: macro-built names that cannot be queried match nothing", "[spf]") {
  FakeResolver dns;
  dns.add("t12.example.com", Type::txt, "v=spf1 a:%{H}.bar -all");
  Options options;
  options.helo = std::string(30, '%');  // URL-encoded: one 90-character label
  Evaluation e = check_host(dns, ip("192.0.2.3"), "t12.example.com", "foo@t12.example.com", options);
  CHECK(e.result == Result::fail);
  CHECK(dns.queries().size() == 1);  // only the TXT record
}

TEST_CASE("spf: hostile macros stay bounded", "[spf]") {
  FakeResolver dns;
  std::string record = "v=spf1";
  for (int i = 0; i < 9; ++i) {
    record += " exists:";
    for (int j = 0; j < 200; ++j) record += "%{s}";
  }
  record += " -all";
  dns.add("hostile.example", Type::txt, record);
  std::string sender = std::string(400, 'a') + "@hostile.example";
  Evaluation e = check_host(dns, ip("192.0.2.3"), "hostile.example", sender);
  CHECK(e.result == Result::permerror);
  CHECK(e.problem.find("8192") != std::string::npos);
}

// --- strict_all ----------------------------------------------------------------

TEST_CASE("spf: strict_all reads every all as -all", "[spf]") {
  FakeResolver dns;
  dns.add("soft.example", Type::txt, "v=spf1 ip4:192.0.2.0/24 ~all");
  dns.add("open.example", Type::txt, "v=spf1 +all");
  dns.add("neutral.example", Type::txt, "v=spf1 include:soft.example ?all");
  dns.add("redir.example", Type::txt, "v=spf1 ip4:198.51.100.1 redirect=soft.example");
  dns.add("noall.example", Type::txt, "v=spf1 ip4:198.51.100.1");
  Options strict;
  strict.strict_all = true;
  check_rows(dns, {
                      {"soft.example", "192.0.2.3", Result::pass},
                      {"soft.example", "203.0.113.1", Result::fail},
                      {"open.example", "203.0.113.1", Result::fail},
                      {"neutral.example", "192.0.2.3", Result::pass},
                      {"neutral.example", "203.0.113.1", Result::fail},
                      {"redir.example", "192.0.2.3", Result::pass},
                      {"redir.example", "203.0.113.1", Result::fail},
                      {"noall.example", "203.0.113.1", Result::neutral},  // no all, nothing to tighten
                  },
             strict);
  check_rows(dns, {
                      {"soft.example", "203.0.113.1", Result::softfail},
                      {"open.example", "203.0.113.1", Result::pass},
                      {"neutral.example", "203.0.113.1", Result::neutral},
                  });
  Evaluation e = run(dns, "203.0.113.1", "soft.example", strict);
  CHECK(e.mechanism == "~all");
  CHECK(trace_has(e, "  ~all matched (read as -all: strict)"));
}

// --- Trace and bookkeeping -------------------------------------------------------

TEST_CASE("spf: the trace shows records, terms and the decision", "[spf]") {
  FakeResolver dns;
  dns.add("example.com", Type::txt, "v=spf1 a include:_spf.example.net ~all");
  dns.add("example.com", Type::a, "198.51.100.1");
  dns.add("_spf.example.net", Type::txt, "v=spf1 ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all");
  Evaluation e = check_host(dns, ip("192.0.2.3"), "example.com", "bounce@example.com");
  INFO(joined(e.trace));
  CHECK(e.result == Result::pass);
  CHECK(e.decided_by == "example.com");
  CHECK(e.mechanism == "include:_spf.example.net");
  CHECK(e.dns_lookups == 2);
  CHECK(e.void_lookups == 0);
  CHECK(e.problem.empty());
  const std::vector<std::string> want = {
      "example.com: \"v=spf1 a include:_spf.example.net ~all\"",
      "  a did not match (example.com: 1 address)",
      "  _spf.example.net: \"v=spf1 ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all\"",
      "    ip4:203.0.113.0/24 did not match",
      "    ip4:192.0.2.0/24 matched",
      "  include:_spf.example.net -> pass, matched",
      "=> pass for 192.0.2.3: \"include:_spf.example.net\" in example.com",
  };
  CHECK(e.trace == want);

  Evaluation soft = check_host(dns, ip("203.0.113.200"), "example.com", "bounce@example.com");
  CHECK(soft.result == Result::pass);
  Evaluation other = check_host(dns, ip("198.51.100.7"), "example.com", "bounce@example.com");
  CHECK(other.result == Result::softfail);
  CHECK(other.mechanism == "~all");
  CHECK(trace_has(other, "  include:_spf.example.net -> fail, no match"));
  CHECK(trace_has(other, "  ~all matched"));
}

TEST_CASE("spf: the trace indents per redirect level and names void lookups", "[spf]") {
  FakeResolver dns;
  dns.add("example.org", Type::txt, "v=spf1 a:gone.example.org redirect=_spf.example.org");
  dns.add("_spf.example.org", Type::txt, "v=spf1 mx -all");
  dns.add("_spf.example.org", Type::mx, "10 mx.example.org");
  dns.add("mx.example.org", Type::aaaa, "2001:db8::25");
  Evaluation e = check_host(dns, ip("2001:db8::26"), "example.org", "x@example.org");
  INFO(joined(e.trace));
  CHECK(e.result == Result::fail);
  CHECK(e.decided_by == "_spf.example.org");
  CHECK(e.mechanism == "-all");
  CHECK(e.dns_lookups == 3);
  CHECK(e.void_lookups == 1);
  CHECK(trace_has(e, "  a:gone.example.org did not match (gone.example.org has no AAAA records: void lookup)"));
  CHECK(trace_has(e, "  redirect=_spf.example.org"));
  CHECK(trace_has(e, "  _spf.example.org: \"v=spf1 mx -all\""));
  CHECK(trace_has(e, "    mx did not match (1 MX host)"));
  CHECK(trace_has(e, "    -all matched"));
  CHECK(trace_has(e, "  redirect=_spf.example.org -> fail"));
  CHECK(e.trace.back() == "=> fail for 2001:db8::26: \"-all\" in _spf.example.org");
}

TEST_CASE("spf: the trace of a huge record is cut", "[spf]") {
  FakeResolver dns;
  std::string record = "v=spf1";
  for (int i = 0; i < 3000; ++i) record += " ip4:198.51.100.1";
  dns.add("big.example", Type::txt, record + " -all");
  Evaluation e = run(dns, "192.0.2.3", "big.example");
  CHECK(e.result == Result::fail);
  CHECK(e.trace.size() <= 1002);
  CHECK(e.trace.front().size() < 600);
}

// --- count_lookups -------------------------------------------------------------

TEST_CASE("spf: count_lookups follows includes and redirects", "[spf]") {
  FakeResolver dns;
  dns.add("example.com", Type::txt,
          "v=spf1 mx a:mail.example.com ip4:192.0.2.0/24 include:_spf.google.com include:%{i}.dyn.example -all");
  dns.add("_spf.google.com", Type::txt, "v=spf1 include:_netblocks.google.com include:_netblocks2.google.com ~all");
  dns.add("_netblocks.google.com", Type::txt, "v=spf1 ip4:198.51.100.0/24 ~all");
  dns.add("_netblocks2.google.com", Type::txt, "v=spf1 exists:%{i}.x.example ptr redirect=%{d}.r.example");
  dns.add("redir.example", Type::txt, "v=spf1 a redirect=example.com");
  auto c = count_lookups(dns, "example.com");
  CHECK(c.problem.empty());
  const std::vector<std::string> want = {
      "example.com: mx",
      "example.com: a:mail.example.com",
      "example.com: include:_spf.google.com",
      "_spf.google.com: include:_netblocks.google.com",
      "_spf.google.com: include:_netblocks2.google.com",
      "_netblocks2.google.com: exists:%{i}.x.example",
      "_netblocks2.google.com: ptr",
      "_netblocks2.google.com: redirect=%{d}.r.example",
      "example.com: include:%{i}.dyn.example",
  };
  CHECK(c.path == want);
  CHECK(c.lookups == 9);
  auto r = count_lookups(dns, "redir.example");
  CHECK(r.problem.empty());
  CHECK(r.lookups == 11);
  CHECK(r.path.front() == "redir.example: a");
  CHECK(r.path[1] == "redir.example: redirect=example.com");
}

TEST_CASE("spf: count_lookups reports loops, missing and broken records, failures", "[spf]") {
  FakeResolver dns;
  dns.add("a.example", Type::txt, "v=spf1 include:b.example -all");
  dns.add("b.example", Type::txt, "v=spf1 include:c.example");
  dns.add("c.example", Type::txt, "v=spf1 include:A.example.");
  dns.add("missing.example", Type::txt, "v=spf1 include:nowhere.example -all");
  dns.add("broken.example", Type::txt, "v=spf1 include:bad.example -all");
  dns.add("bad.example", Type::txt, "v=spf1 ip4:192.0.2.0/33");
  dns.add("two.example", Type::txt, "v=spf1 include:dup.example");
  dns.add("dup.example", Type::txt, "v=spf1 -all");
  dns.add("dup.example", Type::txt, "v=spf1 +all");
  dns.add("slow.example", Type::txt, "v=spf1 a include:down.example");
  dns.fail("down.example");
  dns.add("over.example", Type::txt, "v=spf1 a a a a a a include:six.example");
  dns.add("six.example", Type::txt, "v=spf1 a a a a mx");
  dns.add("redirall.example", Type::txt, "v=spf1 a redirect=a.example ~all");

  auto loop = count_lookups(dns, "a.example");
  CHECK(loop.problem == "Loop: a.example -> b.example -> c.example -> a.example (receivers: permerror).");
  CHECK(loop.lookups == 3);
  auto missing = count_lookups(dns, "missing.example");
  CHECK(missing.problem.find("nowhere.example") != std::string::npos);
  CHECK(missing.problem.find("no SPF record") != std::string::npos);
  CHECK(missing.lookups == 1);
  auto broken = count_lookups(dns, "broken.example");
  CHECK(broken.problem.find("bad.example") != std::string::npos);
  CHECK(broken.problem.find("ip4:192.0.2.0/33") != std::string::npos);
  auto two = count_lookups(dns, "two.example");
  CHECK(two.problem.find("dup.example") != std::string::npos);
  auto slow = count_lookups(dns, "slow.example");
  CHECK(slow.problem.find("down.example") != std::string::npos);
  CHECK(slow.lookups == 2);
  auto over = count_lookups(dns, "over.example");
  CHECK(over.problem.empty());
  CHECK(over.lookups == 12);
  CHECK(over.path.back() == "six.example: mx");
  auto redirall = count_lookups(dns, "redirall.example");
  CHECK(redirall.lookups == 1);  // a receiver never reaches redirect= beside all
  auto none = count_lookups(dns, "nothing.example");
  CHECK(none.lookups == 0);
  CHECK(none.problem.empty());
  CHECK(none.path.empty());
}

TEST_CASE("spf: count_lookups stops on exponential include trees", "[spf]") {
  FakeResolver dns;
  // Each level includes the next one twice: 2^20 paths if nothing stopped it.
  for (int i = 0; i < 20; ++i) {
    std::string next = "l" + std::to_string(i + 1) + ".example";
    dns.add("l" + std::to_string(i) + ".example", Type::txt, "v=spf1 include:" + next + " include:" + next);
  }
  dns.add("l20.example", Type::txt, "v=spf1 -all");
  auto c = count_lookups(dns, "l0.example");
  CHECK(c.lookups == 100);
  CHECK(c.problem.find("Counting stopped") != std::string::npos);
  CHECK(dns.queries().size() < 200);
}

// --- Garbage -------------------------------------------------------------------

TEST_CASE("spf: garbage records never crash and every error explains itself", "[spf]") {
  // Fragments that sit near the grammar's edges, glued at random (fixed seed).
  const std::vector<std::string> pieces = {
      " ",  "  ",   "a",    "mx",   "ptr",  "ip4:", "ip6:",   "include:", "exists:", "redirect=", "exp=", "all",
      "-",  "~",    "?",    "+",    ":",    "/",    "//",     "0",        "24",      "33",        "129",  "192.0.2.1",
      "::", "2001", "db8",  ".",    "..",   "%",    "%{",     "}",        "%{d}",    "%{ir}",     "%{l2r-}", "%%",
      "%_", "%-",   "x",    "=",    "com",  "example", "\t", "\x01",     "\xff",    "%{c}",      "%{d0}",  "v=spf1"};
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return (state >> 16) & 0x7fff;
  };
  int parsed = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string record = "v=spf1 ";
    int n = 1 + static_cast<int>(next() % 12);
    for (int j = 0; j < n; ++j) record += pieces[next() % pieces.size()];
    INFO(record);
    std::string error;
    auto r = parse_record(record, error);
    if (r) {
      ++parsed;
      CHECK(error.empty());
    } else {
      ++refused;
      REQUIRE_FALSE(error.empty());
      CHECK(error.back() == '.');
    }
    FakeResolver dns;
    dns.add("g.example", Type::txt, record);
    dns.add("g.example", Type::a, "192.0.2.1");
    dns.add("g.example", Type::mx, "10 g.example");
    Evaluation e = check_host(dns, ip(i % 2 ? "192.0.2.1" : "2001:db8::1"), "g.example", "x@g.example");
    if (!r) CHECK(e.result == Result::permerror);
    if (e.result == Result::permerror || e.result == Result::temperror) CHECK_FALSE(e.problem.empty());
    CHECK(e.dns_lookups <= 11);
    CHECK(e.trace.back().rfind("=> ", 0) == 0);
  }
  // The generator reaches both sides of the grammar.
  CHECK(parsed > 100);
  CHECK(refused > 100);
}
