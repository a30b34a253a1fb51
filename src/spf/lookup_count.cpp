// count_lookups(): the DNS-querying terms of a domain's SPF tree, counted
// statically for `dmarq check` ("over 10 lookups" is the most common reason
// a published record fails at receivers). Nothing is evaluated: every
// include/a/mx/ptr/exists/redirect counts once, wherever it sits, and only
// literal include and redirect targets are followed, since a macro target
// depends on the message.
#include <algorithm>

#include <fmt/format.h>

#include "spf/detail.h"

namespace dmarq::spf {

namespace {

using detail::Directive;
using detail::Kind;
using detail::kMaxDepth;
using detail::normalize;
using detail::Selected;

constexpr int kMaxCounted = 100;  // counting stops here: ten times the limit says enough

// Walks the include/redirect tree the way a receiver would reach it, without
// evaluating anything: every DNS-querying term counts once, wherever it sits.
class Counter {
 public:
  explicit Counter(dns::Resolver& dns, LookupCount& out) : dns_(dns), out_(out) {}

  // False once counting has stopped (out_.problem says why).
  bool walk(const std::string& domain, const std::string& via, const std::string& from) {
    if (chain_.size() > static_cast<std::size_t>(kMaxDepth))
      return stop(fmt::format("Includes and redirects nest more than {} deep below {}.", kMaxDepth, from));
    Selected sel = detail::select_record(dns_, domain);
    switch (sel.status) {
      case Selected::temporary:
        return stop(fmt::format("The TXT lookup of {} failed ({}), so the count is incomplete.", domain, sel.detail));
      case Selected::none:
        if (via.empty()) return true;
        return stop(fmt::format("\"{}\" in {} names {}, which has no SPF record (receivers: permerror).", via,
                                from, domain));
      case Selected::multiple:
        return stop(fmt::format("{} publishes more than one \"v=spf1\" record (receivers: permerror).", domain));
      case Selected::found: break;
    }
    std::string error;
    auto record = parse_record(sel.record, error);
    if (!record) return stop(fmt::format("The SPF record of {} is not valid. {}", domain, error));

    chain_.push_back(normalize(domain));
    const Term* redirect = nullptr;
    Directive redirect_d;
    bool has_all = false;
    for (const Term& term : record->terms) {
      std::string why;
      auto d = detail::take_apart(term, why);
      if (!d) continue;
      if (d->kind == Kind::all) has_all = true;
      if (d->kind == Kind::redirect) {
        redirect = &term;
        redirect_d = *d;
        continue;
      }
      if (!detail::counts_as_lookup(d->kind)) continue;
      if (!count(domain, term)) return false;
      if (d->kind == Kind::include && !follow(domain, term, *d)) return false;
    }
    // A receiver reaches redirect= only when nothing matched, and never when
    // the record has "all" (RFC 7208 6.1).
    if (redirect && !has_all) {
      if (!count(domain, *redirect)) return false;
      if (!follow(domain, *redirect, redirect_d)) return false;
    }
    chain_.pop_back();
    return true;
  }

 private:
  bool stop(std::string problem) {
    out_.problem = std::move(problem);
    return false;
  }

  bool count(const std::string& domain, const Term& term) {
    ++out_.lookups;
    out_.path.push_back(fmt::format("{}: {}", domain, term.text));
    if (out_.lookups < kMaxCounted) return true;
    return stop(fmt::format("Counting stopped at {} lookups, {} times the limit.", kMaxCounted, kMaxCounted / 10));
  }

  // Targets built from macros depend on the message; only literal names
  // are followed.
  bool follow(const std::string& domain, const Term& term, const Directive& d) {
    if (d.domain_spec.find('%') != std::string::npos) return true;
    std::string target = normalize(d.domain_spec);
    auto it = std::find(chain_.begin(), chain_.end(), target);
    if (it != chain_.end()) {
      std::string path;
      for (; it != chain_.end(); ++it) path += *it + " -> ";
      return stop(fmt::format("Loop: {}{} (receivers: permerror).", path, target));
    }
    return walk(target, term.text, domain);
  }

  dns::Resolver& dns_;
  LookupCount& out_;
  std::vector<std::string> chain_;
};

}  // namespace

LookupCount count_lookups(dns::Resolver& dns, const std::string& domain) {
  LookupCount out;
  if (!detail::valid_check_domain(domain)) return out;
  Counter(dns, out).walk(normalize(domain), {}, {});
  return out;
}

}  // namespace dmarq::spf
