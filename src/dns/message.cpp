// DNS message building and reading (see the header for the contract).
//
// The response is read in one pass up to the end of the section needed: the
// header, the one question (which must be ours), every answer record (kept as
// offsets into the message, so nothing is copied but owner names), and the
// authority section only for a negative answer, to find its SOA. Record data
// is decoded only for the records the answer uses, so a malformed record of
// another type or name costs nothing and fails nothing. The additional
// section (EDNS OPT, glue) is never read.
#include "dmarq/dns/message.h"

#include <algorithm>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "dmarq/model/ip.h"

namespace dmarq::dns {
namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kRecordFixedSize = 10;  // TYPE, CLASS, TTL, RDLENGTH after the owner
constexpr std::size_t kMaxName = 255;         // wire bytes, the root's zero included
constexpr std::size_t kMaxLabel = 63;
constexpr uint16_t kClassIn = 1;
constexpr uint32_t kMaxTtl = 0x7fffffff;      // RFC 2181 section 8: larger counts as 0

constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;

enum Rcode : unsigned { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5 };

char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Big-endian reads; every caller has checked the bounds first.
uint16_t get16(std::string_view m, std::size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(m[at]) << 8 | static_cast<uint8_t>(m[at + 1]));
}
uint32_t get32(std::string_view m, std::size_t at) {
  return static_cast<uint32_t>(get16(m, at)) << 16 | get16(m, at + 2);
}

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

uint32_t usable_ttl(uint32_t ttl) { return ttl > kMaxTtl ? 0 : ttl; }

// Reads the name at `at` into `wire` (lower-cased wire form, pointers
// resolved) and returns the offset just after the name as written at `at`,
// that is after its first pointer. nullopt when malformed.
//
// Loops: a pointer must point strictly before the run of labels that it
// ends (the run started at `at` or at the previous pointer's target), so the
// run starts fall at every jump and a name cannot come back to itself; a
// legitimate pointer always refers to a name written earlier. kMaxPointers
// bounds the work for a chain of pointers to pointers.
std::optional<std::size_t> read_name(std::string_view msg, std::size_t at, std::string& wire) {
  wire.clear();
  std::size_t pos = at;
  std::size_t run_start = at;
  std::optional<std::size_t> end;
  std::size_t pointers = 0;
  for (;;) {
    if (pos >= msg.size()) return std::nullopt;
    const auto len = static_cast<uint8_t>(msg[pos]);
    if ((len & 0xC0) == 0xC0) {
      if (msg.size() - pos < 2) return std::nullopt;
      const std::size_t target = static_cast<std::size_t>(len & 0x3F) << 8 | static_cast<uint8_t>(msg[pos + 1]);
      if (target >= run_start || ++pointers > kMaxPointers) return std::nullopt;
      if (!end) end = pos + 2;
      pos = run_start = target;
      continue;
    }
    // 0x40 and 0x80: the extended and reserved label types, unused (RFC 6891).
    if ((len & 0xC0) != 0) return std::nullopt;
    if (len == 0) {
      wire.push_back('\0');
      return end ? *end : pos + 1;
    }
    if (msg.size() - pos - 1 < len) return std::nullopt;
    if (wire.size() + 1 + len + 1 > kMaxName) return std::nullopt;
    wire.push_back(static_cast<char>(len));
    for (std::size_t i = 0; i < len; ++i) wire.push_back(lower_ascii(msg[pos + 1 + i]));
    pos += 1 + len;
  }
}

