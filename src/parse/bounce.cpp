// Bounces and auto-replies over the MIME tree (see the header for the
// contract). An RFC 3464 delivery-status part is read field group by field
// group; everything else is recognised from the sender, subject and text
// patterns the common MTAs have used for decades (qmail, Exim, Exchange 2003,
// Domino, Yahoo, Gmail) and from Amazon SES's JSON notifications. The
// heuristics only ever look at the notification text, never at the returned
// message, so an address in the original cannot become a recipient.
#include "dmarq/parse/bounce.h"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dmarq/parse/feedback.h"
#include "dmarq/util/text.h"

namespace dmarq::parse {
namespace {

using model::Issue;
using model::Severity;

constexpr std::size_t kMaxRecipients = 1000;
constexpr int kMaxJsonDepth = 64;                   // nesting handed to nlohmann::json
constexpr std::size_t kMaxJsonBytes = 4u << 20;     // an SNS message is at most 256 KiB
constexpr std::size_t kMaxEncodedWord = 1024;       // RFC 2047 says 75; real mail is longer
constexpr std::size_t kMaxDetailBytes = 16u << 10;  // text kept per heuristic recipient

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// `phrase` occurs in `hay` (both lower case) at the start of a word: "spam"
// finds "spammer" and "spamhaus" but "ube" does not find "tube".
bool has_word(std::string_view hay, std::string_view phrase) {
  for (std::size_t pos = hay.find(phrase); pos != std::string_view::npos; pos = hay.find(phrase, pos + 1))
    if (pos == 0 || !is_alnum(phrase.front()) || !is_alnum(hay[pos - 1])) return true;
  return false;
}

template <std::size_t N>
bool has_any(std::string_view hay, const std::array<std::string_view, N>& phrases) {
  for (auto p : phrases)
    if (has_word(hay, p)) return true;
  return false;
}

// ---------------------------------------------------------------------------
// Charsets: RFC 2047 words in the Subject, raw ISO-2022-JP in Diagnostic-Code.

struct IconvCloser {
  void operator()(void* cd) const { iconv_close(static_cast<iconv_t>(cd)); }
};

// `in` converted from `charset` to UTF-8, or nullopt when iconv does not know
// the charset or the bytes are not valid in it.
std::optional<std::string> to_utf8(std::string_view in, std::string_view charset) {
  std::string cs = util::to_lower_ascii(charset);
  if (cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") return std::string(in);
  if (cs.empty() || cs.size() > 40) return std::nullopt;
  for (char c : cs)
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.' && c != ':') return std::nullopt;
  iconv_t raw = iconv_open("UTF-8", cs.c_str());
  if (raw == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::unique_ptr<void, IconvCloser> cd(raw);
  // Every charset iconv knows takes at least one byte per character, and a
  // character needs at most 4 bytes of UTF-8.
  std::string out(in.size() * 4 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  if (iconv(raw, &src, &src_left, &dst, &dst_left) == static_cast<std::size_t>(-1)) return std::nullopt;
  if (iconv(raw, nullptr, nullptr, &dst, &dst_left) == static_cast<std::size_t>(-1)) return std::nullopt;
  out.resize(out.size() - dst_left);
  return out;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (is_digit(c)) return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string decode_base64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = base64_value(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode_q(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '_') {
      out.push_back(' ');
    } else if (in[i] == '=' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// One RFC 2047 encoded word at the start of `s`: its decoded text and length.
std::optional<std::pair<std::string, std::size_t>> encoded_word(std::string_view s) {
  if (!starts_with(s, "=?")) return std::nullopt;
  s = s.substr(0, kMaxEncodedWord);
  auto q1 = s.find('?', 2);
  if (q1 == std::string_view::npos || q1 + 2 >= s.size() || s[q1 + 2] != '?') return std::nullopt;
  char enc = s[q1 + 1];
  auto end = s.find("?=", q1 + 3);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view charset = s.substr(2, q1 - 2);
  charset = charset.substr(0, charset.find('*'));  // RFC 2231 language suffix
  std::string_view text = s.substr(q1 + 3, end - q1 - 3);
  std::string bytes;
  if (enc == 'B' || enc == 'b') bytes = decode_base64(text);
  else if (enc == 'Q' || enc == 'q') bytes = decode_q(text);
  else return std::nullopt;
  auto utf8 = to_utf8(bytes, charset);
  if (!utf8) return std::nullopt;
  return std::make_pair(std::move(*utf8), end + 2);
}

// A header value with its RFC 2047 words decoded to UTF-8 (undecodable words
// are kept as written); white space between adjacent words is dropped.
std::string decode_words(std::string_view v) {
  std::string out, space;
  bool after_word = false;
  for (std::size_t i = 0; i < v.size();) {
    if (v[i] == '=' && i + 1 < v.size() && v[i + 1] == '?') {
      if (auto word = encoded_word(v.substr(i))) {
        if (!after_word) out += space;
        space.clear();
        out += word->first;
        i += word->second;
        after_word = true;
        continue;
      }
    }
    if (v[i] == ' ' || v[i] == '\t') {
      space.push_back(v[i++]);
      continue;
    }
    out += space;
    space.clear();
    out.push_back(v[i++]);
    after_word = false;
  }
  return out + space;
}

// Japanese MTAs (Domino among them) write ISO-2022-JP into Diagnostic-Code
// without RFC 2047: seven-bit text with ESC sequences. Decoded to UTF-8 when
// it converts cleanly; anything else is kept as written.
std::string decode_raw_iso2022jp(std::string value) {
  if (value.find("\x1b$B") == std::string::npos && value.find("\x1b$@") == std::string::npos &&
      value.find("\x1b(J") == std::string::npos)
    return value;
  for (char c : value)
    if (static_cast<unsigned char>(c) >= 0x80) return value;
  auto utf8 = to_utf8(value, "ISO-2022-JP");
  return utf8 ? std::move(*utf8) : value;
}

// ---------------------------------------------------------------------------
// Status codes

struct Code {
  int klass = 0, subject = 0, detail = 0;
  std::string text;
};

bool read_number(std::string_view s, std::size_t& i, int max_digits, int& value) {
  int n = 0;
  value = 0;
  while (i < s.size() && is_digit(s[i]) && n < max_digits) {
    value = value * 10 + (s[i] - '0');
    ++i;
    ++n;
  }
  return n > 0 && !(i < s.size() && is_digit(s[i]));
}

// The enhanced status code (RFC 3463 d.d{1,3}.d{1,3}) starting at `i`, if
// one does: not part of a longer dotted number such as an IP address.
std::optional<Code> code_at(std::string_view s, std::size_t i) {
  if (!is_digit(s[i]) || (i > 0 && (is_digit(s[i - 1]) || s[i - 1] == '.'))) return std::nullopt;
  if (i + 1 >= s.size() || s[i + 1] != '.') return std::nullopt;
  std::size_t j = i + 2;
  Code c;
  c.klass = s[i] - '0';
  if (!read_number(s, j, 3, c.subject) || j >= s.size() || s[j] != '.') return std::nullopt;
  ++j;
  if (!read_number(s, j, 3, c.detail)) return std::nullopt;
  if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) return std::nullopt;
  c.text = std::string(s.substr(i, j - i));
  return c;
}

// The first enhanced code in `s`. `failure_only`: class 2, 4 or 5 only.
std::optional<Code> first_code(std::string_view s, bool failure_only) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (failure_only && s[i] != '2' && s[i] != '4' && s[i] != '5') continue;
    if (auto c = code_at(s, i)) return c;
  }
  return std::nullopt;
}

// The first enhanced code that free text gives as one: after an SMTP reply
// code ("550 5.1.1", "550-5.7.1", "450 450 4.2.2") or after '#' (qmail's
// "(#5.1.2)"). A bare dotted number in prose is not taken.
std::optional<Code> code_in_text(std::string_view s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] != '2' && s[i] != '4' && s[i] != '5') continue;
    bool context = s[i - 1] == '#';
    if (!context && i >= 4 && (s[i - 1] == ' ' || s[i - 1] == '-')) {
      std::string_view reply = s.substr(i - 4, 3);
      context = (reply[0] == '4' || reply[0] == '5' || reply[0] == '2') && is_digit(reply[1]) &&
                is_digit(reply[2]) && (i < 5 || !is_digit(s[i - 5]));
    }
    if (!context) continue;
    if (auto c = code_at(s, i)) return c;
  }
  return std::nullopt;
}

// A basic SMTP reply code (RFC 5321) in text with no enhanced code: "450 ".
std::optional<char> reply_class(std::string_view s) {
  for (std::size_t i = 0; i + 3 < s.size(); ++i) {
    if ((s[i] != '4' && s[i] != '5') || !is_digit(s[i + 1]) || !is_digit(s[i + 2])) continue;
    if (i > 0 && (is_alnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-' || s[i - 1] == '/')) continue;
    if (s[i + 3] == ' ' || s[i + 3] == '-') return s[i];
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Classification

// Words of receivers' rejections, lower case, matched at the start of a word.
constexpr std::array<std::string_view, 38> kPolicyWords = {
    "spam", "blocked", "block list", "blocklist", "blacklist", "black list", "denylist", "rbl",
    "dnsbl", "spamhaus", "spamcop", "dmarc", "spf", "dkim", "reverse dns", "reverse lookup",
    "ptr record", "no ptr", "policy", "ube", "unsolicited", "bulk mail", "content rejected",
    "message rejected", "junk", "phish", "virus", "malware", "reputation", "sender rejected",
    "sender address rejected", "sender denied", "not authorized", "unauthenticated",
    "relay access denied", "relaying denied", "access denied", "client host rejected"};
constexpr std::array<std::string_view, 44> kHardWords = {
    "user unknown", "unknown user", "unknown recipient", "recipient unknown", "unknown address",
    "no such user", "no such mailbox", "no such recipient", "no such address", "no such domain",
    "no mailbox", "mailbox not found", "mailbox unavailable", "mailbox does not exist",
    "user not found", "recipient not found", "address not found", "does not exist",
    "doesn't exist", "invalid recipient", "invalid mailbox", "invalid address", "bad address",
    "address rejected", "unrouteable address", "not recognized", "not listed",
    "host not found", "domain not found", "host unknown", "unknown host", "find any host",
    "name service error", "nxdomain", "recipnotfound", "recipientnotfound",
    "account disabled", "account has been disabled", "mailbox disabled", "account closed",
    "no longer", "illegal user",
    // Japanese (Domino, Japanese ISPs): "cannot be found", "does not exist".
    "見つかりません", "存在しません"};
constexpr std::array<std::string_view, 16> kSoftWords = {
    "mailbox full", "mailbox is full", "mailbox has exceeded", "quota", "insufficient storage",
    "out of storage", "temporar", "try again", "timed out", "timeout", "delayed", "deferred",
    "greylist", "too many connections", "rate limit", "connection refused"};

bool generic(const Code& c) { return (c.subject == 0 && c.detail == 0) || (c.subject == 5 && c.detail == 0); }

// The class a specific 5.x.x code settles by itself; nullopt: read the text.
std::optional<std::string> class_of_permanent(const Code& c) {
  switch (c.subject) {
    case 1: return "hard";  // addressing: bad mailbox, bad system, null MX, ...
    case 2:
      if (c.detail == 1) return "hard";  // mailbox disabled
      if (c.detail == 2) return "soft";  // mailbox full
      return std::nullopt;
    case 3:
      if (c.detail == 1) return "soft";  // mail system full
      return std::nullopt;
    case 4:
      if (c.detail == 4 || c.detail == 310) return "hard";  // host not found (310: Microsoft's)
      if (c.detail == 7 || c.detail == 300) return "soft";  // delivery time expired
      return std::nullopt;
    case 7: return "policy";
    default: return std::nullopt;
  }
}

std::optional<std::string> class_of_text(std::string_view lower) {
  if (has_any(lower, kPolicyWords)) return "policy";
  if (has_any(lower, kHardWords)) return "hard";
  if (has_any(lower, kSoftWords)) return "soft";
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// The message: sender, subject, notification text

std::string header_lower(const mime::Header& h, std::string_view name) {
  auto v = h.get(name);
  return v ? util::to_lower_ascii(decode_words(*v)) : std::string();
}

// From a mail system rather than a person: MAILER-DAEMON, postmaster, "Mail
// Delivery System/Subsystem".
bool from_mail_system(const mime::Header& h) {
  static constexpr std::array<std::string_view, 7> kNames = {
      "mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster", "mail delivery",
      "mail-delivery"};
  std::string from = header_lower(h, "From");
  for (auto n : kNames)
    if (from.find(n) != std::string::npos) return true;
  return false;
}

bool is_dsn_type(std::string_view type) {
  return type == "message/delivery-status" || type == "message/global-delivery-status";
}

const mime::Entity* find_dsn(const mime::Entity& root) {
  const mime::Entity* found = nullptr;
  mime::walk(root, [&](const mime::Entity& e) {
    if (!found && is_dsn_type(e.content_type)) found = &e;
  });
  return found;
}

// The text/plain leaves of the notification itself: not those of an attached
// message (message/rfc822 and the like), in order.
void text_leaves(const mime::Entity& e, std::vector<const mime::Entity*>& out) {
  if (starts_with(e.content_type, "message/")) return;
  if (e.children.empty()) {
    if (e.content_type == "text/plain" || e.content_type == "application/json") out.push_back(&e);
    return;
  }
  for (const auto& c : e.children) text_leaves(c, out);
}

// The notification text up to the copy of the returned message, which
// non-MIME bounces append after a marker line.
std::string_view notification_text(std::string_view body) {
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find_first_of("\r\n", pos);
    std::size_t end = eol == std::string_view::npos ? body.size() : eol;
    std::string_view line = trim(body.substr(pos, end - pos));
    if (starts_with(line, "---") || starts_with(line, "===") || starts_with(line, "***")) {
      std::string l = util::to_lower_ascii(line.substr(0, 200));
      static constexpr std::array<std::string_view, 8> kMarkers = {
          "copy of the message", "original message", "below this line",  "undelivered message",
          "returned message",    "message headers",  "original headers", "rfc822"};
      for (auto m : kMarkers)
        if (l.find(m) != std::string::npos) return body.substr(0, pos);
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return body;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto eol = text.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (text[eol] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
  }
  return lines;
}

// `token` as a mail address ("<a@b.example>:" and "a@b.example," too), lower
// case; "" when it is not one.
std::string address_token(std::string_view token) {
  while (!token.empty() && (token.back() == ':' || token.back() == ',' || token.back() == ';')) token.remove_suffix(1);
  if (!token.empty() && token.front() == '<') {
    if (token.back() != '>') return {};
    token = token.substr(1, token.size() - 2);
  }
  auto at = token.find('@');
  if (at == 0 || at == std::string_view::npos || token.find('@', at + 1) != std::string_view::npos) return {};
  std::string_view domain = token.substr(at + 1);
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' || at > 64 ||
      domain.size() > 255)
    return {};
  for (char c : token)
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == '(' || c == ')' || c == '"' ||
        c == ',' || c == '[' || c == ']')
      return {};
  return util::to_lower_ascii(token);
}

std::string address_in(std::string_view field) {
  auto lt = field.find('<');
  if (lt != std::string_view::npos) {
    auto gt = field.find('>', lt);
    if (gt != std::string_view::npos) field = field.substr(lt + 1, gt - lt - 1);
  }
  return util::to_lower_ascii(trim(field));
}

struct TextRecipient {
  std::string address;
  std::string detail;  // its line and the lines about it
};

// Recipients listed in a non-standard bounce's text. After the first line
// that announces them ("...to the following addresses", "did not reach the
// following recipient(s):", "was not delivered to:", ...) every line whose
// first word is an address starts a recipient, and the lines up to the next
// one are about it. Lines indented deeper than the first recipient's are
// details, even if they start with an address (Exim repeats it).
std::vector<TextRecipient> recipients_from_text(std::string_view text, bool& truncated) {
  static constexpr std::array<std::string_view, 11> kAnnounce = {
      "following address", "following recipient", "was not delivered to", "could not be delivered to",
      "has not yet been delivered", "did not reach", "unable to deliver your message",
      "able to deliver your message to", "delivery to the following", "could not deliver",
      "permanent fatal errors"};
  std::vector<TextRecipient> out;
  auto lines = split_lines(text);
  std::size_t start = lines.size();
  for (std::size_t i = 0; i < lines.size() && start == lines.size(); ++i) {
    std::string l = util::to_lower_ascii(lines[i]);
    for (auto a : kAnnounce)
      if (l.find(a) != std::string::npos) {
        start = i + 1;
        break;
      }
  }
  bool announced = start < lines.size();
  if (!announced) start = 0;  // qmail-style "<addr>:" lines only
  std::size_t max_indent = std::string_view::npos;
  std::set<std::string> seen;
  for (std::size_t i = start; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::size_t indent = 0;
    while (indent < line.size() && (line[indent] == ' ' || line[indent] == '\t')) ++indent;
    std::string_view rest = line.substr(indent);
    std::string_view token = rest.substr(0, rest.find_first_of(" \t"));
    std::string address;
    if (announced || (indent == 0 && !token.empty() && token.size() == rest.size() && token.front() == '<' &&
                      token.back() == ':'))
      address = address_token(token);
    if (!address.empty() && indent <= max_indent && !seen.count(address)) {
      if (out.size() >= kMaxRecipients) {
        truncated = true;
        break;
      }
      if (max_indent == std::string_view::npos) max_indent = indent;
      seen.insert(address);
      out.push_back(TextRecipient{std::move(address), std::string(rest)});
      continue;
    }
    if (!out.empty() && out.back().detail.size() < kMaxDetailBytes) {
      out.back().detail += '\n';
      out.back().detail += rest.substr(0, kMaxDetailBytes);
    }
  }
  return out;
}

bool subject_says_bounce(std::string_view subject) {
  static constexpr std::array<std::string_view, 26> kSubjects = {
      "undeliver", "undelivered", "delivery status notification", "delivery failure", "delivery failed",
      "delivery notification", "delivery has failed", "failure notice", "returned mail",
      "returned to sender", "mail failure", "could not send message", "delivery problem",
      "delayed mail", "delivery delayed", "warning: message", "non remis", "non recapitabile",
      "unzustellbar", "nicht zustellbar", "no se puede entregar", "onbestelbaar",
      "non-delivery", "nondelivery", "delivery error", "mail system error"};
  return has_any(subject, kSubjects);
}

bool subject_says_success(std::string_view subject) {
  return subject.find("(success)") != std::string_view::npos || subject.find("(relay)") != std::string_view::npos ||
         starts_with(subject, "delivered:") || starts_with(subject, "relayed:");
}

bool text_says_bounce(std::string_view lower) {
  static constexpr std::array<std::string_view, 12> kTexts = {
      "this is the qmail-send program", "created automatically by mail delivery software",
      "did not reach the following recipient", "was not delivered to", "could not be delivered to",
      "delivery to the following recipient", "unable to deliver your message",
      "wasn't able to deliver your message", "has not yet been delivered", "message could not be delivered",
      "delivery has failed", "permanent fatal errors"};
  return has_any(lower, kTexts);
}

bool says_delay(std::string_view subject, std::string_view text) {
  static constexpr std::array<std::string_view, 5> kSubjects = {
      "warning:", "(delay)", "delayed mail", "delivery delayed", "delivery status notification (delay)"};
  static constexpr std::array<std::string_view, 6> kTexts = {
      "has been delayed", "not yet been delivered", "warning message only", "delivery attempts will continue",
      "will be retried", "will continue to try"};
  return has_any(subject, kSubjects) || has_any(text, kTexts);
}

// ---------------------------------------------------------------------------
// RFC 3464

std::string where_of(const mime::Entity& e) { return e.section.empty() ? std::string() : "part " + e.section; }

// "dns; mx.example.org (comment)" -> "mx.example.org"
std::string mta_name(std::string_view field) {
  auto semi = field.find(';');
  std::string_view v = trim(semi == std::string_view::npos ? field : field.substr(semi + 1));
  return std::string(v.substr(0, v.find_first_of(" \t([")));
}

// "rfc822; <Kijitora@Example.JP>" -> "kijitora@example.jp"
std::string dsn_address(std::string_view field) {
  auto semi = field.find(';');
  return address_in(semi == std::string_view::npos ? field : field.substr(semi + 1));
}

bool names_recipient(const mime::Header& g) { return g.get("Final-Recipient") || g.get("Original-Recipient"); }

void read_dsn(const mime::Entity& part, model::Bounce& bounce, model::Issues& issues) {
  auto groups = mime::parse_field_groups(part.body);
  std::string reporting_mta;
  std::optional<int64_t> arrival;
  std::size_t first = 0;
  if (!groups.empty() && !names_recipient(groups[0])) {
    if (auto v = groups[0].get("Reporting-MTA")) reporting_mta = mta_name(*v);
    if (auto v = groups[0].get("Arrival-Date")) arrival = parse_mail_date(*v);
    first = 1;
  }
  for (std::size_t i = first; i < groups.size(); ++i) {
    const auto& g = groups[i];
    if (!names_recipient(g)) {
      // Per-recipient fields without the recipient: nothing to key them on.
      if (g.get("Action") || g.get("Status"))
        issues.push_back(Issue{"bounce.no_final_recipient", Severity::warning,
                               "a per-recipient field group without Final-Recipient was skipped", where_of(part)});
      continue;
    }
    if (bounce.recipients.size() >= kMaxRecipients) {
      issues.push_back(Issue{"bounce.too_many_recipients", Severity::warning,
                             fmt::format("only the first {} recipients were read", kMaxRecipients),
                             where_of(part)});
      break;
    }
    model::BounceRecipient r;
    if (auto v = g.get("Original-Recipient")) r.original_recipient = dsn_address(*v);
    if (auto v = g.get("Final-Recipient")) r.recipient = dsn_address(*v);
    if (r.recipient.empty()) r.recipient = r.original_recipient;
    if (auto v = g.get("Action")) {
      std::string_view a = trim(*v);
      r.action = util::to_lower_ascii(a.substr(0, a.find_first_of(" \t(")));
    }
    if (auto v = g.get("Status"))
      if (auto c = first_code(*v, false)) r.status = c->text;
    if (auto v = g.get("Diagnostic-Code")) r.diagnostic_code = decode_raw_iso2022jp(std::string(*v));
    if (auto v = g.get("Remote-MTA")) r.remote_mta = mta_name(*v);
    auto own_mta = g.get("Reporting-MTA");
    r.reporting_mta = own_mta ? mta_name(*own_mta) : reporting_mta;
    r.arrival_date = arrival;
    r.bounce_class = classify_bounce(r.action, r.status, r.diagnostic_code);
    bounce.recipients.push_back(std::move(r));
  }
}

bool all_succeeded(const model::Bounce& b) {
  if (b.recipients.empty()) return false;
  for (const auto& r : b.recipients)
    if (r.action != "delivered" && r.action != "relayed" && r.action != "expanded") return false;
  return true;
}

// ---------------------------------------------------------------------------
// Amazon SES notifications (JSON, optionally inside an SNS envelope)

// The balanced {...} that starts at the first '{' of `text`; nullopt when it
// does not close or nests deeper than kMaxJsonDepth.
std::optional<std::string_view> json_object(std::string_view text) {
  auto start = text.find('{');
  if (start == std::string_view::npos) return std::nullopt;
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = start; i < text.size() && i - start < kMaxJsonBytes; ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return std::nullopt;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return text.substr(start, i - start + 1);
    }
  }
  return std::nullopt;
}

std::string erase_all(std::string_view s, std::string_view what) {
  std::string out;
  for (std::size_t pos = 0;;) {
    auto hit = s.find(what, pos);
    out += s.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos);
    if (hit == std::string_view::npos) return out;
    pos = hit + what.size();
  }
}

nlohmann::json parse_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) return j;
  // Sendmail cuts lines longer than 990 bytes with "!" + newline + space;
  // SNS notifications are one long line.
  std::string joined = erase_all(erase_all(text, "!\r\n "), "!\n ");
  j = nlohmann::json::parse(joined, nullptr, false);
  if (!j.is_discarded()) return j;
  joined = erase_all(erase_all(joined, "\r"), "\n");
  return nlohmann::json::parse(joined, nullptr, false);
}

std::string json_string(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const nlohmann::json* json_member(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<int64_t> json_time(const nlohmann::json& j, std::string_view key) {
  std::string t = json_string(j, key);  // "2016-10-21T00:06:39.000Z"
  if (t.size() < 19) return std::nullopt;
  return util::parse_iso_utc(t.substr(0, 19) + "Z");
}

struct SesResult {
  bool notification = false;  // an SES notification: its verdict is final
  std::optional<model::Bounce> bounce;
};

// `from_aws`: the message comes from Amazon (SNS or SES), so JSON that
// cannot be read is worth a warning rather than just ordinary text.
SesResult read_ses(std::string_view body, bool from_aws, model::Issues& issues, const std::string& where) {
  SesResult out;
  auto object = json_object(body);
  if (!object) return out;
  auto j = parse_json(*object);
  if (j.is_discarded() || !j.is_object()) {
    if (from_aws)
      issues.push_back(Issue{"bounce.bad_json", Severity::warning, "an Amazon JSON notification could not be read",
                             where});
    return out;
  }
  // SNS HTTP/e-mail-JSON envelope: the notification is a string in "Message".
  if (json_string(j, "Type") == "Notification") {
    std::string inner = json_string(j, "Message");
    if (auto inner_object = json_object(inner)) {
      auto k = nlohmann::json::parse(*inner_object, nullptr, false);
      if (!k.is_discarded() && k.is_object()) j = std::move(k);
    }
  }
  std::string type = json_string(j, "notificationType");
  if (type.empty()) type = json_string(j, "eventType");
  if (type.empty()) return out;
  out.notification = true;
  if (type != "Bounce") return out;  // Delivery, Complaint, Send, ...: not bounces

  const auto* b = json_member(j, "bounce");
  const auto* mail = json_member(j, "mail");
  std::string bounce_type = b ? util::to_lower_ascii(json_string(*b, "bounceType")) : std::string();
  std::string reporting_mta = b ? mta_name(json_string(*b, "reportingMTA")) : std::string();
  auto arrival = mail ? json_time(*mail, "timestamp") : std::nullopt;
  model::Bounce bounce;
  const auto* list = b ? json_member(*b, "bouncedRecipients") : nullptr;
  if (list && list->is_array()) {
    for (const auto& item : *list) {
      if (bounce.recipients.size() >= kMaxRecipients) {
        issues.push_back(Issue{"bounce.too_many_recipients", Severity::warning,
                               fmt::format("only the first {} recipients were read", kMaxRecipients), where});
        break;
      }
      model::BounceRecipient r;
      r.recipient = address_in(json_string(item, "emailAddress"));
      if (r.recipient.empty()) continue;
      r.action = util::to_lower_ascii(trim(json_string(item, "action")));
      if (auto c = first_code(json_string(item, "status"), false)) r.status = c->text;
      r.diagnostic_code = json_string(item, "diagnosticCode");
      r.reporting_mta = reporting_mta;
      r.arrival_date = arrival;
      r.bounce_class = classify_bounce(r.action.empty() ? "failed" : r.action, r.status, r.diagnostic_code);
      // SES's own verdict when the code and text said nothing.
      if (r.bounce_class == "unknown" && bounce_type == "transient") r.bounce_class = "soft";
      bounce.recipients.push_back(std::move(r));
    }
  }
  if (bounce.recipients.empty())
    issues.push_back(Issue{"bounce.no_recipients", Severity::warning,
                           "an SES bounce notification names no bounced recipient", where});
  out.bounce = std::move(bounce);
  return out;
}

// ---------------------------------------------------------------------------
// Non-standard bounces

std::optional<model::Bounce> read_text_bounce(const mime::Tree& tree, model::Issues& issues) {
  const auto& h = tree.root.header;
  std::string subject = header_lower(h, "Subject");
  std::vector<std::string> failed;  // X-Failed-Recipients (Exim, Gmail, Mail.Ru)
  bool truncated = false;
  for (auto v : h.all("X-Failed-Recipients")) {
    std::size_t pos = 0;
    while (pos < v.size()) {
      if (failed.size() >= kMaxRecipients) {
        truncated = true;
        break;
      }
      auto comma = v.find(',', pos);
      std::string a = address_in(v.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
      bool address = a.find('@') != std::string::npos && a.find_first_of(" \t") == std::string::npos;
      if (address && std::find(failed.begin(), failed.end(), a) == failed.end()) failed.push_back(std::move(a));
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
  }
  std::vector<const mime::Entity*> leaves;
  text_leaves(tree.root, leaves);
  std::string_view text = leaves.empty() ? std::string_view() : notification_text(leaves.front()->body);
  std::string lower = util::to_lower_ascii(text);

  bool bounce = !failed.empty();
  if (!bounce && !subject_says_success(subject)) {
    bool by_subject = subject_says_bounce(subject), by_text = text_says_bounce(lower);
    bounce = (from_mail_system(h) && (by_subject || by_text)) || (by_subject && by_text);
  }
  if (!bounce) return std::nullopt;

  auto listed = recipients_from_text(text, truncated);
  std::vector<TextRecipient> recipients;
  if (failed.empty()) {
    recipients = std::move(listed);
  } else {
    for (auto& a : failed) {
      auto it = std::find_if(listed.begin(), listed.end(), [&](const TextRecipient& t) { return t.address == a; });
      recipients.push_back(TextRecipient{a, it == listed.end() ? std::string() : it->detail});
    }
  }
  bool delayed = says_delay(subject, lower);
  model::Bounce out;
  for (auto& t : recipients) {
    model::BounceRecipient r;
    r.recipient = t.address;
    std::optional<Code> code = code_in_text(t.detail);
    std::string_view about = t.detail;
    if (!code && recipients.size() == 1) {
      code = code_in_text(text);
      if (t.detail.empty()) about = text;
    }
    if (code) r.status = code->text;
    // The action is left empty: the text has none. The class reads the text.
    r.bounce_class = classify_bounce(delayed ? "delayed" : "failed", r.status, about);
    out.recipients.push_back(std::move(r));
  }
  if (out.recipients.empty())
    issues.push_back(Issue{"bounce.no_recipients", Severity::warning,
                           "a bounce whose text names no recipient that could be read", {}});
  if (truncated)
    issues.push_back(Issue{"bounce.too_many_recipients", Severity::warning,
                           fmt::format("only the first {} recipients were read", kMaxRecipients), {}});
  return out;
}

}  // namespace

bool is_auto_reply(const mime::Tree& tree) {
  const auto& h = tree.root.header;
  // Exim and Mail.Ru mark their bounces "Auto-Submitted: auto-replied", and
  // so do some DMARC failure-report generators: what a mail system sends
  // about a delivery, and any multipart/report, is not an auto-reply.
  if (from_mail_system(h) || h.get("X-Failed-Recipients") || tree.root.content_type == "multipart/report" ||
      find_dsn(tree.root))
    return false;
  std::string auto_submitted = header_lower(h, "Auto-Submitted");
  std::string_view keyword = trim(auto_submitted);
  keyword = keyword.substr(0, keyword.find_first_of(" \t;("));
  if (keyword == "auto-replied") return true;
  for (auto name : {"X-Autoreply", "X-Autorespond", "X-Auto-Reply"}) {
    auto v = h.get(name);
    if (!v) continue;
    std::string value = util::to_lower_ascii(trim(*v));
    if (value != "no" && value != "false" && value != "0") return true;
  }
  if (trim(header_lower(h, "Precedence")) == "auto_reply") return true;
  if (trim(header_lower(h, "X-Autogenerated")) == "reply") return true;

  std::string subject = header_lower(h, "Subject");
  std::string_view s = trim(subject);
  static constexpr std::array<std::string_view, 6> kPrefixes = {"auto:", "autoreply:", "auto-reply:",
                                                                "vacation:", "on vacation", "away:"};
  for (auto p : kPrefixes)
    if (starts_with(s, p)) return true;
  static constexpr std::array<std::string_view, 24> kSubjects = {
      "out of office", "out of the office", "automatic reply", "auto reply", "autoreply", "auto-reply",
      "auto response", "autoresponse", "auto-response", "abwesenheitsnotiz", "automatische antwort",
      "réponse automatique", "respuesta automática", "risposta automatica", "automatisch antwoord",
      "resposta automática", "autosvar", "automatisk svar", "automaattinen vastaus",
      "automatyczna odpowiedź", "自動応答", "自動返信", "自动回复", "away from the office"};
  return has_any(s, kSubjects);
}

std::string classify_bounce(std::string_view action, std::string_view status, std::string_view diagnostic) {
  std::string act = util::to_lower_ascii(trim(action));
  if (act == "delivered" || act == "relayed" || act == "expanded") return "unknown";
  if (act == "delayed") return "soft";
  std::string diag = util::to_lower_ascii(diagnostic);
  auto code = first_code(status, false);
  // A generic or missing Status: the code the remote server gave, if any.
  if (!code || generic(*code))
    if (auto d = first_code(diag, true); d && (!code || !generic(*d))) code = d;
  if (code) {
    if (code->klass == 4) return "soft";
    if (code->klass == 5)
      if (auto c = class_of_permanent(*code)) return *c;
    if (code->klass == 2) return "unknown";
  }
  if (auto c = class_of_text(diag)) return *c;
  if (!code)
    if (auto r = reply_class(diag); r && *r == '4') return "soft";
  return "unknown";
}

BounceResult parse_bounce(const mime::Tree& tree) {
  BounceResult result;
  if (is_auto_reply(tree)) return result;

  if (const auto* dsn = find_dsn(tree.root)) {
    model::Bounce bounce;
    bounce.rfc3464 = true;
    read_dsn(*dsn, bounce, result.issues);
    if (all_succeeded(bounce)) return result;
    if (bounce.recipients.empty()) {
      // A delivery-status part without recipient groups: the text may still
      // name them.
      model::Issues ignored;
      if (auto text = read_text_bounce(tree, ignored)) bounce.recipients = std::move(text->recipients);
      for (auto& i : ignored)
        if (i.code == "bounce.too_many_recipients") result.issues.push_back(std::move(i));
      if (bounce.recipients.empty())
        result.issues.push_back(Issue{"bounce.no_recipients", Severity::warning,
                                      "the delivery-status part has no per-recipient fields", where_of(*dsn)});
    }
    result.bounce = std::move(bounce);
    return result;
  }

  std::string from = header_lower(tree.root.header, "From");
  bool from_aws = from.find("amazonaws.com") != std::string::npos || from.find("amazonses.com") != std::string::npos;
  std::vector<const mime::Entity*> leaves;
  text_leaves(tree.root, leaves);
  for (const auto* leaf : leaves) {
    if (leaf->body.find("notificationType") == std::string::npos && leaf->body.find("eventType") == std::string::npos)
      continue;
    auto ses = read_ses(leaf->body, from_aws, result.issues, where_of(*leaf));
    if (ses.notification) {
      result.bounce = std::move(ses.bounce);
      return result;
    }
  }

  result.bounce = read_text_bounce(tree, result.issues);
  return result;
}

}  // namespace dmarq::parse
