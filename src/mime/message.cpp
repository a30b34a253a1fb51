#include "dmarq/mime/message.h"

#include <mimetic/mimetic.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

#include <fmt/format.h>

#include "dmarq/util/text.h"

namespace dmarq::mime {
namespace {

using model::Issue;
using model::Severity;

// Upper bound on multipart declarations plus message/rfc822 parts: each
// nesting level needs one of them, so this also bounds the depth mimetic
// recurses to (it recurses once per level and would overflow the stack).
constexpr std::size_t kMaxBoundaries = 64;

// RFC 5322 allows any printable but ':' in a field name; real first header
// fields use letters, digits and '-', and accepting more would take JSON
// ("{"a":1}") or other text for a message.
bool is_field_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Rejects what mimetic handles badly before it sees it. Header blocks are the
// message head and the lines after each "--" line (a boundary) up to the next
// blank line: that over-approximates what mimetic reads as headers, so every
// Content-Type mimetic could act on is inside one. In header blocks the line
// length is checked and "boundary" parameters are counted, in any letter
// case (a hostile message could write "bOuNdArY"); bodies are skipped a line
// at a time.
// `raw` has LF line ends only (scan_message normalises them first).
std::optional<Issue> precheck(std::string_view raw, const Limits& limits) {
  bool in_header = true;
  std::size_t boundaries = 0, line_no = 0, pos = 0;
  while (pos < raw.size()) {
    std::size_t eol = raw.find('\n', pos);
    if (eol == std::string_view::npos) eol = raw.size();
    std::string_view line = raw.substr(pos, eol - pos);
    ++line_no;
    if (in_header) {
      if (line.empty()) {
        in_header = false;
      } else if (line.size() > limits.max_header_line) {
        return Issue{"mime.header_too_long", Severity::error,
                     fmt::format("header line longer than {} bytes", limits.max_header_line),
                     fmt::format("line {}", line_no)};
      } else {
        for (std::size_t at = 0; at + 8 <= line.size(); ++at)
          if ((line[at] | 0x20) == 'b' && util::iequals(line.substr(at, 8), "boundary") &&
              ++boundaries > kMaxBoundaries)
            return Issue{"mime.too_deep", Severity::error,
                         fmt::format("more than {} multipart boundaries", kMaxBoundaries), fmt::format("line {}", line_no)};
      }
    } else if (line.size() >= 2 && line[0] == '-' && line[1] == '-') {
      in_header = true;
    }
    pos = eol + 1;
  }
  // message/rfc822 nests without any boundary, and its headers follow a
  // blank line rather than a "--" line: count the type anywhere, in any case.
  std::size_t embedded = 0;
  for (std::size_t at = raw.find("822"); at != std::string_view::npos; at = raw.find("822", at + 3)) {
    if (at >= 3 && util::iequals(raw.substr(at - 3, 3), "rfc") && ++embedded + boundaries > kMaxBoundaries)
      return Issue{"mime.too_deep", Severity::error,
                   fmt::format("more than {} multipart boundaries and embedded messages", kMaxBoundaries), ""};
  }
  return std::nullopt;
}

std::string lower(const std::string& s) { return util::to_lower_ascii(s); }

// Base64 decoding by hand, table-driven: mimetic's decoder appends one byte
// at a time and OpenSSL's EVP_DecodeUpdate still took 8% of extraction. This
// one skips CR, LF, space and TAB, stops at '=' padding, and returns false on
// any other byte outside the alphabet, leaving such bodies to mimetic's
// lenient decoder.
bool decode_base64_fast(std::string_view in, std::string& out) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    for (char c : {'\r', '\n', ' ', '\t'}) t[static_cast<unsigned char>(c)] = -2;  // skipped
    t['='] = -3;                                                                   // padding
    return t;
  }();
  out.resize(in.size() / 4 * 3 + 3);
  char* dst = out.data();
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  uint32_t acc = 0;
  int bits = 0;
  while (p < end) {
    // Fast path: four alphabet characters on a quantum boundary make three
    // bytes at once (most of a 76-column line).
    if (bits == 0 && end - p >= 4) {
      int a = table[p[0]], b = table[p[1]], c = table[p[2]], d = table[p[3]];
      if ((a | b | c | d) >= 0) {
        uint32_t v = static_cast<uint32_t>(a) << 18 | static_cast<uint32_t>(b) << 12 |
                     static_cast<uint32_t>(c) << 6 | static_cast<uint32_t>(d);
        dst[0] = static_cast<char>(v >> 16);
        dst[1] = static_cast<char>(v >> 8 & 0xff);
        dst[2] = static_cast<char>(v & 0xff);
        dst += 3;
        p += 4;
        continue;
      }
    }
    int v = table[*p++];
    if (v >= 0) {
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        *dst++ = static_cast<char>((acc >> bits) & 0xff);
      }
    } else if (v == -3) {
      break;  // padding: the data has ended
    } else if (v == -1) {
      return false;
    }
  }
  out.resize(static_cast<std::size_t>(dst - out.data()));
  return true;
}

