#include "dmarq/ingest/pipeline.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "dmarq/ingest/extractor.h"
#include "dmarq/util/cpu_time.h"

namespace dmarq::ingest {
namespace {

enum class OpKind {
  begin_message, begin_report, record, end_report, abort_report, reject, warning, feedback, bounce, kind, end_message
};

// One operation. Slots are reused batch after batch: records are swapped in
// and out, other fields copy-assigned, so the strings keep their capacity and
// the steady state allocates little.
struct Op {
  OpKind kind = OpKind::record;
  store::MessageInfo info;
  bool readable = true;
  model::ReportMeta meta;
  std::string part;
  model::Record record;
  store::Reject reject;
  model::Issue issue;
  model::Feedback feedback;
  model::Bounce bounce;
  std::string message_kind;
  source::RawMessage message;  // origin and index only
};

struct Batch {
  std::vector<Op> ops;
  std::size_t size = 0;
};

constexpr std::size_t kBatchOps = 512;
// Enough output room for an extractor to run a few messages ahead while the
// loader is still on an earlier, larger one (a batch of records is a few
// hundred KB at most).
constexpr std::size_t kBatchesPerExtractor = 8;
// Messages read but not yet taken by an extractor: a few, and never more
// than kInboxBytes of them unless a single message is larger.
constexpr std::size_t kInboxMessages = 8;
constexpr std::size_t kInboxBytes = 8u << 20;

// Thrown inside an extractor to unwind it when the pipeline has failed.
// Deliberately not a std::exception, so that extract() does not take it for
// a problem with the input.
struct Stopped {};

}  // namespace

struct PipelinedIngester::Impl {
  // Everything guarded by `mu`. Each thread waits on a condition variable of
  // its own and is woken only by what it waits for: one variable for all
  // woke every thread on every batch, and the wake-ups showed in profiles.
  std::mutex mu;
  std::condition_variable submit_cv;  // the submitting thread: an input slot is free
  std::condition_variable load_cv;    // the loader: a batch is full, or an extractor is done
  std::exception_ptr failure;

  struct Extractor final : OpSink {
    Impl& pipe;
    std::thread thread;
    std::condition_variable wake;  // this extractor: a free batch
    // Output.
    std::deque<Batch*> full, free;
    std::vector<std::unique_ptr<Batch>> batches;
    bool done = false;
    Batch* current = nullptr;
    const source::RawMessage* message = nullptr;
    double cpu = 0;
    // Loader-side cursor into this extractor's output.
    Batch* reading = nullptr;
    std::size_t pos = 0;

    explicit Extractor(Impl& p) : pipe(p) {
      for (std::size_t i = 0; i < kBatchesPerExtractor; ++i) {
        batches.push_back(std::make_unique<Batch>());
        batches.back()->ops.resize(kBatchOps);
        free.push_back(batches.back().get());
      }
    }

    void run() {
      try {
        for (;;) {
          source::RawMessage msg;
          int64_t at;
          {
            std::unique_lock lock(pipe.mu);
            pipe.inbox_cv.wait(lock, [&] { return !pipe.inbox.empty() || pipe.closing || pipe.failure; });
            if (pipe.failure) break;
            if (pipe.inbox.empty()) break;  // closing and nothing left
            // Taking the message and saying who has it happen under one lock,
            // so `owners` is in submission order.
            msg = std::move(pipe.inbox.front().message);
            at = pipe.inbox.front().now;
            pipe.inbox_bytes -= msg.bytes.size();
            pipe.inbox.pop_front();
            pipe.owners.push_back(this);
          }
          pipe.submit_cv.notify_one();  // room in the inbox
          pipe.load_cv.notify_one();    // the loader may be waiting to learn who has it
          message = &msg;
          extract(msg, at, pipe.limits, *this);
          message = nullptr;
        }
        push();
      } catch (const Stopped&) {
      } catch (...) {
        pipe.fail(std::current_exception());
      }
      cpu = util::thread_cpu_seconds();
      {
        std::lock_guard lock(pipe.mu);
        done = true;
      }
      pipe.load_cv.notify_one();
    }

