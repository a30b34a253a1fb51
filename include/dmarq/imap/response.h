// IMAP4rev1 server responses (RFC 3501 section 7 and 9), parsed from bytes.
//
// A pure function: parse_response() looks at the bytes received so far and
// either returns one complete response and how many bytes it used, or says
// that more bytes are needed (and at least how many in total, so that a
// client waiting for a large literal does not re-parse it on every read), or
// says what is wrong. It never reads past the response and never allocates
// more than the response holds; the limits are checked before anything is
// stored, so a hostile server cannot make it grow memory without bound.
//
// Everything the server sends is untrusted: strings are kept as bytes,
// numbers are range-checked, and a malformed response is an error, never a
// crash or a guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarq::imap {

struct ParserLimits {
  std::size_t max_line = 64 * 1024;        // bytes of one line outside literals
  std::size_t max_literal = 48u << 20;     // bytes of one literal {N}
  std::size_t max_response = 64u << 20;    // bytes of one whole response
  std::size_t max_values = 100000;         // values (atoms, strings, lists) in one response
  std::size_t max_depth = 32;              // nested parenthesized lists
};

// One value of a response's data: an atom (also BODY[...] fetch names, with
// their bracketed part), a number, a quoted string or literal, NIL, or a
// parenthesized list.
struct Value {
  enum class Type { atom, number, string, nil, list };
  Type type = Type::atom;
  std::string text;           // atom, string (unescaped) or literal bytes
  uint64_t number = 0;        // number
  std::vector<Value> items;   // list

  bool is_atom(std::string_view word) const;  // case-insensitive
};

struct Response {
  enum class Kind { tagged, untagged, continuation };
  Kind kind = Kind::untagged;
  std::string tag;        // tagged responses only
  // Status responses (OK, NO, BAD, PREAUTH, BYE): the word, upper-cased.
  // Other untagged responses: their keyword, upper-cased (CAPABILITY, LIST,
  // SEARCH, FLAGS, EXISTS, RECENT, EXPUNGE, FETCH, ...).
  std::string name;
  std::optional<uint64_t> number;  // "* 5 EXISTS", "* 5 FETCH (...)"
  // Status responses: the response code in brackets, if any: its atom
  // upper-cased ("UIDVALIDITY", "CAPABILITY", "TRYCREATE", ...) and the rest
  // of its text as written ("1795996029", "IMAP4rev1 STARTTLS ...").
  std::string code;
  std::string code_text;
  std::string text;       // status responses and continuations: the human text
  std::vector<Value> data;  // other untagged responses: the values after the keyword

  bool is_status() const;  // OK, NO, BAD, PREAUTH or BYE
};

struct ParseResult {
  enum class Status { complete, incomplete, error };
  Status status = Status::incomplete;
  std::size_t consumed = 0;  // complete: bytes used, through the final CRLF
  // incomplete: do not call again before having this many bytes. A lower
  // bound on the response's length: one more byte than given, or, once a
  // literal's {N}CRLF has arrived, the offset after that CRLF + N + 1 (the
  // shortest line end that must follow), without looking at the literal.
  std::size_t need = 0;
  Response response;         // complete
  std::string error;         // error: what is wrong, for a message to the user
};

// Parses the first response in `bytes`. Accepts CRLF and, leniently, bare LF
// line ends. An error means the connection cannot be trusted further.
ParseResult parse_response(std::string_view bytes, const ParserLimits& limits = {});

// Quotes `text` as an IMAP quoted string ("..." with \" and \\), or returns
// nullopt when it cannot be one (CR, LF or NUL: the caller then sends a
// literal).
std::optional<std::string> quote(std::string_view text);

// The modified UTF-7 mailbox name encoding of RFC 3501 section 5.1.3, both
// ways. encode turns invalid UTF-8 into U+FFFD. decode returns nullopt for a
// malformed name: bytes other than printable ASCII, bad or unterminated
// base64, an odd UTF-16 length, unpaired surrogates, or printable ASCII
// written as base64.
std::string encode_mailbox(std::string_view utf8);
std::optional<std::string> decode_mailbox(std::string_view mutf7);

}  // namespace dmarq::imap
