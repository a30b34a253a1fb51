// Fuzz target: bytes from an IMAP server, parsed response after response as a
// client would, plus the modified UTF-7 mailbox names a server sends. Built
// as a libFuzzer target with clang (-DDMARQ_FUZZ=ON) and, with GCC, as a
// replayer over tests/data/imap (see replay_main.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dmarq/imap/response.h"

namespace {

void expect(bool ok) {
  if (!ok) __builtin_trap();
}

// Small limits keep single runs fast and let the fuzzer reach every limit.
dmarq::imap::ParserLimits fuzz_limits() {
  dmarq::imap::ParserLimits limits;
  limits.max_line = 4096;
  limits.max_literal = 1u << 20;
  limits.max_response = 2u << 20;
  limits.max_values = 2000;
  limits.max_depth = 16;
  return limits;
}

// Values nest no deeper than the limit allows (lists at depth 1..max_depth).
bool depth_ok(const dmarq::imap::Value& v, std::size_t depth, std::size_t max_depth) {
  if (v.type != dmarq::imap::Value::Type::list) return true;
  if (depth > max_depth) return false;
  for (const auto& item : v.items)
    if (!depth_ok(item, depth + 1, max_depth)) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dmarq::imap::ParseResult;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto limits = fuzz_limits();

  std::string_view rest = bytes;
  while (!rest.empty()) {
    const ParseResult r = dmarq::imap::parse_response(rest, limits);
    if (r.status == ParseResult::Status::incomplete) {
      expect(r.need > rest.size());
      // A prefix of an incomplete buffer is incomplete too (or already wrong).
      const auto shorter = dmarq::imap::parse_response(rest.substr(0, rest.size() / 2), limits);
      expect(shorter.status != ParseResult::Status::complete);
      break;
    }
    if (r.status == ParseResult::Status::error) {
      expect(!r.error.empty());
      break;
    }
    expect(r.consumed > 0 && r.consumed <= rest.size() && r.consumed <= limits.max_response);
    expect(rest[r.consumed - 1] == '\n');
    for (const auto& v : r.response.data) expect(depth_ok(v, 1, limits.max_depth));
    // Parsing is pure: the response alone parses the same way.
    const ParseResult again = dmarq::imap::parse_response(rest.substr(0, r.consumed), limits);
    expect(again.status == ParseResult::Status::complete && again.consumed == r.consumed);
    rest.remove_prefix(r.consumed);
  }

  if (auto decoded = dmarq::imap::decode_mailbox(bytes)) {
    const std::string encoded = dmarq::imap::encode_mailbox(*decoded);
    const auto round = dmarq::imap::decode_mailbox(encoded);
    expect(round && *round == *decoded);
  }
  // Whatever we encode, even from invalid UTF-8 (which becomes U+FFFD), decodes.
  expect(dmarq::imap::decode_mailbox(dmarq::imap::encode_mailbox(bytes)).has_value());
  // Whatever quote() accepts comes back unchanged through the parser.
  if (auto quoted = dmarq::imap::quote(bytes); quoted && quoted->size() < limits.max_line - 16) {
    const ParseResult r = dmarq::imap::parse_response("* X " + *quoted + "\r\n", limits);
    expect(r.status == ParseResult::Status::complete && r.response.data.size() == 1 &&
           r.response.data[0].type == dmarq::imap::Value::Type::string && r.response.data[0].text == bytes);
  }
  return 0;
}
