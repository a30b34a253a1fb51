// A small IMAP4rev1 client (RFC 3501) for emptying a reports mailbox, over
// Boost.Asio and OpenSSL. Synchronous calls, each bounded by the account's
// timeout: a call that makes no complete progress within it fails.
//
// TLS: the peer chain is verified against ca_file or the system CAs, the
// host name (or IP address) is checked by OpenSSL, SNI is sent for names,
// TLS 1.2 is the minimum. With tls = starttls, a server that does not offer
// STARTTLS, or whose STARTTLS fails, is left before anything else is sent.
// Credentials go out only over a verified TLS session (or over plaintext to
// a loopback address the user allowed explicitly).
//
// Untrusted server: responses go through imap::parse_response with limits;
// untagged responses are counted per command and never accumulated beyond
// what the command needs; every value used is checked.
//
// Failure mode: ImapError with a kind (for the exit code) and a message that
// names the cause. After an error the client is unusable; make a new one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dmarq/imap/account.h"
#include "dmarq/imap/response.h"

namespace dmarq::imap {

class ImapError : public std::runtime_error {
 public:
  enum class Kind {
    network,   // cannot connect, connection lost: worth retrying later
    timeout,   // no progress within timeout_seconds: worth retrying later
    tls,       // certificate or TLS failure: nothing was sent; fix the setup
    auth,      // the server refused the credentials
    protocol,  // the server broke the protocol or a limit
    server,    // the server refused a command (NO/BAD)
  };
  ImapError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }
  bool transient() const { return kind_ == Kind::network || kind_ == Kind::timeout; }

 private:
  Kind kind_;
};

class Client {
 public:
  explicit Client(const Account& account, const ParserLimits& limits = client_limits());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The parser limits a client uses: literals up to the largest message
  // dmarq accepts, many values for a large mailbox's UID SEARCH.
  static ParserLimits client_limits();

  // TCP, TLS (implicit or STARTTLS), greeting and capabilities.
  void connect();
  void login(const std::string& password);
  bool has(std::string_view capability) const;  // case-insensitive

  struct Selected {
    uint32_t uidvalidity = 0;
    uint32_t exists = 0;
  };
  Selected select(const std::string& mailbox);

  // A '/'-separated folder path as the server names it: its hierarchy
  // delimiter between levels, modified UTF-7 within them.
  std::string server_path(const std::string& slash_path);
  // Creates the folder (and subscribes to it) unless it exists.
  void ensure_folder(const std::string& server_name);

  std::vector<uint32_t> uid_search(const std::string& criteria);

  // RFC822.SIZE of each of `uids` that the server still has, in any order.
  std::vector<std::pair<uint32_t, uint64_t>> uid_sizes(const std::vector<uint32_t>& uids);

  // Streams the whole messages of `uids` (BODY.PEEK[], so \Seen is not
  // set): fetch_next gives them one at a time as they arrive and returns
  // false once the FETCH has completed. UIDs that vanished are skipped.
  void fetch_begin(const std::vector<uint32_t>& uids);
  bool fetch_next(uint32_t& uid, std::string& bytes);

  // UID MOVE (RFC 6851), else UID COPY + STORE \Deleted + UID EXPUNGE
  // (UIDPLUS) or EXPUNGE.
  void uid_move(const std::vector<uint32_t>& uids, const std::string& server_folder);

  // Waits for new mail with IDLE (RFC 2177) until the server reports some,
  // `max` passes, or `stop` is set (checked every second). Without IDLE it
  // waits the same way and returns timeout, so the caller polls.
  enum class Wait { new_mail, timeout, stopped };
  Wait wait_for_mail(std::chrono::seconds max, const std::atomic<bool>& stop);

  void logout();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "1:3,7,9:12" for the sorted, distinct UIDs.
std::string uid_set(std::vector<uint32_t> uids);

}  // namespace dmarq::imap
