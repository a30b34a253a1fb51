// DNS messages (dns/message.h), built byte by byte here, and the c-ares
// resolver (dns/ares.h) that sends them, against a server that never answers
// and a small scripted UDP server on 127.0.0.1.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dmarq/dns/ares.h"
#include "dmarq/dns/message.h"

using namespace std::string_literals;
using dmarq::dns::Answer;
using dmarq::dns::parse_response;
using dmarq::dns::Status;
using dmarq::dns::Type;

namespace {

// ---- building messages --------------------------------------------------

std::string u16(unsigned v) { return {static_cast<char>(v >> 8 & 0xff), static_cast<char>(v & 0xff)}; }
std::string u32(uint32_t v) { return u16(v >> 16) + u16(v & 0xffff); }

// "mx.Example.com" -> \x02mx\x07Example\x03com\x00 (no compression, no escapes).
std::string name(std::string_view dotted) {
  std::string out;
  while (!dotted.empty()) {
    const auto dot = dotted.find('.');
    const auto label = dotted.substr(0, dot);
    out += static_cast<char>(label.size());
    out += label;
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  return out + '\0';
}

constexpr uint16_t kClassIn = 1;

// One resource record: owner given in wire form (so a test can compress it).
std::string rr(const std::string& owner_wire, uint16_t type, uint32_t ttl, const std::string& rdata,
               uint16_t klass = kClassIn) {
  return owner_wire + u16(type) + u16(klass) + u32(ttl) + u16(static_cast<unsigned>(rdata.size())) + rdata;
}
std::string rr(const std::string& owner_wire, Type type, uint32_t ttl, const std::string& rdata) {
  return rr(owner_wire, static_cast<uint16_t>(type), ttl, rdata);
}

std::string a_rdata(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
}

// <character-string>s: a length byte each.
std::string strings(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += static_cast<char>(p.size()) + p;
  return out;
}

std::string soa_rdata(uint32_t minimum) {
  return name("ns1.example.com") + name("hostmaster.example.com") + u32(2024010101) + u32(7200) + u32(3600) +
         u32(1209600) + u32(minimum);
}

enum Rcode : unsigned { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, refused = 5 };

// A response: header (QR, RD, RA and the RCODE), the question, then the
// sections as given.
struct Message {
  unsigned rcode = noerror;
  unsigned extra_flags = 0;  // e.g. 0x0200 TC
  std::string qname = name("example.com");
  uint16_t qtype = static_cast<uint16_t>(Type::a);
  uint16_t qclass = kClassIn;
  unsigned qdcount = 1;
  std::vector<std::string> answer, authority, additional;

  std::string bytes() const {
    std::string out = u16(0x1234) + u16(0x8180 | extra_flags | rcode) + u16(qdcount) +
                      u16(static_cast<unsigned>(answer.size())) + u16(static_cast<unsigned>(authority.size())) +
                      u16(static_cast<unsigned>(additional.size()));
    if (qdcount > 0) out += qname + u16(qtype) + u16(qclass);
    for (const auto* section : {&answer, &authority, &additional})
      for (const auto& r : *section) out += r;
    return out;
  }
};

Message question(const std::string& qname, Type type) {
  Message m;
  m.qname = name(qname);
  m.qtype = static_cast<uint16_t>(type);
  return m;
}

Answer parse(const Message& m, std::string_view qname, Type qtype) { return parse_response(m.bytes(), qname, qtype); }

// The question name of every Message sits at offset 12: a pointer to it.
const std::string kToQname = "\xC0\x0C"s;

}  // namespace

// ---- one record type each ------------------------------------------------

TEST_CASE("dns message: each record type as text", "[dns]") {
  struct Row {
    Type type;
    std::string rdata;
    std::string text;
  };
  const std::vector<Row> rows = {
      {Type::a, a_rdata(192, 0, 2, 1), "192.0.2.1"},
      {Type::aaaa, "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x01"s, "2001:db8::1"},
      {Type::aaaa, std::string(10, '\0') + "\xff\xff\xc0\x00\x02\x07"s, "::ffff:192.0.2.7"},
      {Type::ns, name("NS1.Example.NET"), "ns1.example.net"},
      {Type::cname, name("Alias.Example.org"), "alias.example.org"},
      {Type::ptr, name("mail.example.com"), "mail.example.com"},
      {Type::mx, u16(10) + name("MX.example.com"), "10 mx.example.com"},
      {Type::mx, u16(0) + name(""), "0 ."},  // null MX, RFC 7505
      {Type::txt, strings({"v=spf1 -all"}), "v=spf1 -all"},
      {Type::txt, strings({""}), ""},
      {Type::spf, strings({"v=spf1 ", "ip4:192.0.2.0/24 ", "-all"}), "v=spf1 ip4:192.0.2.0/24 -all"},
      {Type::soa, soa_rdata(300), "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300"},
  };
  for (const auto& row : rows) {
    INFO(dmarq::dns::type_name(row.type) << " -> " << row.text);
    Message m = question("example.com", row.type);
    m.answer.push_back(rr(kToQname, row.type, 3600, row.rdata));
    const Answer a = parse(m, "example.com", row.type);
    REQUIRE(a.status == Status::ok);
    REQUIRE(a.data == std::vector<std::string>{row.text});
    CHECK(a.ttl == 3600);
    CHECK(a.detail.empty());
  }
}

TEST_CASE("dns message: TXT with several strings and several records, TTL the smallest", "[dns]") {
  Message m = question("example.com", Type::txt);
  m.answer.push_back(rr(kToQname, Type::txt, 900, strings({"v=spf1 include:_spf.", "example.net ", "~all"})));
  m.answer.push_back(rr(kToQname, Type::txt, 300, strings({"google-site-verification=abc"})));
  // Bytes are kept as received, NUL and non-ASCII included.
  m.answer.push_back(rr(kToQname, Type::txt, 600, strings({"a\0b"s, "\xff"s})));
  const Answer a = parse(m, "example.com", Type::txt);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"v=spf1 include:_spf.example.net ~all", "google-site-verification=abc",
                                           "a\0b\xff"s});
  CHECK(a.ttl == 300);
}

