// DNS lookups as the rest of dmarq sees them: a synchronous lookup and a
// batched one, over an interface so that the SPF engine, `dmarq check` and
// enrichment run the same against c-ares, the database cache, `--offline`
// and the in-memory zones of the unit tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dmarq::dns {

enum class Type : uint16_t { a = 1, ns = 2, cname = 5, soa = 6, ptr = 12, mx = 15, txt = 16, aaaa = 28, spf = 99 };
std::string_view type_name(Type t);  // "A", "TXT", "SPF", ...

enum class Status {
  ok,         // records of the type exist: `data` is not empty
  nodata,     // the name exists but has no record of the type (NOERROR, empty answer)
  nxdomain,   // the name does not exist
  temporary,  // timeout, SERVFAIL, REFUSED, network error: never cached as an answer
  offline,    // --offline: no query was made
};
std::string_view status_name(Status s);  // "ok", "nodata", "nxdomain", "temporary", "offline"

struct Answer {
  Status status = Status::temporary;
  // One entry per resource record of the asked type (CNAMEs followed), as text:
  //   A, AAAA          canonical address (dotted quad; RFC 5952 for IPv6)
  //   PTR, NS, CNAME   the target name, lower case, without the trailing dot
  //   MX               "PREFERENCE HOST", e.g. "10 mx.example.com"
  //   TXT, SPF (99)    the record's character-strings concatenated, bytes as received
  //   SOA              "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM"
  std::vector<std::string> data;
  uint32_t ttl = 0;     // how long the answer may be cached; for nodata/nxdomain the negative TTL (RFC 2308)
  std::string detail;   // temporary: what went wrong ("timeout after 2 tries", "SERVFAIL")
};

struct Query {
  std::string name;  // no trailing dot needed; case is kept
  Type type = Type::a;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // One lookup, waiting for its answer.
  virtual Answer lookup(const std::string& name, Type type) = 0;
  // Many lookups at once (at most the resolver's concurrency in flight);
  // answers in the order of `queries`. The default asks one at a time.
  virtual std::vector<Answer> lookup_all(const std::vector<Query>& queries);
};

struct ResolverOptions {
  // "IP", "IP:PORT" or "[IPv6]:PORT"; empty means the servers of /etc/resolv.conf.
  std::vector<std::string> servers;
  // A query's whole budget, every try included (the c-ares resolver sizes
  // its first try so that the whole retry schedule fits, and also ends each
  // query at start + timeout): with a server that never answers, N lookups
  // take at most timeout * ceil(N / concurrency).
  std::chrono::milliseconds timeout{3000};
  int tries = 2;
  std::size_t concurrency = 64;  // queries in flight at once
};

// Every answer is Status::offline and no query is made (--offline).
std::unique_ptr<Resolver> make_offline_resolver();

// The reverse-lookup name of an address: 4.3.2.1.in-addr.arpa, or the
// nibble form under ip6.arpa.
std::string reverse_name(const std::string& canonical_ip);

}  // namespace dmarq::dns
