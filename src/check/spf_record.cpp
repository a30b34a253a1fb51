// SPF findings: is there exactly one TXT "v=spf1" record at the domain, is
// it somewhere else (type 99, or at DOMAIN.DOMAIN from a zone file without
// the trailing dot), what its terms say, how many lookups it costs, and
// whether the domain's own mail hosts pass it. Parsing, lookup counting and
// evaluation are the SPF engine's (dmarq/spf/spf.h); this file judges.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "check/context.h"
#include "dmarq/model/ip.h"
#include "dmarq/spf/spf.h"

namespace dmarq::check::detail {
namespace {

constexpr int kMaxLookups = 10;  // RFC 7208 4.6.4

std::vector<std::string> spf_records(const dns::Answer& a) {
  std::vector<std::string> out;
  if (!present(a)) return out;
  for (const auto& txt : a.data)
    if (spf::is_spf_record(txt)) out.push_back(txt);
  return out;
}

// Findings about one record's text, wherever it was found. `who` opens each
// message: "The SPF record of example.com", "The misplaced SPF record at ...".
std::optional<spf::Record> check_text(Context& ctx, const std::string& name, const std::string& record,
                                      const std::string& who) {
  std::string error;
  std::optional<spf::Record> parsed = spf::parse_record(record, error);
  if (!parsed) {
    ctx.add(Severity::error, "spf.syntax", name, record,
            fmt::format("{} does not parse: {}", who, error.empty() ? "syntax error." : error),
            "Correct the term named; until then receivers return permerror for every message.");
    return std::nullopt;
  }
  bool has_all = false, has_redirect = false;
  for (const auto& term : parsed->terms) {
    if (term.modifier) {
      if (term.name == "redirect") has_redirect = true;
      continue;
    }
    if (term.name == "all") {
      has_all = true;
      if (term.qualifier == '+')
        ctx.add(Severity::error, "spf.plus_all", name, record,
                fmt::format("{} ends in {}, which lets every address on the Internet pass SPF as {}.", who,
                            clip(term.text), ctx.domain),
                fmt::format("Replace {} with -all (or ~all while you confirm every sender is listed).",
                            clip(term.text)));
      else if (term.qualifier == '?')
        ctx.add(Severity::warning, "spf.neutral_all", name, record,
                fmt::format("{} ends in ?all, so unlisted senders get neutral, which receivers treat like no SPF "
                            "record at all.",
                            who),
                "Replace ?all with ~all, then -all once every sender is listed.");
    } else if (term.name == "ptr") {
      ctx.add(Severity::warning, "spf.ptr", name, record,
              fmt::format("{} uses the ptr mechanism{}, which RFC 7208 5.5 says not to use: it is slow and "
                          "unreliable, and some receivers skip it.",
                          who, term.text == "ptr" ? "" : " (" + clip(term.text) + ")"),
              "Replace ptr with ip4:/ip6: ranges (or a/mx) for the hosts that send your mail.");
    }
  }
  if (!has_all && !has_redirect)
    ctx.add(Severity::warning, "spf.no_all", name, record,
            fmt::format("{} has neither an all mechanism nor a redirect, so unlisted senders get neutral.", who),
            "End the record with -all (or ~all while you confirm every sender is listed).");
  return parsed;
}

void check_lookup_count(Context& ctx, const std::string& record) {
  std::size_t temporary_before = ctx.dns.temporary();
  spf::LookupCount count = spf::count_lookups(ctx.dns, ctx.domain);
  if (count.lookups > kMaxLookups) {
    std::string path;
    for (std::size_t i = 0; i < count.path.size() && i < 12; ++i) path += (i ? ", " : "") + count.path[i];
    if (count.path.size() > 12) path += ", ...";
    ctx.add(Severity::error, "spf.too_many_lookups", ctx.domain, record,
            fmt::format("The SPF record of {} needs {} DNS lookups counted through its includes ({}), more than the "
                        "{} RFC 7208 4.6.4 allows, so receivers return permerror.",
                        ctx.domain, count.lookups, path, kMaxLookups),
            "Replace includes and a/mx/ptr terms with ip4:/ip6: ranges, or drop senders you no longer use.");
  }
  // A temporary failure while counting is a dns.temporary finding already.
  if (!count.problem.empty() && ctx.dns.temporary() == temporary_before)
    ctx.add(Severity::error, "spf.lookup_error", ctx.domain, record,
            fmt::format("The SPF record of {} cannot be followed through its includes: {}", ctx.domain,
                        count.problem),
            "Fix or remove the include or redirect named; receivers return permerror until then.");
}

// "v=spf1 -all" and nothing else: the domain says no host sends its mail.
bool sends_nothing(const spf::Record& record) {
  int mechanisms = 0;
  bool minus_all = false;
  for (const auto& t : record.terms) {
    if (t.modifier) {
      if (t.name == "redirect") return false;
      continue;
    }
    ++mechanisms;
    minus_all = minus_all || (t.name == "all" && t.qualifier == '-');
  }
  return mechanisms == 1 && minus_all;
}

// Would the domain's own hosts pass? Its MX hosts often send its mail, and
// its web server's address sends contact-form and CMS mail.
void check_coverage(Context& ctx, const std::string& record) {
  struct Target {
    std::string ip, host;
    bool mx = false;
  };
  std::vector<Target> targets;
  auto add_targets = [&](const HostAddresses& addrs, const std::string& host, bool mx) {
    for (const auto* list : {&addrs.v4, &addrs.v6})
      for (const auto& ip : *list) {
        bool seen = false;
        for (const auto& t : targets) seen = seen || t.ip == ip;
        if (!seen) targets.push_back({ip, host, mx});
      }
  };
  MxSet mx = mx_hosts(ctx);
  for (const auto& h : mx.hosts) add_targets(host_addresses(ctx, h.host), h.host, true);
  add_targets(host_addresses(ctx, ctx.domain), ctx.domain, false);

  const std::string sender = "postmaster@" + ctx.domain;
  for (const auto& t : targets) {
    auto ip = model::parse_ip(t.ip);
    if (!ip) continue;
    spf::Evaluation ev = spf::check_host(ctx.dns, *ip, ctx.domain, sender);
    switch (ev.result) {
      case spf::Result::pass:
      case spf::Result::none:       // the record vanished between lookups: nothing to judge
      case spf::Result::temperror:  // a dns.temporary finding says why
        continue;
      case spf::Result::permerror:
        if (!ctx.has("spf.syntax") && !ctx.has("spf.too_many_lookups") && !ctx.has("spf.lookup_error") &&
            !ctx.has("spf.permerror"))
          ctx.add(Severity::error, "spf.permerror", ctx.domain, record,
                  fmt::format("Receivers get permerror when they evaluate the SPF record of {}: {}", ctx.domain,
                              ev.problem.empty() ? "the record cannot be evaluated." : ev.problem),
                  "Correct the record so that it evaluates; SPF fails for all of the domain's mail until then.");
        continue;
      case spf::Result::neutral:
      case spf::Result::fail:
      case spf::Result::softfail:
        break;
    }
    std::string mech = (ip->v4 ? "ip4:" : "ip6:") + t.ip;
    if (t.mx)
      ctx.add(Severity::warning, "spf.mx_not_covered", ctx.domain, record,
              fmt::format("The SPF record of {} gives {} for its MX host {} ({}), so mail that host sends as {} "
                          "does not pass SPF.",
                          ctx.domain, spf::result_name(ev.result), t.host, t.ip, ctx.domain),
              fmt::format("If {} sends mail for {}, add {} (or mx) to the SPF record.", t.host, ctx.domain, mech));
    else
      ctx.add(Severity::warning, "spf.a_not_covered", ctx.domain, record,
              fmt::format("The SPF record of {} gives {} for the domain's own address {}, so mail sent from it "
                          "(web forms, the CMS) does not pass SPF.",
                          ctx.domain, spf::result_name(ev.result), t.ip),
              fmt::format("If {} sends mail, add {} (or a) to the SPF record.", t.ip, mech));
  }
}

void check_type99_only(Context& ctx, const std::string& name, const std::string& record) {
  ctx.add(Severity::error, "spf.type99_only", name, record,
          fmt::format("The SPF record at {} is published only as type SPF (99), which RFC 7208 3.1 retired; "
                      "receivers read TXT records only.",
                      name),
          fmt::format("Publish the same text as a TXT record at {}.", ctx.domain));
}

// No SPF at the apex: is it there under another type, or at the name a zone
// file produces when the owner "example.com" lacks its trailing dot?
void look_elsewhere(Context& ctx) {
  const std::string& d = ctx.domain;
  std::vector<std::string> apex99 = spf_records(ctx.dns.lookup(d, dns::Type::spf));
  if (!apex99.empty()) {
    check_type99_only(ctx, d, apex99.front());
    for (std::size_t i = 0; i < apex99.size() && i < kMaxRecords; ++i)
      check_text(ctx, d, apex99[i], fmt::format("The type-99 SPF record at {}", d));
  }

  std::string wrong = d + "." + d;
  if (!is_query_name(wrong)) return;
  auto answers = ctx.dns.lookup_all({{wrong, dns::Type::txt}, {wrong, dns::Type::spf}});
  std::vector<std::string> txt = spf_records(answers[0]);
  std::vector<std::string> type99 = spf_records(answers[1]);
  if (txt.empty() && type99.empty()) return;
  const std::string& shown = txt.empty() ? type99.front() : txt.front();
  ctx.add(Severity::error, "spf.wrong_name", wrong, shown,
          fmt::format("The SPF record meant for {} is published at {}: its zone-file owner \"{}\" has no trailing "
                      "dot, so the zone's origin was appended.",
                      d, wrong, d),
          fmt::format("In the zone file write the owner as \"{}.\" (with the trailing dot) or \"@\"{}.", d,
                      txt.empty() ? ", and publish it as type TXT" : ""));
  if (txt.empty()) check_type99_only(ctx, wrong, type99.front());
  std::string who = fmt::format("The misplaced SPF record at {}", wrong);
  for (const auto* list : {&txt, &type99})
    for (std::size_t i = 0; i < list->size() && i < kMaxRecords; ++i) {
      // The same text as TXT and as type 99 is one record to judge.
      if (list == &type99 && std::find(txt.begin(), txt.end(), (*list)[i]) != txt.end()) continue;
      check_text(ctx, wrong, (*list)[i], who);
    }
}

}  // namespace

void check_spf(Context& ctx, const dns::Answer& apex_txt) {
  const std::string& d = ctx.domain;
  if (!present(apex_txt) && !absent(apex_txt)) return;  // temporary or offline: noted already
  std::vector<std::string> records = spf_records(apex_txt);

  if (records.size() > 1) {
    ctx.add(Severity::error, "spf.multiple", d, join_records(records),
            fmt::format("{} publishes {} SPF records, which RFC 7208 4.5 makes a permerror for every message.", d,
                        records.size()),
            fmt::format("Merge them into one TXT record at {} starting v=spf1.", d));
    for (std::size_t i = 0; i < records.size() && i < kMaxRecords; ++i)
      check_text(ctx, d, records[i], fmt::format("SPF record {} of {}", i + 1, d));
    return;
  }
  if (records.size() == 1) {
    auto parsed = check_text(ctx, d, records.front(), fmt::format("The SPF record of {}", d));
    if (!parsed) return;
    if (sends_nothing(*parsed)) {
      // A parked or receive-only domain: its hosts are meant to fail.
      ctx.add(Severity::info, "spf.sends_nothing", d, records.front(),
              fmt::format("The SPF record of {} authorizes no host, declaring that it sends no mail.", d), "");
      return;
    }
    check_lookup_count(ctx, records.front());
    check_coverage(ctx, records.front());
    return;
  }
  ctx.add(Severity::error, "spf.missing", d, "",
          fmt::format("{} publishes no SPF record (a TXT record starting v=spf1), so receivers get SPF none for "
                      "mail from it.",
                      d),
          fmt::format("Publish one TXT record at {} listing the hosts that send its mail, e.g. \"v=spf1 mx -all\".",
                      d));
  look_elsewhere(ctx);
}

}  // namespace dmarq::check::detail
