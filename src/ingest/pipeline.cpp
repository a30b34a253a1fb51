#include "dmarq/ingest/pipeline.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "dmarq/ingest/extractor.h"
#include "dmarq/util/cpu_time.h"

namespace dmarq::ingest {
namespace {

enum class OpKind { begin_message, begin_report, record, end_report, abort_report, reject, warning, end_message };

// One operation. Slots are reused batch after batch, so copy-assignment into
// them keeps the strings' capacity and the steady state allocates little.
struct Op {
  OpKind kind = OpKind::record;
  store::MessageInfo info;
  bool readable = true;
  model::ReportMeta meta;
  std::string part;
  model::Record record;
  store::Reject reject;
  model::Issue issue;
  source::RawMessage message;  // origin and index only
};

struct Batch {
  std::vector<Op> ops;
  std::size_t size = 0;
};


constexpr std::size_t kBatchOps = 512;
constexpr std::size_t kBatches = 8;

}  // namespace

struct PipelinedIngester::Impl final : OpSink {
  Loader loader;
  Limits limits;
  OnDone on_done;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch*> full, free;
  std::vector<std::unique_ptr<Batch>> batches;
  bool closing = false;
  std::exception_ptr failure;
  std::thread worker;
  double loader_cpu = 0;

  Batch* current = nullptr;
  const source::RawMessage* submitting = nullptr;

  Impl(store::Store& store, const Limits& l, OnDone done) : loader(store), limits(l), on_done(std::move(done)) {
    for (std::size_t i = 0; i < kBatches; ++i) {
      batches.push_back(std::make_unique<Batch>());
      batches.back()->ops.resize(kBatchOps);
      free.push_back(batches.back().get());
    }
    worker = std::thread([this] {
      pthread_setname_np(pthread_self(), "dmarq-load");  // for top and perf
      consume();
      loader_cpu = util::thread_cpu_seconds();
    });
  }

  // --- producer side (OpSink) ---------------------------------------------------

  Op& next(OpKind kind) {
    if (!current) current = take_free();
    Op& op = current->ops[current->size++];
    op.kind = kind;
    return op;
  }

  void push_if_full() {
    if (current && current->size == kBatchOps) push();
  }

  Batch* take_free() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !free.empty() || failure; });
    if (failure) std::rethrow_exception(failure);
    Batch* b = free.front();
    free.pop_front();
    b->size = 0;
    return b;
  }

  void push() {
    if (!current) return;
    {
      std::lock_guard lock(mu);
      full.push_back(current);
    }
    current = nullptr;
    cv.notify_all();
  }

  void begin_message(const store::MessageInfo& info, bool readable) override {
    Op& op = next(OpKind::begin_message);
    op.info = info;
    op.readable = readable;
    push_if_full();
  }
  void begin_report(const model::ReportMeta& meta, const std::string& part) override {
    Op& op = next(OpKind::begin_report);
    op.meta = meta;
    op.part = part;
    push_if_full();
  }
  void record(const model::Record& record) override {
    next(OpKind::record).record = record;
    push_if_full();
  }
  void end_report(const model::ReportMeta& meta) override {
    next(OpKind::end_report).meta = meta;
    push_if_full();
  }
  void abort_report() override {
    next(OpKind::abort_report);
    push_if_full();
  }
  void reject(const store::Reject& reject) override {
    next(OpKind::reject).reject = reject;
    push_if_full();
  }
  void warning(const model::Issue& issue) override {
    next(OpKind::warning).issue = issue;
    push_if_full();
  }
  void end_message() override {
    Op& op = next(OpKind::end_message);
    op.message.origin = submitting->origin;
    op.message.index = submitting->index;
    op.message.read_error = submitting->read_error;
    push_if_full();
  }

  // --- consumer side --------------------------------------------------------------

  void apply(Op& op) {
    switch (op.kind) {
      case OpKind::begin_message: loader.begin_message(op.info, op.readable); break;
      case OpKind::begin_report: loader.begin_report(op.meta, op.part); break;
      case OpKind::record: loader.record(op.record); break;
      case OpKind::end_report: loader.end_report(op.meta); break;
      case OpKind::abort_report: loader.abort_report(); break;
      case OpKind::reject: loader.reject(op.reject); break;
      case OpKind::warning: loader.warning(op.issue); break;
      case OpKind::end_message:
        loader.end_message();
        if (on_done) on_done(op.message, loader.result());
        break;
    }
  }

  void consume() {
    for (;;) {
      Batch* b = nullptr;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !full.empty() || closing; });
        if (full.empty()) return;  // closing and drained
        b = full.front();
        full.pop_front();
      }
      try {
        for (std::size_t i = 0; i < b->size; ++i) apply(b->ops[i]);
      } catch (...) {
        loader.abandon();
        std::lock_guard lock(mu);
        failure = std::current_exception();
        free.push_back(b);
        cv.notify_all();
        return;
      }
      {
        std::lock_guard lock(mu);
        free.push_back(b);
      }
      cv.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      closing = true;
    }
    cv.notify_all();
    if (worker.joinable()) worker.join();
  }
};

PipelinedIngester::PipelinedIngester(store::Store& store, const Limits& limits, OnDone on_done)
    : impl_(std::make_unique<Impl>(store, limits, std::move(on_done))) {}

PipelinedIngester::~PipelinedIngester() {
  // Without finish() (an exception on the producer side) the batches queued
  // so far are still applied: they are whole messages or end in a message
  // whose end never comes, which the loader rolls back.
  if (impl_->current) impl_->push();
  impl_->stop();
  impl_->loader.abandon();
}

void PipelinedIngester::submit(const source::RawMessage& message, int64_t now) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->failure) std::rethrow_exception(impl_->failure);
  }
  impl_->submitting = &message;
  extract(message, now, impl_->limits, *impl_);
  impl_->submitting = nullptr;
}

void PipelinedIngester::finish() {
  impl_->push();
  impl_->stop();
  if (impl_->failure) std::rethrow_exception(impl_->failure);
}

double PipelinedIngester::loader_cpu_seconds() const { return impl_->loader_cpu; }

}  // namespace dmarq::ingest
