// Reporter organisations, report ids and the streaming aggregate-report XML
// writer for dmarq-gen.
//
// Guarantees: the XML is an RFC 7489 aggregate report (plus <envelope_from>,
// which RFC 9990 and real reporters add), one element per line, indented
// with two spaces. It is written to a ByteSink in chunks of about 64 KiB, so
// a report of any size needs constant memory. Report ids are unique per
// (org, domain, day) by construction, not by luck: each style embeds a
// bijective image of that triple's key. All text comes from fixed ASCII
// alphabets without XML metacharacters, so nothing needs escaping.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "gen_random.h"
#include "gen_sinks.h"
#include "gen_sources.h"

namespace dmarq::gen {

enum class IdStyle { decimal64, hex128, epoch_dot, base32, uuid };

struct Org {
  std::string_view org_name;       // <org_name>
  std::string_view email;          // <email> and the From: address
  std::string_view display_name;   // From: display name, may be empty
  std::string_view extra_contact;  // <extra_contact_info>, may be empty
  std::string_view submitter;      // Subject "Submitter:" and file name prefix
  IdStyle id_style;
  unsigned weight;  // relative share of reports
  bool envelope_to;  // writes <envelope_to> (Microsoft does)
};

inline constexpr std::array<Org, 5> kOrgs{{
    {"google.com", "noreply-dmarc-support@google.com", "",
     "https://support.google.com/a/answer/2466580", "google.com", IdStyle::decimal64, 35, false},
    {"Enterprise Outlook", "dmarcreport@microsoft.com", "DMARC Aggregate Report", "",
     "protection.outlook.com", IdStyle::hex128, 25, true},
    {"Yahoo", "dmarchelp@yahooinc.com", "", "", "yahoo.com", IdStyle::epoch_dot, 20, false},
    {"Mimecast", "dmarc-reports@mimecast.org", "Mimecast DMARC", "", "mimecast.org",
     IdStyle::base32, 10, false},
    {"AMAZON-SES", "postmaster@amazonses.com", "", "", "amazonses.com", IdStyle::uuid, 10,
     false},
}};

struct ReportSpec {
  const Org* org = nullptr;
  DomainInfo domain;
  uint32_t domain_index = 0;
  int64_t begin = 0, end = 0;
  std::string report_id;
  uint64_t records = 1;        // exact count, unless min_xml_bytes is set
  uint64_t min_xml_bytes = 0;  // > 0: add records until the XML is this big
  uint64_t seed = 0;
};

struct ReportStats {
  uint64_t records = 0;
  uint64_t xml_bytes = 0;
};

// `key` must be unique per (org, domain, day); `domain_index` and `begin`
// are used by the styles that show them, as Yahoo's epoch.counter ids do.
inline std::string make_report_id(const Org& org, uint64_t seed, uint64_t key,
                                  uint32_t domain_index, int64_t begin) {
  const uint64_t id = mix64(key + mix64(seed));  // bijective in key
  const uint64_t extra = mix64(id ^ 0x6964);
  char buf[64];
  switch (org.id_style) {
    case IdStyle::decimal64:
      std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(id));
      break;
    case IdStyle::hex128:
      std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(id),
                    static_cast<unsigned long long>(extra));
      break;
    case IdStyle::epoch_dot: {
      // The epoch fixes the day; the suffix is a bijection of the domain
      // index modulo 10^6 (7919 is coprime to 10^6), hence unique.
      const uint64_t suffix = (domain_index * 7919ull + mix64(seed) % 1000000) % 1000000;
      std::snprintf(buf, sizeof buf, "%lld.%06llu", static_cast<long long>(begin),
                    static_cast<unsigned long long>(suffix));
      break;
    }
    case IdStyle::base32: {
      // 13 characters x 5 bits cover all 64 bits of id, then filler.
      static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
      std::string text;
      for (int i = 0; i < 13; ++i) text += kAlphabet[(id >> (i * 5)) & 31];
      for (int i = 0; i < 7; ++i) text += kAlphabet[(extra >> (i * 5)) & 31];
      return text;
    }
    case IdStyle::uuid: {
      // Version-4 layout; the 16 hex digits of id fill the first groups.
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
      const std::string h(hex);
      std::snprintf(buf, sizeof buf, "%s-%s-4%s-%c%s%02llx-%012llx", h.substr(0, 8).c_str(),
                    h.substr(8, 4).c_str(), h.substr(12, 3).c_str(), "89ab"[extra & 3],
                    h.substr(15, 1).c_str(), static_cast<unsigned long long>((extra >> 2) & 0xff),
                    static_cast<unsigned long long>((extra >> 14) & 0xffffffffffffull));
      break;
    }
  }
  return buf;
}

// Indenting XML text writer that hands full chunks to a sink.
class XmlWriter {
 public:
  explicit XmlWriter(ByteSink& sink) : sink_(sink) { buf_.reserve(kChunk + 4096); }

  void raw(std::string_view text) {
    buf_ += text;
    if (buf_.size() >= kChunk) flush();
  }
  void open(int depth, std::string_view tag) {
    indent(depth);
    buf_ += '<';
    buf_ += tag;
    raw(">\n");
  }
  void close(int depth, std::string_view tag) {
    indent(depth);
    buf_ += "</";
    buf_ += tag;
    raw(">\n");
  }
  void leaf(int depth, std::string_view tag, std::string_view text) {
    indent(depth);
    buf_ += '<';
    buf_ += tag;
    buf_ += '>';
    buf_ += text;
    buf_ += "</";
    buf_ += tag;
    raw(">\n");
  }
  void leaf(int depth, std::string_view tag, uint64_t value) {
    leaf(depth, tag, std::to_string(value));
  }