TEST_CASE("dns message: type 99 SPF is read like TXT and TXT records are not SPF answers", "[dns]") {
  Message m = question("example.com", Type::spf);
  m.answer.push_back(rr(kToQname, Type::txt, 60, strings({"not this one"})));
  m.answer.push_back(rr(kToQname, Type::spf, 120, strings({"v=spf1 ", "mx -all"})));
  const Answer a = parse(m, "example.com", Type::spf);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"v=spf1 mx -all"});
  CHECK(a.ttl == 120);
}

TEST_CASE("dns message: records of another name, type or class are not the answer", "[dns]") {
  Message m = question("example.com", Type::a);
  m.answer.push_back(rr(name("other.example.com"), Type::a, 60, a_rdata(10, 0, 0, 1)));
  m.answer.push_back(rr(kToQname, Type::aaaa, 60, std::string(16, '\x01')));
  m.answer.push_back(rr(kToQname, static_cast<uint16_t>(Type::a), 60, a_rdata(10, 0, 0, 2), /*CH*/ 3));
  m.answer.push_back(rr(kToQname, Type::a, 60, a_rdata(10, 0, 0, 3)));
  const Answer a = parse(m, "example.com", Type::a);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"10.0.0.3"});
}

TEST_CASE("dns message: names compare without case, answers are lower case", "[dns]") {
  Message m = question("EXAMPLE.Com", Type::mx);
  m.answer.push_back(rr(name("example.COM"), Type::mx, 60, u16(5) + name("Mail.EXAMPLE.com")));
  const Answer a = parse(m, "Example.com.", Type::mx);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"5 mail.example.com"});
}

TEST_CASE("dns message: label bytes that text cannot show are escaped", "[dns]") {
  Message m = question("4.3.2.1.in-addr.arpa", Type::ptr);
  const std::string odd = "\x05" "a.b\\c"s + "\x03" "x\0 "s + name("example");
  m.answer.push_back(rr(kToQname, Type::ptr, 60, odd));
  const Answer a = parse(m, "4.3.2.1.in-addr.arpa", Type::ptr);
  REQUIRE(a.status == Status::ok);
  REQUIRE(a.data == std::vector<std::string>{"a\\.b\\\\c.x\\000\\032.example"});
  // ... and the text encodes back to the same wire name.
  CHECK(dmarq::dns::encode_name(a.data[0]) == odd);
}

