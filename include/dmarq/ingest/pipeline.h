// PipelinedIngester: extraction (MIME, unpacking, XML) on one or more worker
// threads, loading into the store on one more, joined by bounded queues.
//
//   submit() --message k--> extractor (k mod N) --ops--> loader --> store
//
// Message k always goes to extractor k mod N and the loader takes messages
// in that same order, so messages are committed exactly in submission
// order whatever the number of extractors. `on_done` runs on the loading
// thread right after each message's commit (or after it was found a
// duplicate): that is where the caller may move the message out of its
// folder. Memory stays bounded: each extractor holds one message and a fixed
// number of reusable batches of operations.
//
// A store failure on the loading thread rolls that message back, stops the
// pipeline, and is rethrown from the next submit() or from finish().
#pragma once

#include <functional>
#include <memory>

#include "dmarq/ingest/ingester.h"

namespace dmarq::ingest {

class PipelinedIngester {
 public:
  // `msg` carries the origin and index (its bytes are already released).
  using OnDone = std::function<void(const source::RawMessage& msg, const Result& result)>;

  // `extractors` = 0 picks one per CPU (at most 4).
  PipelinedIngester(store::Store& store, const Limits& limits, OnDone on_done, unsigned extractors = 0);
  ~PipelinedIngester();
  PipelinedIngester(const PipelinedIngester&) = delete;
  PipelinedIngester& operator=(const PipelinedIngester&) = delete;

  // Hands the message to an extractor (waiting while it is busy).
  void submit(source::RawMessage message, int64_t now);
  // Waits until every submitted message is committed; rethrows a failure.
  void finish();
  // CPU seconds used by the extractor threads and by the loading thread
  // (valid after finish()).
  double extract_cpu_seconds() const;
  double loader_cpu_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dmarq::ingest
