// Mail-host findings: the domain's MX records (RFC 5321 5.1, null MX of
// RFC 7505), each host's addresses, and each address's reverse DNS, which
// large receivers require of senders: a PTR name that resolves back to the
// same address (forward-confirmed reverse DNS). Gmail requires it outright
// for mail sent over IPv6.
#include <fmt/format.h>

#include <algorithm>

#include "check/context.h"
#include "dmarq/model/ip.h"

namespace dmarq::check::detail {
namespace {

struct Address {
  std::string host, ip;
  bool v4 = false;
  std::string reverse;  // its PTR query name
};

void check_no_mx(Context& ctx) {
  const std::string& d = ctx.domain;
  HostAddresses own = host_addresses(ctx, d);
  if (!own.v4.empty() || !own.v6.empty()) {
    const std::string& ip = own.v4.empty() ? own.v6.front() : own.v4.front();
    ctx.add(Severity::info, "mx.none", d, "",
            fmt::format("{} has no MX record, so mail for it goes to its own address {} (implicit MX, RFC 5321 "
                        "5.1).",
                        d, ip),
            fmt::format("Publish an MX record if {} receives mail, or a null MX \"0 .\" if it does not (RFC 7505).",
                        d));
    return;
  }
  if (!absent(own.a) || !absent(own.aaaa)) return;  // unknown: a dns.temporary finding says why
  ctx.add(Severity::warning, "mx.none", d, "",
          fmt::format("{} has no MX record and no address, so no one can deliver mail to it, bounces and replies "
                      "included.",
                      d),
          fmt::format("Publish an MX record for {}, or a null MX \"0 .\" to declare that it receives no mail "
                      "(RFC 7505).",
                      d));
}

// Reverse DNS of every address, in two batches: the PTR records, then the
// forward records of the names they give.
void check_reverse_dns(Context& ctx, const std::vector<Address>& addresses) {
  std::vector<dns::Query> ptr_queries;
  for (const auto& a : addresses) ptr_queries.push_back({a.reverse, dns::Type::ptr});
  std::vector<dns::Answer> ptrs = ctx.dns.lookup_all(ptr_queries);

  std::vector<std::vector<std::string>> names(addresses.size());
  std::vector<dns::Query> forward;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (!present(ptrs[i])) continue;
    for (const auto& raw : ptrs[i].data) {
      std::string n = analyze::normalize_domain(raw);
      if (!is_query_name(n) || std::find(names[i].begin(), names[i].end(), n) != names[i].end()) continue;
      names[i].push_back(n);
      forward.push_back({n, addresses[i].v4 ? dns::Type::a : dns::Type::aaaa});
      if (names[i].size() >= kMaxPtrNames) break;
    }
  }
  ctx.dns.lookup_all(forward);  // fills the cache; read back per address below

  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const Address& addr = addresses[i];
    if (absent(ptrs[i])) {
      ctx.add(Severity::warning, "mx.no_ptr", addr.host, "",
              fmt::format("{} ({}) has no PTR record at {}, and receivers such as Gmail and Outlook distrust or "
                          "refuse mail from an address without reverse DNS.",
                          addr.ip, addr.host, addr.reverse),
              fmt::format("Ask whoever runs {}'s address block (usually the hosting provider) to set its PTR to {}.",
                          addr.ip, addr.host));
      continue;
    }
    if (!present(ptrs[i])) continue;  // temporary: noted already
    bool confirmed = false, unknown = false;
    for (const auto& n : names[i]) {
      dns::Answer fw = ctx.dns.lookup(n, addr.v4 ? dns::Type::a : dns::Type::aaaa);
      if (!present(fw) && !absent(fw)) unknown = true;
      if (!present(fw)) continue;
      for (const auto& text : fw.data) {
        auto ip = model::parse_ip(trim_wsp(text));
        confirmed = confirmed || (ip && ip->to_string() == addr.ip);
      }
    }
    if (confirmed || unknown) continue;
    ctx.add(Severity::warning, "mx.fcrdns_mismatch", addr.host, join_records(ptrs[i].data),
            fmt::format("{} ({}) has the PTR name {}, which does not resolve back to {}, so forward-confirmed "
                        "reverse DNS fails.",
                        addr.ip, addr.host, clip(join_records(names[i]), 200), addr.ip),
            fmt::format("Set the PTR of {} to {} (which resolves to it), or add {} to the PTR name's {} records.",
                        addr.ip, addr.host, addr.ip, addr.v4 ? "A" : "AAAA"));
  }
}

}  // namespace