std::string decode_body(const mimetic::MimeEntity& e) {
  const std::string& body = e.body();
  std::string mechanism = lower(e.header().contentTransferEncoding().mechanism());
  mechanism = std::string(util::trim_xml_space(mechanism));
  std::string out;
  if (mechanism == "base64") {
    if (decode_base64_fast(body, out)) return out;
    out.clear();
    mimetic::Base64::Decoder dec;
    mimetic::decode(body.begin(), body.end(), dec, std::back_inserter(out));
  } else if (mechanism == "quoted-printable") {
    out.reserve(body.size());
    mimetic::QP::Decoder dec;
    mimetic::decode(body.begin(), body.end(), dec, std::back_inserter(out));
  } else {
    out = body;  // 7bit, 8bit, binary, or unknown: as is
  }
  return out;
}

std::string declared_filename(const mimetic::Header& h) {
  std::string name = h.contentDisposition().param("filename");
  if (name.empty()) name = h.contentType().param("name");
  return name;
}

struct Walker {
  const Limits& limits;
  ScannedMessage& out;

  void entity(const mimetic::MimeEntity& e, const std::string& section, int depth) {
    if (depth > limits.max_mime_depth) {
      out.issues.push_back(Issue{"mime.too_deep", Severity::error,
                                 fmt::format("MIME parts nested deeper than {}", limits.max_mime_depth), section});
      return;
    }
    const mimetic::Header& h = e.header();
    const mimetic::ContentType& ct = h.contentType();
    std::string type = lower(ct.type()), subtype = lower(ct.subtype());
    const auto& children = e.body().parts();

    if (type == "multipart") {
      std::size_t n = 0;
      for (const auto* child : children) {
        ++n;
        entity(*child, section.empty() ? std::to_string(n) : section + "." + std::to_string(n), depth + 1);
      }
      return;
    }
    if (type == "message" && subtype == "rfc822" && !children.empty()) {
      // The encapsulated message is not numbered itself: its body parts are
      // SECTION.1, SECTION.2 (or SECTION.1 for a single-part body).
      embedded(*children.front(), section, depth + 1);
      return;
    }
    if (out.parts.size() >= limits.max_mime_parts) {
      out.issues.push_back(Issue{"mime.too_many_parts", Severity::error,
                                 fmt::format("more than {} MIME parts", limits.max_mime_parts), section});
      return;
    }
    Part part;
    part.section = section.empty() ? "1" : section;
    part.content_type = type.empty() ? "text/plain" : type + "/" + subtype;
    part.filename = declared_filename(h);
    part.bytes = decode_body(e);
    out.parts.push_back(std::move(part));
  }

  void embedded(const mimetic::MimeEntity& msg, const std::string& section, int depth) {
    if (msg.header().contentType().isMultipart()) {
      std::size_t n = 0;
      for (const auto* child : msg.body().parts()) {
        ++n;
        entity(*child, section + "." + std::to_string(n), depth + 1);
      }
    } else {
      entity(msg, section + ".1", depth);
    }
  }
};

}  // namespace

bool looks_like_message(std::string_view b) {
  if (b.substr(0, 5) == "From ") return true;
  std::size_t i = 0;
  while (i < b.size() && i < 128 && is_field_name_char(b[i])) ++i;
  return i > 0 && i < b.size() && b[i] == ':';
}

ScannedMessage scan_message(std::string_view input, const Limits& limits) {
  ScannedMessage out;
  // mimetic mis-sizes a block that ends in a lone CR before a boundary (it
  // throws std::length_error half-way through building the tree, and leaks
  // the parts built so far; found by fuzzing). Line ends are CRLF, LF or a
  // bare CR in real mail; all become LF here, which MIME allows us to do to
  // every body we decode (base64, quoted-printable and text).
  if (input.size() > limits.max_message_bytes) {  // before any copy
    out.issues.push_back(Issue{"mime.too_large", Severity::error,
                               fmt::format("message is {} bytes, above the limit of {}", input.size(),
                                           limits.max_message_bytes),
                               ""});
    return out;
  }
  std::string normalized;
  std::string_view raw = input;
  if (input.find('\r') != std::string_view::npos) {
    normalized.reserve(input.size());
    for (std::size_t i = 0; i < input.size(); ++i) {
      char c = input[i];
      if (c == '\r') {
        normalized.push_back('\n');
        if (i + 1 < input.size() && input[i + 1] == '\n') ++i;
      } else {
        normalized.push_back(c);
      }
    }
    raw = normalized;
  }
  if (auto problem = precheck(raw, limits)) {
    out.issues.push_back(*problem);
    return out;
  }
  // An mbox "From " separator line is not a header field.
  if (raw.substr(0, 5) == "From ") {
    std::size_t eol = raw.find('\n');
    raw = eol == std::string_view::npos ? std::string_view{} : raw.substr(eol + 1);
  }
  mimetic::MimeEntity top(raw.begin(), raw.end());
  const auto& h = top.header();
  if (h.hasField("Subject")) out.subject = h.field("Subject").value();
  if (h.hasField("From")) out.from = h.field("From").value();
  if (h.hasField("Message-ID")) out.message_id = h.field("Message-ID").value();
  Walker walker{limits, out};
  if (h.contentType().isMultipart()) {
    walker.entity(top, "", 0);
  } else if (lower(h.contentType().type()) == "message" && lower(h.contentType().subtype()) == "rfc822" &&
             !top.body().parts().empty()) {
    walker.embedded(*top.body().parts().front(), "1", 1);
  } else {
    walker.entity(top, "1", 0);
  }
  return out;
}

}  // namespace dmarq::mime