TEST_CASE("dns message: a TTL above 2^31-1 counts as 0", "[dns]") {
  Message m;
  m.answer.push_back(rr(kToQname, Type::a, 0x80000000u, a_rdata(192, 0, 2, 1)));
  const Answer a = parse(m, "example.com", Type::a);
  REQUIRE(a.status == Status::ok);
  CHECK(a.ttl == 0);
}

// ---- CNAME chains ------------------------------------------------------------

TEST_CASE("dns message: a CNAME chain is followed to the records, TTL the smallest of the chain", "[dns]") {
  Message m = question("www.example.com", Type::a);
  // Out of order on purpose: the chain is followed by name, not position.
  m.answer.push_back(rr(name("b.example.org"), Type::a, 300, a_rdata(198, 51, 100, 7)));
  m.answer.push_back(rr(kToQname, Type::cname, 100, name("A.example.NET")));
  m.answer.push_back(rr(name("a.example.net"), Type::cname, 50, name("b.example.org")));
  m.answer.push_back(rr(name("b.example.org"), Type::a, 200, a_rdata(198, 51, 100, 8)));
  const Answer a = parse(m, "www.example.com", Type::a);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"198.51.100.7", "198.51.100.8"});
  CHECK(a.ttl == 50);
}

TEST_CASE("dns message: asking for CNAME gives the CNAME, not its target", "[dns]") {
  Message m = question("www.example.com", Type::cname);
  m.answer.push_back(rr(kToQname, Type::cname, 100, name("target.example.com")));
  m.answer.push_back(rr(name("target.example.com"), Type::cname, 100, name("further.example.com")));
  const Answer a = parse(m, "www.example.com", Type::cname);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"target.example.com"});
}

TEST_CASE("dns message: a chain ending without records is NODATA or NXDOMAIN of its last name", "[dns]") {
  Message m = question("www.example.com", Type::txt);
  m.answer.push_back(rr(kToQname, Type::cname, 120, name("gone.example.net")));
  m.authority.push_back(rr(name("example.net"), Type::soa, 3600, soa_rdata(900)));
  SECTION("NXDOMAIN") {
    m.rcode = nxdomain;
    const Answer a = parse(m, "www.example.com", Type::txt);
    CHECK(a.status == Status::nxdomain);
    CHECK(a.data.empty());
    CHECK(a.ttl == 120);  // the CNAME lives shorter than the negative answer
  }
  SECTION("NODATA") {
    const Answer a = parse(m, "www.example.com", Type::txt);
    CHECK(a.status == Status::nodata);
    CHECK(a.ttl == 120);
  }
}

TEST_CASE("dns message: a CNAME loop or an over-long chain is a temporary failure", "[dns]") {
  SECTION("loop") {
    Message m = question("a.example.com", Type::a);
    m.answer.push_back(rr(kToQname, Type::cname, 60, name("b.example.com")));
    m.answer.push_back(rr(name("b.example.com"), Type::cname, 60, name("a.example.com")));
    const Answer a = parse(m, "a.example.com", Type::a);
    CHECK(a.status == Status::temporary);
    CHECK_THAT(a.detail, Catch::Contains("CNAME chain"));
  }
  SECTION("chain at the limit is followed, one more link is not") {
    const auto chain = [](std::size_t links) {
      Message m = question("c0.example.com", Type::a);
      for (std::size_t i = 0; i < links; ++i)
        m.answer.push_back(rr(name("c" + std::to_string(i) + ".example.com"), Type::cname, 60,
                              name("c" + std::to_string(i + 1) + ".example.com")));
      m.answer.push_back(rr(name("c" + std::to_string(links) + ".example.com"), Type::a, 60, a_rdata(1, 2, 3, 4)));
      return parse(m, "c0.example.com", Type::a);
    };
    CHECK(chain(dmarq::dns::kMaxCnameChain).status == Status::ok);
    CHECK(chain(dmarq::dns::kMaxCnameChain + 1).status == Status::temporary);
  }
  SECTION("malformed CNAME target") {
    Message m = question("a.example.com", Type::a);
    m.answer.push_back(rr(kToQname, Type::cname, 60, name("b.example.com") + "x"));  // trailing byte
    CHECK(parse(m, "a.example.com", Type::a).status == Status::temporary);
  }
}

// ---- compression ---------------------------------------------------------------

