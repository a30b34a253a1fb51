// IMAP4rev1 response parsing (see the header for the contract).
//
// Shape of a response: line segments separated by literals. A segment runs to
// the first LF (no quoted string may hold one), and a literal header {N} can
// only end a segment, so each segment is found with one memchr and a literal's
// bytes are skipped by arithmetic, never scanned. parse_response() runs the
// same grammar twice: a dry pass that stores no values, checks every limit and
// finds the end (or what is missing), then, only for a complete response, a
// building pass. A client waiting for a 40 MB literal therefore pays for the
// short lines around it on each read, not for the literal.
//
// Grammar: RFC 3501 section 9, read generically: after an untagged keyword
// come values (atom, number, string, literal, NIL, list), whatever the
// keyword, so extensions (ESEARCH, ID, NAMESPACE, VANISHED, ...) parse
// without special cases. Tolerated deviations, each seen from real servers:
// bare LF line ends, a status word with no text ("a1 OK"), no space between a
// response code and its text, and runs of spaces between values (a trailing
// space after "* SEARCH" is common).
#include "dmarq/imap/response.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace dmarq::imap {
namespace {

constexpr std::array<std::string_view, 5> kStatusWords{"OK", "NO", "BAD", "PREAUTH", "BYE"};
constexpr uint64_t kMaxNumber = (uint64_t{1} << 63) - 1;  // number64 of RFC 9051

// ATOM-CHAR: CHAR (7-bit, no NUL) except atom-specials: ( ) { SP CTL % * " \ ]
bool is_atom_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}

// Atoms among the data values may also hold ']' (ASTRING-CHAR: mailbox names
// such as "[Gmail]/Drafts" come as atoms) and the wildcards (as in "\*").
bool is_data_atom_char(unsigned char c) { return is_atom_char(c) || c == ']' || c == '*' || c == '%'; }

bool is_tag_char(unsigned char c) { return (is_atom_char(c) || c == ']') && c != '+'; }

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

char upper_ascii(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper_ascii(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return upper_ascii(x) == upper_ascii(y);
         });
}

bool is_status_word(std::string_view upper_word) {
  return std::find(kStatusWords.begin(), kStatusWords.end(), upper_word) != kStatusWords.end();
}