// Text of a wire name (see the header: lower case, escapes, "." for root).
std::string name_text(std::string_view wire) {
  std::string out;
  std::size_t pos = 0;
  while (pos < wire.size() && wire[pos] != '\0') {
    const auto len = static_cast<uint8_t>(wire[pos]);
    if (pos != 0) out.push_back('.');
    for (std::size_t i = 1; i <= len && pos + i < wire.size(); ++i) {
      const auto c = static_cast<unsigned char>(wire[pos + i]);
      if (c == '.' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c <= 0x20 || c >= 0x7f) {
        out += fmt::format("\\{:03}", static_cast<unsigned>(c));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    pos += 1 + len;
  }
  return out.empty() ? std::string(".") : out;
}

// A name read at `at` that must end exactly at `end` (the end of the record
// data that holds it); returns its text.
std::optional<std::string> name_ending_at(std::string_view msg, std::size_t at, std::size_t end) {
  std::string wire;
  const auto after = read_name(msg, at, wire);
  if (!after || *after != end) return std::nullopt;
  return name_text(wire);
}

// One resource record; its data stays in the message.
struct Record {
  std::string owner;  // lower-cased wire form
  uint16_t type = 0;
  uint16_t klass = 0;
  uint32_t ttl = 0;
  std::size_t rdata = 0;
  std::size_t rdlength = 0;

  std::size_t rdata_end() const { return rdata + rdlength; }
};

bool read_record(std::string_view msg, std::size_t& pos, Record& rr) {
  const auto after = read_name(msg, pos, rr.owner);
  if (!after || msg.size() - *after < kRecordFixedSize) return false;
  pos = *after;
  rr.type = get16(msg, pos);
  rr.klass = get16(msg, pos + 2);
  rr.ttl = usable_ttl(get32(msg, pos + 4));
  rr.rdlength = get16(msg, pos + 8);
  pos += kRecordFixedSize;
  if (msg.size() - pos < rr.rdlength) return false;
  rr.rdata = pos;
  pos += rr.rdlength;
  return true;
}

struct Soa {
  std::string mname, rname;
  uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
};

std::optional<Soa> read_soa(std::string_view msg, const Record& rr) {
  std::string wire;
  Soa soa;
  const auto after_mname = read_name(msg, rr.rdata, wire);
  if (!after_mname || *after_mname > rr.rdata_end()) return std::nullopt;
  soa.mname = name_text(wire);
  const auto after_rname = read_name(msg, *after_mname, wire);
  if (!after_rname || *after_rname > rr.rdata_end() || rr.rdata_end() - *after_rname != 20) return std::nullopt;
  soa.rname = name_text(wire);
  const std::size_t p = *after_rname;
  soa.serial = get32(msg, p);
  soa.refresh = get32(msg, p + 4);
  soa.retry = get32(msg, p + 8);
  soa.expire = get32(msg, p + 12);
  soa.minimum = get32(msg, p + 16);
  return soa;
}

// The record's data as resolver.h documents it; nullopt when malformed.
std::optional<std::string> record_text(std::string_view msg, const Record& rr) {
  const std::size_t begin = rr.rdata;
  const std::size_t end = rr.rdata_end();
  switch (static_cast<Type>(rr.type)) {
    case Type::a:
      if (rr.rdlength != 4) return std::nullopt;
      return fmt::format("{}.{}.{}.{}", static_cast<uint8_t>(msg[begin]), static_cast<uint8_t>(msg[begin + 1]),
                         static_cast<uint8_t>(msg[begin + 2]), static_cast<uint8_t>(msg[begin + 3]));
    case Type::aaaa: {
      if (rr.rdlength != 16) return std::nullopt;
      model::IpAddress ip;
      for (std::size_t i = 0; i < 16; ++i) ip.bytes[i] = static_cast<uint8_t>(msg[begin + i]);
      return ip.to_string();
    }
    case Type::ns:
    case Type::cname:
    case Type::ptr:
      return name_ending_at(msg, begin, end);
    case Type::mx: {
      if (rr.rdlength < 3) return std::nullopt;
      auto host = name_ending_at(msg, begin + 2, end);
      if (!host) return std::nullopt;
      return fmt::format("{} {}", get16(msg, begin), *host);
    }
    case Type::txt:
    case Type::spf: {
      // One or more <character-string>s (a length byte, then that many
      // bytes) filling the data exactly; joined without separator (RFC 7208
      // section 3.3). Zero strings, though not legal, read as "".
      std::string text;
      for (std::size_t p = begin; p < end;) {
        const auto len = static_cast<uint8_t>(msg[p]);
        if (end - p - 1 < len) return std::nullopt;
        text.append(msg.substr(p + 1, len));
        p += 1 + len;
      }
      return text;
    }
    case Type::soa: {
      const auto soa = read_soa(msg, rr);
      if (!soa) return std::nullopt;
      return fmt::format("{} {} {} {} {} {} {}", soa->mname, soa->rname, soa->serial, soa->refresh, soa->retry,
                         soa->expire, soa->minimum);
    }
  }
  // A type resolver.h does not list: RFC 3597's generic form.
  std::string text = fmt::format("\\# {}", rr.rdlength);
  if (rr.rdlength > 0) text.push_back(' ');
  for (std::size_t p = begin; p < end; ++p) text += fmt::format("{:02x}", static_cast<uint8_t>(msg[p]));
  return text;
}

Answer temporary(std::string detail) {
  Answer a;
  a.status = Status::temporary;
  a.detail = std::move(detail);
  return a;
}

Answer malformed(std::string_view what) { return temporary(fmt::format("malformed response: {}", what)); }

std::string rcode_name(unsigned rcode) {
  switch (rcode) {
    case kFormErr: return "FORMERR";
    case kServFail: return "SERVFAIL";
    case kNotImp: return "NOTIMP";
    case kRefused: return "REFUSED";
    default: return fmt::format("RCODE {}", rcode);
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = lower_ascii(c);
  return s;
}

// The records of `type` (class IN) owned by `owner`.
std::vector<const Record*> records_at(const std::vector<Record>& records, const std::string& owner, uint16_t type) {
  std::vector<const Record*> out;
  for (const auto& rr : records)
    if (rr.type == type && rr.klass == kClassIn && rr.owner == owner) out.push_back(&rr);
  return out;
}

// RFC 2308 section 5: a negative answer lives for min(SOA TTL, SOA MINIMUM),
// the SOA being the first of class IN in the authority section that starts
// at `pos`.
std::optional<uint32_t> negative_ttl(std::string_view msg, std::size_t pos, unsigned count, std::string& error) {
  Record rr;
  for (unsigned i = 0; i < count; ++i) {
    if (!read_record(msg, pos, rr)) {
      error = "authority section";
      return std::nullopt;
    }
    if (rr.type != static_cast<uint16_t>(Type::soa) || rr.klass != kClassIn) continue;
    const auto soa = read_soa(msg, rr);
    if (!soa) {
      error = "SOA record";
      return std::nullopt;
    }
    return std::min(rr.ttl, usable_ttl(soa->minimum));
  }
  return kNegativeTtlWithoutSoa;
}

}  // namespace

std::optional<std::string> encode_name(std::string_view name) {
  std::string wire;
  if (name.empty() || name == ".") return std::string(1, '\0');
  std::string label;
  const auto flush = [&] {
    wire.push_back(static_cast<char>(label.size()));
    wire += label;
    label.clear();
  };
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (label.empty()) return std::nullopt;
      flush();
      if (wire.size() >= kMaxName) return std::nullopt;  // no room for the root: stop reading early
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= name.size()) return std::nullopt;
      const char next = name[i + 1];
      if (next >= '0' && next <= '9') {
        // \DDD: exactly three decimal digits, at most 255.
        if (name.size() - i - 1 < 3) return std::nullopt;
        unsigned value = 0;
        for (std::size_t k = 1; k <= 3; ++k) {
          const char d = name[i + k];
          if (d < '0' || d > '9') return std::nullopt;
          value = value * 10 + static_cast<unsigned>(d - '0');
        }
        if (value > 255) return std::nullopt;
        c = static_cast<char>(value);
        i += 3;
      } else {
        c = next;
        i += 1;
      }
    }
    label.push_back(c);
    if (label.size() > kMaxLabel) return std::nullopt;
  }
  if (!label.empty()) flush();  // else the name ended with its trailing dot
  wire.push_back('\0');
  if (wire.size() > kMaxName) return std::nullopt;
  return wire;
}

