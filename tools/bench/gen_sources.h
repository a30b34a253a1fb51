// Policy domains, sending sources and per-record authentication outcomes for
// dmarq-gen.
//
// Guarantees: a domain's policy and each source's address and sender kind
// are pure functions of (seed, domain, pool index), so the same IP behaves
// the same way in every report of a corpus, as real senders do. IPv6 text is
// RFC 5952 canonical (lower case, leading zeros dropped, longest zero run
// compressed), which is also what dmarq prints back.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "gen_random.h"

namespace dmarq::gen {

struct DomainInfo {
  std::string name;  // domain017.example
  std::string_view p;
  std::string_view sp;
};

inline DomainInfo make_domain(uint64_t seed, uint32_t index) {
  static constexpr std::string_view kPolicies[] = {"none", "quarantine", "reject"};
  char name[32];
  std::snprintf(name, sizeof name, "domain%03u.example", index + 1);
  const uint64_t h = hash_of(seed, index, 0x706f6c);  // "pol"
  // Most domains still monitor (p=none), as in the wild.
  const unsigned pick = h % 100;
  const std::string_view p = kPolicies[pick < 45 ? 0 : pick < 80 ? 1 : 2];
  // Subdomain policy usually mirrors p; sometimes it is stricter.
  const std::string_view sp = (h >> 8) % 5 == 0 ? kPolicies[2] : p;
  return {name, p, sp};
}

inline std::string format_ipv4(uint32_t a) {
  char text[16];
  std::snprintf(text, sizeof text, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
                (a >> 8) & 255, a & 255);
  return text;
}

// RFC 5952 section 4: the longest run of two or more zero groups becomes
// "::" (the first one on a tie); a lone zero group stays "0".
inline std::string format_ipv6(const std::array<uint16_t, 8>& groups) {
  int best_start = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best_start = i;
      best_len = j - i;
    }
    i = j == i ? i + 1 : j;
  }
  std::string text;
  char hex[8];
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      text += "::";
      i += best_len - 1;
      continue;
    }
    if (!text.empty() && text.back() != ':') text += ':';
    std::snprintf(hex, sizeof hex, "%x", groups[i]);
    text += hex;
  }
  return text;
}

enum class SenderKind { own_server, esp_aligned, esp_unaligned, forwarder, spoofer };

struct Source {
  std::string ip;
  SenderKind kind;
  std::string_view esp;       // sending service, for ESP kinds
  std::string_view selector;  // DKIM selector it signs with
};

// The pool of addresses that send as one policy domain. Its size varies per
// domain (a few thousand) so some domains repeat sources more than others.
class SourcePool {
 public:
  SourcePool(uint64_t seed, uint32_t domain) : seed_(seed), domain_(domain) {
    size_ = 1000 + hash_of(seed, domain, 0x706f6f6c) % 4000;  // "pool"
  }

  uint64_t size() const { return size_; }

  Source at(uint64_t index) const {
    static constexpr std::string_view kEsps[] = {"amazonses.com", "sendgrid.net", "mcsv.net",
                                                 "mailgun.org", "sparkpostmail.com"};
    static constexpr std::string_view kSelectors[] = {"s1", "selector1", "google", "k1",
                                                      "mail", "20230601", "dkim"};
    const uint64_t h = hash_of(seed_, domain_, index, 0x737263);  // "src"
    Source s;
    // ~80% IPv4, ~20% IPv6.
    s.ip = h % 10 < 8 ? ipv4_from(h) : ipv6_from(h);
    s.kind = kind_from((h >> 8) % 100);
    s.esp = kEsps[(h >> 16) % std::size(kEsps)];
    s.selector = kSelectors[(h >> 24) % std::size(kSelectors)];
    return s;
  }

 private:
  static SenderKind kind_from(unsigned percent) {
    if (percent < 45) return SenderKind::own_server;
    if (percent < 70) return SenderKind::esp_aligned;
    if (percent < 80) return SenderKind::esp_unaligned;
    if (percent < 90) return SenderKind::forwarder;
    return SenderKind::spoofer;
  }

  static std::string ipv4_from(uint64_t h) {
    // First octets from public ranges, so addresses look like real senders
    // rather than private or reserved space.
    static constexpr uint8_t kFirst[] = {23,  34,  40,  52,  64,  66,  74,  85,  91, 104,
                                         129, 146, 157, 185, 194, 198, 203, 209, 212, 217};
    const uint64_t r = mix64(h);
    const uint32_t a = kFirst[r % std::size(kFirst)];
    const uint32_t b = (r >> 8) & 255, c = (r >> 16) & 255;
    const uint32_t d = 1 + (r >> 24) % 254;
    return format_ipv4(a << 24 | b << 16 | c << 8 | d);
  }