// Digits as a number; nullopt when empty, not all digits, or above `max`.
std::optional<uint64_t> parse_digits(std::string_view digits, uint64_t max) {
  if (digits.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : digits) {
    if (!is_digit(static_cast<unsigned char>(c))) return std::nullopt;
    unsigned d = static_cast<unsigned>(c - '0');
    if (n > (max - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

// Server bytes shown in an error message: printable ASCII as is, the rest as
// hex, cut short so that a hostile line does not become a hostile message.
std::string shown(std::string_view s) {
  constexpr std::size_t kMax = 24;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02X}", c);
  }
  if (s.size() > kMax) out += "...";
  return out;
}

class Parser {
 public:
  Parser(std::string_view in, const ParserLimits& limits, bool build) : in_(in), limits_(limits), build_(build) {}

  // Complete, incomplete (see need()) or error (see error()); the parsed
  // parts stay in response() for the caller to move out.
  ParseResult::Status run() {
    if (parse()) return ParseResult::Status::complete;
    return status_;
  }
  std::size_t end() const { return end_; }
  std::size_t need() const { return need_; }
  std::size_t values() const { return values_; }
  std::string& error() { return error_; }
  Response& response() { return response_; }

 private:
  // ---- outcomes --------------------------------------------------------

  bool fail(std::string message) {
    status_ = ParseResult::Status::error;
    error_ = std::move(message);
    return false;
  }

  // The response cannot be complete before the buffer holds `need` bytes.
  // `need` never exceeds the response's real length, so a need beyond
  // max_response already proves the response too large.
  bool more(std::size_t need) {
    if (need > limits_.max_response) return too_large();
    status_ = ParseResult::Status::incomplete;
    need_ = need;
    return false;
  }

  bool too_large() { return fail(fmt::format("response exceeds the {}-byte limit", limits_.max_response)); }

  // At the end of what the current segment shows: either more bytes are
  // coming (partial segment) or the line ends here.
  bool at_end() const { return pos_ >= content_end_; }
  bool more_line() { return more(in_.size() + 1); }

  bool finish() {
    end_ = next_;
    return true;
  }

  // ---- line segments ---------------------------------------------------

  // Finds the segment starting at `at`: its content (without CRLF or LF) and,
  // when its LF has arrived, where the next segment starts.
  bool start_segment(std::size_t at) {
    pos_ = at;
    const std::size_t avail = in_.size() - at;
    // Look no further than a legal line can reach: max_line, CR, LF.
    const std::size_t reach = limits_.max_line > std::numeric_limits<std::size_t>::max() - 2
                                  ? avail
                                  : std::min(avail, limits_.max_line + 2);
    const void* lf = std::memchr(in_.data() + at, '\n', reach);
    if (lf != nullptr) {
      const std::size_t e = static_cast<std::size_t>(static_cast<const char*>(lf) - in_.data());
      partial_ = false;
      next_ = e + 1;
      content_end_ = e > at && in_[e - 1] == '\r' ? e - 1 : e;
      if (next_ > limits_.max_response) return too_large();
    } else {
      partial_ = true;
      // A final CR may be the first half of a CRLF still on its way.
      content_end_ = in_.size() > at && in_.back() == '\r' ? in_.size() - 1 : in_.size();
    }
    if (content_end_ - at > limits_.max_line)
      return fail(fmt::format("line longer than the {}-byte limit", limits_.max_line));
    const std::string_view content = in_.substr(at, content_end_ - at);
    if (content.find('\r') != std::string_view::npos) return fail("CR not followed by LF inside a line");
    if (content.find('\0') != std::string_view::npos) return fail("NUL byte inside a line");
    return true;
  }

  // ---- pieces of the grammar -------------------------------------------

  // A run of bytes accepted by `pred`, which must not reach the end of a
  // partial segment (the run might continue).
  template <typename Pred>
  bool word(Pred pred, std::string_view& out) {
    const std::size_t start = pos_;
    while (pos_ < content_end_ && pred(static_cast<unsigned char>(in_[pos_]))) ++pos_;
    if (at_end() && partial_) return more_line();
    out = in_.substr(start, pos_ - start);
    return true;
  }

  bool space(const char* after) {
    if (at_end()) return partial_ ? more_line() : fail(fmt::format("line ends after {}", after));
    if (in_[pos_] != ' ') return fail(fmt::format("expected a space after {}", after));
    ++pos_;
    return true;
  }

  bool parse() {
    if (!start_segment(0)) return false;
    if (at_end()) return partial_ ? more_line() : fail("empty line");
    if (in_[0] == '+') {
      response_.kind = Response::Kind::continuation;
      ++pos_;
      if (at_end()) return partial_ ? more_line() : finish();  // "+" alone
      if (in_[pos_] != ' ') return fail("expected a space after '+'");
      ++pos_;
      return resp_text();
    }
    if (in_[0] == '*') {
      response_.kind = Response::Kind::untagged;
      ++pos_;
      return space("'*'") && untagged();
    }
    response_.kind = Response::Kind::tagged;
    std::string_view tag;
    if (!word(is_tag_char, tag)) return false;
    if (tag.empty()) return fail(fmt::format("missing tag (line starts with \"{}\")", shown(in_.substr(0, 8))));
    response_.tag.assign(tag);
    std::string_view status;
    if (!space("the tag") || !word(is_atom_char, status)) return false;
    response_.name = upper(status);
    if (response_.name != "OK" && response_.name != "NO" && response_.name != "BAD")
      return fail(fmt::format("tagged response is \"{}\", not OK, NO or BAD", shown(status)));
    return status_rest();
  }

  bool untagged() {
    std::string_view first;
    if (!word(is_atom_char, first)) return false;
    if (first.empty()) return fail("missing keyword after '*'");
    if (is_digit(static_cast<unsigned char>(first[0]))) {
      auto n = parse_digits(first, kMaxNumber);
      if (!n) return fail(fmt::format("\"{}\" is not a number up to 2^63-1", shown(first)));
      response_.number = *n;
      if (!space("the number") || !word(is_atom_char, first)) return false;
      if (first.empty()) return fail("missing keyword after the number");
    }
    if (!((first[0] >= 'A' && first[0] <= 'Z') || (first[0] >= 'a' && first[0] <= 'z')))
      return fail(fmt::format("\"{}\" is not a response keyword", shown(first)));
    response_.name = upper(first);
    if (is_status_word(response_.name)) {
      if (response_.number) return fail(fmt::format("a numbered {} response", response_.name));
      return status_rest();
    }
    return data();
  }

  // After a status word: nothing, or a space and resp-text.
  bool status_rest() {
    if (at_end()) return partial_ ? more_line() : finish();
    return space(response_.name.c_str()) && resp_text();
  }

  // resp-text: ["[" resp-text-code "]" SP] text, to the end of the line.
  bool resp_text() {
    if (!at_end() && in_[pos_] == '[') {
      ++pos_;
      std::string_view code;
      if (!word(is_atom_char, code)) return false;
      if (code.empty()) return fail("response code without a name");
      response_.code = upper(code);
      if (at_end()) return partial_ ? more_line() : fail("unterminated response code");
      if (in_[pos_] == ' ') {
        ++pos_;
        const std::size_t start = pos_;
        if (!code_close()) return false;
        response_.code_text.assign(in_.substr(start, pos_ - start));
      } else if (in_[pos_] != ']') {
        return fail(fmt::format("unexpected \"{}\" in response code", shown(in_.substr(pos_, 1))));
      }
      ++pos_;  // the ']'
      if (!at_end() && in_[pos_] == ' ') ++pos_;
    }
    // The text may still grow until its line end arrives.
    if (partial_) return more_line();
    response_.text.assign(in_.substr(pos_, content_end_ - pos_));
    return finish();
  }

  // Moves pos_ to the ']' closing a response code: quoted strings, nested
  // lists and brackets are skipped over.
  bool code_close() {
    std::size_t parens = 0, brackets = 0;
    for (; pos_ < content_end_; ++pos_) {
      const char c = in_[pos_];
      if (c == '"') {
        if (!skip_quoted_raw()) return false;
        --pos_;  // the loop steps over the closing quote
      } else if (c == '(') {
        if (++parens > limits_.max_depth) return too_deep();
      } else if (c == ')') {
        if (parens == 0) return fail("')' without '(' in response code");
        --parens;
      } else if (c == '[') {
        ++brackets;
      } else if (c == ']') {
        if (brackets > 0)
          --brackets;
        else if (parens == 0)
          return true;
      }
    }
    return partial_ ? more_line() : fail("unterminated response code");
  }

  // Steps over a quoted string at pos_ without keeping it (in codes and
  // sections); leaves pos_ after the closing quote.
  bool skip_quoted_raw() { return quoted(nullptr); }

  // ---- values ----------------------------------------------------------

  bool too_deep() { return fail(fmt::format("lists nested deeper than the limit of {}", limits_.max_depth)); }

  bool count_value() {
    if (++values_ > limits_.max_values)
      return fail(fmt::format("more than the limit of {} values in one response", limits_.max_values));
    return true;
  }

  // The values after an untagged keyword, to the end of the response.
  // Lists are kept on an explicit stack, so nesting costs no recursion.
  bool data() {
    std::vector<Value> open;  // building pass only
    std::size_t depth = 0;
    bool need_space = true;
    for (;;) {
      if (at_end()) {
        if (partial_) return more_line();
        if (depth > 0) return fail("line ends inside a list");
        return finish();
      }
      const char c = in_[pos_];
      if (c == ' ') {
        ++pos_;
        need_space = false;
        continue;
      }
      if (c == ')') {
        if (depth == 0) return fail("')' without a matching '('");
        ++pos_;
        --depth;
        if (build_) {
          Value done = std::move(open.back());
          open.pop_back();
          add(open, std::move(done));
        }
        need_space = true;
        continue;
      }
      if (need_space) return fail(fmt::format("expected a space before \"{}\"", shown(in_.substr(pos_, 8))));
      if (!count_value()) return false;
      if (c == '(') {
        if (++depth > limits_.max_depth) return too_deep();
        ++pos_;
        if (build_) open.emplace_back().type = Value::Type::list;
        need_space = false;
        continue;
      }
      Value v;
      if (!scalar(build_ ? &v : nullptr)) return false;
      if (build_) add(open, std::move(v));
      need_space = true;
    }
  }

  void add(std::vector<Value>& open, Value&& v) {
    (open.empty() ? response_.data : open.back().items).push_back(std::move(v));
  }

  bool scalar(Value* out) {
    const char c = in_[pos_];
    if (c == '"') {
      if (out != nullptr) out->type = Value::Type::string;
      return quoted(out != nullptr ? &out->text : nullptr);
    }
    if (c == '{') return literal(out);
    if (c == '~') {
      if (pos_ + 1 >= content_end_ && partial_) return more_line();
      if (pos_ + 1 < content_end_ && in_[pos_ + 1] == '{') return literal(out);
    }
    return atom(out);
  }

  // quoted = DQUOTE *QUOTED-CHAR DQUOTE, with only \" and \\ as escapes.
  // (CR, LF and NUL never reach here: they end or fail the segment.)
  bool quoted(std::string* out) {
    ++pos_;
    for (;;) {
      if (at_end()) return partial_ ? more_line() : fail("unterminated quoted string");
      const char c = in_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (pos_ + 1 >= content_end_) return partial_ ? more_line() : fail("unterminated quoted string");
        const char e = in_[pos_ + 1];
        if (e != '"' && e != '\\')
          return fail(fmt::format("bad escape \"\\{}\" in quoted string", shown(in_.substr(pos_ + 1, 1))));
        if (out != nullptr) *out += e;
        pos_ += 2;
        continue;
      }
      // Copy the run up to the next quote or backslash in one go.
      std::size_t stop = pos_;
      while (stop < content_end_ && in_[stop] != '"' && in_[stop] != '\\') ++stop;
      if (out != nullptr) out->append(in_.data() + pos_, stop - pos_);
      pos_ = stop;
    }
  }

  // literal = "{" number ["+"] "}" CRLF *CHAR8, literal8 = "~" literal.
  // The length is checked against max_literal as soon as its digits show,
  // before the CRLF or any byte of the literal has arrived.
  bool literal(Value* out) {
    if (in_[pos_] == '~') ++pos_;
    ++pos_;  // '{'
    const std::size_t digits_start = pos_;
    while (pos_ < content_end_ && is_digit(static_cast<unsigned char>(in_[pos_]))) ++pos_;
    const std::string_view digits = in_.substr(digits_start, pos_ - digits_start);
    const auto length = parse_digits(digits, limits_.max_literal);
    if (!digits.empty() && !length)
      return fail(fmt::format("literal of {} bytes exceeds the {}-byte limit", shown(digits), limits_.max_literal));
    if (!at_end() && in_[pos_] == '+' && !digits.empty()) ++pos_;  // non-synchronizing (RFC 7888)
    if (at_end()) return partial_ ? more_line() : fail("unterminated literal header");
    if (digits.empty() || in_[pos_] != '}')
      return fail(fmt::format("bad literal header \"{}\"", shown(in_.substr(digits_start - 1, pos_ - digits_start + 2))));
    ++pos_;
    if (!at_end()) return fail("literal header not followed by CRLF");
    if (partial_) return more_line();
    const std::size_t start = next_;
    // need: the literal and at least one byte (LF) ending the line after it.
    if (*length > limits_.max_response - std::min(start, limits_.max_response)) return too_large();
    if (in_.size() - start < *length) return more(start + *length + 1);
    if (out != nullptr) {
      out->type = Value::Type::string;
      out->text.assign(in_.substr(start, *length));
    }
    return start_segment(start + *length);
  }

  // An atom (with bracketed fetch sections and partials: BODY[1.2]<0>), a
  // flag (\Seen, \*), a number, or NIL.
  bool atom(Value* out) {
    const std::size_t start = pos_;
    if (in_[pos_] == '\\') ++pos_;
    for (;;) {
      if (at_end()) {
        if (partial_) return more_line();
        break;
      }
      const auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '[') {  // an ATOM-CHAR, but here it opens a section
        if (!section()) return false;
      } else if (is_data_atom_char(c)) {
        ++pos_;
      } else {
        break;
      }
    }
    const std::string_view text = in_.substr(start, pos_ - start);
    if (text == "\\") return fail("backslash without a flag name");
    if (text.empty()) {
      const auto c = static_cast<unsigned char>(in_[pos_]);
      return fail(c >= 0x20 && c < 0x7f ? fmt::format("unexpected '{}'", static_cast<char>(c))
                                        : fmt::format("unexpected byte 0x{:02X}", c));
    }
    Value v;
    if (std::all_of(text.begin(), text.end(), [](char ch) { return is_digit(static_cast<unsigned char>(ch)); })) {
      auto n = parse_digits(text, kMaxNumber);
      if (!n) return fail(fmt::format("number {} is above 2^63-1", shown(text)));
      v.type = Value::Type::number;
      v.number = *n;
    } else if (iequals(text, "NIL")) {
      v.type = Value::Type::nil;
    } else {
      v.type = Value::Type::atom;
    }
    if (out != nullptr) {
      if (v.type != Value::Type::nil) v.text.assign(text);
      *out = std::move(v);
    }
    return true;
  }

  // A fetch section "[...]": everything to the matching ']' belongs to the
  // atom (HEADER.FIELDS (FROM TO), nested brackets, quoted header names).
  bool section() {
    std::size_t brackets = 0;
    for (; pos_ < content_end_; ++pos_) {
      const char c = in_[pos_];
      if (c == '"') {
        if (!skip_quoted_raw()) return false;
        --pos_;
      } else if (c == '[') {
        ++brackets;
      } else if (c == ']' && --brackets == 0) {
        ++pos_;
        return true;
      }
    }
    return partial_ ? more_line() : fail("unterminated '[' in atom");
  }

  std::string_view in_;
  const ParserLimits& limits_;
  const bool build_;

  std::size_t pos_ = 0;          // next byte to read
  std::size_t content_end_ = 0;  // end of the current segment's content
  std::size_t next_ = 0;         // after the segment's LF (when not partial)
  bool partial_ = false;         // the segment's LF has not arrived
  std::size_t values_ = 0;
  std::size_t end_ = 0;

  Response response_;
  ParseResult::Status status_ = ParseResult::Status::incomplete;
  std::size_t need_ = 0;
  std::string error_;
};

