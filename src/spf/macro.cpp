// SPF macros (RFC 7208 section 7): checking macro-strings and domain-specs
// against the grammar, and expanding a domain-spec for one check_host()
// call. Expansion is bounded: a macro can at most repeat the sender, so a
// long record full of %{s} could otherwise build megabytes of name.
#include <algorithm>
#include <vector>

#include "spf/detail.h"

namespace dmarq::spf::detail {

namespace {

constexpr std::size_t kMaxExpansion = 8192;  // far over any usable name (253)
constexpr std::size_t kMaxNameLength = 253;  // RFC 7208 7.3

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

// macro-literal = %x21-24 / %x26-7E: visible ASCII except '%'.
bool is_literal(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e && c != '%';
}

bool is_delimiter(char c) { return std::string_view(".-+,/_=").find(c) != std::string_view::npos; }

// One piece of a macro-string: a literal character, an escape (%% %_ %-) or
// a %{...} macro.
struct Token {
  enum { literal, escape, macro } type = literal;
  char ch = 0;            // literal: the character; escape: '%', '_' or '-'
  char letter = 0;        // macro: lower case
  bool upper = false;     // macro: URL-escape the value
  int keep = 0;           // macro: rightmost labels to keep; 0 = all
  bool reverse = false;   // macro
  std::string_view delimiters;  // macro; empty = "."
};

// Reads the token at `pos`; false with `why` on a grammar error.
bool next_token(std::string_view s, std::size_t& pos, bool exp_letters, Token& tok, std::string& why) {
  tok = Token{};
  char c = s[pos];
  if (c != '%') {
    if (!is_literal(c)) {
      why = "has a character that is not visible ASCII";
      return false;
    }
    tok.ch = c;
    ++pos;
    return true;
  }
  if (pos + 1 >= s.size()) {
    why = "ends in a '%' that starts no macro (write %% for a percent sign)";
    return false;
  }
  char n = s[pos + 1];
  if (n == '%' || n == '_' || n == '-') {
    tok.type = Token::escape;
    tok.ch = n;
    pos += 2;
    return true;
  }
  if (n != '{') {
    why = "has a '%' that starts no macro (write %% for a percent sign)";
    return false;
  }
  std::size_t close = s.find('}', pos + 2);
  if (close == std::string_view::npos) {
    why = "has a macro without its closing '}'";
    return false;
  }
  std::string_view body = s.substr(pos + 2, close - pos - 2);
  if (body.empty()) {
    why = "has an empty macro %{}";
    return false;
  }
  tok.type = Token::macro;
  tok.letter = lower(body.front());
  tok.upper = body.front() != tok.letter;
  if (std::string_view("slodiphv").find(tok.letter) == std::string_view::npos) {
    bool exp_only = std::string_view("crt").find(tok.letter) != std::string_view::npos;
    if (!exp_only || !exp_letters) {
      why = exp_only ? "uses the macro letter '" + std::string(1, body.front()) +
                           "', which only explanation text may use"
                     : "has an unknown macro letter '" + std::string(1, body.front()) + "'";
      return false;
    }
  }
  std::size_t i = 1;
  std::size_t digits_start = i;
  while (i < body.size() && is_digit(body[i])) ++i;
  if (i > digits_start) {
    std::string_view digits = body.substr(digits_start, i - digits_start);
    // RFC 7208 7.3: the digit transformer must be nonzero. Any count over
    // 128 keeps every label of any name we can build, so clamp there.
    auto first = digits.find_first_not_of('0');
    if (first == std::string_view::npos) {
      why = "has a macro that keeps zero labels";
      return false;
    }
    digits.remove_prefix(first);
    int v = 0;
    for (char d : digits) v = std::min(v * 10 + (d - '0'), 1000);
    tok.keep = std::min(v, 128);
  }
  if (i < body.size() && lower(body[i]) == 'r') {
    tok.reverse = true;
    ++i;
  }
  std::size_t delim_start = i;
  while (i < body.size() && is_delimiter(body[i])) ++i;
  if (i != body.size()) {
    why = "has a malformed macro %{" + std::string(body.substr(0, 16)) + "}";
    return false;
  }
  tok.delimiters = body.substr(delim_start);
  pos = close + 1;
  return true;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view t) {
  if (t.empty() || !is_alnum(t.front()) || !is_alnum(t.back())) return false;
  bool alpha = false, dash = false;
  for (char c : t) {
    if (c == '-') dash = true;
    else if (is_alpha(c)) alpha = true;
    else if (!is_digit(c)) return false;
  }
  return alpha || dash;
}

std::string transform(std::string_view value, const Token& tok) {
  std::string_view delims = tok.delimiters.empty() ? std::string_view(".") : tok.delimiters;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i)
    if (i == value.size() || delims.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  if (tok.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t first = 0;
  if (tok.keep > 0 && static_cast<std::size_t>(tok.keep) < parts.size()) first = parts.size() - tok.keep;
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) {
    if (i > first) out.push_back('.');
    out.append(parts[i]);
  }
  return out;
}

// RFC 7208 7.3: upper-case macro letters URL-escape everything outside
// RFC 3986's unreserved set.
std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 15]);
  }
  return out;
}

