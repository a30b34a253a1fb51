#include "dmarq/mime/tree.h"

#include <memory>

#include <fmt/format.h>

#include "dmarq/util/text.h"
#include "mime/detail.h"

namespace dmarq::mime {
namespace {

using detail::lower;
using model::Issue;
using model::Severity;

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && (is_wsp(s.front()) || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_wsp(s.back()) || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// mimetic has already unfolded (a line break and the blanks after it become
// one space); only the ends are left to trim.
Header header_of(const mimetic::Header& h) {
  Header out;
  out.fields.reserve(h.size());
  for (const auto& f : h) out.fields.push_back(Field{f.name(), std::string(trim_wsp(f.value()))});
  return out;
}

struct Builder {
  const Limits& limits;
  model::Issues& issues;
  std::size_t entities = 0;
  bool too_deep = false, too_many = false;

  // Fills `out` from `e`. `section` is the IMAP section of `e` as scan_message
  // numbers leaves: parts of a multipart at S are S.1, S.2 (1, 2 at the top);
  // the message inside a message/rfc822 part at S is numbered S when it is
  // multipart (its parts are S.1, ...) and S.1 when it is a single part.
  void entity(const mimetic::MimeEntity& e, Entity& out, const std::string& section, int depth) {
    const mimetic::Header& h = e.header();
    const mimetic::ContentType& ct = h.contentType();
    out.header = header_of(h);
    out.content_type = detail::media_type(ct);
    out.charset = lower(util::trim_xml_space(ct.param("charset")));
    out.section = section;
    const auto& parts = e.body().parts();
    bool multipart = out.content_type.starts_with("multipart/");
    bool rfc822 = out.content_type == "message/rfc822";
    if (!multipart && !(rfc822 && !parts.empty())) {
      out.body = detail::decode_body(e);
      return;
    }
    if (depth >= limits.max_mime_depth) {
      if (!too_deep)
        issues.push_back(Issue{"mime.too_deep", Severity::error,
                               fmt::format("MIME parts nested deeper than {}", limits.max_mime_depth), section});
      too_deep = true;
      return;
    }
    std::size_t n = 0;
    for (const auto* child : parts) {
      if (!child) continue;
      // An attached message that still starts with its mbox "From " line
      // (Yahoo's and AOL's feedback loops attach them so) has, for mimetic,
      // no header and that line as its first body line: read it again
      // without the line, checked as the whole message was.
      std::unique_ptr<mimetic::MimeEntity> reparsed;
      if (rfc822 && child->header().empty() && std::string_view(child->body()).substr(0, 5) == "From ") {
        std::string_view rest = child->body();
        auto eol = rest.find('\n');
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
        if (auto problem = detail::precheck(rest, limits)) {
          problem->where = section;
          issues.push_back(*problem);
          return;
        }
        reparsed = std::make_unique<mimetic::MimeEntity>(rest.begin(), rest.end());
        child = reparsed.get();
      }
      if (++entities > limits.max_mime_parts) {
        if (!too_many)
          issues.push_back(Issue{"mime.too_many_parts", Severity::error,
                                 fmt::format("more than {} MIME parts", limits.max_mime_parts), section});
        too_many = true;
        return;
      }
      ++n;
      std::string child_section;
      if (multipart) {
        child_section = section.empty() ? std::to_string(n) : section + "." + std::to_string(n);
      } else {
        // The encapsulated message is not numbered itself (RFC 3501 6.4.5).
        child_section = child->header().contentType().isMultipart() ? section : section + ".1";
      }
      out.children.emplace_back();
      entity(*child, out.children.back(), child_section, depth + 1);
      if (rfc822) break;  // one message per message/rfc822 part
    }
  }
};

}  // namespace

std::optional<std::string_view> Header::get(std::string_view name) const {
  for (const auto& f : fields)
    if (util::iequals(f.name, name)) return std::string_view(f.value);
  return std::nullopt;
}

std::vector<std::string_view> Header::all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields)
    if (util::iequals(f.name, name)) out.emplace_back(f.value);
  return out;
}

Tree parse_tree(std::string_view input, const Limits& limits) {
  Tree tree;
  std::string storage;
  std::string_view raw;
  if (auto problem = detail::prepare_input(input, limits, storage, raw)) {
    tree.issues.push_back(*problem);
    return tree;
  }
  // Const: mimetic's non-const contentType() adds a Content-Type field.
  const mimetic::MimeEntity top(raw.begin(), raw.end());
  Builder builder{limits, tree.issues};
  builder.entity(top, tree.root, top.header().contentType().isMultipart() ? "" : "1", 0);
  if (tree.root.header.fields.empty())
    tree.issues.push_back(Issue{"mime.no_header", Severity::error, "no header fields: not a message", ""});
  return tree;
}

std::vector<Header> parse_field_groups(std::string_view input) {
  std::string storage;
  std::string_view body = detail::normalize_line_ends(input, storage);
  std::vector<Header> groups;
  Header current;
  auto close_group = [&] {
    if (!current.fields.empty()) groups.push_back(std::move(current));
    current = Header{};
  };
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos) eol = body.size();
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 1;
    std::string_view trimmed = trim_wsp(line);
    if (trimmed.empty()) {
      // A blank line, or one of only spaces (seen in the wild where a blank
      // line was meant), ends the group.
      close_group();
    } else if (is_wsp(line.front())) {
      // Unfolding: a continuation joins the field before it with one space,
      // as mimetic does for the header.
      if (!current.fields.empty()) {
        auto& value = current.fields.back().value;
        if (!value.empty()) value += ' ';
        value += trimmed;
      }
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      // A name has no white space inside (RFC 5322 2.2): that keeps an mbox
      // "From " line out of a header copied as text.
      std::string_view name = trim_wsp(line.substr(0, colon));
      if (!name.empty() && name.find_first_of(" \t") == std::string_view::npos)
        current.fields.push_back(Field{std::string(name), std::string(trim_wsp(line.substr(colon + 1)))});
    }
    // Any other line (no colon) is not a field: skipped.
  }
  close_group();
  return groups;
}

}  // namespace dmarq::mime
