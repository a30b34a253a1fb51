#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "dmarq/check/check.h"
#include "dmarq/dns/resolver.h"
#include "support/fake_resolver.h"

using namespace dmarq;
using check::Finding;
using check::Severity;
using dns::Type;

namespace {

// --- Keys, made at test time ------------------------------------------------

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The base64 SubjectPublicKeyInfo of a fresh RSA key, one per size per run.
std::string rsa_key(int bits) {
  static std::map<int, std::string> made;
  if (auto it = made.find(bits); it != made.end()) return it->second;
  EVP_PKEY* key = EVP_RSA_gen(static_cast<unsigned>(bits));
  REQUIRE(key != nullptr);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  REQUIRE(len > 0);
  std::string b64 = base64(std::string(reinterpret_cast<char*>(der), static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return made[bits] = b64;
}

// --- Zones ------------------------------------------------------------------

struct Zone {
  std::map<std::string, std::map<Type, std::vector<std::string>>> rr;
  std::vector<std::string> failing;

  Zone& set(const std::string& name, Type t, std::vector<std::string> data) {
    rr[name][t] = std::move(data);
    return *this;
  }
  Zone& erase(const std::string& name, Type t) {
    if (auto it = rr.find(name); it != rr.end()) {
      it->second.erase(t);
      if (it->second.empty()) rr.erase(it);
    }
    return *this;
  }
  void load(test::FakeResolver& dns) const {
    for (const auto& [name, types] : rr)
      for (const auto& [type, data] : types)
        for (const auto& d : data) dns.add(name, type, d);
    for (const auto& f : failing) dns.fail(f);
  }
};

const std::string kDomain = "clean.example";
const std::string kMx = "mx.clean.example";
const std::string kDmarc = "_dmarc.clean.example";
const std::string kSelector = "sel1._domainkey.clean.example";
const std::string kAuth = "clean.example._report._dmarc.dmarc-service.example";
const std::string kV4 = "192.0.2.10";
const std::string kV6 = "2001:db8::10";

// Everything right: SPF -all covering the MX and the web address, DMARC
// p=reject with an authorized external rua, a 2048-bit key, MX with A, AAAA
// and forward-confirmed PTRs.
Zone clean_zone() {
  Zone z;
  z.set(kDomain, Type::a, {kV4})
      .set(kDomain, Type::aaaa, {kV6})
      .set(kDomain, Type::ns, {"ns1.clean.example"})
      .set(kDomain, Type::txt, {"v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 -all", "google-site-verification=abc"})
      .set(kDomain, Type::mx, {"10 mx.clean.example"})
      .set(kMx, Type::a, {kV4})
      .set(kMx, Type::aaaa, {kV6})
      .set(dns::reverse_name(kV4), Type::ptr, {kMx})
      .set(dns::reverse_name(kV6), Type::ptr, {kMx})
      .set(kDmarc, Type::txt, {"v=DMARC1; p=reject; rua=mailto:reports@dmarc-service.example"})
      .set(kAuth, Type::txt, {"v=DMARC1"})
      .set(kSelector, Type::txt, {"v=DKIM1; k=rsa; p=" + rsa_key(2048)});
  return z;
}

check::Options clean_options() {
  check::Options o;
  o.selectors = {"sel1"};
  return o;
}

std::vector<Finding> run(const Zone& z, const check::Options& o, const std::string& domain = kDomain) {
  test::FakeResolver dns;
  z.load(dns);
  return check::check_domain(dns, domain, o);
}

std::string describe(const std::vector<Finding>& fs) {
  std::string out;
  for (const auto& f : fs)
    out += std::string(check::severity_name(f.severity)) + " " + f.code + " @" + f.name + ": " + f.message + "\n";
  return out;
}

const Finding* find(const std::vector<Finding>& fs, const std::string& code, const std::string& name = "") {
  for (const auto& f : fs)
    if (f.code == code && (name.empty() || f.name == name)) return &f;
  return nullptr;
}

std::size_t count(const std::vector<Finding>& fs, Severity s) {
  return static_cast<std::size_t>(
      std::count_if(fs.begin(), fs.end(), [&](const Finding& f) { return f.severity == s; }));
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Answers Status::offline for the names listed, and from the zone otherwise,
// as a cache-backed offline resolver does.
class PartlyOffline : public dns::Resolver {
 public:
  PartlyOffline(test::FakeResolver& zone, std::set<std::string> offline) : zone_(zone), offline_(std::move(offline)) {}
  dns::Answer lookup(const std::string& name, Type type) override {
    if (offline_.count(name)) {
      dns::Answer a;
      a.status = dns::Status::offline;
      return a;
    }
    return zone_.lookup(name, type);
  }

 private:
  test::FakeResolver& zone_;
  std::set<std::string> offline_;
};

}  // namespace

TEST_CASE("check: severity names and has_error", "[check]") {
  CHECK(check::severity_name(Severity::error) == "error");
  CHECK(check::severity_name(Severity::warning) == "warning");
  CHECK(check::severity_name(Severity::info) == "info");
  std::vector<Finding> fs;
  CHECK_FALSE(check::has_error(fs));
  fs.push_back({Severity::warning, "x.y", "n", "", "m", "f"});
  fs.push_back({Severity::info, "x.z", "n", "", "m", ""});
  CHECK_FALSE(check::has_error(fs));
  fs.push_back({Severity::error, "x.e", "n", "", "m", "f"});
  CHECK(check::has_error(fs));
}

TEST_CASE("check: the afspraakmanager.be seed case", "[check]") {
  // The zone file of /work/shared/reference/seed-case, record by record.
  // Owners written without a trailing dot get the origin appended.
  const std::string d = "afspraakmanager.be";
  const std::string doubled = "afspraakmanager.be.afspraakmanager.be";
  const std::string key =
      "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC6pvlZKnbSVXg1Bf3MF2l8xRrKPmqIw2i9Rn1yZ3HEny9qH1vyGXUjdv2O0aQbd5YShS"
      "Gjtg5H/GedRMLpB0Qb+hBj1yGofOQTdcVtZZfj8qBY5Z7vEkhvtdaogQ0vLjgcwhg0BBuTewEkLxrl9IIzkPMZ1SCtM2Y0RtiUhg2cjQIDAQAB";
  test::FakeResolver dns;
  dns.add(d, Type::soa, "ns1.eurodns.com hostmaster.eurodns.com 2013102003 86400 7200 604800 86400");
  for (const char* ns : {"ns1.eurodns.com", "ns2.eurodns.com", "ns3.eurodns.com", "ns4.eurodns.com"})
    dns.add(d, Type::ns, ns);
  dns.add(d, Type::mx, "10 smtp.afspraakmanager.be");                 // @ MX 10 smtp
  dns.add(d, Type::a, "37.230.96.72");                                // @ A
  dns.add(doubled, Type::a, "37.230.96.72");                          // afspraakmanager.be A (no dot)
  dns.add("localhost.afspraakmanager.be", Type::a, "127.0.0.1");
  dns.add("smtp.afspraakmanager.be", Type::a, "37.230.96.72");
  dns.add("www.afspraakmanager.be", Type::a, "37.230.96.72");
  // "v=DKIM1\\; k=rsa\\;      p=..." in the zone file: single backslashes published.
  dns.add("default._domainkey.afspraakmanager.be", Type::txt, "v=DKIM1\\; k=rsa\\;      p=" + key);
  dns.add(doubled, Type::spf, "v=spf1 a mx ptr +all");                 // afspraakmanager.be SPF (no dot)

  check::Options options;
  options.selectors = {"mail", "default"};  // s=mail signs the mail (dkim-signature.txt)
  auto fs = check::check_domain(dns, d, options);
  INFO(describe(fs));

  CHECK(check::has_error(fs));
  CHECK(find(fs, "spf.missing", d));
  const Finding* wrong = find(fs, "spf.wrong_name", doubled);
  REQUIRE(wrong);
  CHECK(wrong->severity == Severity::error);
  CHECK(wrong->record == "v=spf1 a mx ptr +all");
  CHECK(contains(wrong->fix, "afspraakmanager.be."));  // the trailing dot
  CHECK(find(fs, "spf.type99_only", doubled));
  const Finding* plus = find(fs, "spf.plus_all", doubled);
  REQUIRE(plus);
  CHECK(contains(plus->message, "misplaced"));
  const Finding* ptr = find(fs, "spf.ptr", doubled);
  REQUIRE(ptr);
  CHECK(ptr->severity == Severity::warning);
  CHECK(contains(ptr->message, "misplaced"));

  CHECK(find(fs, "dmarc.missing", "_dmarc.afspraakmanager.be"));
  CHECK(find(fs, "dkim.missing", "mail._domainkey.afspraakmanager.be"));
  CHECK_FALSE(find(fs, "dkim.missing", "default._domainkey.afspraakmanager.be"));
  const Finding* bad = find(fs, "dkim.bad_format", "default._domainkey.afspraakmanager.be");
  REQUIRE(bad);
  CHECK(bad->severity == Severity::error);
  CHECK(contains(bad->message, "backslash"));
  CHECK(contains(bad->fix, "v=DKIM1; k=rsa;"));
  // Once the backslashes go, the key is a readable 1024-bit RSA key.
  CHECK(find(fs, "dkim.short_key", "default._domainkey.afspraakmanager.be"));
  CHECK_FALSE(find(fs, "dkim.bad_key"));

  const Finding* v6 = find(fs, "mx.no_ipv6", "smtp.afspraakmanager.be");
  REQUIRE(v6);
  CHECK(v6->severity == Severity::warning);
  CHECK(contains(v6->message, "Gmail"));
  const Finding* noptr = find(fs, "mx.no_ptr", "smtp.afspraakmanager.be");
  REQUIRE(noptr);
  CHECK(contains(noptr->message, "37.230.96.72"));
  CHECK(contains(noptr->message, "72.96.230.37.in-addr.arpa"));
  CHECK_FALSE(find(fs, "dns.temporary"));
}

TEST_CASE("check: a clean domain has no errors and no warnings", "[check]") {
  test::FakeResolver dns;
  clean_zone().load(dns);
  auto fs = check::check_domain(dns, "Clean.Example.", clean_options());  // case and trailing dot ignored
  INFO(describe(fs));
  CHECK(count(fs, Severity::error) == 0);
  CHECK(count(fs, Severity::warning) == 0);
  CHECK(find(fs, "dmarc.p_reject", kDmarc));
  const Finding* key = find(fs, "dkim.rsa_key", kSelector);
  REQUIRE(key);
  CHECK(contains(key->message, "2048-bit"));
  // The authorization of the external rua was asked for.
  CHECK(dns.count(kAuth, Type::txt) == 1);
  // MX addresses serve the SPF coverage check and the mail-host check, and
  // are asked once.
  CHECK(dns.count(kMx, Type::a) == 1);
  CHECK(dns.count(kMx, Type::aaaa) == 1);
  CHECK(dns.count(kDomain, Type::txt) == 1);
}

namespace {

struct Case {
  const char* code;
  Severity severity;
  std::string name;  // the finding's name; empty: not checked
  std::function<void(Zone&, check::Options&)> change;
};

std::string spf(const std::string& terms) { return "v=spf1 " + terms; }
void set_spf(Zone& z, const std::string& record) {
  z.set(kDomain, Type::txt, {record});
}
void set_dmarc(Zone& z, const std::string& record) { z.set(kDmarc, Type::txt, {record}); }
void set_dkim(Zone& z, const std::string& record) { z.set(kSelector, Type::txt, {record}); }
const std::string kRua = "rua=mailto:reports@dmarc-service.example";

std::vector<Case> cases() {
  const std::string covered = "ip4:192.0.2.10 ip6:2001:db8::10";
  return {
      // SPF
      {"spf.missing", Severity::error, kDomain, [](Zone& z, auto&) { z.erase(kDomain, Type::txt); }},
      {"spf.wrong_name", Severity::error, "clean.example.clean.example",
       [=](Zone& z, auto&) {
         z.erase(kDomain, Type::txt);
         z.set("clean.example.clean.example", Type::txt, {spf(covered + " -all")});
       }},
      {"spf.type99_only", Severity::error, kDomain,
       [=](Zone& z, auto&) {
         z.erase(kDomain, Type::txt);
         z.set(kDomain, Type::spf, {spf(covered + " -all")});
       }},
      {"spf.multiple", Severity::error, kDomain,
       [=](Zone& z, auto&) { z.set(kDomain, Type::txt, {spf(covered + " -all"), spf("mx -all")}); }},
      {"spf.syntax", Severity::error, kDomain,
       [=](Zone& z, auto&) { set_spf(z, spf(covered + " frobnicate:x -all")); }},
      {"spf.plus_all", Severity::error, kDomain, [=](Zone& z, auto&) { set_spf(z, spf(covered + " +all")); }},
      {"spf.plus_all", Severity::error, kDomain, [=](Zone& z, auto&) { set_spf(z, spf(covered + " all")); }},
      {"spf.neutral_all", Severity::warning, kDomain, [=](Zone& z, auto&) { set_spf(z, spf(covered + " ?all")); }},
      {"spf.no_all", Severity::warning, kDomain, [=](Zone& z, auto&) { set_spf(z, spf(covered)); }},
      {"spf.sends_nothing", Severity::info, kDomain, [](Zone& z, auto&) { set_spf(z, "v=spf1 -all"); }},
      {"spf.ptr", Severity::warning, kDomain, [=](Zone& z, auto&) { set_spf(z, spf(covered + " ptr -all")); }},
      {"spf.too_many_lookups", Severity::error, kDomain,
       [=](Zone& z, auto&) {
         std::string terms = covered;
         for (const char* inc : {"a.example", "b.example", "c.example", "d.example"}) {
           terms += std::string(" include:") + inc;
           z.set(inc, Type::txt, {spf("a mx -all")});
           z.set(inc, Type::a, {"198.51.100.1"});
         }
         set_spf(z, spf(terms + " -all"));
       }},
      {"spf.lookup_error", Severity::error, kDomain,
       [=](Zone& z, auto&) { set_spf(z, spf(covered + " include:nowhere.example -all")); }},
      {"spf.mx_not_covered", Severity::warning, kDomain,
       [](Zone& z, auto&) { set_spf(z, spf("ip4:192.0.2.10 -all")); }},  // the MX's IPv6 address
      {"spf.a_not_covered", Severity::warning, kDomain,
       [=](Zone& z, auto&) {
         z.set(kDomain, Type::a, {kV4, "192.0.2.11"});
         set_spf(z, spf(covered + " -all"));
       }},
      // DMARC
      {"dmarc.missing", Severity::error, kDmarc, [](Zone& z, auto&) { z.erase(kDmarc, Type::txt); }},
      {"dmarc.wrong_name", Severity::error, "_dmarc.clean.example.clean.example",
       [](Zone& z, auto&) {
         z.erase(kDmarc, Type::txt);
         z.set("_dmarc.clean.example.clean.example", Type::txt, {"v=DMARC1; p=reject; " + kRua});
       }},
      {"dmarc.wrong_name", Severity::error, kDomain,
       [=](Zone& z, auto&) {
         z.erase(kDmarc, Type::txt);
         z.set(kDomain, Type::txt, {spf(covered + " -all"), "v=DMARC1; p=reject; " + kRua});
       }},
      {"dmarc.multiple", Severity::error, kDmarc,
       [](Zone& z, auto&) { z.set(kDmarc, Type::txt, {"v=DMARC1; p=reject; " + kRua, "v=DMARC1; p=none"}); }},
      {"dmarc.syntax", Severity::error, kDmarc, [](Zone& z, auto&) { set_dmarc(z, "p=reject; v=DMARC1; " + kRua); }},
      {"dmarc.syntax", Severity::error, kDmarc, [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; " + kRua); }},
      {"dmarc.syntax", Severity::error, kDmarc, [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=block; " + kRua); }},
      {"dmarc.syntax", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; " + kRua + "; reject"); }},
      {"dmarc.syntax", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; p=none; " + kRua); }},
      {"dmarc.version_case", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=dmarc1; p=reject; " + kRua); }},
      {"dmarc.unknown_tag", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; " + kRua + "; policy=reject"); }},
      {"dmarc.p_none", Severity::warning, kDmarc, [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=none; " + kRua); }},
      {"dmarc.p_quarantine", Severity::info, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=Quarantine; " + kRua); }},
      {"dmarc.p_reject", Severity::info, kDmarc, [](Zone&, auto&) {}},
      {"dmarc.sp_invalid", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; sp=drop; " + kRua); }},
      {"dmarc.np_invalid", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; np=; " + kRua); }},
      {"dmarc.pct", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; pct=25; " + kRua); }},
      {"dmarc.pct_invalid", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; pct=150; " + kRua); }},
      {"dmarc.pct_invalid", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; pct=50%; " + kRua); }},
      {"dmarc.testing", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; t=y; " + kRua); }},
      {"dmarc.t_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; t=yes; " + kRua); }},
      {"dmarc.adkim_strict", Severity::info, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; adkim=s; " + kRua); }},
      {"dmarc.aspf_strict", Severity::info, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; aspf=s; " + kRua); }},
      {"dmarc.adkim_invalid", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; adkim=strict; " + kRua); }},
      {"dmarc.aspf_invalid", Severity::error, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; aspf=x; " + kRua); }},
      {"dmarc.fo_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; fo=1:2; " + kRua); }},
      {"dmarc.rf_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; rf=iodef; " + kRua); }},
      {"dmarc.ri_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; ri=daily; " + kRua); }},
      {"dmarc.psd_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; psd=maybe; " + kRua); }},
      {"dmarc.no_rua", Severity::warning, kDmarc, [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject"); }},
      {"dmarc.rua_not_mailto", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; rua=https://dmarc.clean.example/report"); }},
      {"dmarc.rua_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; rua=mailto:reports"); }},
      {"dmarc.rua_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; rua=mailto:r@clean.example!tenmegs"); }},
      {"dmarc.ruf_invalid", Severity::warning, kDmarc,
       [](Zone& z, auto&) { set_dmarc(z, "v=DMARC1; p=reject; " + kRua + "; ruf=mailto:a%zz@clean.example"); }},
      {"dmarc.external_unauthorized", Severity::error, "clean.example._report._dmarc.elsewhere.example",
       [](Zone& z, auto&) {
         set_dmarc(z, "v=DMARC1; p=reject; " + kRua + ",mailto:dmarc@elsewhere.example!10m");
       }},
      {"dmarc.external_unauthorized", Severity::error, kAuth, [](Zone& z, auto&) { z.erase(kAuth, Type::txt); }},
      {"dmarc.external_unauthorized", Severity::error, kAuth,
       [](Zone& z, auto&) { z.set(kAuth, Type::txt, {"v=spf1 -all"}); }},
      // DKIM
      {"dkim.missing", Severity::error, "mail._domainkey.clean.example",
       [](Zone&, check::Options& o) { o.selectors.push_back("mail"); }},
      {"dkim.missing", Severity::error, "old._domainkey.clean.example",
       [](Zone&, check::Options& o) { o.report_selectors = {"sel1", "OLD"}; }},
      {"dkim.bad_format", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1\\; k=rsa\\; p=" + rsa_key(2048)); }},
      {"dkim.bad_format", Severity::error, kSelector, [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; k=rsa"); }},
      {"dkim.bad_format", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM2; p=" + rsa_key(2048)); }},
      {"dkim.bad_format", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "k=rsa; v=DKIM1; p=" + rsa_key(2048)); }},
      {"dkim.bad_format", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; k=dsa; p=" + rsa_key(2048)); }},
      {"dkim.bad_format", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; p=" + rsa_key(2048) + "; p=" + rsa_key(2048)); }},
      {"dkim.bad_format", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; s=tlsrpt; p=" + rsa_key(2048)); }},
      {"dkim.revoked", Severity::warning, kSelector, [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; k=rsa; p="); }},
      {"dkim.bad_key", Severity::error, kSelector, [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; p=not*base64"); }},
      {"dkim.bad_key", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; p=" + base64("certainly not a DER public key")); }},
      {"dkim.bad_key", Severity::error, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; k=ed25519; p=" + base64(std::string(31, 'k'))); }},
      {"dkim.weak_key", Severity::error, kSelector, [](Zone& z, auto&) { set_dkim(z, "p=" + rsa_key(512)); }},
      {"dkim.short_key", Severity::warning, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; k=rsa; p=" + rsa_key(1024)); }},
      {"dkim.rsa_key", Severity::info, kSelector, [](Zone&, auto&) {}},
      {"dkim.rsa_key", Severity::info, kSelector,  // base64 folded with white space, as long keys are published
       [](Zone& z, auto&) {
         std::string k = rsa_key(2048);
         set_dkim(z, "v=DKIM1; k=rsa; p=" + k.substr(0, 100) + " " + k.substr(100, 100) + "\t" + k.substr(200));
       }},
      {"dkim.ed25519_key", Severity::info, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; k=ed25519; p=" + base64(std::string(32, 'k'))); }},
      {"dkim.testing", Severity::warning, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; t=y:s; p=" + rsa_key(2048)); }},
      {"dkim.sha1_only", Severity::warning, kSelector,
       [](Zone& z, auto&) { set_dkim(z, "v=DKIM1; h=sha1; p=" + rsa_key(2048)); }},
      {"dkim.multiple", Severity::warning, kSelector,
       [](Zone& z, auto&) { z.set(kSelector, Type::txt, {"p=" + rsa_key(2048), "p=" + rsa_key(1024)}); }},
      {"dkim.no_selectors", Severity::info, kDomain, [](Zone&, check::Options& o) { o.selectors.clear(); }},
      {"dkim.bad_selector", Severity::warning, kDomain,
       [](Zone&, check::Options& o) { o.report_selectors = {"bad selector;"}; }},
      // Mail hosts
      {"mx.none", Severity::info, kDomain, [](Zone& z, auto&) { z.erase(kDomain, Type::mx); }},
      {"mx.none", Severity::warning, kDomain,
       [](Zone& z, auto&) {
         z.erase(kDomain, Type::mx).erase(kDomain, Type::a).erase(kDomain, Type::aaaa);
       }},
      {"mx.null", Severity::info, kDomain, [](Zone& z, auto&) { z.set(kDomain, Type::mx, {"0 ."}); }},
      {"mx.null_mixed", Severity::warning, kDomain,
       [](Zone& z, auto&) { z.set(kDomain, Type::mx, {"0 .", "10 mx.clean.example"}); }},
      {"mx.bad_record", Severity::warning, kDomain,
       [](Zone& z, auto&) { z.set(kDomain, Type::mx, {"ten mx.clean.example", "10 mx.clean.example"}); }},
      {"mx.ip_literal", Severity::error, "192.0.2.10",
       [](Zone& z, auto&) { z.set(kDomain, Type::mx, {"10 192.0.2.10"}); }},
      {"mx.no_address", Severity::error, "gone.clean.example",
       [](Zone& z, auto&) { z.set(kDomain, Type::mx, {"10 gone.clean.example", "20 mx.clean.example"}); }},
      {"mx.no_ipv6", Severity::warning, kMx, [](Zone& z, auto&) { z.erase(kMx, Type::aaaa); }},
      {"mx.no_ptr", Severity::warning, kMx, [](Zone& z, auto&) { z.erase(dns::reverse_name(kV6), Type::ptr); }},
      {"mx.fcrdns_mismatch", Severity::warning, kMx,
       [](Zone& z, auto&) { z.set(dns::reverse_name(kV4), Type::ptr, {"static-10.isp.example"}); }},
      {"mx.fcrdns_mismatch", Severity::warning, kMx,
       [](Zone& z, auto&) {
         z.set(dns::reverse_name(kV4), Type::ptr, {"static-10.isp.example"});
         z.set("static-10.isp.example", Type::a, {"192.0.2.99"});
       }},
      {"mx.too_many", Severity::info, kDomain,
       [](Zone& z, auto&) {
         std::vector<std::string> mx;
         for (int i = 0; i < 12; ++i) mx.push_back(std::to_string(10 + i) + " mx.clean.example");
         for (int i = 0; i < 12; ++i) mx.push_back(std::to_string(30 + i) + " m" + std::to_string(i) + ".clean.example");
         z.set(kDomain, Type::mx, mx);
       }},
      // The domain
      {"domain.not_found", Severity::error, kDomain, [](Zone& z, auto&) { z.rr.clear(); }},
  };
}

}  // namespace

TEST_CASE("check: each finding from a minimal zone", "[check]") {
  auto c = GENERATE(from_range(cases()));
  Zone z = clean_zone();
  check::Options o = clean_options();
  c.change(z, o);
  auto fs = run(z, o);
  INFO("expected " << c.code << " at " << c.name);
  INFO(describe(fs));
  const Finding* f = find(fs, c.code, c.name);
  REQUIRE(f);
  CHECK(f->severity == c.severity);
  CHECK_FALSE(f->message.empty());
  CHECK(f->message.find('\n') == std::string::npos);
  if (f->severity != Severity::info) CHECK_FALSE(f->fix.empty());
  CHECK_FALSE(find(fs, "dns.temporary"));
}

TEST_CASE("check: finding details", "[check]") {
  SECTION("a selector seen only in reports says so") {
    check::Options o = clean_options();
    o.report_selectors = {"sel1", "old"};
    auto fs = run(clean_zone(), o);
    const Finding* f = find(fs, "dkim.missing");
    REQUIRE(f);
    CHECK(contains(f->message, "used in reports but absent from DNS"));
  }
  SECTION("a selector given on the command line does not claim to come from reports") {
    check::Options o = clean_options();
    o.selectors.push_back("gone");
    o.report_selectors = {"GONE"};
    auto fs = run(clean_zone(), o);
    const Finding* f = find(fs, "dkim.missing");
    REQUIRE(f);
    CHECK_FALSE(contains(f->message, "reports"));
  }
  SECTION("selectors are deduplicated and asked once, in order") {
    check::Options o;
    o.selectors = {"b", "a", "B"};
    o.report_selectors = {"a", "c", "b"};
    test::FakeResolver dns;
    clean_zone().load(dns);
    auto fs = check::check_domain(dns, kDomain, o);
    std::vector<std::string> missing;
    for (const auto& f : fs)
      if (f.code == "dkim.missing") missing.push_back(f.name);
    CHECK(missing == std::vector<std::string>{"b._domainkey.clean.example", "a._domainkey.clean.example",
                                              "c._domainkey.clean.example"});
    CHECK(dns.count("b._domainkey.clean.example", Type::txt) == 1);
  }
  SECTION("too many lookups shows the count") {
    Zone z = clean_zone();
    std::string terms = "v=spf1";
    for (const char* inc : {"a.example", "b.example", "c.example", "d.example"}) {
      terms += std::string(" include:") + inc;
      z.set(inc, Type::txt, {"v=spf1 a mx -all"});
    }
    set_spf(z, terms + " -all");
    auto fs = run(z, clean_options());
    const Finding* f = find(fs, "spf.too_many_lookups");
    REQUIRE(f);
    CHECK(contains(f->message, "12 DNS lookups"));
  }
  SECTION("an uncovered MX address names the address and the term to add") {
    Zone z = clean_zone();
    set_spf(z, "v=spf1 ip4:192.0.2.10 -all");
    auto fs = run(z, clean_options());
    const Finding* f = find(fs, "spf.mx_not_covered");
    REQUIRE(f);
    CHECK(contains(f->message, "2001:db8::10"));
    CHECK(contains(f->message, "fail"));
    CHECK(contains(f->fix, "ip6:2001:db8::10"));
    CHECK_FALSE(find(fs, "spf.a_not_covered"));  // the same address is reported once, as the MX's
  }
  SECTION("a domain that sends no mail is not told to cover its hosts") {
    Zone z = clean_zone();
    set_spf(z, "v=spf1 -all");
    auto fs = run(z, clean_options());
    CHECK(find(fs, "spf.sends_nothing"));
    CHECK_FALSE(find(fs, "spf.mx_not_covered"));
    CHECK_FALSE(find(fs, "spf.a_not_covered"));
    CHECK(count(fs, Severity::warning) == 0);
  }
  SECTION("the ptr finding quotes a ptr term with a domain") {
    Zone z = clean_zone();
    set_spf(z, "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 ptr:clean.example -all");
    auto fs = run(z, clean_options());
    const Finding* f = find(fs, "spf.ptr");
    REQUIRE(f);
    CHECK(contains(f->message, "(ptr:clean.example)"));
  }
  SECTION("a misplaced DMARC record is judged too") {
    Zone z = clean_zone();
    z.erase(kDmarc, Type::txt);
    z.set("_dmarc.clean.example.clean.example", Type::txt, {"v=DMARC1; p=none"});
    auto fs = run(z, clean_options());
    CHECK(find(fs, "dmarc.missing", kDmarc));
    const Finding* f = find(fs, "dmarc.p_none", "_dmarc.clean.example.clean.example");
    REQUIRE(f);
    CHECK(contains(f->message, "misplaced"));
    CHECK(find(fs, "dmarc.no_rua", "_dmarc.clean.example.clean.example"));
  }
  SECTION("a report address inside the domain's organization needs no authorization") {
    Zone z = clean_zone();
    set_dmarc(z, "v=DMARC1; p=reject; rua=mailto:dmarc@reports.clean.example");
    test::FakeResolver dns;
    z.load(dns);
    auto fs = check::check_domain(dns, kDomain, clean_options());
    CHECK_FALSE(find(fs, "dmarc.external_unauthorized"));
    CHECK(dns.count("clean.example._report._dmarc.reports.clean.example", Type::txt) == 0);
  }
  SECTION("a stray record that mentions DMARC is a syntax error, not a missing record") {
    Zone z = clean_zone();
    set_dmarc(z, "p=reject; v=DMARC1");
    auto fs = run(z, clean_options());
    CHECK(find(fs, "dmarc.syntax"));
    CHECK_FALSE(find(fs, "dmarc.missing"));
  }
  SECTION("an invalid domain is one finding and no lookup") {
    for (const char* bad : {"", "exa mple.com", "192.0.2.1", "a..b", "-"}) {
      INFO(bad);
      test::FakeResolver dns;
      auto fs = check::check_domain(dns, bad, {});
      if (std::string(bad) == "-") {  // a valid, if odd, label: looked up and not found
        CHECK(find(fs, "domain.not_found"));
        continue;
      }
      REQUIRE(fs.size() == 1);
      CHECK(fs[0].code == "domain.invalid");
      CHECK(dns.queries().empty());
    }
  }
}

TEST_CASE("check: a temporary failure is dns.temporary, never a missing record", "[check]") {
  struct Failure {
    std::string name;
    std::vector<std::string> not_expected;
  };
  auto failure = GENERATE(values<Failure>({
      {kDomain, {"spf.missing", "mx.none", "domain.not_found", "dmarc.wrong_name", "spf.type99_only"}},
      {kDmarc, {"dmarc.missing", "dmarc.wrong_name"}},
      {kSelector, {"dkim.missing"}},
      {kMx, {"mx.no_address", "mx.no_ipv6", "spf.mx_not_covered"}},
      {dns::reverse_name(kV4), {"mx.no_ptr", "mx.fcrdns_mismatch"}},
      {kAuth, {"dmarc.external_unauthorized"}},
  }));
  Zone z = clean_zone();
  z.failing.push_back(failure.name);
  auto fs = run(z, clean_options());
  INFO("failing " << failure.name);
  INFO(describe(fs));
  const Finding* t = find(fs, "dns.temporary", failure.name);
  REQUIRE(t);
  CHECK(t->severity == Severity::warning);
  CHECK(contains(t->message, "timeout (fake)"));
  for (const auto& code : failure.not_expected) CHECK_FALSE(find(fs, code));
  CHECK_FALSE(check::has_error(fs));
}

TEST_CASE("check: a temporary failure in the seed case's missing SPF search", "[check]") {
  // No SPF at the apex, and the wrong-name lookup times out: still missing
  // (the apex answered), but nothing claimed about the wrong name.
  Zone z = clean_zone();
  z.erase(kDomain, Type::txt);
  z.failing.push_back("clean.example.clean.example");
  auto fs = run(z, clean_options());
  INFO(describe(fs));
  CHECK(find(fs, "spf.missing", kDomain));
  CHECK(find(fs, "dns.temporary", "clean.example.clean.example"));
  CHECK_FALSE(find(fs, "spf.wrong_name"));
}

TEST_CASE("check: offline", "[check]") {
  SECTION("every answer offline: one finding, nothing checked") {
    auto offline = dns::make_offline_resolver();
    check::Options o = clean_options();
    o.report_selectors = {"x", "y"};
    auto fs = check::check_domain(*offline, kDomain, o);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].code == "dns.offline");
    CHECK(fs[0].severity == Severity::warning);
    CHECK_FALSE(check::has_error(fs));
  }
  SECTION("some answers offline: a summary, and no missing records") {
    test::FakeResolver zone;
    clean_zone().load(zone);
    PartlyOffline dns(zone, {kDmarc, kSelector});
    auto fs = check::check_domain(dns, kDomain, clean_options());
    INFO(describe(fs));
    const Finding* f = find(fs, "dns.offline");
    REQUIRE(f);
    CHECK(contains(f->message, "2 of"));
    CHECK_FALSE(find(fs, "dmarc.missing"));
    CHECK_FALSE(find(fs, "dkim.missing"));
    CHECK_FALSE(check::has_error(fs));
  }
}

TEST_CASE("check: hostile DNS data is bounded", "[check]") {
  SECTION("many MX hosts, addresses and PTR names stay within the lookup budget") {
    Zone z = clean_zone();
    std::vector<std::string> mx;
    int ptr_names = 0;
    for (int h = 0; h < 10; ++h) {
      std::string host = "mx" + std::to_string(h) + ".clean.example";
      mx.push_back("10 " + host);
      std::vector<std::string> v4, v6;
      for (int i = 0; i < 6; ++i) {
        v4.push_back("198.51." + std::to_string(h) + "." + std::to_string(i + 1));
        v6.push_back("2001:db8:" + std::to_string(h + 1) + "::" + std::to_string(i + 1));
      }
      z.set(host, Type::a, v4).set(host, Type::aaaa, v6);
      for (const auto* list : {&v4, &v6})
        for (const auto& ip : *list) {
          std::vector<std::string> names;  // distinct names, so no answer comes from the cache
          for (int n = 0; n < 5; ++n) names.push_back("p" + std::to_string(ptr_names++) + ".isp.example");
          z.set(dns::reverse_name(ip), Type::ptr, names);
        }
    }
    z.set(kDomain, Type::mx, mx);
    set_spf(z, "v=spf1 mx -all");
    test::FakeResolver dns;
    z.load(dns);
    auto fs = check::check_domain(dns, kDomain, clean_options());
    CHECK(dns.queries().size() <= 400);
    CHECK(find(fs, "dns.budget"));
  }
  SECTION("garbage records do not crash the check") {
    std::mt19937 rng(7);
    auto junk = [&](std::size_t max) {
      std::string s(rng() % max, '\0');
      const std::string alphabet = "v=spf1DMARCKIMpk;:,!@%.\\ \t\r\n-+~?aA0/=\x01\xff";
      for (auto& c : s) c = alphabet[rng() % alphabet.size()];
      return s;
    };
    for (int round = 0; round < 200; ++round) {
      Zone z = clean_zone();
      set_spf(z, "v=spf1 " + junk(80));
      set_dmarc(z, "v=DMARC1;" + junk(120));
      set_dkim(z, junk(round % 2 ? 200 : 20000));
      z.set(kDomain, Type::mx, {junk(40), "10 " + junk(30)});
      z.set(dns::reverse_name(kV4), Type::ptr, {junk(300)});
      z.set(kMx, Type::a, {junk(20), kV4});
      check::Options o = clean_options();
      o.report_selectors = {junk(10), junk(300)};
      std::vector<Finding> fs;
      REQUIRE_NOTHROW(fs = run(z, o));
      for (const auto& f : fs) {
        INFO(f.code);
        CHECK_FALSE(f.code.empty());
        CHECK(f.message.size() < 2000);
      }
    }
  }
  SECTION("a huge key is refused without decoding") {
    Zone z = clean_zone();
    set_dkim(z, "v=DKIM1; p=" + std::string(40000, 'A'));
    auto fs = run(z, clean_options());
    const Finding* f = find(fs, "dkim.bad_key");
    REQUIRE(f);
    CHECK(contains(f->message, "40000 characters"));
  }
}