std::string macro_value(char letter, const MacroContext& ctx) {
  switch (letter) {
    case 's': return ctx.sender;
    case 'l': return ctx.local_part;
    case 'o': return ctx.sender_domain;
    case 'd': return ctx.domain;
    case 'i': return macro_ip(ctx.ip);
    case 'h': return ctx.helo;
    case 'v': return ctx.ip.v4 ? "in-addr" : "ip6";
    case 'p': return ctx.validated_name ? ctx.validated_name(ctx.domain) : "unknown";
    default: return {};  // c, r, t: refused in domain-specs by the grammar check
  }
}

bool check_macro_string(std::string_view s, bool exp_letters, std::string& why, bool* ends_in_macro,
                        std::size_t* literal_tail) {
  std::size_t pos = 0;
  bool last_macro = false;
  std::size_t tail = 0;
  while (pos < s.size()) {
    Token tok;
    std::size_t at = pos;
    if (!next_token(s, pos, exp_letters, tok, why)) return false;
    if (tok.type == Token::literal) {
      if (last_macro || at == 0) tail = at;
      last_macro = false;
    } else {
      last_macro = true;
    }
  }
  if (ends_in_macro) *ends_in_macro = last_macro;
  if (literal_tail) *literal_tail = tail;
  return true;
}

}  // namespace

bool valid_macro_string(std::string_view text, std::string& why) {
  return check_macro_string(text, true, why, nullptr, nullptr);
}

bool valid_domain_spec(std::string_view spec, std::string& why) {
  if (spec.empty()) {
    why = "needs a domain name";
    return false;
  }
  bool ends_in_macro = false;
  std::size_t tail = 0;
  if (!check_macro_string(spec, false, why, &ends_in_macro, &tail)) return false;
  if (ends_in_macro) return true;
  // domain-end = "." toplabel [ "." ], within the trailing literal run.
  std::string_view lit = spec.substr(tail);
  if (!lit.empty() && lit.back() == '.') lit.remove_suffix(1);
  std::size_t dot = lit.rfind('.');
  if (dot == std::string_view::npos || !valid_toplabel(lit.substr(dot + 1))) {
    why = "does not end in a valid top-level domain label or a macro";
    return false;
  }
  return true;
}

std::optional<std::string> expand_domain_spec(std::string_view spec, const MacroContext& ctx, std::string& why) {
  std::string out;
  std::size_t pos = 0;
  while (pos < spec.size()) {
    Token tok;
    if (!next_token(spec, pos, false, tok, why)) return std::nullopt;
    switch (tok.type) {
      case Token::literal: out.push_back(tok.ch); break;
      case Token::escape: out += tok.ch == '%' ? "%" : tok.ch == '_' ? " " : "%20"; break;
      case Token::macro: {
        std::string v = transform(macro_value(tok.letter, ctx), tok);
        out += tok.upper ? url_escape(v) : v;
        break;
      }
    }
    if (out.size() > kMaxExpansion) {
      why = "expands to a name of more than 8192 characters";
      return std::nullopt;
    }
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  while (out.size() > kMaxNameLength) {
    std::size_t dot = out.find('.');
    if (dot == std::string::npos) break;  // one huge label: stays invalid, queried as nothing
    out.erase(0, dot + 1);
  }
  return out;
}

std::string macro_ip(const model::IpAddress& ip) {
  if (ip.v4) return ip.to_string();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(63);
  for (uint8_t b : ip.bytes) {
    if (!out.empty()) out.push_back('.');
    out.push_back(kHex[b >> 4]);
    out.push_back('.');
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace dmarq::spf::detail