TEST_CASE("dns message: compressed names are expanded", "[dns]") {
  // Question mail.example.com at 12: "mail" at 12, "example" at 17, "com" at 25.
  Message m = question("mail.example.com", Type::mx);
  const std::string to_example = "\xC0\x11"s;  // 17
  m.answer.push_back(rr(kToQname, Type::mx, 60, u16(10) + "\x02mx"s + to_example));
  m.answer.push_back(rr(kToQname, Type::mx, 60, u16(20) + kToQname));  // the whole question name
  const Answer a = parse(m, "mail.example.com", Type::mx);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"10 mx.example.com", "20 mail.example.com"});
}

TEST_CASE("dns message: a pointer into an earlier record's data is followed", "[dns]") {
  // First answer at 29 (12 + 13 + 4): owner pointer (2) and fixed part (10),
  // so its data starts at 41: "\x03ns1" then, at 45, a pointer to 12.
  Message m = question("example.com", Type::ns);
  m.answer.push_back(rr(kToQname, Type::ns, 60, "\x03ns1"s + kToQname));
  m.answer.push_back(rr(kToQname, Type::ns, 60, "\x03ns2\xC0\x2D"s));  // to the pointer at 45
  m.answer.push_back(rr(kToQname, Type::ns, 60, "\xC0\x29"s));          // to "ns1..." at 41
  const Answer a = parse(m, "example.com", Type::ns);
  REQUIRE(a.status == Status::ok);
  CHECK(a.data == std::vector<std::string>{"ns1.example.com", "ns2.example.com", "ns1.example.com"});
}

TEST_CASE("dns message: compression loops and forward pointers are rejected", "[dns]") {
  struct Row {
    const char* what;
    std::string ptr_rdata;  // PTR data written at offset 41 (see below)
  };
  // Answer record at 29: owner pointer (2) + fixed (10), rdata at 41.
  const std::vector<Row> rows = {
      {"pointer to itself", "\xC0\x29"s},
      {"forward pointer", "\xC0\x2B\x00"s},
      {"labels, then back to their own start", "\x01x\xC0\x29"s},
      {"pointer beyond the message", "\xC0\xFF"s},
      {"pointer cut in half", "\xC0"s},
      {"reserved label type 0x40", "\x41x\x00"s},
      {"reserved label type 0x80", "\x81x\x00"s},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    Message m = question("example.com", Type::ptr);
    m.answer.push_back(rr(kToQname, Type::ptr, 60, row.ptr_rdata));
    const Answer a = parse(m, "example.com", Type::ptr);
    CHECK(a.status == Status::temporary);
    CHECK_THAT(a.detail, Catch::Contains("malformed"));
  }
  SECTION("two names pointing at each other") {
    // rdata at 41: "\x01a" then a pointer to 45; at 45 "\x01b" then a pointer
    // to 41. The first pointer already points forward.
    Message m = question("example.com", Type::ptr);
    m.answer.push_back(rr(kToQname, Type::ptr, 60, "\x01" "a\xC0\x2D\x01" "b\xC0\x29"s));
    CHECK(parse(m, "example.com", Type::ptr).status == Status::temporary);
  }
}

TEST_CASE("dns message: a long chain of pointers is cut at kMaxPointers", "[dns]") {
  // A TXT record (not the type asked) holds `chain` pointers from 41 on, each
  // to the one before it, the first to the question name; the PTR record's
  // data is one pointer to the last of them: chain + 1 pointers in all.
  const auto with_pointers = [](std::size_t chain) {
    Message m = question("example.com", Type::ptr);
    std::string links = kToQname;
    for (std::size_t i = 1; i < chain; ++i) links += u16(0xC000 | static_cast<unsigned>(41 + 2 * (i - 1)));
    m.answer.push_back(rr(kToQname, Type::txt, 60, links));
    m.answer.push_back(rr(kToQname, Type::ptr, 60, u16(0xC000 | static_cast<unsigned>(41 + 2 * (chain - 1)))));
    return parse(m, "example.com", Type::ptr);
  };
  const Answer ok = with_pointers(dmarq::dns::kMaxPointers - 1);
  REQUIRE(ok.status == Status::ok);
  CHECK(ok.data == std::vector<std::string>{"example.com"});
  CHECK(with_pointers(dmarq::dns::kMaxPointers).status == Status::temporary);
}

