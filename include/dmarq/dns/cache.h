// Answers kept in the database (table dns_cache: schema/003_dns.sql, and
// schema/pg/002_dns_cache.sql on PostgreSQL) for
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
// Opens its own connection to `db` (a SQLite path, or a postgresql:// URL
// with `password` as for store::open_store), which must already have
// dmarq's schema. `upstream` must outlive the result.
std::unique_ptr<Resolver> make_cached_resolver(Resolver& upstream, const std::string& db,
                                               std::function<int64_t()> now, const std::string& password = {});

}  // namespace dmarq::dns
