#include <catch2/catch.hpp>

#include "dmarq/model/ip.h"

using dmarq::model::parse_ip;

TEST_CASE("ip: canonical text form (RFC 5952 for IPv6)", "[model]") {
  struct Row {
    std::string in, out;
  };
  auto row = GENERATE(Row{"192.0.2.1", "192.0.2.1"}, Row{"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
                      Row{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // first longest run
                      Row{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // one zero group stays
                      Row{"2001:0db8::0001", "2001:db8::1"}, Row{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
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
