// DMARC findings: the record at _dmarc.DOMAIN (RFC 7489 6, with RFC 9989's
// np and t tags), its tag values, its report addresses, and whether each
// external report destination agreed to take the reports (RFC 7489 7.1).
// When there is no record, the two places it is usually published by
// mistake: _dmarc.DOMAIN.DOMAIN (zone-file owner without trailing dot) and
// the apex itself.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "check/context.h"
#include "dmarq/util/text.h"

namespace dmarq::check::detail {
namespace {

// "v" *WSP "=" *WSP "DMARC1" then the end, white space or ';' (RFC 7489 6.4),
// letters in any case; `exact` tells whether "DMARC1" was in upper case as
// the grammar writes it.
bool starts_dmarc1(std::string_view txt, bool* exact = nullptr) {
  txt = trim_wsp(txt);
  if (txt.empty() || (txt[0] != 'v' && txt[0] != 'V')) return false;
  txt = trim_wsp(txt.substr(1));
  if (txt.empty() || txt[0] != '=') return false;
  txt = trim_wsp(txt.substr(1));
  if (txt.size() < 6 || !util::iequals(txt.substr(0, 6), "DMARC1")) return false;
  if (txt.size() > 6 && txt[6] != ';' && !is_wsp(txt[6])) return false;
  if (exact) *exact = txt.substr(0, 6) == "DMARC1";
  return true;
}

bool mentions_dmarc1(std::string_view txt) {
  std::string lower = util::to_lower_ascii(txt);
  return lower.find("v=dmarc1") != std::string::npos;
}

bool is_policy(std::string_view v) {
  return util::iequals(v, "none") || util::iequals(v, "quarantine") || util::iequals(v, "reject");
}

bool is_digits(std::string_view v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Colon-separated words, each trimmed; false when one is not in `allowed`.
bool words_in(std::string_view value, std::initializer_list<std::string_view> allowed) {
  if (trim_wsp(value).empty()) return false;
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t colon = value.find(':', pos);
    std::size_t end = colon == std::string_view::npos ? value.size() : colon;
    std::string_view w = trim_wsp(value.substr(pos, end - pos));
    if (std::none_of(allowed.begin(), allowed.end(), [&](std::string_view a) { return util::iequals(w, a); }))
      return false;
    pos = end + 1;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The destination domain of one rua/ruf URI, or a reason it has none.
struct ReportUri {
  bool mailto = false;
  std::string domain;   // lower case; empty when the URI is not usable
  std::string problem;  // why not, for a mailto URI
};

ReportUri parse_report_uri(std::string_view uri) {
  ReportUri out;
  std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos || !util::iequals(uri.substr(0, colon), "mailto")) return out;
  out.mailto = true;
  std::string_view rest = uri.substr(colon + 1);
  // RFC 7489 6.2: a literal '!' starts the size limit: 1*DIGIT [k|m|g|t].
  if (std::size_t bang = rest.find('!'); bang != std::string_view::npos) {
    std::string_view size = rest.substr(bang + 1);
    if (!size.empty() && std::string_view("kmgtKMGT").find(size.back()) != std::string_view::npos)
      size.remove_suffix(1);
    if (!is_digits(size)) {
      out.problem = "its size limit after '!' is not a number with an optional k, m, g or t";
      return out;
    }
    rest = rest.substr(0, bang);
  }
  rest = rest.substr(0, rest.find('?'));  // header fields of RFC 6068
  std::string address;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      address.push_back(rest[i]);
      continue;
    }
    int hi = i + 2 < rest.size() ? hex_value(rest[i + 1]) : -1;
    int lo = i + 2 < rest.size() ? hex_value(rest[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      out.problem = "it has a '%' that is not followed by two hex digits";
      return out;
    }
    address.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  std::size_t at = address.rfind('@');
  std::string domain = at == std::string::npos ? std::string() : util::to_lower_ascii(address.substr(at + 1));
  if (!domain.empty() && domain.back() == '.') domain.pop_back();
  if (at == 0 || at == std::string::npos || !is_query_name(domain) || domain.find('.') == std::string::npos) {
    out.problem = "it does not hold an address of the form name@domain";
    return out;
  }
  out.domain = std::move(domain);
  return out;
}

struct Destination {
  std::string domain;
  std::string tags;  // "rua", "ruf" or "rua and ruf"
};

// rua= or ruf=: URI findings, and the destinations that can receive reports.
void check_report_uris(Context& ctx, const std::string& name, const std::string& record, const std::string& who,
                       const Tag& tag, std::vector<Destination>& destinations) {
  std::string_view value = tag.value;
  std::size_t pos = 0, seen = 0;
  while (pos <= value.size() && seen < kMaxReportUris) {
    std::size_t comma = value.find(',', pos);
    std::size_t end = comma == std::string_view::npos ? value.size() : comma;
    std::string_view uri = trim_wsp(value.substr(pos, end - pos));
    pos = end + 1;
    if (uri.empty()) continue;
    ++seen;
    ReportUri parsed = parse_report_uri(uri);
    if (!parsed.mailto) {
      ctx.add(Severity::warning, fmt::format("dmarc.{}_not_mailto", tag.name), name, record,
              fmt::format("{} sends {} reports to {}, which is not a mailto: URI; receivers deliver reports by "
                          "e-mail only.",
                          who, tag.name, clip(uri)),
              fmt::format("Use {}=mailto:reports@{} (or another mailbox).", tag.name, ctx.domain));
      continue;
    }
    if (parsed.domain.empty()) {
      ctx.add(Severity::warning, fmt::format("dmarc.{}_invalid", tag.name), name, record,
              fmt::format("{} has the {} URI {}, which receivers cannot use: {}.", who, tag.name, clip(uri),
                          parsed.problem),
              fmt::format("Write it as mailto:name@domain, e.g. {}=mailto:reports@{}.", tag.name, ctx.domain));
      continue;
    }
    auto it = std::find_if(destinations.begin(), destinations.end(),
                           [&](const Destination& d) { return d.domain == parsed.domain; });
    if (it == destinations.end())
      destinations.push_back({parsed.domain, tag.name});
    else if (it->tags.find(tag.name) == std::string::npos)
      it->tags += " and " + tag.name;
  }
}

// RFC 7489 7.1: a destination outside the policy domain's organization must
// publish "v=DMARC1" at POLICYDOMAIN._report._dmarc.DESTINATION.
void check_authorizations(Context& ctx, const std::vector<Destination>& destinations) {
  const std::string own = ctx.org.of(ctx.domain);
  std::vector<const Destination*> external;
  std::vector<dns::Query> queries;
  for (const auto& d : destinations) {
    std::string auth = ctx.domain + "._report._dmarc." + d.domain;
    if (ctx.org.of(d.domain) == own || !is_query_name(auth)) continue;
    external.push_back(&d);
    queries.push_back({auth, dns::Type::txt});
  }
  std::vector<dns::Answer> answers = ctx.dns.lookup_all(queries);
  for (std::size_t i = 0; i < external.size(); ++i) {
    const dns::Answer& a = answers[i];
    if (!present(a) && !absent(a)) continue;  // temporary: noted already
    bool authorized = present(a) && std::any_of(a.data.begin(), a.data.end(),
                                                [](const std::string& t) { return starts_dmarc1(t); });
    if (authorized) continue;
    const Destination& d = *external[i];
    ctx.add(Severity::error, "dmarc.external_unauthorized", queries[i].name, "",
            fmt::format("{} receives the {} reports of {} but publishes no \"v=DMARC1\" at {}, so receivers will "
                        "not send it reports (RFC 7489 7.1).",
                        d.domain, d.tags, ctx.domain, queries[i].name),
            fmt::format("Have the operator of {} publish TXT \"v=DMARC1\" at {}, or send reports to a mailbox "
                        "under {}.",
                        d.domain, queries[i].name, own));
  }
}

void check_policy_value(Context& ctx, const std::string& name, const std::string& record, const std::string& who,
                        const TagList& tl, const char* tag, const char* meaning) {
  const Tag* t = tl.find(tag);
  if (!t || is_policy(t->value)) return;
  ctx.add(Severity::error, fmt::format("dmarc.{}_invalid", tag), name, record,
          fmt::format("{} has {}={}, which is not none, quarantine or reject; receivers may then ignore the whole "
                      "record (RFC 7489 6.6.3).",
                      who, tag, clip(t->value)),
          fmt::format("Set {}=none, quarantine or reject (the policy for {}), or remove it.", tag, meaning));
}

void check_alignment(Context& ctx, const std::string& name, const std::string& record, const std::string& who,
                     const TagList& tl, const char* tag, const char* method) {
  const Tag* t = tl.find(tag);
  if (!t || util::iequals(t->value, "r")) return;
  if (util::iequals(t->value, "s"))
    ctx.add(Severity::info, fmt::format("dmarc.{}_strict", tag), name, record,
            fmt::format("{} asks for strict {} alignment ({}=s): only {} exactly aligns, not its subdomains.", who,
                        method, tag, ctx.domain),
            "");
  else
    ctx.add(Severity::error, fmt::format("dmarc.{}_invalid", tag), name, record,
            fmt::format("{} has {}={}, which is neither r (relaxed) nor s (strict).", who, tag, clip(t->value)),
            fmt::format("Set {}=r or {}=s, or remove it for the default, relaxed.", tag, tag));
}

// Everything about one record's text; `who` opens each message.
void check_policy(Context& ctx, const std::string& name, const std::string& record, const std::string& who) {
  bool exact = true;
  starts_dmarc1(record, &exact);
  if (!exact)
    ctx.add(Severity::warning, "dmarc.version_case", name, record,
            fmt::format("{} writes its version in lower case; the grammar says v=DMARC1 and strict receivers "
                        "ignore anything else.",
                        who),
            "Write the version as v=DMARC1.");

  TagList tl = parse_tag_list(record);
  if (!tl.problems.empty()) {
    ctx.add(Severity::error, "dmarc.syntax", name, record,
            fmt::format("{} is malformed: {}.", who, join_problems(tl.problems)),
            "Write it as tag=value pairs separated by ';', each tag once, e.g. \"v=DMARC1; p=none; "
            "rua=mailto:...\".");
  }

  static constexpr std::string_view kKnown[] = {"v",  "p",  "sp",  "np",  "adkim", "aspf", "pct",
                                                "fo", "rf", "ri",  "rua", "ruf",   "t",    "psd"};
  for (const auto& t : tl.tags)
    if (std::find(std::begin(kKnown), std::end(kKnown), t.name) == std::end(kKnown))
      ctx.add(Severity::warning, "dmarc.unknown_tag", name, record,
              fmt::format("{} has the tag {}=, which DMARC does not define and receivers ignore.", who, t.name),
              "Remove it, or correct its name (p, sp, np, adkim, aspf, pct, fo, rua, ruf, t).");

  const Tag* p = tl.find("p");
  if (!p) {
    ctx.add(Severity::error, "dmarc.syntax", name, record,
            fmt::format("{} has no p= tag, which is required; receivers ignore the record, or treat it as p=none "
                        "when it has a valid rua (RFC 7489 6.6.3).",
                        who),
            "Add p=none (monitoring), p=quarantine or p=reject right after v=DMARC1.");
  } else if (!is_policy(p->value)) {
    ctx.add(Severity::error, "dmarc.syntax", name, record,
            fmt::format("{} has p={}, which is not none, quarantine or reject; receivers ignore the record, or "
                        "treat it as p=none when it has a valid rua (RFC 7489 6.6.3).",
                        who, clip(p->value)),
            "Set p=none (monitoring), p=quarantine or p=reject.");
  } else if (util::iequals(p->value, "none")) {
    ctx.add(Severity::warning, "dmarc.p_none", name, record,
            fmt::format("{} has p=none: receivers report on mail that fails DMARC but deliver it as usual "
                        "(monitoring only).",
                        who),
            "Once reports show all your mail passing with aligned SPF or DKIM, move to p=quarantine, then "
            "p=reject.");
  } else if (util::iequals(p->value, "quarantine")) {
    ctx.add(Severity::info, "dmarc.p_quarantine", name, record,
            fmt::format("{} has p=quarantine: receivers treat mail that fails DMARC as suspicious, usually the "
                        "spam folder.",
                        who),
            "Move to p=reject once reports show no legitimate mail failing.");
  } else {
    ctx.add(Severity::info, "dmarc.p_reject", name, record,
            fmt::format("{} has p=reject: receivers refuse mail that fails DMARC.", who), "");
  }

  check_policy_value(ctx, name, record, who, tl, "sp", "subdomains");
  check_policy_value(ctx, name, record, who, tl, "np", "non-existent subdomains, RFC 9091");
  check_alignment(ctx, name, record, who, tl, "adkim", "DKIM");
  check_alignment(ctx, name, record, who, tl, "aspf", "SPF");

  if (const Tag* pct = tl.find("pct")) {
    int n = -1;
    std::string_view v = pct->value;
    if (is_digits(v) && v.size() <= 3) std::from_chars(v.data(), v.data() + v.size(), n);
    if (n < 0 || n > 100)
      ctx.add(Severity::error, "dmarc.pct_invalid", name, record,
              fmt::format("{} has pct={}, which is not a whole number from 0 to 100.", who, clip(pct->value)),
              "Remove pct (the policy then applies to all mail), or set a number from 0 to 100.");
    else if (n < 100)
      ctx.add(Severity::warning, "dmarc.pct", name, record,
              fmt::format("{} has pct={}, so its policy applies to only {}% of failing mail (RFC 7489 6.3), and "
                          "receivers following RFC 9989, which drops pct, may apply it to all or none.",
                          who, n, n),
              "Remove pct once you are ready for the policy to apply to all mail; use t=y while testing.");
  }
  if (const Tag* t = tl.find("t")) {
    if (util::iequals(t->value, "y"))
      ctx.add(Severity::warning, "dmarc.testing", name, record,
              fmt::format("{} has t=y (testing, RFC 9989): receivers apply one step less than p, so reject "
                          "becomes quarantine and quarantine becomes none.",
                          who),
              "Remove t=y once reports show your mail passing.");
    else if (!util::iequals(t->value, "n"))
      ctx.add(Severity::warning, "dmarc.t_invalid", name, record,
              fmt::format("{} has t={}, which is neither y nor n.", who, clip(t->value)), "Set t=y or t=n, or remove it.");
  }
  if (const Tag* fo = tl.find("fo"); fo && !words_in(fo->value, {"0", "1", "d", "s"}))
    ctx.add(Severity::warning, "dmarc.fo_invalid", name, record,
            fmt::format("{} has fo={}, which is not a colon-separated list of 0, 1, d and s.", who, clip(fo->value)),
            "Set fo=1 (a report for any failure), fo=0 (the default), or a list such as fo=d:s.");
  if (const Tag* rf = tl.find("rf"); rf && !words_in(rf->value, {"afrf"}))
    ctx.add(Severity::warning, "dmarc.rf_invalid", name, record,
            fmt::format("{} has rf={}; the only failure report format is afrf.", who, clip(rf->value)),
            "Remove rf (afrf is the default).");
  if (const Tag* ri = tl.find("ri"); ri && (!is_digits(ri->value) || ri->value.size() > 10))
    ctx.add(Severity::warning, "dmarc.ri_invalid", name, record,
            fmt::format("{} has ri={}, which is not a number of seconds.", who, clip(ri->value)),
            "Remove ri (86400, a day, is the default and what receivers send anyway).");
  if (const Tag* psd = tl.find("psd");
      psd && !util::iequals(psd->value, "y") && !util::iequals(psd->value, "n") && !util::iequals(psd->value, "u"))
    ctx.add(Severity::warning, "dmarc.psd_invalid", name, record,
            fmt::format("{} has psd={}, which is not y, n or u.", who, clip(psd->value)),
            "Remove psd unless the domain is a public suffix operator (RFC 9989).");

  std::vector<Destination> destinations;
  const Tag* rua = tl.find("rua");
  if (!rua || trim_wsp(rua->value).empty())
    ctx.add(Severity::warning, "dmarc.no_rua", name, record,
            fmt::format("{} has no rua= address, so receivers send no aggregate reports and you cannot see who "
                        "sends mail as {}.",
                        who, ctx.domain),
            fmt::format("Add rua=mailto:dmarc-reports@{} (a mailbox dmarq reads).", ctx.domain));
  else
    check_report_uris(ctx, name, record, who, *rua, destinations);
  if (const Tag* ruf = tl.find("ruf")) check_report_uris(ctx, name, record, who, *ruf, destinations);
  check_authorizations(ctx, destinations);
}

}  // namespace

void check_dmarc(Context& ctx, const dns::Answer& apex_txt) {
  const std::string& d = ctx.domain;
  const std::string name = "_dmarc." + d;
  if (!is_query_name(name)) return;
  dns::Answer a = ctx.dns.lookup(name, dns::Type::txt);
  if (!present(a) && !absent(a)) return;  // temporary or offline: noted already

  std::vector<std::string> policies, strays;
  if (present(a))
    for (const auto& txt : a.data) {
      if (starts_dmarc1(txt)) policies.push_back(txt);
      else if (mentions_dmarc1(txt)) strays.push_back(txt);
    }
  for (std::size_t i = 0; i < strays.size() && i < kMaxRecords; ++i)
    ctx.add(Severity::error, "dmarc.syntax", name, strays[i],
            fmt::format("The TXT record at {} does not begin with v=DMARC1, so receivers discard it (RFC 7489 "
                        "6.6.3).",
                        name),
            "Move v=DMARC1 to the front: \"v=DMARC1; p=...\".");
  if (policies.size() > 1)
    ctx.add(Severity::error, "dmarc.multiple", name, join_records(policies),
            fmt::format("{} has {} DMARC records, and receivers apply none of them when there is more than one "
                        "(RFC 7489 6.6.3).",
                        name, policies.size()),
            fmt::format("Keep exactly one TXT record starting v=DMARC1 at {}.", name));
  for (std::size_t i = 0; i < policies.size() && i < kMaxRecords; ++i)
    check_policy(ctx, name, policies[i],
                 policies.size() == 1 ? fmt::format("The DMARC record of {}", d)
                                      : fmt::format("DMARC record {} of {}", i + 1, d));
  if (!policies.empty() || !strays.empty()) return;

  ctx.add(Severity::error, "dmarc.missing", name, "",
          fmt::format("{} publishes no DMARC record at {}, so receivers apply no DMARC policy to its mail and send "
                      "no reports.",
                      d, name),
          fmt::format("Publish TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{}\" at {}, then tighten p as "
                      "reports show your mail passing.",
                      d, name));

  // Where it usually is instead.
  struct Candidate {
    std::string at;
    std::string why, fix;
  };
  std::vector<Candidate> candidates;
  std::string doubled = name + "." + d;
  if (is_query_name(doubled))
    candidates.push_back(
        {doubled,
         fmt::format(": its zone-file owner \"{}\" has no trailing dot, so the zone's origin was appended", name),
         fmt::format("In the zone file write the owner as \"{}.\" (with the trailing dot) or \"_dmarc\".", name)});
  candidates.push_back({d, ", where receivers never look for it",
                        fmt::format("Move it to a TXT record at {}.", name)});
  for (const auto& c : candidates) {
    dns::Answer got = c.at == d ? apex_txt : ctx.dns.lookup(c.at, dns::Type::txt);
    if (!present(got)) continue;
    for (std::size_t i = 0, shown = 0; i < got.data.size() && shown < kMaxRecords; ++i) {
      if (!starts_dmarc1(got.data[i])) continue;
      ++shown;
      ctx.add(Severity::error, "dmarc.wrong_name", c.at, got.data[i],
              fmt::format("The DMARC record meant for {} is published at {}{}.", d, c.at, c.why), c.fix);
      check_policy(ctx, c.at, got.data[i], fmt::format("The misplaced DMARC record at {}", c.at));
    }
  }
}

}  // namespace dmarq::check::detail
