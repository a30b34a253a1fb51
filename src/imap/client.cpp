// The IMAP client over Boost.Asio. Each blocking call starts the
// asynchronous operation and runs the io_context until it completes or the
// deadline passes; on a deadline the socket is closed, the cancelled handler
// runs, and the call fails with a timeout. Boost.Asio's ssl::context trusts
// nothing and checks no host name by default; both are set explicitly here.
#include "dmarq/imap/client.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include "dmarq/limits.h"
#include "dmarq/model/ip.h"

namespace dmarq::imap {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Kind = ImapError::Kind;

// Untagged responses one command may bring: a flood beyond this is an attack
// or a broken server, not a mailbox.
constexpr std::size_t kMaxUntaggedPerCommand = 100000;
// LIST answers we look at: one folder name is asked for at a time.
constexpr std::size_t kMaxListEntries = 1000;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Server text shown to the user: printable ASCII only, and not too much.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Why the certificate was refused, in the words the issue asks for.
std::string verify_reason(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return "the certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "the certificate is not valid yet";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return "wrong host: the certificate is for another name";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return std::string("untrusted certificate (") + X509_verify_cert_error_string(result) + ")";
    default: return std::string("certificate refused (") + X509_verify_cert_error_string(result) + ")";
  }
}

}  // namespace