std::optional<std::string> build_query(std::string_view name, Type type, uint16_t id) {
  auto qname = encode_name(name);
  if (!qname) return std::nullopt;
  std::string out;
  out.reserve(kHeaderSize + qname->size() + 4);
  put16(out, id);
  put16(out, kFlagRd);
  put16(out, 1);  // QDCOUNT
  put16(out, 0);  // ANCOUNT
  put16(out, 0);  // NSCOUNT
  put16(out, 0);  // ARCOUNT
  out += *qname;
  put16(out, static_cast<uint16_t>(type));
  put16(out, kClassIn);
  return out;
}

Answer parse_response(std::string_view msg, std::string_view qname, Type qtype) {
  const auto asked = encode_name(qname);
  if (!asked) return temporary("not a valid domain name");
  const std::string want = lower(*asked);
  const auto want_type = static_cast<uint16_t>(qtype);

  if (msg.size() < kHeaderSize) return malformed("shorter than a header");
  const uint16_t flags = get16(msg, 2);
  if ((flags & kFlagQr) == 0) return malformed("not a response");
  const unsigned rcode = flags & 0x0F;
  if (rcode != kNoError && rcode != kNxDomain) return temporary(rcode_name(rcode));
  // c-ares asks again over TCP when TC is set; a truncated answer reaching
  // us would be missing records, so it is no answer.
  if ((flags & kFlagTc) != 0) return temporary("truncated response");
  const unsigned qdcount = get16(msg, 4);
  const unsigned ancount = get16(msg, 6);
  const unsigned nscount = get16(msg, 8);
  if (qdcount != 1) return malformed(fmt::format("{} questions", qdcount));

  std::size_t pos = kHeaderSize;
  std::string name;
  const auto after_question = read_name(msg, pos, name);
  if (!after_question || msg.size() - *after_question < 4) return malformed("question section");
  pos = *after_question;
  if (name != want || get16(msg, pos) != want_type || get16(msg, pos + 2) != kClassIn)
    return temporary(fmt::format("answer to another question ({} type {})", name_text(name), get16(msg, pos)));
  pos += 4;

  std::vector<Record> answers;
  answers.reserve(std::min<std::size_t>(ancount, (msg.size() - pos) / (1 + kRecordFixedSize)));
  for (unsigned i = 0; i < ancount; ++i) {
    Record rr;
    if (!read_record(msg, pos, rr)) return malformed("answer section");
    answers.push_back(std::move(rr));
  }

  // From the name asked along its CNAME chain to the records of the type.
  uint32_t ttl = std::numeric_limits<uint32_t>::max();
  std::string current = want;
  std::vector<const Record*> found;
  for (std::size_t links = 0;; ++links) {
    found = records_at(answers, current, want_type);
    if (!found.empty() || qtype == Type::cname) break;
    const auto aliases = records_at(answers, current, static_cast<uint16_t>(Type::cname));
    if (aliases.empty()) break;
    if (links == kMaxCnameChain)
      return temporary(fmt::format("CNAME chain longer than {} links", kMaxCnameChain));
    const Record& alias = *aliases.front();
    const auto target = read_name(msg, alias.rdata, current);
    if (!target || *target != alias.rdata_end()) return malformed("CNAME record");
    ttl = std::min(ttl, alias.ttl);
  }

  if (!found.empty()) {
    Answer a;
    a.status = Status::ok;
    for (const Record* rr : found) {
      auto text = record_text(msg, *rr);
      if (!text) return malformed(fmt::format("{} record", type_name(qtype)));
      a.data.push_back(std::move(*text));
      ttl = std::min(ttl, rr->ttl);
    }
    a.ttl = ttl;
    return a;
  }

  std::string error;
  const auto negative = negative_ttl(msg, pos, nscount, error);
  if (!negative) return malformed(error);
  Answer a;
  a.status = rcode == kNxDomain ? Status::nxdomain : Status::nodata;
  a.ttl = std::min(ttl, *negative);
  return a;
}

}  // namespace dmarq::dns
