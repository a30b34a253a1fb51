// Message sources: where raw messages come from, and where they go after.
//
// - FileSource: files and directories (recursive, in sorted order). Never
//   moves or deletes anything.
// - MaildirSource: new/ and cur/ of a Maildir. After a message's data is
//   committed, finish() moves it with rename(2) - never lost, never copied,
//   nothing ever deleted - into the Maildir++ folder Processed (or Invalid
//   for rejects): DIR/.Processed for a root Maildir, and the sibling
//   .NAME.Processed for a Maildir++ subfolder DIR = .NAME.
// - MboxSource: an mbox file, read-only, split on "From " lines (mboxrd
//   ">From " unescaping), streamed so memory holds one message.
//
// Reading problems (unreadable file, message above the size limit) do not
// throw: the RawMessage carries `read_error` and the ingest records it as a
// reject. A source is used by one thread.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmarq/limits.h"

namespace dmarq::source {

struct RawMessage {
  std::string bytes;
  std::string origin;      // what the user sees and the store keeps
  std::string read_error;  // non-empty: the bytes could not be read
  std::size_t index = 0;   // position within its source
};

enum class Disposition { processed, invalid };

class MessageSource {
 public:
  virtual ~MessageSource() = default;
  virtual bool next(RawMessage& out) = 0;
  // Called after the message's outcome is committed (possibly on another
  // thread than next(): the ingest pipeline's loading thread).
  virtual void finish(const RawMessage& msg, Disposition disposition) = 0;
  // Called once after the last finish(): a source that defers its moves
  // makes them now.
  virtual void close() {}
  // How many messages there are, if known (for the progress bar).
  virtual std::optional<std::size_t> size_hint() const { return std::nullopt; }
};

class FileSource final : public MessageSource {
 public:
  // Throws std::runtime_error when a path does not exist.
  FileSource(const std::vector<std::string>& paths, const Limits& limits);
  bool next(RawMessage& out) override;
  void finish(const RawMessage&, Disposition) override {}
  std::optional<std::size_t> size_hint() const override { return files_.size(); }

 private:
  std::vector<std::string> files_;
  std::size_t pos_ = 0;
  Limits limits_;
};

class MaildirSource final : public MessageSource {
 public:
  // Throws std::runtime_error when `dir` has neither new/ nor cur/.
  MaildirSource(const std::string& dir, const Limits& limits);
  bool next(RawMessage& out) override;
  void finish(const RawMessage& msg, Disposition disposition) override;
  std::optional<std::size_t> size_hint() const override { return files_.size(); }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  std::size_t pos_ = 0;
  Limits limits_;
  bool processed_created_ = false, invalid_created_ = false;
};

class MboxSource final : public MessageSource {
 public:
  MboxSource(const std::string& path, const Limits& limits);
  bool next(RawMessage& out) override;
  void finish(const RawMessage&, Disposition) override {}

 private:
  std::string path_;
  std::ifstream in_;
  std::string pending_;  // a first line that was not a "From " separator
  bool started_ = false;
  std::size_t count_ = 0;
  Limits limits_;
};

// Reads a whole file, up to limits.max_message_bytes.
RawMessage read_file(const std::string& path, const Limits& limits);

}  // namespace dmarq::source
