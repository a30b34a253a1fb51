// Names of types and statuses, the one-at-a-time lookup_all, the offline
// resolver and reverse-lookup names (see the header).
#include "dmarq/dns/resolver.h"

#include <stdexcept>

#include "dmarq/model/ip.h"

namespace dmarq::dns {

std::string_view type_name(Type t) {
  switch (t) {
    case Type::a: return "A";
    case Type::ns: return "NS";
    case Type::cname: return "CNAME";
    case Type::soa: return "SOA";
    case Type::ptr: return "PTR";
    case Type::mx: return "MX";
    case Type::txt: return "TXT";
    case Type::aaaa: return "AAAA";
    case Type::spf: return "SPF";
  }
  // A number cast into Type that the enum does not name.
  return "UNKNOWN";
}

std::string_view status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::nodata: return "nodata";
    case Status::nxdomain: return "nxdomain";
    case Status::temporary: return "temporary";
    case Status::offline: return "offline";
  }
  return "unknown";
}

std::vector<Answer> Resolver::lookup_all(const std::vector<Query>& queries) {
  std::vector<Answer> answers;
  answers.reserve(queries.size());
  for (const auto& q : queries) answers.push_back(lookup(q.name, q.type));
  return answers;
}

namespace {

class OfflineResolver final : public Resolver {
 public:
  Answer lookup(const std::string&, Type) override {
    Answer a;
    a.status = Status::offline;
    a.detail = "offline: no DNS query made";
    return a;
  }
};

}  // namespace

std::unique_ptr<Resolver> make_offline_resolver() { return std::make_unique<OfflineResolver>(); }

std::string reverse_name(const std::string& canonical_ip) {
  const auto ip = model::parse_ip(canonical_ip);
  // Callers pass addresses from the store, already canonical: anything else
  // is a bug, not input to guess about.
  if (!ip) throw std::invalid_argument("reverse_name: not an IP address: " + canonical_ip);
  std::string out;
  if (ip->v4) {
    // 4.3.2.1.in-addr.arpa (RFC 1035 section 3.5)
    for (int i = 15; i >= 12; --i) {
      out += std::to_string(ip->bytes[static_cast<std::size_t>(i)]);
      out.push_back('.');
    }
    return out + "in-addr.arpa";
  }
  // One label per nibble, least significant first (RFC 3596 section 2.5).
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(64 + 8);
  for (int i = 15; i >= 0; --i) {
    const uint8_t b = ip->bytes[static_cast<std::size_t>(i)];
    out.push_back(kHex[b & 0x0F]);
    out.push_back('.');
    out.push_back(kHex[b >> 4]);
    out.push_back('.');
  }
  return out + "ip6.arpa";
}

}  // namespace dmarq::dns