std::string uid_set(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

struct Client::Impl {
  Account account;
  ParserLimits limits;
  std::chrono::seconds timeout;
  asio::io_context io;
  ssl::context tls_ctx{ssl::context::tls_client};
  std::unique_ptr<ssl::stream<tcp::socket>> stream;
  bool tls_active = false;
  bool broken = false;
  std::string buf;  // bytes received and not yet parsed
  std::set<std::string> caps;
  unsigned next_tag = 1;
  char delimiter = 0;
  bool delimiter_known = false;
  // A running FETCH (fetch_begin .. fetch_next returned false).
  std::string fetch_tag;
  Clock::time_point fetch_deadline;
  std::size_t fetch_untagged = 0;

  Impl(const Account& a, const ParserLimits& l) : account(a), limits(l), timeout(a.timeout_seconds) {}

  std::string where() const { return fmt::format("{}:{}", account.host, account.port); }

  [[noreturn]] void fail(Kind kind, const std::string& what) {
    broken = true;
    close();
    throw ImapError(kind, what);
  }

  void close() noexcept {
    if (!stream) return;
    boost::system::error_code ignored;
    stream->next_layer().close(ignored);
  }

  // Runs the io_context until `done` or the deadline; on the deadline the
  // socket is closed and the cancelled handlers run before this throws.
  template <typename Done>
  void run_until(Done done, Clock::time_point deadline, const char* what) {
    io.restart();
    while (!done()) {
      if (io.run_one_until(deadline) == 0 && !done()) {
        if (Clock::now() >= deadline) {
          close();
          io.restart();
          io.run();
          fail(Kind::timeout, fmt::format("{}: no answer to {} within {} s", where(), what, timeout.count()));
        }
        io.restart();
      }
    }
  }

  void connect() {
    boost::system::error_code ec = asio::error::would_block;
    auto deadline = Clock::now() + timeout;
    tcp::resolver resolver(io);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(account.host, std::to_string(account.port),
                           [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    run_until([&] { return ec != asio::error::would_block; }, deadline, "the name lookup");
    if (ec) fail(Kind::network, fmt::format("cannot resolve {}: {}", account.host, ec.message()));

    setup_tls_context();
    stream = std::make_unique<ssl::stream<tcp::socket>>(io, tls_ctx);
    ec = asio::error::would_block;
    asio::async_connect(stream->next_layer(), endpoints,
                        [&](const boost::system::error_code& e, const tcp::endpoint&) { ec = e; });
    run_until([&] { return ec != asio::error::would_block; }, deadline, "connect");
    if (ec) fail(Kind::network, fmt::format("cannot connect to {}: {}", where(), ec.message()));

    if (account.tls == TlsMode::implicit) handshake();
    Response greeting = read_response(Clock::now() + timeout, "the greeting");
    if (greeting.kind != Response::Kind::untagged || !greeting.is_status())
      fail(Kind::protocol, where() + ": no IMAP greeting");
    if (greeting.name == "BYE") fail(Kind::network, where() + ": server said BYE: " + shown(greeting.text));
    if (greeting.name == "PREAUTH") fail(Kind::protocol, where() + ": PREAUTH greeting; dmarq logs in itself");
    refresh_capabilities(greeting);
    if (account.tls == TlsMode::starttls) {
      if (!has("STARTTLS"))
        fail(Kind::tls, where() + ": the server does not offer STARTTLS; nothing was sent (use tls = \"implicit\" "
                                  "if it speaks TLS on another port)");
      auto r = command("STARTTLS");
      if (r.name != "OK") fail(Kind::tls, where() + ": STARTTLS refused: " + shown(r.text) + "; nothing was sent");
      // Bytes the server sent after its OK were sent in clear and may have
      // been injected: refuse them (RFC 3207 section 5 reasoning, CVE-2011-0411).
      if (!buf.empty()) fail(Kind::tls, where() + ": data after STARTTLS before the TLS handshake");
      handshake();
      caps.clear();
      command("CAPABILITY");
    }
  }

  void setup_tls_context() {
    tls_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(tls_ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (!account.ca_file.empty()) {
      tls_ctx.load_verify_file(account.ca_file, ec);
      if (ec) fail(Kind::tls, fmt::format("ca_file {}: {}", account.ca_file, ec.message()));
    } else {
      tls_ctx.set_default_verify_paths(ec);
      if (ec) fail(Kind::tls, "cannot load the system's CA certificates: " + ec.message());
    }
    tls_ctx.set_verify_mode(ssl::verify_peer);
  }

  void handshake() {
    SSL* s = stream->native_handle();
    // OpenSSL checks the name (or address) as part of chain verification,
    // so a mismatch fails the handshake with its own reason code.
    X509_VERIFY_PARAM* param = SSL_get0_param(s);
    if (model::parse_ip(account.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, account.host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(s, account.host.c_str());
      SSL_set_tlsext_host_name(s, account.host.c_str());  // SNI
    }
    boost::system::error_code ec = asio::error::would_block;
    stream->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) { ec = e; });
    run_until([&] { return ec != asio::error::would_block; }, Clock::now() + timeout, "the TLS handshake");
    if (ec) {
      long result = SSL_get_verify_result(s);
      if (result != X509_V_OK)
        fail(Kind::tls, fmt::format("TLS: cannot verify {}: {}; nothing was sent", where(), verify_reason(result)));
      fail(Kind::tls, fmt::format("TLS handshake with {} failed: {}; nothing was sent", where(), ec.message()));
    }
    tls_active = true;
  }

  void write(const std::string& line, const char* what) {
    boost::system::error_code ec = asio::error::would_block;
    auto done = [&](const boost::system::error_code& e, std::size_t) { ec = e; };
    if (tls_active) asio::async_write(*stream, asio::buffer(line), done);
    else asio::async_write(stream->next_layer(), asio::buffer(line), done);
    run_until([&] { return ec != asio::error::would_block; }, Clock::now() + timeout, what);
    if (ec) fail(Kind::network, fmt::format("{}: connection lost while sending {}: {}", where(), what, ec.message()));
  }

  // The next whole response; the deadline bounds the whole response, so a
  // server that trickles bytes cannot hold the client forever.
  Response read_response(Clock::time_point deadline, const char* what) {
    for (;;) {
      ParseResult r = parse_response(buf, limits);
      if (r.status == ParseResult::Status::complete) {
        buf.erase(0, r.consumed);
        return std::move(r.response);
      }
      if (r.status == ParseResult::Status::error)
        fail(Kind::protocol, fmt::format("{}: bad response to {}: {}", where(), what, r.error));
      std::size_t need = std::max(r.need, buf.size() + 1);
      if (need > buf.capacity()) buf.reserve(need);
      while (buf.size() < need) read_some(std::min<std::size_t>(need - buf.size() + 4096, 1u << 20), deadline, what);
    }
  }

  void read_some(std::size_t want, Clock::time_point deadline, const char* what) {
    std::size_t old = buf.size();
    buf.resize(old + want);
    boost::system::error_code ec = asio::error::would_block;
    std::size_t got = 0;
    auto done = [&](const boost::system::error_code& e, std::size_t n) {
      ec = e;
      got = n;
    };
    auto target = asio::buffer(buf.data() + old, want);
    if (tls_active) stream->async_read_some(target, done);
    else stream->next_layer().async_read_some(target, done);
    run_until([&] { return ec != asio::error::would_block; }, deadline, what);
    buf.resize(old + got);
    if (ec) {
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
        fail(Kind::network, fmt::format("{}: the server closed the connection during {}", where(), what));
      fail(Kind::network, fmt::format("{}: connection lost during {}: {}", where(), what, ec.message()));
    }
  }

  std::string tag() { return fmt::format("d{}", next_tag++); }

  // Sends `cmd` and reads to its tagged completion, handing each untagged
  // response to `on_untagged`. Returns the tagged response (OK, NO or BAD).
  template <typename OnUntagged>
  Response command(const std::string& cmd, OnUntagged on_untagged, const char* what = nullptr) {
    if (broken) throw ImapError(Kind::protocol, "the IMAP connection is not usable after an error");
    std::string t = tag();
    std::string label = what ? what : cmd.substr(0, cmd.find(' '));
    write(t + " " + cmd + "\r\n", label.c_str());
    auto deadline = Clock::now() + timeout;
    std::size_t untagged = 0;
    for (;;) {
      Response r = read_response(deadline, label.c_str());
      if (r.kind == Response::Kind::tagged) {
        if (r.tag != t) fail(Kind::protocol, fmt::format("{}: answer for unknown tag {}", where(), shown(r.tag)));
        if (!r.code.empty() && r.code == "CAPABILITY") parse_capabilities(r.code_text);
        if (r.name == "BAD") fail(Kind::protocol, fmt::format("{}: {} rejected as BAD: {}", where(), label, shown(r.text)));
        return r;
      }
      if (r.kind == Response::Kind::continuation)
        fail(Kind::protocol, fmt::format("{}: unexpected continuation during {}", where(), label));
      if (++untagged > kMaxUntaggedPerCommand)
        fail(Kind::protocol, fmt::format("{}: more than {} untagged responses to {}", where(), kMaxUntaggedPerCommand,
                                         label));
      if (r.name == "BYE") fail(Kind::network, fmt::format("{}: server said BYE: {}", where(), shown(r.text)));
      handle_common(r);
      on_untagged(r);
    }
  }
  Response command(const std::string& cmd) {
    return command(cmd, [](const Response&) {});
  }

  void handle_common(const Response& r) {
    if (r.name == "CAPABILITY") {
      caps.clear();
      for (const auto& v : r.data)
        if (v.type == Value::Type::atom) caps.insert(upper(v.text));
    } else if (r.is_status() && r.code == "CAPABILITY") {
      parse_capabilities(r.code_text);
    }
  }

  void refresh_capabilities(const Response& greeting) {
    if (greeting.code == "CAPABILITY") parse_capabilities(greeting.code_text);
    else command("CAPABILITY");
  }

  void parse_capabilities(const std::string& text) {
    caps.clear();
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t j = text.find(' ', i);
      if (j == std::string::npos) j = text.size();
      if (j > i) caps.insert(upper(std::string_view(text).substr(i, j - i)));
      i = j + 1;
    }
  }

  bool has(std::string_view cap) const { return caps.count(upper(cap)) > 0; }

  // A string argument: quoted when it can be, else a literal (LITERAL+ when
  // offered, else synchronizing).
  void send_with_string(const std::string& tag_and_prefix, const std::string& value, const std::string& suffix,
                        const char* what) {
    if (auto q = quote(value)) {
      write(tag_and_prefix + *q + suffix + "\r\n", what);
      return;
    }
    if (has("LITERAL+")) {
      write(fmt::format("{}{{{}+}}\r\n{}{}\r\n", tag_and_prefix, value.size(), value, suffix), what);
      return;
    }
    write(fmt::format("{}{{{}}}\r\n", tag_and_prefix, value.size()), what);
    Response r = read_response(Clock::now() + timeout, what);
    if (r.kind != Response::Kind::continuation)
      fail(Kind::protocol, fmt::format("{}: no continuation for a literal in {}", where(), what));
    write(value + suffix + "\r\n", what);
  }

  Response finish_tagged(const std::string& t, const char* what) {
    auto deadline = Clock::now() + timeout;
    std::size_t untagged = 0;
    for (;;) {
      Response r = read_response(deadline, what);
      if (r.kind == Response::Kind::tagged) {
        if (r.tag != t) fail(Kind::protocol, fmt::format("{}: answer for unknown tag {}", where(), shown(r.tag)));
        if (r.code == "CAPABILITY") parse_capabilities(r.code_text);
        return r;
      }
      if (r.kind == Response::Kind::continuation)
        fail(Kind::protocol, fmt::format("{}: unexpected continuation during {}", where(), what));
      if (++untagged > kMaxUntaggedPerCommand) fail(Kind::protocol, where() + ": too many untagged responses");
      handle_common(r);
    }
  }

  void login(const std::string& password) {
    if (!tls_active && account.tls != TlsMode::none)
      fail(Kind::tls, "refusing to send credentials without TLS");  // cannot happen: connect() ensures TLS
    if (has("LOGINDISABLED") && !has("AUTH=PLAIN"))
      fail(Kind::auth, where() + ": the server refuses to log in on this connection (LOGINDISABLED)");
    Response r;
    if (has("AUTH=PLAIN")) {
      std::string token = base64(std::string(1, '\0') + account.user + std::string(1, '\0') + password);
      std::string t = tag();
      if (has("SASL-IR")) {
        write(t + " AUTHENTICATE PLAIN " + token + "\r\n", "AUTHENTICATE");
      } else {
        write(t + " AUTHENTICATE PLAIN\r\n", "AUTHENTICATE");
        Response c = read_response(Clock::now() + timeout, "AUTHENTICATE");
        if (c.kind != Response::Kind::continuation)
          fail(Kind::auth, fmt::format("{}: AUTHENTICATE PLAIN refused: {}", where(), shown(c.text)));
        write(token + "\r\n", "AUTHENTICATE");
      }
      r = finish_tagged(t, "AUTHENTICATE");
    } else {
      std::string t = tag();
      std::string user_q = quote(account.user).value_or("");
      if (user_q.empty()) fail(Kind::auth, "the user name cannot be sent with LOGIN");
      send_with_string(t + " LOGIN " + user_q + " ", password, "", "LOGIN");
      r = finish_tagged(t, "LOGIN");
    }
    if (r.name != "OK")
      fail(Kind::auth, fmt::format("{}: login as {} failed: {}", where(), shown(account.user), shown(r.text)));
    if (r.code != "CAPABILITY") command("CAPABILITY");
  }

  static std::optional<uint32_t> u32(std::string_view text) {
    uint64_t v = 0;
    if (text.empty() || text.size() > 10) return std::nullopt;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(v);
  }

  Selected select(const std::string& mailbox) {
    Selected s;
    bool have_validity = false;
    std::string name = quote(encode_mailbox(mailbox)).value_or("");
    if (name.empty()) fail(Kind::server, "mailbox name cannot be sent: " + shown(mailbox));
    Response r = command("SELECT " + name, [&](const Response& u) {
      if (u.name == "EXISTS" && u.number) s.exists = static_cast<uint32_t>(std::min<uint64_t>(*u.number, UINT32_MAX));
      if (u.is_status() && u.code == "UIDVALIDITY") {
        if (auto v = u32(u.code_text)) {
          s.uidvalidity = *v;
          have_validity = true;
        }
      }
    });
    if (r.name != "OK") fail(Kind::server, fmt::format("{}: cannot select {}: {}", where(), shown(mailbox), shown(r.text)));
    if (r.code == "UIDVALIDITY")
      if (auto v = u32(r.code_text)) s.uidvalidity = *v, have_validity = true;
    if (!have_validity) fail(Kind::protocol, where() + ": SELECT gave no UIDVALIDITY");
    return s;
  }

  char get_delimiter() {
    if (delimiter_known) return delimiter;
    std::size_t entries = 0;
    Response r = command("LIST \"\" \"\"", [&](const Response& u) {
      if (u.name != "LIST" || ++entries > kMaxListEntries) return;
      if (u.data.size() >= 2) {
        const Value& d = u.data[1];
        if (d.type == Value::Type::string && d.text.size() == 1) delimiter = d.text[0];
        else if (d.type == Value::Type::nil) delimiter = 0;
      }
    });
    if (r.name != "OK") fail(Kind::server, fmt::format("{}: LIST failed: {}", where(), shown(r.text)));
    delimiter_known = true;
    return delimiter;
  }

  std::string server_path(const std::string& slash_path) {
    char d = get_delimiter();
    std::string out;
    std::size_t i = 0;
    while (i <= slash_path.size()) {
      std::size_t j = slash_path.find('/', i);
      if (j == std::string::npos) j = slash_path.size();
      std::string level = slash_path.substr(i, j - i);
      if (!out.empty()) {
        if (d == 0)
          fail(Kind::server, fmt::format("{}: the server has no folder hierarchy, so {} cannot be made", where(),
                                         shown(slash_path)));
        if (level.find(d) != std::string::npos)
          fail(Kind::server, fmt::format("folder level {} contains the server's delimiter '{}'", shown(level), d));
        out += d;
      }
      out += encode_mailbox(level);
      i = j + 1;
    }
    return out;
  }

  void ensure_folder(const std::string& name) {
    std::string q = quote(name).value_or("");
    if (q.empty()) fail(Kind::server, "folder name cannot be sent: " + shown(name));
    bool exists = false;
    std::size_t entries = 0;
    Response r = command("LIST \"\" " + q, [&](const Response& u) {
      if (u.name != "LIST" || ++entries > kMaxListEntries || u.data.size() < 3) return;
      const Value& flags = u.data[0];
      bool noselect = false;
      for (const auto& f : flags.items)
        if (f.is_atom("\\Noselect") || f.is_atom("\\NonExistent")) noselect = true;
      if (!noselect && (u.data[2].text == name)) exists = true;
    });
    if (r.name != "OK") fail(Kind::server, fmt::format("{}: LIST {} failed: {}", where(), shown(name), shown(r.text)));
    if (exists) return;
    Response c = command("CREATE " + q);
    if (c.name != "OK" && c.code != "ALREADYEXISTS")
      fail(Kind::server, fmt::format("{}: cannot create folder {}: {}", where(), shown(name), shown(c.text)));
    command("SUBSCRIBE " + q);  // so that mail clients show it; failure does not matter
  }

  std::vector<uint32_t> uid_search(const std::string& criteria) {
    std::vector<uint32_t> uids;
    Response r = command("UID SEARCH " + criteria, [&](const Response& u) {
      if (u.name != "SEARCH") return;
      for (const auto& v : u.data)
        if (v.type == Value::Type::number && v.number > 0 && v.number <= UINT32_MAX)
          uids.push_back(static_cast<uint32_t>(v.number));
    });
    if (r.name != "OK") fail(Kind::server, fmt::format("{}: UID SEARCH failed: {}", where(), shown(r.text)));
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    return uids;
  }

  std::vector<std::pair<uint32_t, uint64_t>> uid_sizes(const std::vector<uint32_t>& uids) {
    std::vector<std::pair<uint32_t, uint64_t>> sizes;
    if (uids.empty()) return sizes;
    Response r = command("UID FETCH " + uid_set(uids) + " (UID RFC822.SIZE)", [&](const Response& u) {
      if (u.name != "FETCH" || u.data.size() != 1 || u.data[0].type != Value::Type::list) return;
      std::optional<uint32_t> uid;
      std::optional<uint64_t> size;
      const auto& items = u.data[0].items;
      for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
        if (items[i + 1].type != Value::Type::number) continue;
        if (items[i].is_atom("UID") && items[i + 1].number <= UINT32_MAX)
          uid = static_cast<uint32_t>(items[i + 1].number);
        if (items[i].is_atom("RFC822.SIZE")) size = items[i + 1].number;
      }
      if (uid && size) sizes.emplace_back(*uid, *size);
    });
    if (r.name != "OK") fail(Kind::server, fmt::format("{}: UID FETCH RFC822.SIZE failed: {}", where(), shown(r.text)));
    return sizes;
  }

  void fetch_begin(const std::vector<uint32_t>& uids) {
    if (!fetch_tag.empty()) fail(Kind::protocol, "a FETCH is already running");
    fetch_tag = tag();
    write(fetch_tag + " UID FETCH " + uid_set(uids) + " (UID BODY.PEEK[])\r\n", "UID FETCH");
    fetch_deadline = Clock::now() + timeout;
    fetch_untagged = 0;
  }

  bool fetch_next(uint32_t& uid, std::string& bytes) {
    while (!fetch_tag.empty()) {
      Response r = read_response(fetch_deadline, "UID FETCH");
      if (r.kind == Response::Kind::tagged) {
        if (r.tag != fetch_tag) fail(Kind::protocol, fmt::format("{}: answer for unknown tag {}", where(), shown(r.tag)));
        fetch_tag.clear();
        if (r.name != "OK") fail(Kind::server, fmt::format("{}: UID FETCH failed: {}", where(), shown(r.text)));
        return false;
      }
      if (r.kind == Response::Kind::continuation) fail(Kind::protocol, where() + ": unexpected continuation in FETCH");
      if (++fetch_untagged > kMaxUntaggedPerCommand) fail(Kind::protocol, where() + ": too many responses to FETCH");
      if (r.name == "BYE") fail(Kind::network, fmt::format("{}: server said BYE: {}", where(), shown(r.text)));
      handle_common(r);
      if (r.name != "FETCH" || r.data.size() != 1 || r.data[0].type != Value::Type::list) continue;
      // (UID n BODY[] literal ...): name-value pairs in any order.
      std::optional<uint32_t> got_uid;
      Value* body = nullptr;
      auto& items = r.data[0].items;
      for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
        if (items[i].is_atom("UID") && items[i + 1].type == Value::Type::number && items[i + 1].number <= UINT32_MAX)
          got_uid = static_cast<uint32_t>(items[i + 1].number);
        if (items[i].is_atom("BODY[]") && (items[i + 1].type == Value::Type::string))
          body = &items[i + 1];
      }
      if (!got_uid || !body) continue;  // a flag update or a fetch without the body
      uid = *got_uid;
      bytes = std::move(body->text);
      fetch_deadline = Clock::now() + timeout;  // progress: the next message gets a full timeout
      return true;
    }
    return false;
  }

  void uid_move(const std::vector<uint32_t>& uids, const std::string& folder) {
    if (uids.empty()) return;
    std::string set = uid_set(uids);
    std::string q = quote(folder).value_or("");
    if (q.empty()) fail(Kind::server, "folder name cannot be sent: " + shown(folder));
    if (has("MOVE")) {
      Response r = command("UID MOVE " + set + " " + q);
      if (r.name != "OK") fail(Kind::server, fmt::format("{}: UID MOVE to {} failed: {}", where(), shown(folder), shown(r.text)));
      return;
    }
    Response c = command("UID COPY " + set + " " + q);
    if (c.name != "OK") fail(Kind::server, fmt::format("{}: UID COPY to {} failed: {}", where(), shown(folder), shown(c.text)));
    Response s = command("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)");
    if (s.name != "OK") fail(Kind::server, fmt::format("{}: UID STORE failed: {}", where(), shown(s.text)));
    Response e = command(has("UIDPLUS") ? "UID EXPUNGE " + set : std::string("EXPUNGE"));
    if (e.name != "OK") fail(Kind::server, fmt::format("{}: EXPUNGE failed: {}", where(), shown(e.text)));
  }

  Wait wait_for_mail(std::chrono::seconds max, const std::atomic<bool>& stop) {
    auto end = Clock::now() + max;
    if (!has("IDLE")) {
      while (Clock::now() < end) {
        if (stop) return Wait::stopped;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      return Wait::timeout;
    }
    std::string t = tag();
    write(t + " IDLE\r\n", "IDLE");
    Response c = read_response(Clock::now() + timeout, "IDLE");
    if (c.kind == Response::Kind::tagged)
      fail(Kind::server, fmt::format("{}: IDLE refused: {}", where(), shown(c.text)));
    if (c.kind != Response::Kind::continuation) {
      handle_common(c);
    }
    Wait result = Wait::timeout;
    std::size_t untagged = 0;
    // Poll for data in one-second slices so that `stop` is noticed.
    while (result == Wait::timeout && Clock::now() < end && !stop) {
      ParseResult p = parse_response(buf, limits);
      if (p.status == ParseResult::Status::error)
        fail(Kind::protocol, fmt::format("{}: bad response during IDLE: {}", where(), p.error));
      if (p.status == ParseResult::Status::complete) {
        buf.erase(0, p.consumed);
        const Response& r = p.response;
        if (++untagged > kMaxUntaggedPerCommand) fail(Kind::protocol, where() + ": too many responses during IDLE");
        if (r.name == "BYE") fail(Kind::network, fmt::format("{}: server said BYE: {}", where(), shown(r.text)));
        if (r.name == "EXISTS" || r.name == "RECENT") result = Wait::new_mail;
        continue;
      }
      try_read_for(std::chrono::seconds(1));
    }
    if (stop && result == Wait::timeout) result = Wait::stopped;
    write("DONE\r\n", "IDLE");
    Response done = finish_tagged(t, "IDLE");
    if (done.name != "OK") fail(Kind::server, fmt::format("{}: IDLE ended with {}", where(), shown(done.text)));
    return result;
  }

  // Reads whatever arrives within `slice`; returns without error when
  // nothing did.
  void try_read_for(std::chrono::milliseconds slice) {
    std::size_t old = buf.size();
    buf.resize(old + 4096);
    boost::system::error_code ec = asio::error::would_block;
    std::size_t got = 0;
    auto done = [&](const boost::system::error_code& e, std::size_t n) {
      ec = e;
      got = n;
    };
    auto target = asio::buffer(buf.data() + old, 4096);
    if (tls_active) stream->async_read_some(target, done);
    else stream->next_layer().async_read_some(target, done);
    io.restart();
    io.run_one_for(slice);
    if (ec == asio::error::would_block) {
      // Nothing yet: cancel the read and let its handler run.
      boost::system::error_code ignored;
      stream->next_layer().cancel(ignored);
      io.restart();
      io.run();
      if (ec == asio::error::operation_aborted) ec = {};
    }
    buf.resize(old + got);
    if (ec) fail(Kind::network, fmt::format("{}: connection lost while waiting for mail: {}", where(), ec.message()));
  }

  void logout() {
    if (broken || !stream) return;
    try {
      command("LOGOUT");
    } catch (const ImapError&) {
      // The server may close first; we are leaving anyway.
    }
    if (tls_active) {
      boost::system::error_code ec = asio::error::would_block;
      stream->async_shutdown([&](const boost::system::error_code& e) { ec = e; });
      try {
        run_until([&] { return ec != asio::error::would_block; }, Clock::now() + std::chrono::seconds(2), "LOGOUT");
      } catch (const ImapError&) {
      }
    }
    close();
  }
};

Client::Client(const Account& account, const ParserLimits& limits)
    : impl_(std::make_unique<Impl>(account, limits)) {}
Client::~Client() { impl_->close(); }

ParserLimits Client::client_limits() {
  ParserLimits l;
  l.max_literal = Limits{}.max_message_bytes;
  l.max_response = l.max_literal + (1u << 20);
  l.max_values = 1000000;
  return l;
}

void Client::connect() { impl_->connect(); }
void Client::login(const std::string& password) { impl_->login(password); }
bool Client::has(std::string_view capability) const { return impl_->has(capability); }
Client::Selected Client::select(const std::string& mailbox) { return impl_->select(mailbox); }
std::string Client::server_path(const std::string& slash_path) { return impl_->server_path(slash_path); }
void Client::ensure_folder(const std::string& server_name) { impl_->ensure_folder(server_name); }
std::vector<uint32_t> Client::uid_search(const std::string& criteria) { return impl_->uid_search(criteria); }
void Client::fetch_begin(const std::vector<uint32_t>& uids) { impl_->fetch_begin(uids); }
std::vector<std::pair<uint32_t, uint64_t>> Client::uid_sizes(const std::vector<uint32_t>& uids) {
  return impl_->uid_sizes(uids);
}
bool Client::fetch_next(uint32_t& uid, std::string& bytes) { return impl_->fetch_next(uid, bytes); }
void Client::uid_move(const std::vector<uint32_t>& uids, const std::string& folder) { impl_->uid_move(uids, folder); }
Client::Wait Client::wait_for_mail(std::chrono::seconds max, const std::atomic<bool>& stop) {
  return impl_->wait_for_mail(max, stop);
}
void Client::logout() { impl_->logout(); }

}  // namespace dmarq::imap
