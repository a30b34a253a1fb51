// Fuzz target: bytes as an e-mail through parse_tree, is_auto_reply and
// parse_bounce (RFC 3464, non-standard text bounces, Amazon SES JSON), and
// split into action, status and diagnostic for classify_bounce. Checks what
// parse/bounce.h and model/feedback.h promise. Built as a libFuzzer target
// with clang (-DDMARQ_FUZZ=ON) and, with GCC, as a replayer (see
// replay_main.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dmarq/mime/tree.h"
#include "dmarq/parse/bounce.h"

namespace {

void expect(bool ok) {
  if (!ok) __builtin_trap();
}

bool is_class(std::string_view c) { return c == "hard" || c == "soft" || c == "policy" || c == "unknown"; }

bool is_lower(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

// RFC 3463: class "." subject "." detail, one digit then one to three each.
bool is_status(std::string_view s) {
  auto digits = [&](std::size_t& i, std::size_t max) {
    std::size_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++n;
    return n >= 1 && n <= max;
  };
  std::size_t i = 0;
  if (!digits(i, 1) || i >= s.size() || s[i++] != '.') return false;
  if (!digits(i, 3) || i >= s.size() || s[i++] != '.') return false;
  return digits(i, 3) && i == s.size();
}

bool has_delivery_status(const dmarq::mime::Entity& root) {
  bool found = false;
  dmarq::mime::walk(root, [&](const dmarq::mime::Entity& e) {
    found = found || e.content_type == "message/delivery-status" || e.content_type == "message/global-delivery-status";
  });
  return found;
}

void check_bounce(const dmarq::mime::Tree& tree, const dmarq::parse::BounceResult& result) {
  for (const auto& i : result.issues)
    expect(!i.code.empty() && !i.message.empty() && i.severity == dmarq::model::Severity::warning);
  if (!result.bounce) return;
  const auto& b = *result.bounce;
  expect(b.recipients.size() <= 1000);
  // A bounce whose recipients cannot be read says so.
  if (b.recipients.empty()) {
    bool said = false;
    for (const auto& i : result.issues) said = said || i.code == "bounce.no_recipients";
    expect(said);
  }
  if (b.rfc3464) expect(has_delivery_status(tree.root));
  bool all_succeeded = !b.recipients.empty();
  for (const auto& r : b.recipients) {
    expect(is_class(r.bounce_class));
    expect(is_lower(r.recipient) && is_lower(r.original_recipient) && is_lower(r.action));
    expect(r.status.empty() || is_status(r.status));
    all_succeeded = all_succeeded && (r.action == "delivered" || r.action == "relayed" || r.action == "expanded");
  }
  // A delivery-status part where every recipient got the mail is no bounce.
  if (b.rfc3464) expect(!all_succeeded);
}

// classify_bounce on the input cut into three fields at the first two NULs
// (or line ends): always a class, and the rules the header states hold.
void check_classify(std::string_view bytes) {
  auto cut = [&](std::string_view& rest) {
    std::size_t at = rest.find_first_of(std::string_view("\0\n", 2));
    std::string_view head = rest.substr(0, at);
    rest = at == std::string_view::npos ? std::string_view() : rest.substr(at + 1);
    return head;
  };
  std::string_view rest = bytes;
  const std::string_view action = cut(rest), status = cut(rest), diagnostic = rest;
  expect(is_class(dmarq::parse::classify_bounce(action, status, diagnostic)));
  // The action decides first, whatever the rest says.
  expect(dmarq::parse::classify_bounce(" Delivered ", status, diagnostic) == "unknown");
  expect(dmarq::parse::classify_bounce("relayed", status, diagnostic) == "unknown");
  expect(dmarq::parse::classify_bounce("DELAYED", status, diagnostic) == "soft");
  // Then a specific status code, whatever the diagnostic says.
  const std::string n = std::to_string(bytes.empty() ? 0 : static_cast<unsigned char>(bytes.back()) * 3);
  expect(dmarq::parse::classify_bounce("failed", "4." + n + ".1", diagnostic) == "soft");
  expect(dmarq::parse::classify_bounce("failed", "5.1." + n, diagnostic) == "hard");
  expect(dmarq::parse::classify_bounce("failed", "5.7." + n, diagnostic) == "policy");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const dmarq::mime::Tree tree = dmarq::mime::parse_tree(bytes, dmarq::Limits{});
  const bool auto_reply = dmarq::parse::is_auto_reply(tree);
  const dmarq::parse::BounceResult result = dmarq::parse::parse_bounce(tree);
  check_bounce(tree, result);
  // An auto-reply is never a bounce, and a multipart/report never an auto-reply.
  if (auto_reply) expect(!result.bounce);
  if (tree.root.content_type == "multipart/report") expect(!auto_reply);
  check_classify(bytes);
  return 0;
}
