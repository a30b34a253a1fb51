// The c-ares resolver (see dmarq/dns/ares.h).
//
// c-ares moves the bytes: UDP sockets, retries over the servers, TCP when an
// answer comes truncated. The query is built and the answer read by
// dns/message.h (why: see there). Queries go out with ares_send and are
// driven by poll(2) over the sockets c-ares reports through its socket-state
// callback (no FD_SETSIZE limit, no 16-socket cap of ares_getsock), with
// ares_timeout for c-ares's own timers.
//
// Time budget. ResolverOptions::timeout is a query's whole budget. c-ares
// 1.18 tries each server `tries` times and doubles the per-try timeout after
// every round over the servers (timeout << (try / nservers)), so the whole
// schedule takes base * nservers * (2^tries - 1); the base is chosen so that
// this fits in the budget (one server, 2 tries, 3 s: 1 s then 2 s). On top of
// that every query has a deadline of its own, start + timeout, after which it
// is answered "timeout" whatever c-ares is still doing; so N lookups against
// a server that never answers take at most timeout * ceil(N / concurrency),
// plus scheduling.
//
// A name that is not a domain name (empty label, label over 63 bytes, over
// 255 in all) is never sent: it cannot exist, so it is answered nxdomain
// with a detail saying why.
//
// Servers: ResolverOptions::servers, or those c-ares reads from
// /etc/resolv.conf. Like glibc, c-ares 1.18 falls back to 127.0.0.1:53 when
// resolv.conf names none (or is missing), so "no server at all" can only
// come from another c-ares; it is checked anyway.
//
// Thread-safety: one thread at a time per resolver; separate resolvers are
// independent (c-ares channels share nothing).
#include "dmarq/dns/ares.h"

#include <ares.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "dmarq/dns/message.h"
#include "dmarq/model/ip.h"

namespace dmarq::dns {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kDefaultPort = 53;
constexpr int kMaxTries = 8;  // beyond, the doubling schedule is all waiting
// Queries in flight at most, whatever the options say: with those ending at
// their deadline but still held by c-ares, at most about twice this many
// message IDs are in use, well under the 65536 there are.
constexpr std::size_t kMaxConcurrency = 10000;

void init_library() {
  // ares_library_init is not thread-safe; a function-local static is.
  static const int rc = ares_library_init(ARES_LIB_INIT_ALL);
  if (rc != ARES_SUCCESS) throw ResolverError(fmt::format("cannot initialise c-ares: {}", ares_strerror(rc)));
}

struct ChannelDeleter {
  void operator()(ares_channel c) const { ares_destroy(c); }
};
using Channel = std::unique_ptr<std::remove_pointer_t<ares_channel>, ChannelDeleter>;

// ---- servers ---------------------------------------------------------------

struct Server {
  model::IpAddress ip;
  int port = kDefaultPort;
};

std::optional<int> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  int port = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) return std::nullopt;
  return port;
}

// "IP" (IPv4 or IPv6, port 53), "IPv4:PORT", "[IPv6]" or "[IPv6]:PORT".
Server parse_server(const std::string& text) {
  const auto bad = [&] {
    return ResolverError(fmt::format("DNS server \"{}\" is not IP, IP:PORT or [IPv6]:PORT", text));
  };
  const std::string_view s = text;
  Server server;
  if (auto ip = model::parse_ip(s)) {
    server.ip = *ip;
    return server;
  }
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) throw bad();
    host = s.substr(1, close - 1);
    const std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw bad();
      port = rest.substr(1);
      if (port.empty()) throw bad();
    }
    const auto ip = model::parse_ip(host);
    if (!ip || ip->v4) throw bad();
    server.ip = *ip;
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) throw bad();
    const auto ip = model::parse_ip(s.substr(0, colon));
    // A bare IPv6 address was accepted above; with a port it needs brackets.
    if (!ip || !ip->v4) throw bad();
    server.ip = *ip;
    port = s.substr(colon + 1);
    if (port.empty()) throw bad();
  }
  if (!port.empty()) {
    const auto p = parse_port(port);
    if (!p) throw bad();
    server.port = *p;
  }
  return server;
}