    Op& next(OpKind kind) {
      if (!current) {
        std::unique_lock lock(pipe.mu);
        wake.wait(lock, [&] { return !free.empty() || pipe.failure; });
        if (pipe.failure) throw Stopped{};
        current = free.front();
        free.pop_front();
        current->size = 0;
      }
      Op& op = current->ops[current->size++];
      op.kind = kind;
      return op;
    }
    void push_if_full() {
      if (current && current->size == kBatchOps) push();
    }
    void push() {
      if (!current) return;
      {
        std::lock_guard lock(pipe.mu);
        full.push_back(current);
      }
      current = nullptr;
      pipe.load_cv.notify_one();
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
    void record(model::Record& record) override {
      // A swap, not a copy: the slot's old record goes back to the parser,
      // which clears it and keeps its strings' capacity.
      swap(next(OpKind::record).record, record);
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
    void feedback(const model::Feedback& f) override {
      next(OpKind::feedback).feedback = f;
      push_if_full();
    }
    void bounce(const model::Bounce& b) override {
      next(OpKind::bounce).bounce = b;
      push_if_full();
    }
    void kind(const std::string& k) override {
      next(OpKind::kind).message_kind = k;
      push_if_full();
    }
    void end_message() override {
      Op& op = next(OpKind::end_message);
      op.message.origin = message->origin;
      op.message.index = message->index;
      op.message.read_error = message->read_error;
      // Hand the message over now: the loader should not wait for a full batch.
      push();
    }
  };

  // Input: messages not yet taken, and which extractor took each message
  // (owners[k - owners_base] for message k), so that the loader can take
  // them in submission order whoever extracted them.
  struct Pending {
    source::RawMessage message;
    int64_t now = 0;
  };
  std::deque<Pending> inbox;
  std::size_t inbox_bytes = 0;
  std::condition_variable inbox_cv;  // extractors: a message to take, or closing
  std::deque<Extractor*> owners;
  bool closing = false;

  Loader loader;
  Limits limits;
  OnDone on_done;
  std::vector<std::unique_ptr<Extractor>> extractors;
  std::thread load_thread;
  double loader_cpu = 0;
  std::size_t submitted = 0;
  bool stopped = false;

  Impl(store::Store& store, const Limits& l, OnDone done, unsigned n) : loader(store), limits(l), on_done(std::move(done)) {
    if (n == 0) n = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    for (unsigned i = 0; i < n; ++i) extractors.push_back(std::make_unique<Extractor>(*this));
    for (unsigned i = 0; i < n; ++i) {
      Extractor* e = extractors[i].get();
      e->thread = std::thread([e, i] {
        std::string name = "dmarq-extract" + std::to_string(i);  // for top and perf
        pthread_setname_np(pthread_self(), name.c_str());
        e->run();
      });
    }
    load_thread = std::thread([this] {
      pthread_setname_np(pthread_self(), "dmarq-load");
      load();
      loader_cpu = util::thread_cpu_seconds();
    });
  }

  void notify_everyone() {
    submit_cv.notify_all();
    load_cv.notify_all();
    inbox_cv.notify_all();
    for (auto& e : extractors) e->wake.notify_all();
  }

  void fail(std::exception_ptr e) {
    {
      std::lock_guard lock(mu);
      if (!failure) failure = e;
    }
    notify_everyone();
  }

  void apply(Op& op) {
    switch (op.kind) {
      case OpKind::begin_message: loader.begin_message(op.info, op.readable); break;
      case OpKind::begin_report: loader.begin_report(op.meta, op.part); break;
      case OpKind::record: loader.record(op.record); break;
      case OpKind::end_report: loader.end_report(op.meta); break;
      case OpKind::abort_report: loader.abort_report(); break;
      case OpKind::reject: loader.reject(op.reject); break;
      case OpKind::warning: loader.warning(op.issue); break;
      case OpKind::feedback: loader.feedback(op.feedback); break;
      case OpKind::bounce: loader.bounce(op.bounce); break;
      case OpKind::kind: loader.kind(op.message_kind); break;
      case OpKind::end_message:
        loader.end_message();
        if (on_done) on_done(op.message, loader.result());
        break;
    }
  }

  // Applies the next whole message from `e`. False when `e` has no more.
  bool load_message(Extractor& e) {
    for (;;) {
      if (!e.reading) {
        std::unique_lock lock(mu);
        load_cv.wait(lock, [&] { return !e.full.empty() || e.done || failure; });
        if (failure) return false;
        if (e.full.empty()) return false;  // done and drained
        e.reading = e.full.front();
        e.full.pop_front();
        e.pos = 0;
      }
      bool ended = false;
      while (e.pos < e.reading->size && !ended) {
        Op& op = e.reading->ops[e.pos++];
        apply(op);
        ended = op.kind == OpKind::end_message;
      }
      if (e.pos == e.reading->size) {
        {
          std::lock_guard lock(mu);
          e.free.push_back(e.reading);
        }
        e.reading = nullptr;
        e.wake.notify_one();
      }
      if (ended) return true;
    }
  }

  // The extractor that took the next message, in submission order; null
  // when every message has been loaded (or the pipeline failed).
  Extractor* next_owner() {
    std::unique_lock lock(mu);
    load_cv.wait(lock, [&] {
      return !owners.empty() || failure || (closing && inbox.empty() && all_done());
    });
    if (failure || owners.empty()) return nullptr;
    Extractor* e = owners.front();
    owners.pop_front();
    return e;
  }
  bool all_done() const {
    return std::all_of(extractors.begin(), extractors.end(), [](const auto& e) { return e->done; });
  }

  void load() {
    try {
      while (Extractor* e = next_owner())
        if (!load_message(*e)) break;
    } catch (...) {
      loader.abandon();
      fail(std::current_exception());
      return;
    }
    loader.abandon();  // only does something if a message was cut short
  }

  void submit(source::RawMessage&& msg, int64_t now) {
    {
      std::unique_lock lock(mu);
      submit_cv.wait(lock, [&] {
        return (inbox.size() < kInboxMessages && inbox_bytes + msg.bytes.size() <= kInboxBytes) || inbox.empty() ||
               failure;
      });
      if (failure) std::rethrow_exception(failure);
      inbox_bytes += msg.bytes.size();
      inbox.push_back(Pending{std::move(msg), now});
    }
    ++submitted;
    inbox_cv.notify_one();
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    {
      std::lock_guard lock(mu);
      closing = true;
    }
    notify_everyone();
    for (auto& e : extractors)
      if (e->thread.joinable()) e->thread.join();
    if (load_thread.joinable()) load_thread.join();
  }
};

PipelinedIngester::PipelinedIngester(store::Store& store, const Limits& limits, OnDone on_done, unsigned extractors)
    : impl_(std::make_unique<Impl>(store, limits, std::move(on_done), extractors)) {}

PipelinedIngester::~PipelinedIngester() { impl_->stop(); }

void PipelinedIngester::submit(source::RawMessage message, int64_t now) { impl_->submit(std::move(message), now); }

void PipelinedIngester::finish() {
  impl_->stop();
  if (impl_->failure) std::rethrow_exception(impl_->failure);
}

double PipelinedIngester::extract_cpu_seconds() const {
  double total = 0;
  for (const auto& e : impl_->extractors) total += e->cpu;
  return total;
}

double PipelinedIngester::loader_cpu_seconds() const { return impl_->loader_cpu; }

}  // namespace dmarq::ingest