// ---- modified UTF-7 ------------------------------------------------------
// Hand-written: no library in Debian 12 offers RFC 3501's variant (iconv's
// UTF-7 is RFC 2152, with '+' and '/' and different shifting rules).

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

// One code point from UTF-8 at `i` (advanced past it); an invalid sequence
// (overlong, surrogate, above U+10FFFF, truncated) gives U+FFFD for one byte.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) -> int {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
  };
  int len = 0;
  char32_t cp = 0, min = 0;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const int c = cont(static_cast<std::size_t>(k));
    if (c < 0) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | static_cast<char32_t>(c);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += static_cast<std::size_t>(len);
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// "&" + modified base64 of the UTF-16BE units, without padding, + "-".
void append_shifted(std::string& out, const std::vector<char16_t>& units) {
  out += '&';
  uint32_t bits = 0;
  int nbits = 0;
  for (char16_t u : units) {
    for (int half : {u >> 8, u & 0xFF}) {
      bits = (bits << 8) | static_cast<uint32_t>(half);
      nbits += 8;
      while (nbits >= 6) {
        nbits -= 6;
        out += kBase64[(bits >> nbits) & 0x3F];
      }
    }
  }
  if (nbits > 0) out += kBase64[(bits << (6 - nbits)) & 0x3F];
  out += '-';
}

}  // namespace

