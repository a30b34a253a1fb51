#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include "dmarq/model/ip.h"

using dmarq::model::parse_ip;

TEST_CASE("ip: canonical text form (RFC 5952 for IPv6)", "[model]") {
  struct Row {
    std::string in, out;
  };
  auto row = GENERATE(Row{"192.0.2.1", "192.0.2.1"}, Row{"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
                      Row{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // first longest run
                      Row{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // one zero group stays
                      Row{"2001:0db8::0001", "2001:db8::1"}, Row{"::ffff:192.0.2.1", "::ffff:192.0.2.1"}, Row{"::1.2.3.4", "::102:304"}, Row{"::1", "::1"},
                      Row{"2001:db8::", "2001:db8::"}, Row{"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
                      Row{"::", "::"});
  INFO(row.in);
  auto ip = parse_ip(row.in);
  REQUIRE(ip);
  CHECK(ip->to_string() == row.out);
}

TEST_CASE("ip: rejects what is not an address", "[model]") {
  auto bad = GENERATE(as<std::string>{}, "", "108r.166.27.220", "1.2.3", "1.2.3.256", " 1.2.3.4", "2001:db8::1::2",
                      "example.com", std::string(100, '1'));
  INFO(bad);
  CHECK_FALSE(parse_ip(bad));
}

TEST_CASE("ip: IPv4 maps into ::ffff:0:0/96 so v4 and v6 share one ordering", "[model]") {
  auto v4 = parse_ip("10.0.0.1");
  auto v6 = parse_ip("::ffff:10.0.0.1");
  REQUIRE(v4);
  REQUIRE(v6);
  CHECK(v4->bytes == v6->bytes);
  CHECK(v4->v4);
  CHECK(*parse_ip("10.0.0.1") < *parse_ip("10.0.0.2"));
}

TEST_CASE("ip: text form agrees with inet_ntop on many addresses", "[model]") {
  // Our formatter replaces inet_ntop for speed; compare them on addresses
  // with every pattern of zero groups. (Not on ::a.b.c.d "IPv4-compatible"
  // addresses, where glibc prints a dotted tail and Python and we do not.)
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int n = 0; n < 20000; ++n) {
    dmarq::model::IpAddress ip;
    unsigned zero_mask = static_cast<unsigned>(next() & 0xff);
    for (int g = 0; g < 8; ++g) {
      uint16_t v = (zero_mask >> g) & 1 ? 0 : static_cast<uint16_t>(next() & (next() & 1 ? 0xffff : 0x00ff));
      ip.bytes[2 * g] = static_cast<uint8_t>(v >> 8);
      ip.bytes[2 * g + 1] = static_cast<uint8_t>(v & 0xff);
    }
    bool compat = true;
    for (int i = 0; i < 12; ++i) compat = compat && ip.bytes[i] == 0;
    if (compat) continue;
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf);
    INFO(buf);
    REQUIRE(ip.to_string() == buf);
    auto back = dmarq::model::parse_ip(ip.to_string());
    REQUIRE(back);
    REQUIRE(back->bytes == ip.bytes);
  }
}
