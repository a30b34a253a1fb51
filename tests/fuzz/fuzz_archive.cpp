// Fuzz target: bytes as a report payload, sniffed and unpacked (zip, gzip or
// plain) with every member read to its end, as ingest reads it. Checks that
// no member or archive yields more than the Limits allow, the MemberSink call
// order, the ByteReader contract, and that a failed read always comes with an
// error issue. Built as a libFuzzer target with clang (-DDMARQ_FUZZ=ON) and,
// with GCC, as a replayer (see replay_main.cpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/archive/sniff.h"
#include "dmarq/archive/unpack.h"

namespace {

using dmarq::archive::ContentKind;
using dmarq::model::Issues;

void expect(bool ok) {
  if (!ok) __builtin_trap();
}

// Small enough that a bomb is stopped after a few MB, which keeps single
// runs fast; entries as in production.
dmarq::Limits fuzz_limits() {
  dmarq::Limits limits;
  limits.max_entry_bytes = 16u << 20;
  limits.max_total_bytes = 24u << 20;
  limits.max_ratio = 100;
  return limits;
}

// unpack.cpp applies the ratio only above 1 MiB of output (kRatioFloor).
constexpr uint64_t kRatioFloor = 1u << 20;

void check_issues(const Issues& issues) {
  for (const auto& i : issues) expect(!i.code.empty() && !i.message.empty());
}

struct CheckingSink final : dmarq::archive::MemberSink {
  const dmarq::Limits& limits;
  std::string_view input;
  ContentKind kind;
  std::size_t members = 0;
  bool open = false;
  bool failed = false;  // the current member's reader returned -1
  uint64_t total = 0;
  std::string plain;  // what a plain member yielded
  std::vector<char> buf = std::vector<char>(64u << 10);

  CheckingSink(const dmarq::Limits& l, std::string_view in, ContentKind k) : limits(l), input(in), kind(k) {}

  void member(const std::string&, dmarq::util::ByteReader& reader) override {
    expect(!open);
    open = true;
    failed = false;
    ++members;
    uint64_t got = 0;
    // A 1-byte read first, then large ones: chunk boundaries must not matter.
    std::size_t want = 1;
    for (;;) {
      long n = reader.read(buf.data(), want);
      expect(n >= -1 && n <= static_cast<long>(want));
      if (n == -1) {
        failed = true;
        expect(reader.read(buf.data(), want) == -1);  // a failed reader stays failed
        break;
      }
      if (n == 0) {
        expect(reader.read(buf.data(), want) <= 0);  // the end stays the end
        break;
      }
      got += static_cast<uint64_t>(n);
      total += static_cast<uint64_t>(n);
      if (kind != ContentKind::zip && kind != ContentKind::gzip) plain.append(buf.data(), static_cast<std::size_t>(n));
      expect(got <= limits.max_entry_bytes);
      expect(total <= limits.max_total_bytes);
      expect(total <= std::max<uint64_t>(kRatioFloor, (limits.max_ratio + 1) * std::max<std::size_t>(input.size(), 1)));
      want = buf.size();
    }
  }

  void end_member(const Issues& issues) override {
    expect(open);
    open = false;
    check_issues(issues);
    // The member was read to its end, so it failed exactly when its reader
    // said so.
    expect(failed == dmarq::model::has_error(issues));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const dmarq::Limits limits = fuzz_limits();
  const ContentKind kind = dmarq::archive::sniff(bytes);
  expect(!dmarq::archive::describe(kind).empty());
  if (bytes.empty()) expect(kind == ContentKind::empty);

  CheckingSink sink(limits, bytes, kind);
  const Issues top = dmarq::archive::unpack(bytes, kind, limits, sink);
  check_issues(top);
  expect(!sink.open);
  if (kind == ContentKind::zip) {
    expect(sink.members <= limits.max_archive_entries);
    // No member at all is an archive-level error.
    if (sink.members == 0) expect(dmarq::model::has_error(top));
  } else {
    // gzip: the first member only; anything else passes through unchanged.
    expect(sink.members == 1 && top.empty());
    if (kind != ContentKind::gzip) expect(sink.plain == bytes);
  }
  return 0;
}