TEST_CASE("dns message: a name over 255 bytes is rejected", "[dns]") {
  // Four labels of 63 bytes: 4 * 64 + 1 = 257 bytes.
  const std::string label(63, 'x');
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += static_cast<char>(63) + label;
  Message m = question("example.com", Type::ptr);
  m.answer.push_back(rr(kToQname, Type::ptr, 60, long_name + '\0'));
  CHECK(parse(m, "example.com", Type::ptr).status == Status::temporary);
  // Three labels and one of 61 bytes make exactly 255: accepted.
  std::string max_name;
  for (int i = 0; i < 3; ++i) max_name += static_cast<char>(63) + label;
  max_name += static_cast<char>(61) + std::string(61, 'y') + '\0';
  REQUIRE(max_name.size() == 255);
  Message ok = question("example.com", Type::ptr);
  ok.answer.push_back(rr(kToQname, Type::ptr, 60, max_name));
  CHECK(parse(ok, "example.com", Type::ptr).status == Status::ok);
}

// ---- negative answers ------------------------------------------------------------

TEST_CASE("dns message: NXDOMAIN and NODATA take their TTL from the SOA (RFC 2308)", "[dns]") {
  struct Row {
    unsigned rcode;
    uint32_t soa_ttl;
    uint32_t minimum;
    Status status;
    uint32_t ttl;
  };
  const std::vector<Row> rows = {
      {nxdomain, 3600, 600, Status::nxdomain, 600},
      {nxdomain, 60, 600, Status::nxdomain, 60},
      {noerror, 3600, 900, Status::nodata, 900},
      {noerror, 30, 900, Status::nodata, 30},
  };
  for (const auto& row : rows) {
    INFO("rcode " << row.rcode << " SOA TTL " << row.soa_ttl << " MINIMUM " << row.minimum);
    Message m = question("nothing.example.com", Type::txt);
    m.rcode = row.rcode;
    m.authority.push_back(rr(name("example.com"), Type::ns, 10, name("ns1.example.com")));
    m.authority.push_back(rr(name("example.com"), Type::soa, row.soa_ttl, soa_rdata(row.minimum)));
    const Answer a = parse(m, "nothing.example.com", Type::txt);
    CHECK(a.status == row.status);
    CHECK(a.data.empty());
    CHECK(a.ttl == row.ttl);
  }
}

TEST_CASE("dns message: a negative answer without SOA gets the fixed TTL", "[dns]") {
  Message m = question("nothing.example.com", Type::a);
  m.rcode = nxdomain;
  CHECK(parse(m, "nothing.example.com", Type::a).status == Status::nxdomain);
  CHECK(parse(m, "nothing.example.com", Type::a).ttl == dmarq::dns::kNegativeTtlWithoutSoa);
  m.rcode = noerror;
  CHECK(parse(m, "nothing.example.com", Type::a).status == Status::nodata);
  CHECK(parse(m, "nothing.example.com", Type::a).ttl == dmarq::dns::kNegativeTtlWithoutSoa);
}

TEST_CASE("dns message: a malformed SOA in a negative answer is no answer", "[dns]") {
  Message m = question("nothing.example.com", Type::a);
  m.rcode = nxdomain;
  std::string soa = soa_rdata(300);
  soa.pop_back();  // 19 bytes of numbers
  m.authority.push_back(rr(name("example.com"), Type::soa, 60, soa));
  CHECK(parse(m, "nothing.example.com", Type::a).status == Status::temporary);
}

// ---- failures -----------------------------------------------------------------

TEST_CASE("dns message: server failures are temporary, with the RCODE named", "[dns]") {
  const std::vector<std::pair<unsigned, std::string>> rows = {
      {servfail, "SERVFAIL"}, {refused, "REFUSED"}, {formerr, "FORMERR"}, {4, "NOTIMP"}, {9, "RCODE 9"}};
  for (const auto& [rcode, detail] : rows) {
    INFO(detail);
    Message m;
    m.rcode = rcode;
    // Even with records: the server said it failed.
    m.answer.push_back(rr(kToQname, Type::a, 60, a_rdata(1, 2, 3, 4)));
    const Answer a = parse(m, "example.com", Type::a);
    CHECK(a.status == Status::temporary);
    CHECK(a.detail == detail);
    CHECK(a.data.empty());
  }
}