bool Value::is_atom(std::string_view word) const { return type == Type::atom && iequals(text, word); }

bool Response::is_status() const { return kind != Kind::continuation && is_status_word(name); }

ParseResult parse_response(std::string_view bytes, const ParserLimits& limits) {
  ParseResult result;
  Parser dry(bytes, limits, false);
  result.status = dry.run();
  if (result.status == ParseResult::Status::incomplete) {
    result.need = dry.need();
    return result;
  }
  if (result.status == ParseResult::Status::error) {
    result.error = std::move(dry.error());
    return result;
  }
  result.consumed = dry.end();
  if (dry.values() == 0) {  // nothing was left out of the dry pass
    result.response = std::move(dry.response());
    return result;
  }
  // Everything is checked and present: the building pass cannot fail.
  Parser build(bytes.substr(0, dry.end()), limits, true);
  if (build.run() != ParseResult::Status::complete) {
    result.status = ParseResult::Status::error;
    result.error = "internal error: response parsed differently on the second pass";
    return result;
  }
  result.response = std::move(build.response());
  return result;
}

std::optional<std::string> quote(std::string_view text) {
  if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return std::nullopt;
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string encode_mailbox(std::string_view utf8) {
  std::string out;
  std::vector<char16_t> pending;  // units awaiting one shift sequence
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 0x20 && c <= 0x7e) {
      if (!pending.empty()) {
        append_shifted(out, pending);
        pending.clear();
      }
      out += c == '&' ? std::string_view("&-") : utf8.substr(i, 1);
      ++i;
      continue;
    }
    const char32_t cp = next_code_point(utf8, i);
    if (cp < 0x10000) {
      pending.push_back(static_cast<char16_t>(cp));
    } else {
      pending.push_back(static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10)));
      pending.push_back(static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF)));
    }
  }
  if (!pending.empty()) append_shifted(out, pending);
  return out;
}