void set_servers(ares_channel channel, const std::vector<Server>& servers) {
  std::vector<ares_addr_port_node> nodes(servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    auto& node = nodes[i];
    node.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
    if (servers[i].ip.v4) {
      node.family = AF_INET;
      std::memcpy(&node.addr.addr4, servers[i].ip.bytes.data() + 12, 4);
    } else {
      node.family = AF_INET6;
      std::memcpy(&node.addr.addr6, servers[i].ip.bytes.data(), 16);
    }
    node.udp_port = servers[i].port;
    node.tcp_port = servers[i].port;
  }
  const int rc = ares_set_servers_ports(channel, nodes.data());
  if (rc != ARES_SUCCESS) throw ResolverError(fmt::format("cannot set DNS servers: {}", ares_strerror(rc)));
}

std::size_t count_servers(ares_channel channel) {
  ares_addr_port_node* list = nullptr;
  const int rc = ares_get_servers_ports(channel, &list);
  if (rc != ARES_SUCCESS) throw ResolverError(fmt::format("cannot read DNS servers: {}", ares_strerror(rc)));
  std::size_t n = 0;
  for (auto* node = list; node != nullptr; node = node->next) ++n;
  ares_free_data(list);
  return n;
}

// How many servers /etc/resolv.conf (and LOCALDOMAIN, RES_OPTIONS) give c-ares.
std::size_t system_server_count() {
  ares_channel raw = nullptr;
  const int rc = ares_init(&raw);
  Channel probe(raw);
  if (rc != ARES_SUCCESS) throw ResolverError(fmt::format("cannot read /etc/resolv.conf: {}", ares_strerror(rc)));
  return count_servers(probe.get());
}

// The first try's timeout such that c-ares's whole doubling schedule, over
// every server, fits in `budget` (see the file comment).
int base_timeout_ms(milliseconds budget, std::size_t servers, int tries) {
  const auto rounds = (int64_t{1} << tries) - 1;
  const auto parts = static_cast<int64_t>(std::max<std::size_t>(servers, 1)) * rounds;
  return static_cast<int>(std::clamp<int64_t>(budget.count() / parts, 1, std::numeric_limits<int>::max()));
}

// ---- one batch of queries ---------------------------------------------------

struct Batch;

struct Slot {
  Batch* batch = nullptr;
  std::size_t index = 0;
  Clock::time_point deadline;
  uint16_t id = 0;    // the message ID, unique among the queries c-ares holds
  bool done = false;  // its answer is in place
  bool live = false;  // c-ares still holds it (its callback has not run)
};

struct Batch {
  const std::vector<Query>* queries = nullptr;
  std::vector<Answer>* answers = nullptr;
  std::size_t running = 0;   // started, not done
  std::size_t finished = 0;  // done
  std::size_t live = 0;      // held by c-ares
  // IDs of the queries c-ares holds, kept unique so that no answer can be
  // taken for another query's by its ID.
  std::unordered_set<uint16_t> ids;

  void finish(Slot& slot, Answer answer) {
    (*answers)[slot.index] = std::move(answer);
    slot.done = true;
    --running;
    ++finished;
  }
};

Answer temporary(std::string detail) {
  Answer a;
  a.status = Status::temporary;
  a.detail = std::move(detail);
  return a;
}

std::string failure_detail(int status, int timeouts) {
  switch (status) {
    case ARES_ETIMEOUT: return fmt::format("timeout after {} tries", timeouts);
    // c-ares 1.18 drops SERVFAIL, REFUSED and NOTIMP answers to try the
    // next server and, when none is left, reports the status it started
    // with: ECONNREFUSED. So this status means either.
    case ARES_ECONNREFUSED: return "connection refused, or SERVFAIL/REFUSED from every server";
    case ARES_ESERVFAIL: return "SERVFAIL";
    case ARES_EREFUSED: return "REFUSED";
    case ARES_ENOTIMP: return "NOTIMP";
    case ARES_EFORMERR: return "FORMERR";
    case ARES_EBADRESP: return "malformed response";
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return "cancelled";
    default: return fmt::format("DNS error: {}", ares_strerror(status));
  }
}

