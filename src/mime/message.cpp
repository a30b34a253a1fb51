#include "dmarq/mime/message.h"

#include <fmt/format.h>

#include "mime/detail.h"

namespace dmarq::mime {
namespace {

using detail::decode_body;
using detail::lower;
using model::Issue;
using model::Severity;

// RFC 5322 allows any printable but ':' in a field name; real first header
// fields use letters, digits and '-', and accepting more would take JSON
// ("{"a":1}") or other text for a message.
bool is_field_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
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
  std::string storage;
  std::string_view raw;
  if (auto problem = detail::prepare_input(input, limits, storage, raw)) {
    out.issues.push_back(*problem);
    return out;
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
