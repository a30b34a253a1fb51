// IP parsing and canonical text. inet_pton from libc parses. The text form
// is written here rather than with inet_ntop: glibc's inet_ntop formats
// through sprintf, which took a visible share of ingest time (one call per
// record). The rules are RFC 5952 section 4: lower-case hex without leading
// zeros, the longest run of two or more zero groups as "::" (the first on a
// tie), and IPv4-mapped addresses with a dotted tail (section 5).
#include "dmarq/model/ip.h"

#include <arpa/inet.h>

#include <cstring>

namespace dmarq::model {

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  char buf[65];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';

  IpAddress ip;
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    ip.v4 = true;
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::memcpy(ip.bytes.data() + 12, &v4, 4);
    return ip;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(ip.bytes.data(), &v6, 16);
    return ip;
  }
  return std::nullopt;
}

namespace {

void append_v4(std::string& out, const uint8_t* b) {
  for (int i = 0; i < 4; ++i) {
    if (i) out.push_back('.');
    unsigned v = b[i];
    if (v >= 100) out.push_back(static_cast<char>('0' + v / 100));
    if (v >= 10) out.push_back(static_cast<char>('0' + v / 10 % 10));
    out.push_back(static_cast<char>('0' + v % 10));
  }
}

void append_hex(std::string& out, unsigned v) {
  static const char* digits = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    unsigned d = (v >> shift) & 15;
    if (d || started || shift == 0) {
      out.push_back(digits[d]);
      started = true;
    }
  }
}

}  // namespace

std::string IpAddress::to_string() const {
  std::string out;
  out.reserve(40);
  if (v4) {
    append_v4(out, bytes.data() + 12);
    return out;
  }
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = static_cast<unsigned>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  // ::ffff:a.b.c.d (IPv4-mapped) keeps its dotted tail.
  bool mapped = best == 0 && best_len == 5 && groups[5] == 0xffff;
  int end = mapped ? 6 : 8;
  for (int i = 0; i < end; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (i > 0 && !(best >= 0 && i == best + best_len)) out.push_back(':');
    append_hex(out, groups[i]);
  }
  if (mapped) {
    out.push_back(':');
    append_v4(out, bytes.data() + 12);
  }
  return out;
}

}  // namespace dmarq::model
