// check_host() of RFC 7208 as an analysis engine: the result a receiver
// would reach, who decided it, and a trace of how (the static lookup count
// of `dmarq check` is in lookup_count.cpp, the syntax in record.cpp, macros
// in macro.cpp).
//
// Written by hand rather than linked from libspf2: libspf2 is unmaintained
// (no release since 2012 and open CVEs, among them heap overflows in its
// macro expansion), Debian 12 has no other maintained C or C++ SPF library,
// and a filter's verdict is not enough here: dmarq has to say which record
// and which term decided, and what "-all" would change.
//
// DNS is only through dns::Resolver. Every limit of RFC 7208 4.6.4 applies
// (10 lookup terms, 2 void lookups, 10 MX and PTR names), plus a nesting
// limit for callers that raise the lookup limit, so that a hostile chain of
// includes cannot exhaust the stack. Records, macros and DNS answers are
// treated as hostile: nothing here trusts a length, a count or a format.
#include "dmarq/spf/spf.h"

#include <algorithm>
#include <variant>

#include <fmt/format.h>

#include "spf/detail.h"

namespace dmarq::spf {

namespace {

using detail::Directive;
using detail::failure_detail;
using detail::Kind;
using detail::kMaxDepth;
using detail::normalize;
using detail::queryable;
using detail::select_record;
using detail::Selected;
using detail::valid_check_domain;

constexpr std::size_t kMaxMxNames = 10;       // RFC 7208 4.6.4: more is a permerror
constexpr std::size_t kMaxPtrNames = 10;      // RFC 7208 4.6.4: the rest are ignored
constexpr std::size_t kMaxTraceLines = 1000;  // a record of thousands of ip4 terms stays readable
constexpr std::size_t kShownChars = 512;      // of a record or name quoted in the trace

std::string clip(std::string_view s) {
  if (s.size() <= kShownChars) return std::string(s);
  return std::string(s.substr(0, kShownChars)) + "...";
}

bool is_subdomain_or_same(const std::string& name, const std::string& target) {
  if (name == target) return true;
  return name.size() > target.size() && name.ends_with(target) && name[name.size() - target.size() - 1] == '.';
}

// RFC 7208 5: an IPv4-mapped IPv6 address is evaluated as IPv4.
model::IpAddress effective(model::IpAddress ip) {
  if (ip.v4) return ip;
  for (int i = 0; i < 10; ++i)
    if (ip.bytes[i] != 0) return ip;
  if (ip.bytes[10] == 0xff && ip.bytes[11] == 0xff) ip.v4 = true;
  return ip;
}

bool same_prefix(const uint8_t* a, const uint8_t* b, int bits) {
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    unsigned mask = bits >= 8 ? 0xffu : (0xff00u >> bits) & 0xffu;
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

// The families never cross: ip4 ranges only match IPv4, ip6 ranges IPv6.
bool in_network(const model::IpAddress& ip, const model::IpAddress& net, int cidr4, int cidr6) {
  if (ip.v4 != net.v4) return false;
  if (ip.v4) return same_prefix(ip.bytes.data() + 12, net.bytes.data() + 12, cidr4);
  return same_prefix(ip.bytes.data(), net.bytes.data(), cidr6);
}

Result qualifier_result(char q) {
  switch (q) {
    case '-': return Result::fail;
    case '~': return Result::softfail;
    case '?': return Result::neutral;
    default: return Result::pass;
  }
}

// One check_host() call: the state shared by the whole include/redirect tree
// (lookup counts, the trace, the chain of domains under evaluation).
//
// Who decided: the record and term whose qualifier gave the result. An
// include that matched is the deciding term of the including record (its
// qualifier counts: "-include:x" fails when x passes); a redirect hands the
// decision to the target's record. For temperror and permerror it is the
// innermost record and term where the error arose, which is what to fix.
class Engine {
 public:
  struct Outcome {
    Result result = Result::none;
    std::string decided_by;
    std::string mechanism;
  };

  Engine(dns::Resolver& dns, const Options& options, Evaluation& ev, detail::MacroContext ctx)
      : dns_(dns), options_(options), ev_(ev), ctx_(std::move(ctx)) {
    ctx_.validated_name = [this](const std::string& domain) { return validated_name(domain); };
  }

  Outcome check(const std::string& domain, int level);

 private:
  void line(int level, std::string text);
  enum class Match { no, yes, error };

  Match evaluate(const Term& term, const Directive& d, int level);
  Match match_a(const Term& term, const Directive& d, int level);
  Match match_mx(const Term& term, const Directive& d, int level);
  Match match_ptr(const Term& term, const Directive& d, int level);
  Match match_exists(const Term& term, const Directive& d, int level);
  Match match_include(const Term& term, const Directive& d, int level);
  Outcome follow_redirect(const Term& term, const Directive& d, int level);

  enum class Addresses { match, no_match, empty, error };
  Addresses address_match(const std::string& name, const Directive& d, std::size_t& found);

  bool count_lookup(const Term& term);
  bool count_void(const Term& term, const std::string& name);
  std::optional<std::string> target(const Term& term, const Directive& d);
  std::variant<std::string, Match> query_target(const Term& term, const Directive& d, int level);
  std::optional<dns::Answer> ask(const Term& term, const std::string& name, dns::Type type);
  std::optional<std::string> loop_through(const std::string& target) const;
  Match fail(Result r, const Term* term, std::string problem);
  Outcome error_outcome() const { return {error_, error_domain_, error_term_}; }
  std::string validated_name(const std::string& domain);
  std::vector<std::string> validated_names();

  dns::Resolver& dns_;
  const Options& options_;
  Evaluation& ev_;
  detail::MacroContext ctx_;
  std::vector<std::string> chain_;  // normalized domains under evaluation, outermost first
  Result error_ = Result::none;
  std::string error_domain_, error_term_;
  std::optional<std::vector<std::string>> validated_;  // %{p}: computed once
};

void Engine::line(int level, std::string text) {
  if (ev_.trace.size() > kMaxTraceLines) return;
  if (ev_.trace.size() == kMaxTraceLines) {
    ev_.trace.emplace_back("(trace cut: more than 1000 lines)");
    return;
  }
  ev_.trace.push_back(std::string(static_cast<std::size_t>(2 * level), ' ') + std::move(text));
}

// Errors end check_host() at once (RFC 7208 4.6 and 5); the first one, the
// innermost, is the one reported.
Engine::Match Engine::fail(Result r, const Term* term, std::string problem) {
  error_ = r;
  error_domain_ = ctx_.domain;
  error_term_ = term ? term->text : std::string();
  if (ev_.problem.empty()) ev_.problem = std::move(problem);
  return Match::error;
}

bool Engine::count_lookup(const Term& term) {
  ++ev_.dns_lookups;
  if (ev_.dns_lookups <= options_.max_dns_lookups) return true;
  fail(Result::permerror, &term,
       fmt::format("More than {} DNS-querying terms (include, a, mx, ptr, exists, redirect): \"{}\" in {} is "
                   "number {}.",
                   options_.max_dns_lookups, clip(term.text), ctx_.domain, ev_.dns_lookups));
  return false;
}

bool Engine::count_void(const Term& term, const std::string& name) {
  ++ev_.void_lookups;
  if (ev_.void_lookups <= options_.max_void_lookups) return true;
  fail(Result::permerror, &term,
       fmt::format("More than {} void lookups (names with no records): {} for \"{}\" in {} is number {}.",
                   options_.max_void_lookups, clip(name), clip(term.text), ctx_.domain, ev_.void_lookups));
  return false;
}

std::optional<std::string> Engine::target(const Term& term, const Directive& d) {
  if (d.domain_spec.empty()) return ctx_.domain;
  std::string why;
  auto name = detail::expand_domain_spec(d.domain_spec, ctx_, why);
  if (!name)
    fail(Result::permerror, &term, fmt::format("The term \"{}\" in {} {}.", clip(term.text), ctx_.domain, why));
  return name;
}

// What a, mx and exists do first: count the lookup and expand the target. A
// target that is no DNS name does not match (see queryable()). Gives the name
// to query, or the result to return at once.
std::variant<std::string, Engine::Match> Engine::query_target(const Term& term, const Directive& d, int level) {
  if (!count_lookup(term)) return Match::error;
  auto name = target(term, d);
  if (!name) return Match::error;
  if (!queryable(*name)) {
    line(level, fmt::format("{} did not match ({} is not a valid name)", clip(term.text), clip(*name)));
    return Match::no;
  }
  return std::move(*name);
}

// A lookup whose temporary failure ends check_host() with temperror
// (RFC 7208 5: any DNS error other than "no such name" or "no records").
std::optional<dns::Answer> Engine::ask(const Term& term, const std::string& name, dns::Type type) {
  dns::Answer a = dns_.lookup(name, type);
  if (a.status == dns::Status::temporary || a.status == dns::Status::offline) {
    fail(Result::temperror, &term,
         fmt::format("The {} lookup of {} for \"{}\" in {} failed: {}.", dns::type_name(type), clip(name),
                     clip(term.text), ctx_.domain, failure_detail(a)));
    return std::nullopt;
  }
  return a;
}

// "a.example -> b.example -> a.example" when `target` is already under
// evaluation: a loop the lookup limit would also stop, named plainly.
std::optional<std::string> Engine::loop_through(const std::string& target) const {
  std::string t = normalize(target);
  auto it = std::find(chain_.begin(), chain_.end(), t);
  if (it == chain_.end()) return std::nullopt;
  std::string path;
  for (; it != chain_.end(); ++it) path += *it + " -> ";
  return path + t;
}

Engine::Outcome Engine::check(const std::string& domain, int level) {
  if (level > kMaxDepth) {
    fail(Result::permerror, nullptr,
         fmt::format("Includes and redirects nest more than {} deep below {}.", kMaxDepth, domain));
    return error_outcome();
  }
  if (!valid_check_domain(domain)) {
    line(level, fmt::format("{}: not a valid domain name, so no SPF record", clip(domain)));
    return {Result::none, domain, {}};
  }
  std::string saved_domain = ctx_.domain;
  ctx_.domain = domain;
  struct Restore {
    Engine& e;
    std::string domain;
    ~Restore() {
      e.ctx_.domain = domain;
      if (!e.chain_.empty()) e.chain_.pop_back();
    }
  } restore{*this, saved_domain};
  chain_.push_back(normalize(domain));

  Selected sel = select_record(dns_, domain);
  switch (sel.status) {
    case Selected::temporary:
      line(level, fmt::format("{}: TXT lookup failed ({})", domain, sel.detail));
      fail(Result::temperror, nullptr, fmt::format("The TXT lookup of {} failed: {}.", domain, sel.detail));
      return error_outcome();
    case Selected::none:
      line(level, fmt::format("{}: no SPF record", domain));
      return {Result::none, domain, {}};
    case Selected::multiple:
      line(level, fmt::format("{}: more than one SPF record", domain));
      fail(Result::permerror, nullptr,
           fmt::format("{} publishes more than one \"v=spf1\" TXT record; receivers treat that as an error.",
                       domain));
      return error_outcome();
    case Selected::found: break;
  }
  line(level, fmt::format("{}: \"{}\"", domain, clip(sel.record)));
  std::string error;
  auto record = parse_record(sel.record, error);
  if (!record) {
    line(level + 1, "syntax error: " + error);
    fail(Result::permerror, nullptr, fmt::format("The SPF record of {} is not valid. {}", domain, error));
    return error_outcome();
  }

  const Term* redirect = nullptr;
  Directive redirect_d;
  bool has_all = false;
  for (const Term& term : record->terms) {
    std::string why;
    auto d = detail::take_apart(term, why);
    if (!d) {  // parse_record accepted it, so this is a bug; still no crash
      fail(Result::permerror, &term, fmt::format("The term \"{}\" in {} {}.", clip(term.text), domain, why));
      return error_outcome();
    }
    if (d->kind == Kind::all) has_all = true;
    if (term.modifier) {
      if (d->kind == Kind::redirect) {
        redirect = &term;
        redirect_d = *d;
      }
      continue;  // exp= is for rejections; unknown modifiers are ignored (RFC 7208 6)
    }
    Match m = evaluate(term, *d, level + 1);
    if (m == Match::error) return error_outcome();
    if (m == Match::yes) {
      char q = d->kind == Kind::all && options_.strict_all ? '-' : d->qualifier;
      return {qualifier_result(q), domain, term.text};
    }
  }
  if (redirect && has_all) {
    line(level + 1, fmt::format("{} ignored: the record has an \"all\"", clip(redirect->text)));
  } else if (redirect) {
    return follow_redirect(*redirect, redirect_d, level + 1);
  }
  line(level + 1, "no term matched: neutral");
  return {Result::neutral, domain, {}};
}

Engine::Match Engine::evaluate(const Term& term, const Directive& d, int level) {
  switch (d.kind) {
    case Kind::all:
      if (options_.strict_all && d.qualifier != '-')
        line(level, fmt::format("{} matched (read as -all: strict)", term.text));
      else
        line(level, fmt::format("{} matched", term.text));
      return Match::yes;
    case Kind::ip4:
    case Kind::ip6: {
      bool hit = in_network(ctx_.ip, d.network, d.cidr4, d.cidr6);
      line(level, fmt::format("{} {}", clip(term.text), hit ? "matched" : "did not match"));
      return hit ? Match::yes : Match::no;
    }
    case Kind::a: return match_a(term, d, level);
    case Kind::mx: return match_mx(term, d, level);
    case Kind::ptr: return match_ptr(term, d, level);
    case Kind::exists: return match_exists(term, d, level);
    case Kind::include: return match_include(term, d, level);
    default: return Match::no;  // modifiers never get here
  }
}

// Looks up A (IPv4) or AAAA (IPv6) of `name` and compares each address with
// the CIDR of `d`. RFC 7208 4.6.4 puts no limit on the number of addresses.
Engine::Addresses Engine::address_match(const std::string& name, const Directive& d, std::size_t& found) {
  found = 0;
  if (!queryable(name)) return Addresses::no_match;
  dns::Type type = ctx_.ip.v4 ? dns::Type::a : dns::Type::aaaa;
  dns::Answer a = dns_.lookup(name, type);
  if (a.status == dns::Status::temporary || a.status == dns::Status::offline) {
    fail(Result::temperror, nullptr,
         fmt::format("The {} lookup of {} in {} failed: {}.", dns::type_name(type), clip(name), ctx_.domain,
                     failure_detail(a)));
    return Addresses::error;
  }
  if (a.status != dns::Status::ok) return Addresses::empty;
  for (const auto& text : a.data) {
    auto addr = model::parse_ip(text);
    if (!addr) continue;  // a resolver's garbage is no address
    ++found;
    if (in_network(ctx_.ip, effective(*addr), d.cidr4, d.cidr6)) return Addresses::match;
  }
  return found ? Addresses::no_match : Addresses::empty;
}

Engine::Match Engine::match_a(const Term& term, const Directive& d, int level) {
  auto queried = query_target(term, d, level);
  if (auto* early = std::get_if<Match>(&queried)) return *early;
  const std::string& name = std::get<std::string>(queried);
  std::size_t found = 0;
  switch (address_match(name, d, found)) {
    case Addresses::error:
      error_term_ = term.text;
      return Match::error;
    case Addresses::match: line(level, fmt::format("{} matched ({})", clip(term.text), clip(name))); return Match::yes;
    case Addresses::no_match:
      line(level, fmt::format("{} did not match ({}: {} address{})", clip(term.text), clip(name), found,
                              found == 1 ? "" : "es"));
      return Match::no;
    case Addresses::empty:
      line(level, fmt::format("{} did not match ({} has no {} records: void lookup)", clip(term.text), clip(name),
                              ctx_.ip.v4 ? "A" : "AAAA"));
      return count_void(term, name) ? Match::no : Match::error;
  }
  return Match::no;
}

Engine::Match Engine::match_mx(const Term& term, const Directive& d, int level) {
  auto queried = query_target(term, d, level);
  if (auto* early = std::get_if<Match>(&queried)) return *early;
  const std::string& name = std::get<std::string>(queried);
  auto answer = ask(term, name, dns::Type::mx);
  if (!answer) return Match::error;
  if (answer->status != dns::Status::ok) {
    line(level, fmt::format("{} did not match ({} has no MX records: void lookup)", clip(term.text), clip(name)));
    return count_void(term, name) ? Match::no : Match::error;
  }
  std::vector<std::string> hosts;
  for (const auto& mx : answer->data) {
    std::string_view v = mx;
    auto space = v.find(' ');
    std::string host = normalize(space == std::string_view::npos ? v : v.substr(space + 1));
    if (!host.empty()) hosts.push_back(std::move(host));  // "0 ." is a null MX (RFC 7505): no host
  }
  if (hosts.size() > kMaxMxNames) {
    line(level, fmt::format("{}: {} has {} MX names", clip(term.text), clip(name), hosts.size()));
    return fail(Result::permerror, &term,
                fmt::format("The \"{}\" term in {} names {} MX hosts; receivers allow at most {}.", clip(term.text),
                            ctx_.domain, hosts.size(), kMaxMxNames));
  }
  for (const auto& host : hosts) {
    std::size_t found = 0;
    switch (address_match(host, d, found)) {
      case Addresses::error: error_term_ = term.text; return Match::error;
      case Addresses::match:
        line(level, fmt::format("{} matched (MX host {})", clip(term.text), clip(host)));
        return Match::yes;
      case Addresses::empty:
        if (!count_void(term, host)) return Match::error;
        break;
      case Addresses::no_match: break;
    }
  }
  line(level, fmt::format("{} did not match ({} MX host{})", clip(term.text), hosts.size(),
                          hosts.size() == 1 ? "" : "s"));
  return Match::no;
}

// RFC 7208 5.5: a PTR name counts only when it is the target or under it and
// its own A/AAAA records lead back to the address. DNS errors here make the
// mechanism not match rather than temperror (5.5), and only the first 10
// names are looked at (4.6.4).
Engine::Match Engine::match_ptr(const Term& term, const Directive& d, int level) {
  if (!count_lookup(term)) return Match::error;
  auto name = target(term, d);
  if (!name) return Match::error;
  std::string want = normalize(*name);
  dns::Answer answer = dns_.lookup(dns::reverse_name(ctx_.ip.to_string()), dns::Type::ptr);
  if (answer.status == dns::Status::nxdomain || answer.status == dns::Status::nodata) {
    line(level, fmt::format("{} did not match (no PTR records for {}: void lookup)", clip(term.text),
                            ctx_.ip.to_string()));
    return count_void(term, dns::reverse_name(ctx_.ip.to_string())) ? Match::no : Match::error;
  }
  if (answer.status != dns::Status::ok) {
    line(level, fmt::format("{} did not match (PTR lookup failed: {})", clip(term.text), failure_detail(answer)));
    return Match::no;
  }
  std::size_t looked = 0;
  for (const auto& ptr : answer.data) {
    if (looked++ == kMaxPtrNames) break;
    std::string host = normalize(ptr);
    if (!is_subdomain_or_same(host, want)) continue;
    if (!queryable(host)) continue;
    // The forward lookup: a DNS error skips the name (RFC 7208 5.5).
    dns::Answer probe = dns_.lookup(host, ctx_.ip.v4 ? dns::Type::a : dns::Type::aaaa);
    if (probe.status != dns::Status::ok) continue;
    for (const auto& text : probe.data) {
      auto addr = model::parse_ip(text);
      if (addr && in_network(ctx_.ip, effective(*addr), 32, 128)) {
        line(level, fmt::format("{} matched (validated {})", clip(term.text), clip(host)));
        return Match::yes;
      }
    }
  }
  line(level, fmt::format("{} did not match (no validated PTR name under {})", clip(term.text), clip(want)));
  return Match::no;
}

Engine::Match Engine::match_exists(const Term& term, const Directive& d, int level) {
  auto queried = query_target(term, d, level);
  if (auto* early = std::get_if<Match>(&queried)) return *early;
  const std::string& name = std::get<std::string>(queried);
  // RFC 7208 5.7: always an A lookup, whatever the family of the address.
  auto answer = ask(term, name, dns::Type::a);
  if (!answer) return Match::error;
  if (answer->status == dns::Status::ok) {
    line(level, fmt::format("{} matched ({} exists)", clip(term.text), clip(name)));
    return Match::yes;
  }
  line(level, fmt::format("{} did not match ({} has no A records: void lookup)", clip(term.text), clip(name)));
  return count_void(term, name) ? Match::no : Match::error;
}

// RFC 7208 5.2: pass matches; fail, softfail and neutral do not; errors
// propagate; an included domain without a record is a permerror.
Engine::Match Engine::match_include(const Term& term, const Directive& d, int level) {
  if (!count_lookup(term)) return Match::error;
  auto name = target(term, d);
  if (!name) return Match::error;
  if (auto loop = loop_through(*name)) {
    line(level, fmt::format("{} -> permerror (loop)", clip(term.text)));
    return fail(Result::permerror, &term, fmt::format("Include loop: {}.", *loop));
  }
  Outcome inner = check(*name, level);
  std::string shown = fmt::format("{} -> {}", clip(term.text), result_name(inner.result));
  switch (inner.result) {
    case Result::pass: line(level, shown + ", matched"); return Match::yes;
    case Result::fail:
    case Result::softfail:
    case Result::neutral: line(level, shown + ", no match"); return Match::no;
    case Result::temperror:
    case Result::permerror: line(level, shown); return Match::error;
    case Result::none: line(level, shown); break;
  }
  return fail(Result::permerror, &term,
              fmt::format("\"{}\" in {} names {}, which has no SPF record.", clip(term.text), ctx_.domain,
                          clip(*name)));
}

// RFC 7208 6.1: the target's result is the result, except that a target
// without a record is a permerror.
Engine::Outcome Engine::follow_redirect(const Term& term, const Directive& d, int level) {
  if (!count_lookup(term)) return error_outcome();
  auto name = target(term, d);
  if (!name) return error_outcome();
  if (auto loop = loop_through(*name)) {
    line(level, fmt::format("{} -> permerror (loop)", clip(term.text)));
    fail(Result::permerror, &term, fmt::format("Redirect loop: {}.", *loop));
    return error_outcome();
  }
  line(level, clip(term.text));
  Outcome inner = check(*name, level);
  line(level, fmt::format("{} -> {}", clip(term.text), result_name(inner.result)));
  if (inner.result != Result::none) return inner;
  fail(Result::permerror, &term,
       fmt::format("\"{}\" in {} names {}, which has no SPF record.", clip(term.text), ctx_.domain, clip(*name)));
  return error_outcome();
}

// %{p} (RFC 7208 7.3): the PTR names of the address that lead back to it.
// Its lookups do not count toward the limits: it is a macro, not a term.
std::vector<std::string> Engine::validated_names() {
  if (validated_) return *validated_;
  validated_.emplace();
  dns::Answer answer = dns_.lookup(dns::reverse_name(ctx_.ip.to_string()), dns::Type::ptr);
  if (answer.status != dns::Status::ok) return *validated_;
  std::size_t looked = 0;
  for (const auto& ptr : answer.data) {
    if (looked++ == kMaxPtrNames) break;
    std::string host = normalize(ptr);
    if (!queryable(host)) continue;
    dns::Answer probe = dns_.lookup(host, ctx_.ip.v4 ? dns::Type::a : dns::Type::aaaa);
    if (probe.status != dns::Status::ok) continue;
    for (const auto& text : probe.data) {
      auto addr = model::parse_ip(text);
      if (addr && in_network(ctx_.ip, effective(*addr), 32, 128)) {
        validated_->push_back(host);
        break;
      }
    }
  }
  return *validated_;
}

// The name under `domain` when there is one (RFC 7208 7.3 prefers it), else
// any validated name, else "unknown".
std::string Engine::validated_name(const std::string& domain) {
  auto names = validated_names();
  std::string want = normalize(domain);
  for (const auto& n : names)
    if (is_subdomain_or_same(n, want)) return n;
  return names.empty() ? "unknown" : names.front();
}

detail::MacroContext macro_context(const model::IpAddress& ip, const std::string& domain, const std::string& sender,
                                   const Options& options) {
  detail::MacroContext ctx;
  ctx.ip = ip;
  ctx.domain = domain;
  std::size_t at = sender.rfind('@');
  if (sender.empty()) {
    ctx.sender_domain = domain;
  } else if (at == std::string::npos) {
    ctx.sender_domain = sender;  // a bare domain (HELO identity)
  } else {
    ctx.local_part = sender.substr(0, at);
    ctx.sender_domain = sender.substr(at + 1);
    if (ctx.sender_domain.empty()) ctx.sender_domain = domain;
  }
  // RFC 7208 4.3: a sender without a local-part is postmaster.
  if (ctx.local_part.empty()) ctx.local_part = "postmaster";
  ctx.sender = ctx.local_part + "@" + ctx.sender_domain;
  ctx.helo = options.helo.empty() ? domain : options.helo;
  return ctx;
}

}  // namespace

Evaluation check_host(dns::Resolver& dns, const model::IpAddress& ip, const std::string& domain,
                      const std::string& sender, const Options& options) {
  Evaluation ev;
  model::IpAddress addr = effective(ip);
  Engine engine(dns, options, ev, macro_context(addr, domain, sender, options));
  Engine::Outcome out = engine.check(domain, 0);
  ev.result = out.result;
  ev.decided_by = out.decided_by;
  ev.mechanism = out.mechanism;
  std::string how = ev.mechanism.empty() ? ev.decided_by : fmt::format("\"{}\" in {}", ev.mechanism, ev.decided_by);
  // The verdict line goes in even when the trace was cut.
  ev.trace.push_back(
      fmt::format("=> {} for {}{}{}", result_name(ev.result), addr.to_string(), how.empty() ? "" : ": ", clip(how)));
  return ev;
}

}  // namespace dmarq::spf
