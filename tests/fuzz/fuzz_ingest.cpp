// Fuzz target: one input through the whole extraction (sniffing, MIME,
// zip/gzip, XML), the path every untrusted byte takes. Built as a libFuzzer
// target with clang (-DDMARQ_FUZZ=ON) and, with GCC, as a replayer that runs
// the files given on the command line (see replay_main.cpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "dmarq/ingest/extractor.h"

namespace {

// Counts what comes out and checks the operation stream's grammar.
struct CheckingSink final : dmarq::ingest::OpSink {
  int depth = 0;  // 0 outside a message, 1 inside, 2 inside a report
  void expect(bool ok) {
    if (!ok) __builtin_trap();
  }
  void begin_message(const dmarq::store::MessageInfo&, bool) override {
    expect(depth == 0);
    depth = 1;
  }
  void begin_report(const dmarq::model::ReportMeta&, const std::string&) override {
    expect(depth == 1);
    depth = 2;
  }
  void record(dmarq::model::Record&) override { expect(depth == 2); }
  void end_report(const dmarq::model::ReportMeta&) override {
    expect(depth == 2);
    depth = 1;
  }
  void abort_report() override {
    expect(depth == 2);
    depth = 1;
  }
  void reject(const dmarq::store::Reject& r) override {
    expect(depth == 1);
    expect(!r.reason.empty());
  }
  void warning(const dmarq::model::Issue&) override { expect(depth >= 1); }
  void feedback(const dmarq::model::Feedback& f) override {
    expect(depth == 1);
    expect(!f.kind.empty());
  }
  void bounce(const dmarq::model::Bounce& b) override {
    expect(depth == 1);
    expect(!b.recipients.empty());
  }
  void kind(const std::string& k) override {
    expect(depth == 1 && !kinded && !k.empty());
    kinded = true;
  }
  void end_message() override {
    expect(depth == 1 && kinded);
    depth = 0;
    kinded = false;
  }
  bool kinded = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dmarq::source::RawMessage msg;
  msg.bytes.assign(reinterpret_cast<const char*>(data), size);
  msg.origin = "fuzz";
  dmarq::Limits limits;
  limits.max_ratio = 100;  // keep single runs fast
  limits.max_entry_bytes = 16u << 20;
  CheckingSink sink;
  dmarq::ingest::extract(msg, 0, limits, sink);
  return 0;
}