std::optional<std::string> decode_mailbox(std::string_view mutf7) {
  std::string out;
  std::size_t i = 0;
  while (i < mutf7.size()) {
    const auto c = static_cast<unsigned char>(mutf7[i]);
    if (c < 0x20 || c > 0x7e) return std::nullopt;  // only printable ASCII travels as itself
    if (c != '&') {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t dash = mutf7.find('-', i + 1);
    if (dash == std::string_view::npos) return std::nullopt;  // unterminated shift
    if (dash == i + 1) {
      out += '&';
      i = dash + 1;
      continue;
    }
    const std::string_view b64 = mutf7.substr(i + 1, dash - i - 1);
    std::vector<char16_t> units;
    uint32_t bits = 0;
    int nbits = 0;
    int half = -1;  // first byte of a unit, while waiting for the second
    for (char ch : b64) {
      const int v = base64_value(ch);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 8) {
        nbits -= 8;
        const int byte = static_cast<int>((bits >> nbits) & 0xFF);
        if (half < 0) {
          half = byte;
        } else {
          units.push_back(static_cast<char16_t>((half << 8) | byte));
          half = -1;
        }
      }
    }
    // Whole UTF-16 units only, no spare base64 character, zero padding bits.
    if (half >= 0 || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) return std::nullopt;
    for (std::size_t k = 0; k < units.size(); ++k) {
      char32_t cp = units[k];
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (k + 1 >= units.size() || units[k + 1] < 0xDC00 || units[k + 1] > 0xDFFF) return std::nullopt;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (units[k + 1] - 0xDC00);
        ++k;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return std::nullopt;
      } else if (cp >= 0x20 && cp <= 0x7e) {
        return std::nullopt;  // must have been written as itself
      }
      append_utf8(out, cp);
    }
    i = dash + 1;
  }
  return out;
}

}  // namespace dmarq::imap
