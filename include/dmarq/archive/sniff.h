// Content sniffing: what a payload is, decided by its bytes, never by the
// name or media type it came with (those are display text; see QUIRKS.md for
// the mislabelled attachments real reporters send).
#pragma once

#include <string_view>

namespace dmarq::archive {

enum class ContentKind { empty, zip, gzip, xml, json, png, pdf, html, text, unknown };

ContentKind sniff(std::string_view bytes);

// "zip", "gzip", "XML", "a PNG image", ... for messages.
std::string_view describe(ContentKind kind);

}  // namespace dmarq::archive
