#include "dmarq/imap/source.h"

#include <fmt/format.h>

#include <algorithm>

#include "dmarq/limits.h"

namespace dmarq::imap {

ImapSource::ImapSource(Client& client, const Account& account, const std::atomic<bool>* stop)
    : client_(client), account_(account), stop_(stop) {}

void ImapSource::open() {
  processed_ = client_.server_path(account_.processed_folder);
  invalid_ = client_.server_path(account_.invalid_folder);
  client_.ensure_folder(processed_);
  client_.ensure_folder(invalid_);
  auto selected = client_.select(account_.mailbox);
  uidvalidity_ = selected.uidvalidity;
  uids_ = client_.uid_search(search_criteria(account_));
  next_batch_ = 0;
  // RFC 5092 style, so a reject names the very message.
  origin_prefix_ = fmt::format("imap://{}@{}:{}/{};UIDVALIDITY={}/;UID=", account_.user, account_.host, account_.port,
                               account_.mailbox, uidvalidity_);
}

bool ImapSource::next(source::RawMessage& out) {
  for (;;) {
    if (!oversized_.empty()) {
      // Never downloaded: the message is rejected with the reason and moved
      // to the invalid folder like any other, so it cannot stop every later
      // run at the same place.
      auto [uid, size] = oversized_.back();
      oversized_.pop_back();
      out.bytes.clear();
      out.origin = origin_prefix_ + std::to_string(uid);
      out.read_error = fmt::format("message is {} bytes (RFC822.SIZE), above the message size limit of {}; not downloaded",
                                   size, Limits{}.max_message_bytes);
      out.index = uid;
      ++index_;
      return true;
    }
    if (fetching_) {
      uint32_t uid = 0;
      std::string bytes;
      if (client_.fetch_next(uid, bytes)) {
        out.bytes = std::move(bytes);
        out.origin = origin_prefix_ + std::to_string(uid);
        out.read_error.clear();
        out.index = uid;
        ++index_;
        return true;
      }
      fetching_ = false;
    }
    // Between batches: the connection is free for the moves.
    apply_moves();
    if (next_batch_ >= uids_.size() || (stop_ && *stop_)) return false;
    std::size_t end = std::min(uids_.size(), next_batch_ + account_.batch_size);
    std::vector<uint32_t> batch(uids_.begin() + static_cast<std::ptrdiff_t>(next_batch_),
                                uids_.begin() + static_cast<std::ptrdiff_t>(end));
    next_batch_ = end;
    // Sizes first: a message above the limit is set aside, not fetched (the
    // parser's literal limit would otherwise end the whole run on it).
    const uint64_t max = Limits{}.max_message_bytes;
    for (auto [uid, size] : client_.uid_sizes(batch))
      if (size > max) oversized_.emplace_back(uid, size);
    if (!oversized_.empty()) {
      std::sort(oversized_.begin(), oversized_.end(), [](auto& a, auto& b) { return a.first > b.first; });
      std::erase_if(batch, [&](uint32_t uid) {
        return std::any_of(oversized_.begin(), oversized_.end(), [&](auto& o) { return o.first == uid; });
      });
    }
    if (batch.empty()) continue;
    client_.fetch_begin(batch);
    fetching_ = true;
  }
}

void ImapSource::finish(const source::RawMessage& msg, source::Disposition disposition) {
  std::lock_guard lock(mu_);
  (disposition == source::Disposition::processed ? to_processed_ : to_invalid_)
      .push_back(static_cast<uint32_t>(msg.index));
}

void ImapSource::apply_moves() {
  std::vector<uint32_t> processed, invalid;
  {
    std::lock_guard lock(mu_);
    processed.swap(to_processed_);
    invalid.swap(to_invalid_);
  }
  client_.uid_move(processed, processed_);
  client_.uid_move(invalid, invalid_);
  moved_ += processed.size() + invalid.size();
}

void ImapSource::close() {
  // A FETCH cut short (stop requested mid-batch) is read to its end first.
  uint32_t uid;
  std::string bytes;
  while (fetching_ && client_.fetch_next(uid, bytes)) {
  }
  fetching_ = false;
  apply_moves();
}

}  // namespace dmarq::imap