  void flush() {
    if (buf_.empty()) return;
    bytes_ += buf_.size();
    sink_.write(buf_);
    buf_.clear();
  }
  uint64_t bytes() const { return bytes_ + buf_.size(); }

 private:
  static constexpr std::size_t kChunk = 1 << 16;
  void indent(int depth) { buf_.append(static_cast<std::size_t>(depth) * 2, ' '); }

  ByteSink& sink_;
  std::string buf_;
  uint64_t bytes_ = 0;
};

inline void write_metadata(XmlWriter& x, const ReportSpec& spec) {
  const Org& org = *spec.org;
  x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  x.open(0, "feedback");
  x.leaf(1, "version", "1.0");
  x.open(1, "report_metadata");
  x.leaf(2, "org_name", org.org_name);
  x.leaf(2, "email", org.email);
  if (!org.extra_contact.empty()) x.leaf(2, "extra_contact_info", org.extra_contact);
  x.leaf(2, "report_id", spec.report_id);
  x.open(2, "date_range");
  x.leaf(3, "begin", static_cast<uint64_t>(spec.begin));
  x.leaf(3, "end", static_cast<uint64_t>(spec.end));
  x.close(2, "date_range");
  x.close(1, "report_metadata");
  x.open(1, "policy_published");
  x.leaf(2, "domain", spec.domain.name);
  x.leaf(2, "adkim", "r");
  x.leaf(2, "aspf", "r");
  x.leaf(2, "p", spec.domain.p);
  x.leaf(2, "sp", spec.domain.sp);
  x.leaf(2, "pct", "100");
  x.close(1, "policy_published");
}

inline void write_record(XmlWriter& x, const RecordData& r, const Org& org, Rng& rng) {
  static constexpr std::string_view kRecipients[] = {"outlook.com", "hotmail.com", "live.com"};
  x.open(1, "record");
  x.open(2, "row");
  x.leaf(3, "source_ip", r.ip);
  x.leaf(3, "count", r.count);
  x.open(3, "policy_evaluated");
  x.leaf(4, "disposition", r.disposition);
  x.leaf(4, "dkim", r.dkim_eval);
  x.leaf(4, "spf", r.spf_eval);
  if (!r.reason_type.empty()) {
    x.open(4, "reason");
    x.leaf(5, "type", r.reason_type);
    if (!r.reason_comment.empty()) x.leaf(5, "comment", r.reason_comment);
    x.close(4, "reason");
  }
  x.close(3, "policy_evaluated");
  x.close(2, "row");
  x.open(2, "identifiers");
  // Microsoft uses the RFC 9990 order; the others put header_from first,
  // which keeps parsers honest about element order.
  if (org.envelope_to) {
    x.leaf(3, "envelope_to", kRecipients[rng.below(std::size(kRecipients))]);
    x.leaf(3, "envelope_from", r.envelope_from);
    x.leaf(3, "header_from", r.header_from);
  } else {
    x.leaf(3, "header_from", r.header_from);
    x.leaf(3, "envelope_from", r.envelope_from);
  }
  x.close(2, "identifiers");
  x.open(2, "auth_results");
  for (int i = 0; i < r.dkim_count; ++i) {
    x.open(3, "dkim");
    x.leaf(4, "domain", r.dkim[i].domain);
    if (!r.dkim[i].selector.empty()) x.leaf(4, "selector", r.dkim[i].selector);
    x.leaf(4, "result", r.dkim[i].result);
    x.close(3, "dkim");
  }
  x.open(3, "spf");
  x.leaf(4, "domain", r.spf_domain);
  x.leaf(4, "scope", "mfrom");
  x.leaf(4, "result", r.spf_result);
  x.close(3, "spf");
  x.close(2, "auth_results");
  x.close(1, "record");
}

inline uint64_t gcd64(uint64_t a, uint64_t b) {
  while (b != 0) {
    const uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Writes the whole report. Sources are walked with a stride coprime to a
// window of pool indices, so a report never repeats a source. The window's
// size is log-uniform over the domain's pool, so low indices (the domain's
// main senders) show up in many reports and high ones in few; it grows past
// the pool when a report has more records than that (SourcePool::at accepts
// any index). A size-driven report simply walks indices 0, 1, 2, ...
inline ReportStats write_report_xml(const ReportSpec& spec, Rng& rng, ByteSink& sink) {
  XmlWriter x(sink);
  write_metadata(x, spec);
  const SourcePool pool(spec.seed, spec.domain_index);
  const bool by_size = spec.min_xml_bytes > 0;
  uint64_t window = 1, stride = 1, start = 0;
  if (!by_size) {
    window = rng.log_uniform(1, pool.size());
    if (window < spec.records) window = spec.records;
    stride = window > 1 ? 1 + rng.below(window - 1) : 1;
    while (gcd64(stride, window) != 1) ++stride;
    start = rng.below(window);
  }

  ReportStats stats;
  uint64_t index = start;
  for (uint64_t k = 0;; ++k) {
    if (by_size ? x.bytes() >= spec.min_xml_bytes : k >= spec.records) break;
    const Source src = pool.at(by_size ? k : index);
    write_record(x, make_record(src, spec.domain, rng), *spec.org, rng);
    ++stats.records;
    index = (index + stride) % window;  // stride < window: no overflow
  }
  x.close(0, "feedback");
  x.flush();
  stats.xml_bytes = x.bytes();
  return stats;
}

}  // namespace dmarq::gen
