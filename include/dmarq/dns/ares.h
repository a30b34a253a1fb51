// The resolver that asks the network, through c-ares (library dmarq::net).
#pragma once

#include <memory>
#include <stdexcept>

#include "dmarq/dns/resolver.h"

namespace dmarq::dns {

struct ResolverError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws ResolverError when the options are unusable (a server that is not
// an address, no servers in /etc/resolv.conf).
std::unique_ptr<Resolver> make_ares_resolver(const ResolverOptions& options);

}  // namespace dmarq::dns
