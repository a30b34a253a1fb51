// PipelinedIngester: extraction (MIME, unpacking, XML) on one or more worker
// threads, loading into the store on one more, joined by bounded queues.
//
//   submit() --> inbox --> whichever extractor is free --ops--> loader --> store
//
// Extractors take messages from the inbox in submission order and the loader
// applies them in that same order (it knows which extractor took each), so
// messages are committed exactly in submission order whatever the number of
// extractors, while a large message on one extractor does not leave the
// others idle. `on_done` runs on the loading thread right after each
// message's commit (or after it was found a duplicate): that is where the
// caller may move the message out of its folder. Memory stays bounded: the
// inbox holds a few messages (a bounded number of bytes, or one message),
// each extractor one message and a fixed number of reusable batches of
// operations.
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

  // Queues the message for extraction (waiting while the inbox is full).
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
