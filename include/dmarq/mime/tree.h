// The MIME structure of a message as a tree, with every entity's header
// fields: what the feedback-loop, failure-report and bounce parsers need
// (the ARF feedback part, the attached original message's headers, a
// delivery-status part's per-recipient field groups).
//
// Built on the same limits as scan_message (size, header line length, nesting
// depth) and never throws for bad input: a broken message yields a tree with
// what could be read and an error Issue. Line ends may be CRLF, LF or bare
// CR; an mbox "From " line before the headers is skipped, also at the top of
// an attached message/rfc822 (Yahoo and AOL feedback loops attach them so).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/limits.h"
#include "dmarq/model/issue.h"

namespace dmarq::mime {

struct Field {
  std::string name;   // as written
  // Unfolded (each line break and the blanks after it become one space),
  // surrounding white space trimmed, raw (no RFC 2047 decoding).
  std::string value;
};

// Header fields in order; names compare case-insensitively.
struct Header {
  std::vector<Field> fields;
  // The first field called `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  // Every field called `name`, in order.
  std::vector<std::string_view> all(std::string_view name) const;
};

struct Entity {
  Header header;
  std::string content_type;  // lower case type/subtype; "text/plain" when absent
  std::string charset;       // lower case, if given
  // Leaves (message/feedback-report, message/delivery-status and
  // text/rfc822-headers included): decoded (base64, quoted-printable), line
  // ends LF. multipart/* and a parsed message/rfc822: empty.
  std::string body;
  std::vector<Entity> children;  // multipart parts, or the one message of a message/rfc822 part
  // IMAP body section, as scan_message numbers it: "" for a multipart root,
  // "1" for a single-part root; the message inside a message/rfc822 part S
  // is S when multipart (parts S.1, ...), else S.1.
  std::string section;
};

struct Tree {
  Entity root;
  // error when a limit was crossed (the tree then holds what was read before
  // it; nothing when the size or precheck limits fail) or there is no header.
  model::Issues issues;
};

Tree parse_tree(std::string_view raw, const Limits& limits);

// Header field groups of a message/delivery-status or message/feedback-report
// body (RFC 3464 / RFC 5965: blocks of fields separated by blank lines, or
// lines of only blanks). Line ends may be CRLF, LF or bare CR; lines that are
// neither a field nor a continuation are skipped.
std::vector<Header> parse_field_groups(std::string_view body);

// Visits `e` and its descendants depth-first (pre-order).
template <typename F>
void walk(const Entity& e, F&& f) {
  f(e);
  for (const auto& c : e.children) walk(c, f);
}

}  // namespace dmarq::mime
