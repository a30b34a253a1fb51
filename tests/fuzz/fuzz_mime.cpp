// Fuzz target: bytes as an e-mail, through both MIME readers (scan_message
// for report attachments, parse_tree for feedback and bounces) and through
// parse_field_groups as a delivery-status body. Checks the section numbers,
// the limits, and that the two readers agree on the leaves when neither hit
// a limit. Built as a libFuzzer target with clang (-DDMARQ_FUZZ=ON) and, with
// GCC, as a replayer (see replay_main.cpp).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/mime/message.h"
#include "dmarq/mime/tree.h"

namespace {

using dmarq::model::Issues;

void expect(bool ok) {
  if (!ok) __builtin_trap();
}

// A short header line limit, so that the fuzzer reaches it; depth and parts
// stay at their defaults, where mimetic's own recursion is guarded.
dmarq::Limits fuzz_limits() {
  dmarq::Limits limits;
  limits.max_header_line = 4096;
  return limits;
}

void check_issues(const Issues& issues) {
  for (const auto& i : issues) expect(!i.code.empty() && !i.message.empty());
}

// "1", "2.1", "3.2.1": numbers from 1, joined by dots.
bool is_section(std::string_view s) {
  if (s.empty()) return false;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t dot = s.find('.', pos);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view n = s.substr(pos, dot - pos);
    if (n.empty() || n.front() == '0') return false;
    for (char c : n)
      if (c < '0' || c > '9') return false;
    pos = dot + 1;
  }
  return true;
}

bool is_lower_media_type(std::string_view t) {
  if (t.find('/') == std::string_view::npos) return false;
  for (char c : t)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

bool is_leaf(const dmarq::mime::Entity& e) {
  return !e.content_type.starts_with("multipart/") && !(e.content_type == "message/rfc822" && !e.children.empty());
}

// Walks the tree: returns the entity count and collects the leaves' sections.
std::size_t check_entity(const dmarq::mime::Entity& e, int depth, const dmarq::Limits& limits,
                         std::vector<std::string>& leaves) {
  expect(depth <= limits.max_mime_depth);
  expect(is_lower_media_type(e.content_type));
  expect(e.section.empty() || is_section(e.section));
  if (e.content_type.starts_with("multipart/")) expect(e.body.empty());
  if (e.content_type == "message/rfc822") expect(e.children.size() <= 1);
  if (!e.content_type.starts_with("multipart/") && e.content_type != "message/rfc822") expect(e.children.empty());
  if (is_leaf(e)) {
    expect(!e.section.empty());
    leaves.push_back(e.section);
  }
  std::size_t n = 1;
  for (const auto& c : e.children) n += check_entity(c, depth + 1, limits, leaves);
  return n;
}

void check_field_groups(std::string_view body) {
  for (const auto& group : dmarq::mime::parse_field_groups(body)) {
    expect(!group.fields.empty());
    for (const auto& f : group.fields) {
      expect(!f.name.empty() && f.name.find_first_of(" \t\r\n:") == std::string::npos);
      // Unfolded and trimmed: one line, no blanks at either end.
      expect(f.value.find_first_of("\r\n") == std::string::npos);
      expect(f.value.empty() || (f.value.front() != ' ' && f.value.front() != '\t' && f.value.back() != ' ' &&
                                 f.value.back() != '\t'));
      expect(group.get(f.name).has_value());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const dmarq::Limits limits = fuzz_limits();

  const dmarq::mime::ScannedMessage scanned = dmarq::mime::scan_message(bytes, limits);
  check_issues(scanned.issues);
  expect(scanned.parts.size() <= limits.max_mime_parts);
  std::set<std::string_view> seen;
  for (const auto& part : scanned.parts) {
    // Every part has its IMAP section, and no two parts share one.
    expect(is_section(part.section));
    expect(seen.insert(part.section).second);
    expect(is_lower_media_type(part.content_type));
  }

  const dmarq::mime::Tree tree = dmarq::mime::parse_tree(bytes, limits);
  check_issues(tree.issues);
  std::vector<std::string> leaves;
  if (tree.root.content_type.empty()) {
    // Nothing was read: only when a limit stopped the message before mimetic.
    expect(dmarq::model::has_error(tree.issues) && tree.root.children.empty());
  } else {
    const std::size_t entities = check_entity(tree.root, 0, limits, leaves);
    expect(entities <= limits.max_mime_parts + 1);  // the root is not counted
  }
  // Both readers number the same leaves the same way, unless one of them
  // stopped at a limit (they count depth and parts differently) or the
  // tree re-read an attached message that starts with an mbox "From " line
  // (scan_message does not; such a line follows a line end).
  if (!dmarq::model::has_error(scanned.issues) && !dmarq::model::has_error(tree.issues) &&
      bytes.find("\nFrom ") == std::string_view::npos && bytes.find("\rFrom ") == std::string_view::npos) {
    expect(leaves.size() == scanned.parts.size());
    for (std::size_t i = 0; i < leaves.size() && i < scanned.parts.size(); ++i)
      expect(leaves[i] == scanned.parts[i].section);
  }

  check_field_groups(bytes);
  return 0;
}
