// Ingester: one raw message in, its reports committed, its outcome out.
//
// Recognises the input by content: a bare zip, gzip or XML report, or an
// e-mail whose MIME parts (at any depth) carry reports. Every report part is
// unpacked and streamed through the XML parser into the store inside one
// transaction per message. A bad part is rejected on its own (recorded with
// its reason and position) and the message's other reports are kept.
//
// Outcomes: ok (every report stored or already known), partial (some parts
// rejected, others stored), rejected (nothing usable), duplicate (the same
// bytes were ingested before: nothing is done). Environment failures
// (store errors) propagate as store::StoreError after rolling back.
#pragma once

#include <string>

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
  model::Issues issues;     // warnings and errors, each with where
  std::vector<store::Reject> rejects;
};

class Ingester {
 public:
  Ingester(store::Store& store, const Limits& limits) : store_(store), limits_(limits) {}

  // `now` is our clock (seconds since the epoch, UTC); reports never set it.
  Result ingest(const source::RawMessage& message, int64_t now);

 private:
  store::Store& store_;
  Limits limits_;
};

}  // namespace dmarq::ingest
