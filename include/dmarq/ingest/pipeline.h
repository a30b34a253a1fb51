// PipelinedIngester: extraction (MIME, unpacking, XML) on the calling thread,
// loading into the store on a second thread, joined by a bounded queue.
//
// Messages are committed in the order they were submitted; `on_done` runs on
// the loading thread right after each message's commit (or after it was
// found a duplicate), which is where the caller may move the message out of
// its folder. Memory stays bounded: the queue holds a fixed number of
// batches of operations, and each batch's buffers are reused.
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

  PipelinedIngester(store::Store& store, const Limits& limits, OnDone on_done);
  ~PipelinedIngester();
  PipelinedIngester(const PipelinedIngester&) = delete;
  PipelinedIngester& operator=(const PipelinedIngester&) = delete;

  void submit(const source::RawMessage& message, int64_t now);
  // Waits until every submitted message is committed; rethrows a failure.
  void finish();
  // CPU seconds the loading thread used (valid after finish()).
  double loader_cpu_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dmarq::ingest
