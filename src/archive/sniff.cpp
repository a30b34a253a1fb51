#include "dmarq/archive/sniff.h"

#include <algorithm>
#include <cctype>

namespace dmarq::archive {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
}

}  // namespace

ContentKind sniff(std::string_view b) {
  if (starts_with(b, "\x1f\x8b")) return ContentKind::gzip;
  if (starts_with(b, "PK\x03\x04") || starts_with(b, "PK\x05\x06")) return ContentKind::zip;
  if (starts_with(b, "\x89PNG\r\n\x1a\n")) return ContentKind::png;
  if (starts_with(b, "%PDF-")) return ContentKind::pdf;

  std::string_view t = b;
  if (starts_with(t, "\xEF\xBB\xBF")) t.remove_prefix(3);  // UTF-8 BOM
  std::size_t i = 0;
  while (i < t.size() && i < 4096 && is_space(t[i])) ++i;
  if (i == t.size()) return ContentKind::empty;
  t.remove_prefix(i);
  if (t[0] == '{' || t[0] == '[') return ContentKind::json;
  if (iequals_prefix(t, "<!doctype html") || iequals_prefix(t, "<html")) return ContentKind::html;
  if (t[0] == '<') return ContentKind::xml;

  // Printable text (a human-readable part, a bounce) rather than binary data.
  std::size_t probe = std::min<std::size_t>(t.size(), 512), printable = 0;
  for (std::size_t k = 0; k < probe; ++k) {
    unsigned char c = static_cast<unsigned char>(t[k]);
    if (c >= 0x20 || is_space(static_cast<char>(c))) ++printable;
  }
  return printable == probe ? ContentKind::text : ContentKind::unknown;
}

std::string_view describe(ContentKind kind) {
  switch (kind) {
    case ContentKind::empty: return "empty";
    case ContentKind::zip: return "a zip archive";
    case ContentKind::gzip: return "gzip data";
    case ContentKind::xml: return "XML";
    case ContentKind::json: return "JSON (e.g. an SMTP TLS report)";
    case ContentKind::png: return "a PNG image";
    case ContentKind::pdf: return "a PDF document";
    case ContentKind::html: return "HTML";
    case ContentKind::text: return "plain text";
    case ContentKind::unknown: return "unrecognised data";
  }
  return "unrecognised data";
}

}  // namespace dmarq::archive