// c-ares calls this from C: nothing may escape it.
void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen) noexcept {
  auto& slot = *static_cast<Slot*>(arg);
  Batch& batch = *slot.batch;
  slot.live = false;
  --batch.live;
  batch.ids.erase(slot.id);
  if (slot.done) return;  // already answered "timeout" at its deadline
  const Query& q = (*batch.queries)[slot.index];
  try {
    if (status == ARES_SUCCESS && abuf != nullptr && alen > 0)
      batch.finish(slot, parse_response(std::string_view(reinterpret_cast<const char*>(abuf),
                                                         static_cast<std::size_t>(alen)),
                                        q.name, q.type));
    else
      batch.finish(slot, temporary(failure_detail(status, timeouts)));
  } catch (...) {
    if (!slot.done) {
      Answer a;
      a.detail = "out of memory reading the answer";
      batch.finish(slot, std::move(a));
    }
  }
}

class AresResolver final : public Resolver {
 public:
  explicit AresResolver(const ResolverOptions& options)
      : options_(options), concurrency_(std::min(options.concurrency, kMaxConcurrency)) {
    if (options.timeout.count() <= 0) throw ResolverError("DNS timeout must be positive");
    if (options.tries < 1) throw ResolverError("DNS tries must be at least 1");
    if (options.concurrency < 1) throw ResolverError("DNS concurrency must be at least 1");
    std::vector<Server> servers;
    for (const auto& s : options.servers) servers.push_back(parse_server(s));

    init_library();
    const std::size_t nservers = servers.empty() ? system_server_count() : servers.size();
    if (nservers == 0) throw ResolverError("no DNS server: /etc/resolv.conf names none");

    const int tries = std::min(options.tries, kMaxTries);
    ares_options opts{};
    opts.timeout = base_timeout_ms(options.timeout, nservers, tries);
    opts.tries = tries;
    opts.sock_state_cb = &AresResolver::on_socket_state;
    opts.sock_state_cb_data = this;
    ares_channel raw = nullptr;
    const int rc = ares_init_options(&raw, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
    channel_.reset(raw);
    if (rc != ARES_SUCCESS) throw ResolverError(fmt::format("cannot initialise c-ares: {}", ares_strerror(rc)));
    if (!servers.empty()) set_servers(channel_.get(), servers);
  }

  Answer lookup(const std::string& name, Type type) override {
    auto answers = lookup_all({Query{name, type}});
    return std::move(answers.front());
  }

  std::vector<Answer> lookup_all(const std::vector<Query>& queries) override {
    std::vector<Answer> answers(queries.size());
    std::vector<Slot> slots(queries.size());  // never resized: c-ares holds pointers into it
    Batch batch;
    batch.queries = &queries;
    batch.answers = &answers;
    // Whatever ends this call, c-ares must not keep pointers into `slots`:
    // cancelling runs the remaining callbacks now (ARES_ECANCELLED).
    struct CancelRemaining {
      ares_channel channel;
      const Batch& batch;
      ~CancelRemaining() {
        if (batch.live > 0) ares_cancel(channel);
      }
    } cancel_remaining{channel_.get(), batch};

    std::deque<Slot*> running;  // in start order, so in deadline order
    std::size_t next = 0;
    while (batch.finished < queries.size()) {
      while (batch.running < concurrency_ && next < queries.size()) {
        Slot& slot = slots[next];
        slot.batch = &batch;
        slot.index = next++;
        if (start(slot, batch)) running.push_back(&slot);
      }
      while (!running.empty() && running.front()->done) running.pop_front();
      if (running.empty()) continue;  // all answered at once; start more or stop
      wait_and_process(running.front()->deadline);
      expire(running, batch);
    }
    return answers;
  }

 private:
  // Sends the query of `slot`; false when it is answered without being sent.
  bool start(Slot& slot, Batch& batch) {
    const Query& q = (*batch.queries)[slot.index];
    do {
      slot.id = static_cast<uint16_t>(random_() & 0xFFFF);
    } while (batch.ids.count(slot.id) != 0);
    const auto query = build_query(q.name, q.type, slot.id);
    ++batch.running;
    if (!query) {
      Answer a;
      a.status = Status::nxdomain;
      a.ttl = kNegativeTtlWithoutSoa;
      a.detail = "not a valid domain name";
      batch.finish(slot, std::move(a));
      return false;
    }
    slot.deadline = Clock::now() + options_.timeout;
    batch.ids.insert(slot.id);
    slot.live = true;
    ++batch.live;
    // May call on_answer before returning (no server, out of memory).
    ares_send(channel_.get(), reinterpret_cast<const unsigned char*>(query->data()), static_cast<int>(query->size()),
              on_answer, &slot);
    return true;
  }

  // Waits for a socket or a c-ares timer, no later than `deadline`, and lets
  // c-ares process what happened.
  void wait_and_process(Clock::time_point deadline) {
    const auto left = std::max(Clock::duration::zero(), deadline - Clock::now());
    const auto left_us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    timeval max_tv{static_cast<time_t>(left_us / 1000000), static_cast<suseconds_t>(left_us % 1000000)};
    timeval tv{};
    const timeval* wait = ares_timeout(channel_.get(), &max_tv, &tv);
    // Round up, so that a timer due in 0.4 ms is not polled for 0 ms again and again.
    const int64_t wait_ms = (int64_t{wait->tv_sec} * 1000000 + wait->tv_usec + 999) / 1000;

    std::vector<pollfd> fds;
    fds.reserve(sockets_.size());
    for (const auto& [fd, events] : sockets_) fds.push_back(pollfd{fd, events, 0});
    // A failed poll (EINTR) counts as "nothing ready": the timers still run
    // below and the deadlines still hold.
    const int timeout_ms = static_cast<int>(std::min<int64_t>(wait_ms, 60000));
    const int rc = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms);
    bool any = false;
    if (rc > 0) {
      for (const auto& p : fds) {
        if (p.revents == 0) continue;
        any = true;
        const bool readable = (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
        const bool writable = (p.revents & POLLOUT) != 0;
        ares_process_fd(channel_.get(), readable ? p.fd : ARES_SOCKET_BAD, writable ? p.fd : ARES_SOCKET_BAD);
      }
    }
    // Timers only: retries and c-ares's own timeouts.
    if (!any) ares_process_fd(channel_.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  }

  // Answers "timeout" every query past its deadline that c-ares has not
  // finished; c-ares keeps it until its own timers end it or the batch ends.
  void expire(std::deque<Slot*>& running, Batch& batch) {
    const auto now = Clock::now();
    while (!running.empty() && (running.front()->done || running.front()->deadline <= now)) {
      Slot& slot = *running.front();
      running.pop_front();
      if (!slot.done) batch.finish(slot, temporary(fmt::format("timeout after {} ms", options_.timeout.count())));
    }
  }

  // c-ares calls this from C: nothing may escape it. A socket it could not
  // record is not polled; its queries then end at their deadline.
  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) noexcept {
    auto& sockets = static_cast<AresResolver*>(data)->sockets_;
    if (!readable && !writable) {
      sockets.erase(fd);
      return;
    }
    try {
      sockets[fd] = static_cast<short>((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
    } catch (...) {
    }
  }

  ResolverOptions options_;
  std::size_t concurrency_;
  std::unordered_map<ares_socket_t, short> sockets_;  // what c-ares wants to hear about
  std::random_device random_;                        // query IDs: unpredictable, against spoofing
  Channel channel_;                                  // last: destroyed first, while sockets_ lives
};

}  // namespace

std::unique_ptr<Resolver> make_ares_resolver(const ResolverOptions& options) {
  return std::make_unique<AresResolver>(options);
}

}  // namespace dmarq::dns