  static std::string ipv6_from(uint64_t h) {
    // Documentation prefix 2001:db8::/32. Groups are often zero or short so
    // that "::" compression and leading-zero removal are exercised.
    static constexpr uint16_t kMasks[] = {0xf, 0xff, 0xfff, 0xffff};
    std::array<uint16_t, 8> g{0x2001, 0x0db8, 0, 0, 0, 0, 0, 0};
    uint64_t r = mix64(h ^ 0x36);
    for (int i = 2; i < 8; ++i, r = mix64(r)) {
      const bool zero = r % 100 < 40;
      const uint16_t value = static_cast<uint16_t>((r >> 16) & kMasks[(r >> 8) % 4]);
      g[i] = zero ? 0 : static_cast<uint16_t>(value == 0 ? 1 : value);
    }
    if (g[7] == 0) g[7] = static_cast<uint16_t>(1 + (r >> 40) % 0xfe);
    return format_ipv6(g);
  }

  uint64_t seed_;
  uint32_t domain_;
  uint64_t size_;
};

struct DkimRow {
  std::string domain;
  std::string_view selector;  // empty: element omitted (no signature)
  std::string_view result;
};

// One <record>, already decided; the XML writer only formats it.
struct RecordData {
  std::string_view ip;
  uint64_t count = 1;
  std::string_view disposition, dkim_eval, spf_eval;
  std::string_view reason_type, reason_comment;  // empty: no <reason>
  std::string_view header_from;
  std::string envelope_from;
  std::array<DkimRow, 2> dkim;
  int dkim_count = 1;
  std::string spf_domain;
  std::string_view spf_result;
};

// Decides what a receiver would have seen from this source. Aligned DKIM or
// SPF pass means DMARC pass; otherwise the published policy applies
// (pct is always 100) unless a forwarding override is reported.
inline RecordData make_record(const Source& src, const DomainInfo& dom, Rng& rng) {
  static constexpr std::string_view kSpfFailures[] = {"fail", "softfail", "neutral"};
  RecordData r;
  r.ip = src.ip;
  r.header_from = dom.name;
  r.envelope_from = dom.name;
  r.spf_domain = dom.name;
  bool dkim_aligned = false, spf_aligned = false;
  switch (src.kind) {
    case SenderKind::own_server:
      r.dkim[0] = {dom.name, src.selector, rng.chance(20) ? "fail" : "pass"};
      r.spf_result = rng.chance(30) ? "softfail" : "pass";
      r.count = rng.log_uniform(1, 5000);
      dkim_aligned = r.dkim[0].result == "pass";
      spf_aligned = r.spf_result == "pass";
      break;
    case SenderKind::esp_aligned:
      // Custom bounce domain: relaxed SPF alignment holds.
      r.envelope_from = "bounce." + dom.name;
      r.spf_domain = r.envelope_from;
      r.spf_result = "pass";
      r.dkim[0] = {dom.name, src.selector, "pass"};
      if (rng.chance(400)) {  // the ESP signs too: two DKIM results
        r.dkim[1] = {std::string(src.esp), "s1", "pass"};
        r.dkim_count = 2;
      }
      r.count = rng.log_uniform(1, 2000);
      dkim_aligned = spf_aligned = true;
      break;
    case SenderKind::esp_unaligned:
      r.envelope_from = src.esp;
      r.spf_domain = src.esp;
      r.spf_result = "pass";
      r.dkim[0] = {std::string(src.esp), "s1", "pass"};
      r.count = rng.log_uniform(1, 300);
      break;
    case SenderKind::forwarder:
      r.spf_result = kSpfFailures[rng.below(3)];
      r.dkim[0] = {dom.name, src.selector, rng.chance(300) ? "fail" : "pass"};
      r.count = rng.log_uniform(1, 50);
      dkim_aligned = r.dkim[0].result == "pass";
      break;
    case SenderKind::spoofer:
      r.spf_result = rng.chance(500) ? "fail" : "softfail";
      r.dkim[0] = rng.chance(600) ? DkimRow{dom.name, {}, "none"}
                                  : DkimRow{dom.name, "default", "fail"};
      r.count = rng.log_uniform(1, 20);
      break;
  }
  r.dkim_eval = dkim_aligned ? "pass" : "fail";
  r.spf_eval = spf_aligned ? "pass" : "fail";
  r.disposition = dkim_aligned || spf_aligned ? "none" : dom.p;
  if (src.kind == SenderKind::forwarder && !dkim_aligned && rng.chance(500)) {
    r.disposition = "none";
    r.reason_type = "forwarded";
    r.reason_comment = rng.chance(500) ? "" : "known forwarder";
  }
  return r;
}

}  // namespace dmarq::gen
