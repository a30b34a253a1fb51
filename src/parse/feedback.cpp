// Feedback-loop and failure reports over a parsed MIME tree (see the header
// for the contract and QUIRKS.md for the tolerated oddities).
//
// Every loop here runs over the tree's entities, an entity's header fields or
// a part's lines, so the work is bounded by what parse_tree accepted (its
// size, depth and part limits). Nothing here throws for bad input: numbers
// go through std::from_chars, never std::stoi.
#include "dmarq/parse/feedback.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "dmarq/util/text.h"

namespace dmarq::parse {
namespace {

using model::Feedback;
using model::Issue;
using model::Severity;

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) { return util::trim_xml_space(s); }

// Single-token fields are sometimes written with a trailing ';' (seen in
// draft-era reports); the token is what counts.
std::string_view token(std::string_view s) {
  s = trim(s);
  while (!s.empty() && s.back() == ';') s = trim(s.substr(0, s.size() - 1));
  return s;
}

std::string lower(std::string_view s) { return util::to_lower_ascii(s); }

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && util::iequals(s.substr(0, prefix.size()), prefix);
}

std::size_t ifind(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return std::string_view::npos;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (util::iequals(haystack.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

std::string field(const mime::Header& h, std::string_view name) {
  auto v = h.get(name);
  return v ? std::string(*v) : std::string();
}

// "dns; mx.example.net" -> "mx.example.net" (RFC 3464 mta-name-type; a value
// without the type is taken whole).
std::string mta_name(std::string_view value) {
  auto semi = value.find(';');
  return std::string(trim(semi == std::string_view::npos ? value : value.substr(semi + 1)));
}

// An address literal as reports write it: "192.0.2.1", "192.0.2.1 (rdns)"
// (OpenDMARC), "[192.0.2.1]", "IPv6:2001:db8::1".
std::optional<model::IpAddress> ip_of(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '[') text.remove_prefix(1);
  if (istarts_with(text, "IPv6:")) text.remove_prefix(5);
  auto end = text.find_first_of(" \t(];,");
  if (end != std::string_view::npos) text = text.substr(0, end);
  return model::parse_ip(text);
}

// Tag list (RFC 6376 3.2): "v=1; a=rsa-sha256; d=example.com; s=sel; ...".
// White space inside a value is folding and is dropped.
void dkim_domain_selector(std::string_view sig, std::string& d, std::string& s) {
  std::size_t pos = 0;
  while (pos <= sig.size()) {
    auto semi = sig.find(';', pos);
    if (semi == std::string_view::npos) semi = sig.size();
    std::string_view tag = sig.substr(pos, semi - pos);
    pos = semi + 1;
    auto eq = tag.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = trim(tag.substr(0, eq));
    std::string value;
    for (char c : tag.substr(eq + 1))
      if (!is_wsp(c)) value += c;
    if (name == "d" && d.empty()) d = value;
    if (name == "s" && s.empty()) s = value;
  }
}

// The headers of the complained-about message. Never its body.
model::ReportedMessage reported_message(const mime::Header& h, bool headers_only) {
  model::ReportedMessage m;
  m.from = field(h, "From");
  m.to = field(h, "To");
  m.subject = field(h, "Subject");
  m.message_id = field(h, "Message-ID");
  m.date = field(h, "Date");
  m.list_unsubscribe = field(h, "List-Unsubscribe");
  m.return_path = field(h, "Return-Path");
  if (auto sig = h.get("DKIM-Signature")) dkim_domain_selector(*sig, m.dkim_domain, m.dkim_selector);
  m.headers_only = headers_only;
  return m;
}

// Header text (a text/rfc822-headers body, or the copy in a plain-text
// report) as a header: the first group of fields.
mime::Header header_of_text(std::string_view text) {
  auto groups = mime::parse_field_groups(text);
  return groups.empty() ? mime::Header{} : std::move(groups.front());
}

bool is_headers_type(std::string_view type) {
  // text/rfc822-headers (RFC 6522); the singular form appears in draft-era
  // reports and message/rfc822-headers in the Email-ARF draft example.
  return type == "text/rfc822-headers" || type == "text/rfc822-header" || type == "message/rfc822-headers";
}

// The reported message beside a feedback part: the first message/rfc822 or
// header-only sibling.
void read_original(const mime::Entity* parent, Feedback& fb) {
  if (!parent) return;
  for (const auto& sibling : parent->children) {
    if (sibling.content_type == "message/rfc822" || sibling.content_type == "message/global") {
      // A message/rfc822 part mimetic could not open (or message/global,
      // which it does not open) still starts with the message's header.
      fb.original = sibling.children.empty() ? reported_message(header_of_text(sibling.body), false)
                                             : reported_message(sibling.children.front().header, false);
      return;
    }
    if (is_headers_type(sibling.content_type)) {
      fb.original = reported_message(header_of_text(sibling.body), true);
      return;
    }
  }
}

void set_arrival(Feedback& fb, std::string_view text, const std::string& where, model::Issues& issues) {
  fb.arrival_date_text = std::string(trim(text));
  fb.arrival_date = parse_mail_date(fb.arrival_date_text);
  if (!fb.arrival_date && !fb.arrival_date_text.empty())
    issues.push_back(Issue{"feedback.bad_date", Severity::warning,
                           fmt::format("unreadable date \"{}\"", fb.arrival_date_text), where});
}

void set_source_ip(Feedback& fb, std::string_view text, const std::string& where, model::Issues& issues) {
  fb.source_ip_text = std::string(trim(text));
  fb.source_ip = ip_of(fb.source_ip_text);
  if (!fb.source_ip && !fb.source_ip_text.empty())
    issues.push_back(Issue{"feedback.bad_source_ip", Severity::warning,
                           fmt::format("unreadable source IP \"{}\"", fb.source_ip_text), where});
}

// One message/feedback-report part (RFC 5965 3.1, RFC 6591 3.1).
Feedback read_arf(const mime::Entity& part, const mime::Entity* parent, model::Issues& issues) {
  Feedback fb;
  fb.part = part.section;
  const std::string where = fmt::format("part {}", part.section);
  // The fields are one group; a stray blank line (or a line of spaces) must
  // not hide the ones after it, so every group is read.
  mime::Header h;
  for (auto& group : mime::parse_field_groups(part.body))
    for (auto& f : group.fields) h.fields.push_back(std::move(f));

  fb.feedback_type = lower(token(field(h, "Feedback-Type")));
  if (fb.feedback_type.empty())
    issues.push_back(Issue{"feedback.no_type", Severity::warning, "feedback report without Feedback-Type", where});
  fb.kind = fb.feedback_type == "auth-failure" ? "failure" : "arf";
  fb.user_agent = field(h, "User-Agent");
  fb.version = std::string(token(field(h, "Version")));
  fb.original_envelope_id = field(h, "Original-Envelope-Id");
  fb.original_mail_from = address_of(field(h, "Original-Mail-From"));
  for (auto rcpt : h.all("Original-Rcpt-To")) {
    std::string address = lower(address_of(rcpt));
    if (!address.empty()) fb.original_rcpt_to.push_back(std::move(address));
  }
  // Received-Date: the pre-RFC name (ARF drafts, AOL, Yahoo, RFC 6591's own
  // example), read only when Arrival-Date is absent.
  auto arrival = h.get("Arrival-Date");
  if (!arrival) arrival = h.get("Received-Date");
  if (arrival) set_arrival(fb, *arrival, where, issues);
  if (auto mta = h.get("Reporting-MTA")) fb.reporting_mta = mta_name(*mta);
  if (auto ip = h.get("Source-IP")) set_source_ip(fb, *ip, where, issues);
  if (auto n = h.get("Incidents")) {
    std::string_view t = token(*n);
    uint64_t v = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (r.ec == std::errc{} && r.ptr == t.data() + t.size())
      fb.incidents = v;
    else
      issues.push_back(Issue{"feedback.bad_incidents", Severity::warning, fmt::format("Incidents \"{}\"", t), where});
  }
  for (auto v : h.all("Authentication-Results")) fb.authentication_results.emplace_back(v);
  for (auto v : h.all("Reported-Domain"))
    if (auto d = lower(token(v)); !d.empty()) fb.reported_domain.push_back(std::move(d));
  for (auto v : h.all("Reported-URI"))
    if (!v.empty()) fb.reported_uri.emplace_back(v);
  fb.removal_recipient = address_of(field(h, "Removal-Recipient"));
  fb.auth_failure = lower(token(field(h, "Auth-Failure")));
  fb.delivery_result = lower(token(field(h, "Delivery-Result")));
  fb.dkim_domain = field(h, "DKIM-Domain");
  fb.dkim_identity = field(h, "DKIM-Identity");
  fb.dkim_selector = field(h, "DKIM-Selector");
  fb.spf_dns = field(h, "SPF-DNS");
  fb.identity_alignment = lower(token(field(h, "Identity-Alignment")));
  read_original(parent, fb);
  return fb;
}

// Every message/feedback-report part at any depth, with its parent: Amazon
// SES forwards another loop's report as an attached message, so the part is
// not always a child of the root. The siblings of a feedback part are the
// report's text and the reported message, which is content and not searched
// (a failure report about an ARF report is one report, not two).
void find_feedback_parts(const mime::Entity& e, const mime::Entity* parent,
                         std::vector<std::pair<const mime::Entity*, const mime::Entity*>>& out) {
  if (e.content_type == "message/feedback-report") {
    out.emplace_back(&e, parent);
    return;
  }
  bool report = false;
  for (const auto& c : e.children)
    if (c.content_type == "message/feedback-report") {
      out.emplace_back(&c, &e);
      report = true;
    }
  if (report) return;
  for (const auto& c : e.children) find_feedback_parts(c, &e, out);
}

constexpr std::string_view kJmrpField = "X-HmXmrOriginalRecipient";

const mime::Entity* find_jmrp_attachment(const mime::Entity& e) {
  if (e.content_type == "message/rfc822" && !e.children.empty() && e.children.front().header.get(kJmrpField))
    return &e;
  for (const auto& c : e.children)
    if (const auto* found = find_jmrp_attachment(c)) return found;
  return nullptr;
}

// "from host ([192.0.2.1]) by mx ...": the bracketed address in the from
// clause (the sending host as the receiving MTA saw it).
std::optional<model::IpAddress> received_from_ip(std::string_view received, std::string& text) {
  received = trim(received);
  if (!istarts_with(received, "from")) return std::nullopt;
  std::string_view clause = received;
  // The from clause ends at the " by " keyword (or the ';' before the date).
  std::size_t end = clause.size();
  for (std::size_t i = 1; i + 3 < clause.size(); ++i) {
    if (is_wsp(clause[i - 1]) && util::iequals(clause.substr(i, 2), "by") && is_wsp(clause[i + 2])) {
      end = i;
      break;
    }
  }
  end = std::min(end, clause.find(';'));
  clause = clause.substr(0, end);
  auto open = clause.find('[');
  if (open == std::string_view::npos) return std::nullopt;
  auto close = clause.find(']', open);
  if (close == std::string_view::npos) return std::nullopt;
  text = std::string(clause.substr(open + 1, close - open - 1));
  return ip_of(text);
}

// Microsoft JMRP: not ARF. The complained message carries
// X-HmXmrOriginalRecipient, either on the report itself ("original" form:
// Hotmail forwards the message, and its own header is what comes after that
// field) or on an attached message/rfc822 ("RFC822 attachment" form).
std::optional<Feedback> read_jmrp(const mime::Entity& root, model::Issues& issues) {
  mime::Header h;
  Feedback fb;
  const auto& top = root.header.fields;
  std::size_t at = 0;
  while (at < top.size() && !util::iequals(top[at].name, kJmrpField)) ++at;
  bool attachment = at == top.size();
  if (!attachment) {
    h.fields.assign(top.begin() + static_cast<std::ptrdiff_t>(at), top.end());
  } else if (const auto* part = find_jmrp_attachment(root)) {
    h = part->children.front().header;
    fb.part = part->section;
  } else {
    return std::nullopt;
  }
  const std::string where = fb.part.empty() ? "header" : fmt::format("part {}", fb.part);
  fb.kind = "jmrp";
  fb.feedback_type = "abuse";
  if (std::string rcpt = lower(address_of(field(h, kJmrpField))); !rcpt.empty())
    fb.original_rcpt_to.push_back(std::move(rcpt));
  // The first Received there is Hotmail's, from the sender's host: its
  // address is the source, its date the arrival. (X-Reporter-IP is the
  // complaining user's; X-OriginalArrivalTime can be the sender's own
  // Exchange stamp.)
  if (auto received = h.get("Received")) {
    fb.source_ip = received_from_ip(*received, fb.source_ip_text);
    if (auto semi = received->rfind(';'); semi != std::string_view::npos)
      set_arrival(fb, received->substr(semi + 1), where, issues);
  }
  // In the original form the top Return-Path is Hotmail's forward, not the
  // sender's.
  if (attachment) fb.original_mail_from = address_of(field(h, "Return-Path"));
  fb.original = reported_message(h, false);
  return fb;
}

// "  Sender IP Address: 203.0.113.68" -> "203.0.113.68" when `line` is
// that label.
std::optional<std::string_view> labelled(std::string_view line, std::string_view label) {
  line = trim(line);
  if (!istarts_with(line, label)) return std::nullopt;
  line.remove_prefix(label.size());
  line = trim(line);
  if (line.empty() || line.front() != ':') return std::nullopt;
  return trim(line.substr(1));
}

// Plain-text DMARC failure reports without an ARF part (Exim, cPanel):
// "Sender Domain:", "Sender IP Address:" and "Received date:" lines, then a
// copy of the failing message's header.
std::optional<Feedback> read_plain_text(const mime::Entity& root, model::Issues& issues) {
  const mime::Entity* found = nullptr;
  mime::walk(root, [&](const mime::Entity& e) {
    if (found || !e.children.empty() || e.content_type != "text/plain") return;
    bool ip = false, domain = false;
    std::size_t pos = 0;
    while (pos < e.body.size() && !(ip && domain)) {
      auto eol = e.body.find('\n', pos);
      if (eol == std::string::npos) eol = e.body.size();
      std::string_view line(e.body.data() + pos, eol - pos);
      pos = eol + 1;
      ip = ip || labelled(line, "Sender IP Address");
      domain = domain || labelled(line, "Sender Domain");
    }
    bool says_dmarc = ifind(e.body, "DMARC") != std::string_view::npos ||
                      ifind(field(root.header, "Subject"), "DMARC") != std::string_view::npos;
    if (ip && domain && says_dmarc) found = &e;
  });
  if (!found) return std::nullopt;
  Feedback fb;
  fb.kind = "failure";
  // The text says the message failed the published DMARC policy: what an
  // ARF report would say with these two fields.
  fb.feedback_type = "auth-failure";
  fb.auth_failure = "dmarc";
  fb.part = found->section;
  const std::string where = fmt::format("part {}", fb.part);
  std::string_view body = found->body;
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    if (eol == std::string_view::npos) eol = body.size();
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 1;
    if (auto v = labelled(line, "Sender IP Address"); v && !fb.source_ip) {
      set_source_ip(fb, *v, where, issues);
    } else if (auto d = labelled(line, "Sender Domain"); d && fb.reported_domain.empty()) {
      if (!d->empty()) fb.reported_domain.push_back(lower(*d));
    } else if (auto r = labelled(line, "Received date"); r && fb.arrival_date_text.empty()) {
      set_arrival(fb, *r, where, issues);
    } else if (ifind(line, "copy of the headers") != std::string_view::npos) {
      fb.original = reported_message(header_of_text(body.substr(std::min(pos, body.size()))), true);
      break;
    }
  }
  return fb;
}

// RFC 5322 4.3 obsolete zones; any other alphabetic zone "SHOULD be
// considered equivalent to -0000" (military letters had their signs wrong).
int named_zone_minutes(std::string_view z) {
  struct Zone {
    std::string_view name;
    int hours;
  };
  static constexpr Zone zones[] = {{"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5},
                                   {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
  for (const auto& zone : zones)
    if (util::iequals(z, zone.name)) return zone.hours * 60;
  return 0;  // UT, GMT, Z, and unknown
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool all_alpha(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

int to_int(std::string_view digits) {
  int v = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), v);
  return v;
}

}  // namespace

std::string address_of(std::string_view value) {
  auto open = value.rfind('<');
  if (open != std::string_view::npos) {
    auto close = value.find('>', open);
    return std::string(trim(value.substr(open + 1, close == std::string_view::npos ? close : close - open - 1)));
  }
  return std::string(trim(value));
}

// By hand: Debian 12 has no C++ library that reads RFC 5322 dates (mimetic's
// DateTime ignores the zone and obsolete forms; strptime depends on the
// locale and has no zone names), and the grammar is small: [day-name ","]
// day month year hour ":" minute [":" second] [zone], comments anywhere.
std::optional<int64_t> parse_mail_date(std::string_view text) {
  if (text.size() > 200) return std::nullopt;  // a date is short; this bounds the work
  // Drop comments (CFWS, nested) and commas, then split on white space.
  std::string s;
  int depth = 0;
  for (char c : text) {
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (depth == 0) {
      s += c == ',' ? ' ' : c;
    }
  }
  std::vector<std::string_view> tok;
  for (std::size_t pos = 0; pos < s.size();) {
    while (pos < s.size() && is_wsp(s[pos])) ++pos;
    std::size_t start = pos;
    while (pos < s.size() && !is_wsp(s[pos])) ++pos;
    if (pos > start) tok.emplace_back(s.data() + start, pos - start);
  }
  if (tok.size() == 1) return util::parse_iso_utc(tok[0]);  // some reporters write ISO 8601
  std::size_t i = 0;
  if (i < tok.size() && all_alpha(tok[i])) ++i;  // day name, not checked (reports get it wrong)
  if (tok.size() < i + 4) return std::nullopt;
  std::string_view day_text = tok[i++], month_text = tok[i++], year_text = tok[i++], time_text = tok[i++];
  if (!all_digits(day_text) || day_text.size() > 2 || !all_digits(year_text) || year_text.size() < 2 ||
      year_text.size() > 4 || month_text.size() < 3)
    return std::nullopt;
  static constexpr std::string_view months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m)
    if (util::iequals(month_text.substr(0, 3), months[m])) month = m + 1;
  if (month == 0) return std::nullopt;
  int year = to_int(year_text);
  if (year_text.size() == 2) year += year < 50 ? 2000 : 1900;  // RFC 5322 4.3
  if (year_text.size() == 3) year += 1900;
  // hh:mm[:ss]
  int hms[3] = {0, 0, 0};
  int n = 0;
  for (std::size_t pos = 0; pos <= time_text.size(); ++n) {
    if (n == 3) return std::nullopt;
    auto colon = time_text.find(':', pos);
    if (colon == std::string_view::npos) colon = time_text.size();
    std::string_view part = time_text.substr(pos, colon - pos);
    if (!all_digits(part) || part.size() > 2) return std::nullopt;
    hms[n] = to_int(part);
    pos = colon + 1;
  }
  if (n < 2 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60) return std::nullopt;
  int offset = 0;  // minutes east of UTC; a missing zone is read as UTC
  if (i < tok.size()) {
    std::string_view zone = tok[i];
    if ((zone[0] == '+' || zone[0] == '-') && zone.size() == 5 && all_digits(zone.substr(1))) {
      int hh = to_int(zone.substr(1, 2)), mm = to_int(zone.substr(3, 2));
      if (hh > 23 || mm > 59) return std::nullopt;
      offset = (zone[0] == '-' ? -1 : 1) * (hh * 60 + mm);  // "-0000" is UTC too
    } else if (all_alpha(zone)) {
      offset = named_zone_minutes(zone);
    } else {
      return std::nullopt;
    }
  }
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{month},
                     std::chrono::day{static_cast<unsigned>(to_int(day_text))}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd}.time_since_epoch().count() * 86400LL + hms[0] * 3600 + hms[1] * 60 + hms[2] -
         offset * 60LL;
}

FeedbackResult parse_feedback(const mime::Tree& tree) {
  FeedbackResult out;
  std::vector<std::pair<const mime::Entity*, const mime::Entity*>> parts;
  find_feedback_parts(tree.root, nullptr, parts);
  for (const auto& [part, parent] : parts) out.reports.push_back(read_arf(*part, parent, out.issues));
  if (!out.reports.empty()) return out;
  if (auto jmrp = read_jmrp(tree.root, out.issues)) {
    out.reports.push_back(std::move(*jmrp));
    return out;
  }
  if (auto text = read_plain_text(tree.root, out.issues)) out.reports.push_back(std::move(*text));
  return out;
}

}  // namespace dmarq::parse