void check_mail_hosts(Context& ctx) {
  const std::string& d = ctx.domain;
  MxSet mx = mx_hosts(ctx);
  if (absent(mx.answer)) return check_no_mx(ctx);
  if (!present(mx.answer)) return;  // temporary or offline: noted already

  for (std::size_t i = 0; i < mx.malformed.size() && i < kMaxRecords; ++i)
    ctx.add(Severity::warning, "mx.bad_record", d, mx.malformed[i],
            fmt::format("The MX record \"{}\" of {} is not a preference followed by a host name.",
                        clip(mx.malformed[i]), d),
            "Write MX records as PREFERENCE HOST, e.g. \"10 mail.example.com.\".");
  if (mx.null_mx && mx.hosts.empty())
    ctx.add(Severity::info, "mx.null", d, "0 .",
            fmt::format("{} publishes a null MX (\"0 .\", RFC 7505): it declares that it receives no mail, so "
                        "bounces and replies to its addresses are refused.",
                        d),
            "");
  else if (mx.null_mx)
    ctx.add(Severity::warning, "mx.null_mixed", d, "0 .",
            fmt::format("{} publishes a null MX next to other MX records, which RFC 7505 3.3 forbids; senders may "
                        "decide it receives no mail.",
                        d),
            "Remove the \"0 .\" record if the domain receives mail, or the other MX records if it does not.");
  if (mx.dropped > 0)
    ctx.add(Severity::info, "mx.too_many", d, "",
            fmt::format("{} has {} MX hosts; only the {} with the lowest preference were checked.", d,
                        mx.hosts.size() + mx.dropped, mx.hosts.size()),
            "");

  std::vector<Address> addresses;
  for (const auto& h : mx.hosts) {
    if (model::parse_ip(h.host)) {
      ctx.add(Severity::error, "mx.ip_literal", h.host, fmt::format("{} {}", h.preference, h.host),
              fmt::format("An MX record of {} points at the IP address {}, but MX records must name a host (RFC "
                          "5321 5.1), and many senders will not deliver to it.",
                          d, h.host),
              fmt::format("Publish an A record for a name such as mail.{} with that address and point the MX at the "
                          "name.",
                          d));
      continue;
    }
    HostAddresses addrs = host_addresses(ctx, h.host);
    if (addrs.v4.empty() && addrs.v6.empty()) {
      // "No address" only when both answers say so, and RFC 5321 5.1 says an
      // MX host without one is an error.
      if (absent(addrs.a) && absent(addrs.aaaa))
        ctx.add(Severity::error, "mx.no_address", h.host, "",
                fmt::format("The MX host {} has no A or AAAA record, so mail for {} cannot be delivered to it.",
                            h.host, d),
                fmt::format("Publish an A (and AAAA) record for {}, or point the MX at a host that has one.", h.host));
      continue;
    }
    if (addrs.v6.empty() && absent(addrs.aaaa))
      ctx.add(Severity::warning, "mx.no_ipv6", h.host, "",
              fmt::format("The MX host {} has no AAAA record, so it is reached over IPv4 only, and if it sends over "
                          "IPv6, Gmail requires that address to have a PTR name resolving back to it.",
                          h.host),
              fmt::format("Publish an AAAA record for {} with a matching PTR, or have the server send over IPv4 "
                          "only.",
                          h.host));
    for (const auto* list : {&addrs.v4, &addrs.v6})
      for (const auto& ip : *list)
        addresses.push_back({h.host, ip, list == &addrs.v4, dns::reverse_name(ip)});
  }
  addresses.erase(std::remove_if(addresses.begin(), addresses.end(),
                                 [](const Address& a) { return !is_query_name(a.reverse); }),
                  addresses.end());
  check_reverse_dns(ctx, addresses);
}

}  // namespace dmarq::check::detail
