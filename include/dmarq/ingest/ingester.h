// Ingesting messages into a Store, one transaction per message.
//
// Loader applies an operation stream to the store and tells what happened:
//   ok        every report stored or already known,
//   partial   some parts rejected, the others stored,
//   rejected  nothing usable (the reasons are recorded),
//   duplicate the same bytes were ingested before: nothing is done.
// Ingester runs extraction and loading in the calling thread; the
// PipelinedIngester (pipeline.h) runs them on two.
// Environment failures (store errors) propagate as store::StoreError after
// the message's transaction is rolled back.
#pragma once

#include <string>
#include <vector>

#include "dmarq/ingest/ops.h"
#include "dmarq/limits.h"
#include "dmarq/model/issue.h"
#include "dmarq/source/sources.h"
#include "dmarq/store/store.h"

namespace dmarq::ingest {

enum class Outcome { ok, partial, rejected, duplicate };

struct Result {
  Outcome outcome = Outcome::ok;
  uint64_t reports_new = 0;
  uint64_t reports_duplicate = 0;
  uint64_t records = 0;
  model::Issues issues;  // warnings and errors, each with where
  std::vector<store::Reject> rejects;
  std::string kind;      // what the message was (see OpSink::kind)
  uint64_t feedback = 0, bounced_recipients = 0;
};

class Loader final : public OpSink {
 public:
  explicit Loader(store::Store& store) : store_(store) {}

  void begin_message(const store::MessageInfo& info, bool readable) override;
  void begin_report(const model::ReportMeta& meta, const std::string& part) override;
  void record(model::Record& record) override;
  void end_report(const model::ReportMeta& meta) override;
  void abort_report() override;
  void reject(const store::Reject& reject) override;
  void warning(const model::Issue& issue) override;
  void feedback(const model::Feedback& feedback) override;
  void bounce(const model::Bounce& bounce) override;
  void kind(const std::string& kind) override;
  void end_message() override;

  // The last message's result, valid after end_message.
  const Result& result() const { return result_; }
  // Rolls back a message that was begun and not ended (after an exception);
  // does nothing when no message is open.
  void abandon() noexcept;

 private:
  store::Store& store_;
  Result result_;
  bool skip_ = false;      // duplicate message: ignore its operations
  uint64_t report_records_ = 0;
  std::size_t completed_ = 0;
};

class Ingester {
 public:
  Ingester(store::Store& store, const Limits& limits) : loader_(store), limits_(limits) {}
  Result ingest(const source::RawMessage& message, int64_t now);

 private:
  Loader loader_;
  Limits limits_;
};

}  // namespace dmarq::ingest
