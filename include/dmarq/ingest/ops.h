// The stream of operations that extracting one message produces, in order:
//   begin_message { begin_report record* (end_report | abort_report) | feedback | bounce | reject | warning }*
//   kind end_message
// The Extractor writes it; the Loader applies it to a Store. Between the two
// there may be nothing (Ingester) or a queue and a thread (PipelinedIngester).
#pragma once

#include <string>

#include "dmarq/model/aggregate.h"
#include "dmarq/model/feedback.h"
#include "dmarq/model/issue.h"
#include "dmarq/store/store.h"

namespace dmarq::ingest {

class OpSink {
 public:
  virtual ~OpSink() = default;
  // `readable` is false when the source could not read the bytes (the
  // message then only carries a reject).
  virtual void begin_message(const store::MessageInfo& info, bool readable) = 0;
  virtual void begin_report(const model::ReportMeta& meta, const std::string& part) = 0;
  // May take the record's contents (see parse::AggregateHandler::record).
  virtual void record(model::Record& record) = 0;
  virtual void end_report(const model::ReportMeta& meta) = 0;
  virtual void abort_report() = 0;
  // An input (whole message when part is empty) set aside, with its reason.
  virtual void reject(const store::Reject& reject) = 0;
  virtual void warning(const model::Issue& issue) = 0;
  virtual void feedback(const model::Feedback& feedback) = 0;
  virtual void bounce(const model::Bounce& bounce) = 0;
  // What the message was (aggregate, arf, failure, jmrp, bounce, auto_reply,
  // not_report); once, before end_message.
  virtual void kind(const std::string& kind) = 0;
  virtual void end_message() = 0;
};

}  // namespace dmarq::ingest
