// DNS messages as bytes (RFC 1035 section 4): the query dmarq sends and the
// response it reads back into a dns::Answer.
//
// Why by hand, although c-ares parses messages: c-ares 1.18.1 (Debian 12)
// gives TTLs only for A and AAAA (ares_parse_a_reply/ares_parse_aaaa_reply),
// has no parser for type 99 (SPF), and turns NXDOMAIN and NODATA into an error
// code without the negative TTL of RFC 2308 (the SOA of the authority
// section). So c-ares moves the bytes (sockets, retries, TCP on truncation)
// and this file reads them.
//
// Contract: pure functions, no I/O, safe to call from any thread. The
// response is untrusted: every read is bounds-checked, a compression pointer
// must point before the run of labels it ends (so pointers cannot loop) and
// at most kMaxPointers of them make one name, a name is at most 255 bytes,
// and a CNAME chain is followed at most kMaxCnameChain links. Whatever is
// malformed gives Status::temporary with a detail, never a crash or a guess.
//
// Names as text: labels joined by '.', ASCII lower-cased, no trailing dot;
// the root is ".". A label byte that is '.', '\' or not printable ASCII is
// written as in master files (RFC 1035 section 5.1): "\.", "\\", "\DDD", so
// that a name read from a response and passed back to encode_name() gives
// the same wire name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dmarq/dns/resolver.h"

namespace dmarq::dns {

// Negative TTL when a NXDOMAIN or NODATA response carries no SOA: RFC 2308
// says not to cache such an answer, but asking again at once on every
// lookup of a report's sources helps nobody; five minutes is short.
inline constexpr uint32_t kNegativeTtlWithoutSoa = 300;
// CNAME links followed inside one response (a loop hits this too).
inline constexpr std::size_t kMaxCnameChain = 16;
// Compression pointers followed while reading one name.
inline constexpr std::size_t kMaxPointers = 64;

// The wire form of `name`: length-prefixed labels ending with the root's zero
// byte. Accepts a trailing dot and the escapes above ("\." "\\" "\DDD"); ""
// and "." are the root. nullopt when `name` is not a domain name: an empty
// label, a label over 63 bytes, over 255 bytes in all, or a bad escape.
std::optional<std::string> encode_name(std::string_view name);

// A standard query (opcode QUERY, RD set, no EDNS) for `name`, `type`, class
// IN, with the message ID `id`. nullopt when encode_name() refuses `name`.
std::optional<std::string> build_query(std::string_view name, Type type, uint16_t id);

// Reads the response `message` to the question (qname, qtype, class IN).
//   NOERROR with records of qtype (at qname or at the end of its CNAME chain)
//     -> ok, data as resolver.h documents, ttl = the smallest TTL of the
//        records and CNAMEs used (a TTL above 2^31-1 counts as 0, RFC 2181).
//     With qtype CNAME the CNAME records themselves are the answer.
//   NOERROR without them -> nodata; NXDOMAIN -> nxdomain (RFC 6604: the code
//     is about the last name of the chain), ttl = min(SOA TTL, SOA MINIMUM)
//     of the authority section (RFC 2308), or kNegativeTtlWithoutSoa, and no
//     more than the CNAMEs used.
//   SERVFAIL, REFUSED, any other RCODE, a truncated (TC) or malformed message,
//     a question other than the one asked -> temporary, `detail` says which.
// The ID is not checked (c-ares matches answers to queries); the additional
// section is not read.
Answer parse_response(std::string_view message, std::string_view qname, Type qtype);

}  // namespace dmarq::dns
