// IpAddress: an IPv4 or IPv6 address in canonical form.
//
// Stored as 16 bytes (IPv4 as IPv4-mapped IPv6, ::ffff:a.b.c.d) so that a
// CIDR range is one byte-wise interval in the store, whatever the family.
// Text form: dotted quad for IPv4, RFC 5952 for IPv6.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarq::model {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;

  std::string to_string() const;  // canonical
  auto operator<=>(const IpAddress&) const = default;
};

// Parses an IPv4 dotted quad or an IPv6 address (surrounding white space is
// not accepted: callers trim). Returns nullopt for anything else.
std::optional<IpAddress> parse_ip(std::string_view text);

}  // namespace dmarq::model
