// Answers kept in the database (table dns_cache, schema/003_dns.sql) for
// their TTL: ok, nodata and nxdomain. A temporary failure or an offline
// answer is never stored, so it can never pass for "no record".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dmarq/dns/resolver.h"

namespace dmarq::dns {

// Wraps `upstream`; `now` gives UTC seconds (tests pass a fixed clock).
// Opens its own connection to the database at `db_path`, which must already
// have dmarq's schema. `upstream` must outlive the result.
std::unique_ptr<Resolver> make_cached_resolver(Resolver& upstream, const std::string& db_path,
                                               std::function<int64_t()> now);

}  // namespace dmarq::dns
