// MIME walking: every leaf part of an RFC 5322 message, at any depth
// (multipart/*, message/rfc822), decoded from base64, quoted-printable, 7bit,
// 8bit or binary, and labelled with its IMAP body section (RFC 3501 6.4.5:
// "1" when the whole body is the part, "2.1" for the first part of the second
// part, ...).
//
// Limits are checked before mimetic sees the bytes: message size, header line
// length and the number of multipart levels (mimetic recurses once per level
// and is slow on very long header lines). A message that crosses one yields
// an error Issue and no parts. Never throws for bad input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dmarq/limits.h"
#include "dmarq/model/issue.h"

namespace dmarq::mime {

struct Part {
  std::string section;       // IMAP body section
  std::string content_type;  // declared, lower case, e.g. "application/zip"
  std::string filename;      // declared (Content-Disposition or name=), display only
  std::string bytes;         // decoded content
};

struct ScannedMessage {
  std::string subject;  // raw header value, display only
  std::string from;
  std::string message_id;
  std::vector<Part> parts;
  model::Issues issues;
};

// True when `bytes` starts like an RFC 5322 message (a header field or an
// mbox "From " line).
bool looks_like_message(std::string_view bytes);

ScannedMessage scan_message(std::string_view raw, const Limits& limits);

}  // namespace dmarq::mime
