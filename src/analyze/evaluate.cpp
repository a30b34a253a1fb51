#include "dmarq/analyze/evaluate.h"

#include <fmt/format.h>

namespace dmarq::analyze {
namespace {

constexpr std::string_view kCodes[] = {
    "aligned",      "dkim_only",    "spf_only",    "forwarded", "spf_pass_unaligned", "dkim_pass_unaligned",
    "dkim_fail",    "spf_fail",     "spf_softfail", "spf_neutral", "spf_none",        "spf_error",
    "no_dkim",      "reporter_disagrees"};

// The domain of an envelope_from that may be an address or a bare domain.
std::string_view address_domain(std::string_view from) {
  auto at = from.rfind('@');
  return at == std::string_view::npos ? from : from.substr(at + 1);
}

Reason spf_reason(std::string_view result) {
  if (result == "fail") return Reason::spf_fail;
  if (result == "softfail") return Reason::spf_softfail;
  if (result == "neutral") return Reason::spf_neutral;
  if (result == "temperror" || result == "permerror") return Reason::spf_error;
  return Reason::spf_none;  // none, policy, an unknown word, or nothing reported
}

bool is_override_forwarding(std::string_view type) {
  return type == "forwarded" || type == "trusted_forwarder" || type == "mailing_list";
}

}  // namespace

std::string_view code(Reason reason) { return kCodes[static_cast<int>(reason)]; }

bool is_pass(Reason reason) {
  return reason == Reason::aligned || reason == Reason::dkim_only || reason == Reason::spf_only;
}

Evaluation evaluate(const model::Record& r, const model::PolicyPublished& policy, OrgDomains& org) {
  Evaluation e;
  std::string hf = normalize_domain(r.header_from.empty() ? policy.domain : r.header_from);
  AlignMode adkim = align_mode(policy.adkim), aspf = align_mode(policy.aspf);

  // DKIM: any passing signature with an aligned d= is enough.
  const model::DkimResult* shown = nullptr;
  const model::DkimResult* first_pass = nullptr;
  bool aligned_failing = false;
  for (const auto& d : r.dkim_results) {
    bool pass = d.result == "pass";
    bool aligned = org.aligned(d.domain, hf, adkim);
    if (pass && aligned && !e.dkim_aligned) {
      e.dkim_aligned = true;
      shown = &d;
    }
    if (pass && !first_pass) first_pass = &d;
    if (!pass && aligned) aligned_failing = true;
  }
  if (!shown) shown = first_pass;
  if (!shown && !r.dkim_results.empty()) {
    // Prefer showing the failing signature that claims our domain.
    for (const auto& d : r.dkim_results)
      if (org.aligned(d.domain, hf, adkim)) {
        shown = &d;
        break;
      }
    if (!shown) shown = &r.dkim_results.front();
  }
  if (shown) {
    e.dkim_domain = normalize_domain(shown->domain);
    e.dkim_selector = shown->selector;
    e.dkim_result = shown->result.empty() ? "none" : shown->result;
  }

  // SPF: the MAIL FROM identity (scope mfrom, or no scope as RFC 7489
  // reports have none); the HELO identity only when there is no MAIL FROM.
  const model::SpfResult* spf = nullptr;
  for (const auto& s : r.spf_results)
    if (s.scope.empty() || s.scope == "mfrom") {
      if (!spf || (s.result == "pass" && spf->result != "pass")) spf = &s;
    }
  if (!spf)
    for (const auto& s : r.spf_results)
      if (s.scope == "helo") {
        spf = &s;
        break;
      }
  if (spf) {
    e.spf_domain = normalize_domain(spf->domain.empty() ? address_domain(r.envelope_from) : spf->domain);
    e.spf_result = spf->result.empty() ? "none" : spf->result;
  } else {
    e.spf_domain = normalize_domain(address_domain(r.envelope_from));
    e.spf_result = "none";
  }
  e.spf_aligned = e.spf_result == "pass" && org.aligned(e.spf_domain, hf, aspf);
  e.dmarc_pass = e.dkim_aligned || e.spf_aligned;

  e.reporter_dkim = r.dkim == "pass";
  e.reporter_spf = r.spf == "pass";
  e.reporter_pass = e.reporter_dkim || e.reporter_spf;
  e.reporter_disagrees = (!r.dkim.empty() && e.reporter_dkim != e.dkim_aligned) ||
                         (!r.spf.empty() && e.reporter_spf != e.spf_aligned);
  bool verdicts_differ = (!r.dkim.empty() || !r.spf.empty()) && e.reporter_pass != e.dmarc_pass;
  for (const auto& o : r.reasons)
    if (!o.type.empty()) {
      e.override_type = o.type;
      break;
    }

  // What is wrong with each side, most actionable first.
  std::vector<Reason> dkim_problems, spf_problems;
  if (!e.dkim_aligned) {
    if (first_pass) dkim_problems.push_back(Reason::dkim_pass_unaligned);
    else if (aligned_failing) dkim_problems.push_back(Reason::dkim_fail);
    else dkim_problems.push_back(Reason::no_dkim);
  }
  if (!e.spf_aligned)
    spf_problems.push_back(e.spf_result == "pass" ? Reason::spf_pass_unaligned : spf_reason(e.spf_result));

  auto& out = e.reasons;
  if (verdicts_differ) out.push_back(Reason::reporter_disagrees);
  if (e.dmarc_pass) {
    out.push_back(e.dkim_aligned && e.spf_aligned ? Reason::aligned
                  : e.dkim_aligned                ? Reason::dkim_only
                                                  : Reason::spf_only);
    for (Reason p : spf_problems) out.push_back(p);
    for (Reason p : dkim_problems) out.push_back(p);
  } else {
    if (is_override_forwarding(e.override_type)) out.push_back(Reason::forwarded);
    // An unaligned pass says "this is a real sender, set up incorrectly":
    // the most useful thing to say first.
    auto take = [&](Reason want, std::vector<Reason>& from) {
      for (auto it = from.begin(); it != from.end(); ++it)
        if (*it == want) {
          out.push_back(want);
          from.erase(it);
          return;
        }
    };
    take(Reason::spf_pass_unaligned, spf_problems);
    take(Reason::dkim_pass_unaligned, dkim_problems);
    take(Reason::dkim_fail, dkim_problems);
    for (Reason p : spf_problems) out.push_back(p);
    for (Reason p : dkim_problems) out.push_back(p);
  }
  if (e.reporter_disagrees && !verdicts_differ) out.push_back(Reason::reporter_disagrees);
  return e;
}

std::string sentence(Reason reason, const Evaluation& e, std::string_view header_from) {
  std::string hf(header_from);
  const std::string& spf = e.spf_domain.empty() ? hf : e.spf_domain;
  switch (reason) {
    case Reason::aligned:
      return fmt::format("DKIM (d={}) and SPF ({}) both pass aligned with {}.", e.dkim_domain, spf, hf);
    case Reason::dkim_only:
      return fmt::format("Passes DMARC on DKIM (d={}); SPF is {} for {}{}.", e.dkim_domain, e.spf_result, spf,
                         e.spf_result == "pass" ? ", which is not aligned" : "");
    case Reason::spf_only:
      return fmt::format("Passes DMARC on SPF ({}) alone, which breaks when the mail is forwarded: sign it with "
                         "DKIM for {}.", spf, hf);
    case Reason::forwarded:
      return fmt::format("Fails alignment, and the reporter applied the override '{}': forwarded or list mail, "
                         "which usually fails SPF on the way and is not the sender's to fix.", e.override_type);
    case Reason::spf_pass_unaligned:
      return fmt::format("SPF passes for {}, which is not aligned with {}. Set up a custom return-path "
                         "(bounce domain) under {} at this sender.", spf, hf, hf);
    case Reason::dkim_pass_unaligned:
      return fmt::format("The message is signed by d={} only. Publish a DKIM key for {} at this sender and "
                         "sign with d={}.", e.dkim_domain, hf, hf);
    case Reason::dkim_fail:
      return fmt::format("The DKIM signature d={} s={} does not verify ({}): check that the key at "
                         "{}._domainkey.{} is published and matches the signing key.",
                         e.dkim_domain, e.dkim_selector, e.dkim_result, e.dkim_selector, e.dkim_domain);
    case Reason::spf_fail:
      return fmt::format("SPF fails for {}: this address is not in its SPF record. Add it if this sender is "
                         "yours.", spf);
    case Reason::spf_softfail:
      return fmt::format("SPF softfails (~all) for {}: this address is not in its SPF record. Add it if this "
                         "sender is yours.", spf);
    case Reason::spf_neutral:
      return fmt::format("SPF is neutral for {}: the record does not authorize this address (?all, or no "
                         "usable SPF record). Add it if this sender is yours.", spf);
    case Reason::spf_none:
      return fmt::format("No SPF result for {}: publish an SPF record (a TXT record starting v=spf1) for it.",
                         spf);
    case Reason::spf_error:
      return fmt::format("SPF {} for {}: its SPF record could not be evaluated (a syntax error, or more than "
                         "10 DNS lookups).", e.spf_result, spf);
    case Reason::no_dkim:
      return fmt::format("No DKIM signature for {}: sign this mail with d={}.", hf, hf);
    case Reason::reporter_disagrees:
      return fmt::format("The reporter says DKIM {} and SPF {}, we compute DKIM {} and SPF {} (aligned): "
                         "it may evaluate alignment differently or see results not in the report.",
                         e.reporter_dkim ? "pass" : "fail", e.reporter_spf ? "pass" : "fail",
                         e.dkim_aligned ? "pass" : "fail", e.spf_aligned ? "pass" : "fail");
  }
  return {};
}

}  // namespace dmarq::analyze