TEST_CASE("dns message: an answer to another question is refused", "[dns]") {
  Message base;
  base.answer.push_back(rr(kToQname, Type::a, 60, a_rdata(1, 2, 3, 4)));
  REQUIRE(parse(base, "example.com", Type::a).status == Status::ok);

  Message other_name = base;
  other_name.qname = name("example.net");
  Message other_type = base;
  other_type.qtype = static_cast<uint16_t>(Type::aaaa);
  Message other_class = base;
  other_class.qclass = 3;
  Message no_question = base;
  no_question.qdcount = 0;
  Message two_questions = base;
  two_questions.qdcount = 2;
  for (const Message* m : {&other_name, &other_type, &other_class, &no_question, &two_questions}) {
    const Answer a = parse(*m, "example.com", Type::a);
    CHECK(a.status == Status::temporary);
    CHECK_FALSE(a.detail.empty());
  }
  CHECK(parse(base, "www.example.com", Type::a).status == Status::temporary);
  CHECK(parse(base, "example.com", Type::txt).status == Status::temporary);
}

TEST_CASE("dns message: a query, a truncated answer or a bad record is no answer", "[dns]") {
  Message m;
  m.answer.push_back(rr(kToQname, Type::a, 60, a_rdata(1, 2, 3, 4)));
  SECTION("QR not set") {
    std::string bytes = m.bytes();
    bytes[2] = static_cast<char>(bytes[2] & 0x7F);
    CHECK(parse_response(bytes, "example.com", Type::a).status == Status::temporary);
  }
  SECTION("TC set") {
    m.extra_flags = 0x0200;
    const Answer a = parse(m, "example.com", Type::a);
    CHECK(a.status == Status::temporary);
    CHECK(a.detail == "truncated response");
  }
  SECTION("A record of 5 bytes") {
    Message bad;
    bad.answer.push_back(rr(kToQname, Type::a, 60, a_rdata(1, 2, 3, 4) + "x"));
    CHECK(parse(bad, "example.com", Type::a).status == Status::temporary);
  }
  SECTION("TXT string longer than its record") {
    Message bad = question("example.com", Type::txt);
    bad.answer.push_back(rr(kToQname, Type::txt, 60, "\x05" "abc"s));
    CHECK(parse(bad, "example.com", Type::txt).status == Status::temporary);
  }
  SECTION("MX without a host") {
    Message bad = question("example.com", Type::mx);
    bad.answer.push_back(rr(kToQname, Type::mx, 60, u16(10)));
    CHECK(parse(bad, "example.com", Type::mx).status == Status::temporary);
  }
  SECTION("a malformed record of another type does not matter") {
    m.answer.push_back(rr(kToQname, Type::aaaa, 60, "xyz"));
    CHECK(parse(m, "example.com", Type::a).status == Status::ok);
  }
}

TEST_CASE("dns message: every truncation of a valid response is temporary", "[dns]") {
  Message m = question("www.example.com", Type::mx);
  m.answer.push_back(rr(kToQname, Type::cname, 60, "\x04mail\xC0\x10"s));
  m.answer.push_back(rr(name("mail.example.com"), Type::mx, 60, u16(10) + "\x02mx\xC0\x10"s));
  m.authority.push_back(rr(name("example.com"), Type::ns, 60, name("ns.example.com")));
  const std::string full = m.bytes();
  REQUIRE(parse_response(full, "www.example.com", Type::mx).data == std::vector<std::string>{"10 mx.example.com"});
  // The answer section ends before the authority: cuts inside the question
  // or answers are malformed; the authority is not read for a positive answer.
  const std::size_t answers_end = full.size() - m.authority.front().size();
  for (std::size_t n = 0; n < answers_end; ++n) {
    INFO("first " << n << " bytes");
    CHECK(parse_response(full.substr(0, n), "www.example.com", Type::mx).status == Status::temporary);
  }
  CHECK(parse_response(full.substr(0, answers_end), "www.example.com", Type::mx).status == Status::ok);
}

TEST_CASE("dns message: random bytes never crash and never answer", "[dns]") {
  std::mt19937 rng(7);
  Message seed = question("example.com", Type::txt);
  seed.answer.push_back(rr(kToQname, Type::txt, 60, strings({"v=spf1 -all"})));
  const std::string valid = seed.bytes();
  for (int i = 0; i < 3000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng() % 300);
      for (char& c : bytes) c = static_cast<char>(rng());
    } else {
      // A valid message with a few bytes flipped after the question.
      bytes = valid;
      for (int k = 0; k < 3; ++k) {
        const std::size_t at = 29 + rng() % (bytes.size() - 29);
        bytes[at] = static_cast<char>(rng());
      }
    }
    const Answer a = parse_response(bytes, "example.com", Type::txt);
    if (i % 2 == 0) CHECK(a.status == Status::temporary);
    if (a.status == Status::ok) CHECK_FALSE(a.data.empty());
    if (a.status != Status::ok) CHECK(a.data.empty());
  }
}

