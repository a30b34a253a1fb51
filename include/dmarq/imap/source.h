// ImapSource: the messages of one IMAP mailbox as a MessageSource.
//
// open() selects the mailbox (recording UIDVALIDITY), makes the processed
// and invalid folders if missing, and searches. next() streams the messages
// one at a time from UID FETCH commands of batch_size UIDs. finish() (called
// on the loading thread once a message's data is committed) only queues the
// move; the moves are sent between batches and by close(), on the thread
// that reads, because an IMAP connection carries one command at a time.
//
// A run killed at any point leaves committed messages in the mailbox at
// worst: the next run finds their bytes already stored (content hash), counts
// them as duplicates, and moves them. Nothing is lost and nothing counted
// twice.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "dmarq/imap/account.h"
#include "dmarq/imap/client.h"
#include "dmarq/source/sources.h"

namespace dmarq::imap {

class ImapSource final : public source::MessageSource {
 public:
  // `stop`, when set, ends next() before the next message (clean shutdown).
  ImapSource(Client& client, const Account& account, const std::atomic<bool>* stop = nullptr);

  void open();
  bool next(source::RawMessage& out) override;
  void finish(const source::RawMessage& msg, source::Disposition disposition) override;
  void close() override;
  std::optional<std::size_t> size_hint() const override { return uids_.size(); }

  uint32_t uidvalidity() const { return uidvalidity_; }
  std::size_t moved() const { return moved_; }

 private:
  void apply_moves();

  Client& client_;
  const Account& account_;
  const std::atomic<bool>* stop_;
  std::string processed_, invalid_;  // server names
  uint32_t uidvalidity_ = 0;
  std::vector<uint32_t> uids_;
  std::size_t next_batch_ = 0;  // index into uids_ of the next batch
  bool fetching_ = false;
  // Messages of the current batch too large to download: set aside, with
  // their sizes, before the batch's FETCH starts.
  std::vector<std::pair<uint32_t, uint64_t>> oversized_;
  std::size_t index_ = 0;
  std::string origin_prefix_;

  std::mutex mu_;  // guards the queued moves (finish() runs on the loader thread)
  std::vector<uint32_t> to_processed_, to_invalid_;
  std::size_t moved_ = 0;
};

}  // namespace dmarq::imap
