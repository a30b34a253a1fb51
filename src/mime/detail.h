// What scan_message (message.cpp) and parse_tree (tree.cpp) share: the checks
// and normalisation done before mimetic sees the bytes, and body decoding.
// Private to src/mime: the only two files here that include mimetic.
#pragma once

#include <mimetic/mimetic.h>

#include <array>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "dmarq/limits.h"
#include "dmarq/model/issue.h"
#include "dmarq/util/text.h"

namespace dmarq::mime::detail {

// Upper bound on multipart declarations plus message/rfc822 parts: each
// nesting level needs one of them, so this also bounds the depth mimetic
// recurses to (it recurses once per level and would overflow the stack).
inline constexpr std::size_t kMaxBoundaries = 64;

// Rejects what mimetic handles badly before it sees it. Header blocks are the
// message head and the lines after each "--" line (a boundary) up to the next
// blank line: that over-approximates what mimetic reads as headers, so every
// Content-Type mimetic could act on is inside one. In header blocks the line
// length is checked and "boundary" parameters are counted, in any letter
// case (a hostile message could write "bOuNdArY"); bodies are skipped a line
// at a time.
// `raw` has LF line ends only (normalize_input makes them so first).
inline std::optional<model::Issue> precheck(std::string_view raw, const Limits& limits) {
  using model::Issue;
  using model::Severity;
  bool in_header = true;
  std::size_t boundaries = 0, line_no = 0, pos = 0;
  // The field being read, unfolded (continuation lines count toward it: an
  // RFC 2231 parameter flood folds one huge field over many short lines),
  // and the fields of the current header block.
  std::size_t field_bytes = 0, fields = 0;
  // Lines that could be boundaries: each may start a part, and mimetic builds
  // every part before dmarq can count them. Text bodies rarely have many "--"
  // lines, so four times the part limit still bounds the work.
  std::size_t dash_lines = 0;
  while (pos < raw.size()) {
    std::size_t eol = raw.find('\n', pos);
    if (eol == std::string_view::npos) eol = raw.size();
    std::string_view line = raw.substr(pos, eol - pos);
    ++line_no;
    if (in_header) {
      bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
      field_bytes = continuation ? field_bytes + line.size() : line.size();
      if (!continuation && !line.empty() && ++fields > limits.max_header_fields)
        return Issue{"mime.too_many_headers", Severity::error,
                     fmt::format("more than {} header fields in one header block", limits.max_header_fields),
                     fmt::format("line {}", line_no)};
    }
    if (in_header) {
      if (line.empty()) {
        in_header = false;
        fields = 0;
      } else if (field_bytes > limits.max_header_line) {
        return Issue{"mime.header_too_long", Severity::error,
                     fmt::format("header field longer than {} bytes (unfolded)", limits.max_header_line),
                     fmt::format("line {}", line_no)};
      } else {
        for (std::size_t at = 0; at + 8 <= line.size(); ++at)
          if ((line[at] | 0x20) == 'b' && util::iequals(line.substr(at, 8), "boundary") &&
              ++boundaries > kMaxBoundaries)
            return Issue{"mime.too_deep", Severity::error,
                         fmt::format("more than {} multipart boundaries", kMaxBoundaries),
                         fmt::format("line {}", line_no)};
      }
    } else if (line.size() >= 2 && line[0] == '-' && line[1] == '-') {
      in_header = true;
      field_bytes = fields = 0;
      if (++dash_lines > 4 * limits.max_mime_parts)
        return Issue{"mime.too_many_parts", Severity::error,
                     fmt::format("more than {} boundary lines (at most {} MIME parts are read)",
                                 4 * limits.max_mime_parts, limits.max_mime_parts),
                     fmt::format("line {}", line_no)};
    }
    pos = eol + 1;
  }
  // message/rfc822 nests without any boundary, and its headers follow a
  // blank line rather than a "--" line: count the subtype anywhere, in any
  // case, wherever a "/" (white space allowed) comes before it. Not the
  // "rfc822;" address type of a delivery-status part, which comes after ":"
  // (a DSN with 31 recipients has 62 of those).
  std::size_t embedded = 0;
  for (std::size_t at = raw.find("822"); at != std::string_view::npos; at = raw.find("822", at + 3)) {
    if (at < 3 || !util::iequals(raw.substr(at - 3, 3), "rfc")) continue;
    std::size_t before = at - 3;
    while (before > 0 && (raw[before - 1] == ' ' || raw[before - 1] == '\t')) --before;
    if (before > 0 && raw[before - 1] == '/' && ++embedded + boundaries > kMaxBoundaries)
      return Issue{"mime.too_deep", Severity::error,
                   fmt::format("more than {} multipart boundaries and embedded messages", kMaxBoundaries), ""};
  }
  return std::nullopt;
}

// Turns CRLF and bare CR into LF. mimetic mis-sizes a block that ends in a
// lone CR before a boundary (it throws std::length_error half-way through
// building the tree, and leaks the parts built so far; found by fuzzing).
// Line ends are CRLF, LF or a bare CR in real mail; all become LF here, which
// MIME allows us to do to every body we decode (base64, quoted-printable and
// text). Returns `input` itself when it has no CR, else a view of `storage`.
inline std::string_view normalize_line_ends(std::string_view input, std::string& storage) {
  if (input.find('\r') == std::string_view::npos) return input;
  storage.clear();
  storage.reserve(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    if (c == '\r') {
      storage.push_back('\n');
      if (i + 1 < input.size() && input[i + 1] == '\n') ++i;
    } else {
      storage.push_back(c);
    }
  }
  return storage;
}

// The size check (before any copy), line-end normalisation and precheck that
// come before mimetic, then the mbox "From " separator line, which is not a
// header field, is cut. On success `raw` is what to hand to mimetic (a view
// of `input` or of `storage`).
inline std::optional<model::Issue> prepare_input(std::string_view input, const Limits& limits, std::string& storage,
                                                 std::string_view& raw) {
  if (input.size() > limits.max_message_bytes)
    return model::Issue{"mime.too_large", model::Severity::error,
                        fmt::format("message is {} bytes, above the limit of {}", input.size(),
                                    limits.max_message_bytes),
                        ""};
  raw = normalize_line_ends(input, storage);
  if (auto problem = precheck(raw, limits)) return problem;
  if (raw.substr(0, 5) == "From ") {
    std::size_t eol = raw.find('\n');
    raw = eol == std::string_view::npos ? std::string_view{} : raw.substr(eol + 1);
  }
  return std::nullopt;
}

inline std::string lower(std::string_view s) { return util::to_lower_ascii(s); }

// "type/subtype" in lower case, "text/plain" when absent (RFC 2045 5.2).
inline std::string media_type(const mimetic::ContentType& ct) {
  std::string type = lower(ct.type());
  return type.empty() ? "text/plain" : type + "/" + lower(ct.subtype());
}

// Base64 decoding by hand, table-driven: mimetic's decoder appends one byte
// at a time and OpenSSL's EVP_DecodeUpdate still took 8% of extraction. This
// one skips CR, LF, space and TAB, stops at '=' padding, and returns false on
// any other byte outside the alphabet, leaving such bodies to mimetic's
// lenient decoder.
inline bool decode_base64_fast(std::string_view in, std::string& out) {
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

inline std::string decode_body(const mimetic::MimeEntity& e) {
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

}  // namespace dmarq::mime::detail