// ---- encoding ---------------------------------------------------------------------

TEST_CASE("dns message: build_query writes a standard query", "[dns]") {
  const auto q = dmarq::dns::build_query("Example.COM.", Type::txt, 0xBEEF);
  REQUIRE(q.has_value());
  const std::string expected = "\xBE\xEF\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"s + "\x07" "Example\x03" "COM\x00"s +
                               "\x00\x10\x00\x01"s;
  CHECK(*q == expected);
  CHECK_FALSE(dmarq::dns::build_query("a..b", Type::a, 1).has_value());
}

TEST_CASE("dns message: encode_name accepts domain names and nothing else", "[dns]") {
  using dmarq::dns::encode_name;
  CHECK(encode_name("") == "\0"s);
  CHECK(encode_name(".") == "\0"s);
  CHECK(encode_name("a.b") == "\x01" "a\x01" "b\x00"s);
  CHECK(encode_name("a.b.") == "\x01" "a\x01" "b\x00"s);
  CHECK(encode_name("a\\.b") == "\x03" "a.b\x00"s);
  CHECK(encode_name("a\\\\") == "\x02" "a\\\x00"s);
  CHECK(encode_name("\\065\\000") == "\x02" "A\0\x00"s);
  CHECK(encode_name("a\\.") == "\x02" "a.\x00"s);
  CHECK(encode_name(std::string(63, 'x')).has_value());
  // 127 labels "x." = 254 bytes on the wire + the root: 255.
  std::string longest;
  for (int i = 0; i < 127; ++i) longest += "x.";
  CHECK(encode_name(longest).has_value());
  for (const std::string& bad : {".a"s, "a..b"s, ".."s, std::string(64, 'x'), longest + "x", "a\\"s, "\\25"s,
                                 "\\256"s, "\\2x5"s}) {
    INFO(bad);
    CHECK_FALSE(encode_name(bad).has_value());
  }
}

TEST_CASE("dns resolver: type and status names", "[dns]") {
  CHECK(dmarq::dns::type_name(Type::txt) == "TXT");
  CHECK(dmarq::dns::type_name(Type::spf) == "SPF");
  CHECK(dmarq::dns::type_name(Type::aaaa) == "AAAA");
  CHECK(dmarq::dns::status_name(Status::nxdomain) == "nxdomain");
  CHECK(dmarq::dns::status_name(Status::offline) == "offline");
}

// ---- the c-ares resolver ---------------------------------------------------------

