// Fuzz target: bytes as an aggregate report document, streamed through
// AggregateXmlParser as ingest does after unpacking. Checks the handler's
// call order against the contract in aggregate_xml.h, the limits, and that
// the outcome and the issues agree. Built as a libFuzzer target with clang
// (-DDMARQ_FUZZ=ON) and, with GCC, as a replayer (see replay_main.cpp).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dmarq/parse/aggregate_xml.h"

namespace {

void expect(bool ok) {
  if (!ok) __builtin_trap();
}

// Few records and results so that the fuzzer reaches those limits with
// inputs of a few KB; the rest as in production.
dmarq::Limits fuzz_limits() {
  dmarq::Limits limits;
  limits.max_records = 200;
  limits.max_auth_results = 8;
  limits.max_text_bytes = 4096;
  return limits;
}

// Cannot come from a document: XML 1.0 has no U+0001.
constexpr std::string_view kTaken = "\x01taken";

struct CheckingHandler final : dmarq::parse::AggregateHandler {
  const dmarq::Limits& limits;
  bool begun = false, ended = false;
  uint64_t records = 0;

  explicit CheckingHandler(const dmarq::Limits& l) : limits(l) {}

  void begin_report(const dmarq::model::ReportMeta& meta) override {
    expect(!begun);
    begun = true;
    expect(meta.errors.size() <= limits.max_auth_results);
  }
  void record(dmarq::model::Record& r) override {
    expect(begun && !ended);
    ++records;
    expect(records <= limits.max_records);
    expect(r.dkim_results.size() <= limits.max_auth_results);
    expect(r.spf_results.size() <= limits.max_auth_results);
    expect(r.reasons.size() <= limits.max_auth_results);
    expect(r.source_ip_text.size() <= limits.max_text_bytes);
    // The address is the text, parsed; canonical, so it prints and reads back.
    expect(r.source_ip == (r.source_ip_text.empty() ? std::nullopt : dmarq::model::parse_ip(r.source_ip_text)));
    if (r.source_ip) expect(dmarq::model::parse_ip(r.source_ip->to_string()) == r.source_ip);
    // Nothing left over from a record the handler already took.
    expect(r.source_ip_text != kTaken && r.header_from != kTaken);
    for (const auto& d : r.dkim_results) expect(d.domain != kTaken);
    // Take the contents, as ingest does by swapping in a used record: the
    // parser must clear what it gets back before it reads the next record.
    r.source_ip_text = kTaken;
    r.header_from = kTaken;
    r.dkim_results.assign(1, dmarq::model::DkimResult{std::string(kTaken), {}, {}, {}});
  }
  void end_report(const dmarq::model::ReportMeta& meta) override {
    expect(begun && !ended);
    ended = true;
    // Only a report with an id and a date range is complete.
    expect(!meta.report_id.empty() && meta.has_date_range);
    expect(meta.report_id.size() <= limits.max_text_bytes);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const dmarq::Limits limits = fuzz_limits();
  CheckingHandler handler(limits);
  dmarq::parse::AggregateXmlParser parser(handler, limits);
  // Short reads of a size the input picks: the parser must not depend on how
  // its reader splits the bytes.
  dmarq::util::ViewReader reader(bytes, 1 + (size == 0 ? 0 : data[0] % 64) * 1024);
  const bool ok = parser.parse(reader);

  for (const auto& issue : parser.issues()) expect(!issue.code.empty() && !issue.message.empty());
  // true exactly when a complete report was delivered and nothing went wrong.
  expect(ok == !dmarq::model::has_error(parser.issues()));
  expect(ok == handler.ended);
  // One error at most (the parser stops at the first), and the warnings capped.
  std::size_t errors = 0;
  for (const auto& issue : parser.issues()) errors += issue.severity == dmarq::model::Severity::error;
  expect(errors <= 1 && (ok || errors == 1));
  expect(parser.issues().size() <= 52);
  // records() counts the one that crossed the limit too.
  expect(handler.records <= parser.records() && parser.records() <= handler.records + 1);
  return 0;
}
