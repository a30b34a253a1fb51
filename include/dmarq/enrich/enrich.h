// Enrichment of source addresses: PTR, forward-confirmed reverse DNS, the
// base domain of the PTR name, and the mail service it belongs to.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/dns/resolver.h"

namespace dmarq::enrich {

struct IpInfo {
  std::string ip;           // canonical
  dns::Status ptr_status = dns::Status::temporary;
  std::string ptr;          // the first PTR name, lower case, no trailing dot; empty when none
  bool fcrdns = false;      // some PTR name resolves (A or AAAA) back to the address
  std::string base_domain;  // registrable domain of `ptr` (libpsl), empty when none
};

// PTR of every address, then A or AAAA of every PTR name, in two batches
// through Resolver::lookup_all (so concurrently with c-ares). Addresses that
// are not canonical IP text come back with ptr_status temporary and nothing
// else. At most kMaxPtrNames names of one address are checked.
std::vector<IpInfo> resolve_ips(dns::Resolver& dns, const std::vector<std::string>& canonical_ips);
inline constexpr std::size_t kMaxPtrNames = 10;

// The mail services of schema/mail-services.toml (compiled in), matched on
// a verified PTR name by label-boundary suffix.
struct Service {
  std::string key, name, type;
  std::vector<std::string> ptr_suffixes;  // lower case, no dots at either end
};

class ServiceMap {
 public:
  // The map shipped with dmarq.
  static const ServiceMap& shipped();
  // Parses the TOML format of schema/mail-services.toml; throws
  // std::runtime_error naming `origin` and the problem.
  static ServiceMap parse(std::string_view toml, const std::string& origin);
  // The first service (in file order) with a suffix `ptr_name` ends in.
  const Service* match(std::string_view ptr_name) const;
  const std::vector<Service>& services() const { return services_; }

 private:
  std::vector<Service> services_;
};

}  // namespace dmarq::enrich