namespace {

// A UDP socket on 127.0.0.1, on a port the system picks.
class UdpSocket {
 public:
  UdpSocket() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~UdpSocket() { ::close(fd_); }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  int fd() const { return fd_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  unsigned port_ = 0;
};

// Answers each query on its own thread, as a tiny authoritative server:
// "<n>.a.test" A -> 192.0.2.<n>; "fail.test" -> SERVFAIL; anything else NXDOMAIN.
class ScriptedServer {
 public:
  ScriptedServer() : thread_([this] { run(); }) {}
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
  }
  std::string server() const { return socket_.server(); }
  int queries() const { return queries_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{socket_.fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[512];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      const auto n = ::recvfrom(socket_.fd(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 12 + 5) continue;
      ++queries_;
      const std::string query(buf, static_cast<std::size_t>(n));
      const std::string question = query.substr(12);  // no EDNS: the question runs to the end
      std::string qname = question.substr(0, question.size() - 4);
      for (char& c : qname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string reply = query.substr(0, 2);
      std::string answer;
      unsigned rcode = noerror;
      if (qname == name("fail.test")) {
        rcode = servfail;
      } else if (qname.size() > 8 && qname.substr(qname.size() - 8) == name("a.test")) {
        const int host = std::stoi(qname.substr(1, static_cast<unsigned char>(qname[0])));
        answer = rr(kToQname, Type::a, 60, a_rdata(192, 0, 2, static_cast<uint8_t>(host)));
      } else {
        rcode = nxdomain;
      }
      reply += u16(0x8180 | rcode) + u16(1) + u16(answer.empty() ? 0 : 1) + u16(0) + u16(0) + question + answer;
      ::sendto(socket_.fd(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  }

  UdpSocket socket_;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("dns ares: a server that never answers costs timeout per wave of `concurrency` lookups", "[dns]") {
  UdpSocket black_hole;  // bound, never read
  dmarq::dns::ResolverOptions options;
  options.servers = {black_hole.server()};
  options.timeout = std::chrono::milliseconds(300);
  options.tries = 2;
  options.concurrency = 4;
  const auto resolver = dmarq::dns::make_ares_resolver(options);

  std::vector<dmarq::dns::Query> queries;
  for (int i = 0; i < 10; ++i) queries.push_back({"host" + std::to_string(i) + ".example.com", Type::a});
  const auto start = std::chrono::steady_clock::now();
  const auto answers = resolver->lookup_all(queries);
  const auto elapsed = std::chrono::steady_clock::now() - start;

  REQUIRE(answers.size() == 10);
  for (const auto& a : answers) {
    CHECK(a.status == Status::temporary);
    CHECK_THAT(a.detail, Catch::Contains("timeout"));
  }
  // ceil(10 / 4) = 3 waves of 300 ms: queued, not all at once, and bounded.
  CHECK(elapsed >= std::chrono::milliseconds(800));
  CHECK(elapsed <= std::chrono::milliseconds(300 * 3 + 1000));
}

TEST_CASE("dns ares: answers come back in the order asked, through the queue", "[dns]") {
  ScriptedServer server;
  dmarq::dns::ResolverOptions options;
  options.servers = {server.server()};
  options.timeout = std::chrono::milliseconds(2000);
  options.concurrency = 3;
  const auto resolver = dmarq::dns::make_ares_resolver(options);

  std::vector<dmarq::dns::Query> queries;
  for (int i = 1; i <= 20; ++i) queries.push_back({std::to_string(i) + ".A.test.", Type::a});
  queries.push_back({"fail.test", Type::a});
  queries.push_back({"missing.test", Type::a});
  queries.push_back({"bad..name", Type::a});
  const auto answers = resolver->lookup_all(queries);
  REQUIRE(answers.size() == queries.size());
  for (int i = 1; i <= 20; ++i) {
    INFO(i);
    const Answer& a = answers[static_cast<std::size_t>(i - 1)];
    REQUIRE(a.status == Status::ok);
    CHECK(a.data == std::vector<std::string>{"192.0.2." + std::to_string(i)});
    CHECK(a.ttl == 60);
  }
  CHECK(answers[20].status == Status::temporary);
  CHECK_THAT(answers[20].detail, Catch::Contains("SERVFAIL"));
  CHECK(answers[21].status == Status::nxdomain);
  CHECK(answers[21].ttl == dmarq::dns::kNegativeTtlWithoutSoa);
  CHECK(answers[22].status == Status::nxdomain);  // never sent
  CHECK(answers[22].detail == "not a valid domain name");

  const Answer one = resolver->lookup("7.a.test", Type::a);
  CHECK(one.data == std::vector<std::string>{"192.0.2.7"});
}

TEST_CASE("dns ares: server strings", "[dns]") {
  using dmarq::dns::make_ares_resolver;
  using dmarq::dns::ResolverError;
  dmarq::dns::ResolverOptions options;
  for (const std::string good : {"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:53", "[2001:db8::1]", "::1:53"}) {
    INFO(good);
    options.servers = {good};
    CHECK_NOTHROW(make_ares_resolver(options));
  }
  for (const std::string bad : {"", "example.com", "ns1.example.com:53", "127.0.0.1:", "127.0.0.1:0",
                                "127.0.0.1:65536", "127.0.0.1:5x", "[::1", "[::1]53", "[::1]:", "[127.0.0.1]:53",
                                "2001:db8::1:53:", "1.2.3.4.5", " 127.0.0.1"}) {
    INFO(bad);
    options.servers = {"127.0.0.1", bad};
    try {
      make_ares_resolver(options);
      FAIL("accepted");
    } catch (const ResolverError& e) {
      CHECK_THAT(e.what(), Catch::Contains("\"" + bad + "\""));
    }
  }
}
