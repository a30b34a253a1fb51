#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <string_view>

#include "dmarq/imap/response.h"

using namespace std::string_literals;
using dmarq::imap::decode_mailbox;
using dmarq::imap::encode_mailbox;
using dmarq::imap::parse_response;
using dmarq::imap::ParseResult;
using dmarq::imap::ParserLimits;
using dmarq::imap::Response;
using dmarq::imap::Value;

namespace {

// A compact, unambiguous text form of values for the tables: atoms bare,
// numbers as #N, NIL, strings quoted with C escapes, lists in parentheses.
std::string dump(const Value& v);

std::string dump(const std::vector<Value>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ' ';
    out += dump(v);
  }
  return out;
}

std::string dump(const Value& v) {
  switch (v.type) {
    case Value::Type::atom:
      return v.text;
    case Value::Type::number:
      // text holds the digits as written; the number must agree with them
      return "#" + v.text + (std::to_string(v.number) == v.text ? "" : "(mismatch)");
    case Value::Type::nil:
      return "NIL";
    case Value::Type::list:
      return "(" + dump(v.items) + ")";
    case Value::Type::string:
      break;
  }
  std::string out = "\"";
  for (unsigned char c : v.text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// "{N}\r\n" followed by the N bytes.
std::string literal(const std::string& bytes, const char* marker = "") {
  return "{" + std::to_string(bytes.size()) + marker + "}\r\n" + bytes;
}

const char* status_name(ParseResult::Status s) {
  switch (s) {
    case ParseResult::Status::complete:
      return "complete";
    case ParseResult::Status::incomplete:
      return "incomplete";
    case ParseResult::Status::error:
      return "error";
  }
  return "?";
}

}  // namespace

TEST_CASE("imap response: untagged data, one generic value grammar", "[imap]") {
  struct Row {
    std::string in;
    int64_t number;  // -1: none
    std::string name, data;
  };
  const std::string tricky = "a)\r\n(b) \"q\" ) {3}\r\n\\";  // CRLFs, parentheses, quotes in a literal
  auto row = GENERATE_COPY(
      Row{"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n", -1, "CAPABILITY", "IMAP4rev1 STARTTLS AUTH=PLAIN"},
      Row{"* 5 EXISTS\r\n", 5, "EXISTS", ""}, Row{"* 3 EXPUNGE\r\n", 3, "EXPUNGE", ""},
      Row{"* 0 RECENT\r\n", 0, "RECENT", ""}, Row{"* SEARCH 1 2 3\r\n", -1, "SEARCH", "#1 #2 #3"},
      Row{"* SEARCH\r\n", -1, "SEARCH", ""},
      Row{"* SEARCH \r\n", -1, "SEARCH", ""},  // trailing space, common in the wild
      Row{"* LIST (\\HasNoChildren \\Noselect) \".\" INBOX\r\n", -1, "LIST", "(\\HasNoChildren \\Noselect) \".\" INBOX"},
      Row{"* LIST () NIL \"x\"\r\n", -1, "LIST", "() NIL \"x\""},
      Row{"* LIST (\\HasNoChildren) \"/\" [Gmail]/Drafts\r\n", -1, "LIST", "(\\HasNoChildren) \"/\" [Gmail]/Drafts"},
      Row{"* FLAGS (\\Answered \\Seen)\r\n", -1, "FLAGS", "(\\Answered \\Seen)"},
      Row{"* FLAGS (\\Answered \\*)\r\n", -1, "FLAGS", "(\\Answered \\*)"},
      Row{"* 12 FETCH (UID 345 BODY[] {5}\r\nhello)\r\n", 12, "FETCH", "(UID #345 BODY[] \"hello\")"},
      Row{"* 12 FETCH (BODY[] \"quoted\" UID 7 FLAGS (\\Seen))\r\n", 12, "FETCH",
          "(BODY[] \"quoted\" UID #7 FLAGS (\\Seen))"},
      Row{"* 1 FETCH (BODY[TEXT] " + literal(tricky) + " UID 9)\r\n", 1, "FETCH",
          "(BODY[TEXT] \"a)\\r\\n(b) \\\"q\\\" ) {3}\\r\\n\\\\\" UID #9)"},
      Row{"* 1 FETCH (BODY[HEADER.FIELDS (FROM TO)] {3}\r\nabc)\r\n", 1, "FETCH",
          "(BODY[HEADER.FIELDS (FROM TO)] \"abc\")"},
      Row{"* 1 FETCH (BODY[HEADER.FIELDS (\"X-A]\")] NIL)\r\n", 1, "FETCH", "(BODY[HEADER.FIELDS (\"X-A]\")] NIL)"},
      Row{"* 1 FETCH (BODY[]<0> {2}\r\nab BINARY[1] ~{3}\r\n\0\1\xFF)\r\n"s, 1, "FETCH",
          "(BODY[]<0> \"ab\" BINARY[1] \"\\x00\\x01\\xFF\")"},
      Row{"* 1 FETCH (BODY[] {4+}\r\nabcd)\r\n", 1, "FETCH", "(BODY[] \"abcd\")"},  // non-synchronizing
      Row{"* 1 FETCH (BODY[] {0}\r\n)\r\n", 1, "FETCH", "(BODY[] \"\")"},
      Row{"* 2 FETCH (BODY[1] {3}\nabc)\n", 2, "FETCH", "(BODY[1] \"abc\")"},  // bare LF, also after {N}
      Row{"* ESEARCH (TAG \"a1\") UID ALL 1:3\r\n", -1, "ESEARCH", "(TAG \"a1\") UID ALL 1:3"},
      Row{"* ID NIL\r\n", -1, "ID", "NIL"}, Row{"* ID (\"name\" \"Dovecot\")\r\n", -1, "ID", "(\"name\" \"Dovecot\")"},
      Row{"* ENABLED\r\n", -1, "ENABLED", ""},
      Row{"* NAMESPACE ((\"\" \".\")) NIL NIL\r\n", -1, "NAMESPACE", "((\"\" \".\")) NIL NIL"},
      Row{"* STATUS INBOX (MESSAGES 3)\r\n", -1, "STATUS", "INBOX (MESSAGES #3)"},
      Row{"* VANISHED (EARLIER) 300:310,405,411\r\n", -1, "VANISHED", "(EARLIER) 300:310,405,411"},
      Row{"* X \"a\\\"b\\\\c\" \"\" \"Envoy\xC3\xA9s\"\r\n", -1, "X", "\"a\\\"b\\\\c\" \"\" \"Envoy\\xC3\\xA9s\""},
      Row{"* X (a (b (c)) ()) ((()))\r\n", -1, "X", "(a (b (c)) ()) ((()))"},
      // 2^63-1 is the largest number; text keeps the digits as written
      Row{"* X 9223372036854775807 007\r\n", -1, "X", "#9223372036854775807 #007(mismatch)"},
      Row{"* 5 exists\r\n", 5, "EXISTS", ""},  // keywords and NIL in any case
      Row{"* list (\\noselect) nil nIl\r\n", -1, "LIST", "(\\noselect) NIL NIL"},
      Row{"* X  a   b \r\n", -1, "X", "a b"}, Row{"* 5 EXISTS\n", 5, "EXISTS", ""});
  INFO(row.in);
  auto r = parse_response(row.in);
  INFO(r.error);
  REQUIRE(r.status == ParseResult::Status::complete);
  CHECK(r.consumed == row.in.size());
  CHECK(r.response.kind == Response::Kind::untagged);
  CHECK_FALSE(r.response.is_status());
  CHECK(r.response.tag.empty());
  CHECK(r.response.name == row.name);
  if (row.number < 0)
    CHECK_FALSE(r.response.number);
  else
    CHECK(r.response.number == static_cast<uint64_t>(row.number));
  CHECK(dump(r.response.data) == row.data);
}

TEST_CASE("imap response: tagged, untagged status and continuation", "[imap]") {
  using Kind = Response::Kind;
  struct Row {
    std::string in;
    Kind kind;
    std::string tag, name, code, code_text, text;
  };
  auto row = GENERATE(
      Row{"a1 OK [CAPABILITY IMAP4rev1 SASL-IR] Logged in\r\n", Kind::tagged, "a1", "OK", "CAPABILITY",
          "IMAP4rev1 SASL-IR", "Logged in"},
      Row{"a2 NO [TRYCREATE] No such mailbox\r\n", Kind::tagged, "a2", "NO", "TRYCREATE", "", "No such mailbox"},
      Row{"A0003 BAD Error in IMAP command\r\n", Kind::tagged, "A0003", "BAD", "", "", "Error in IMAP command"},
      Row{"a4 ok done\r\n", Kind::tagged, "a4", "OK", "", "", "done"},
      Row{"a5 Bad x\r\n", Kind::tagged, "a5", "BAD", "", "", "x"},
      Row{"a6 OK\r\n", Kind::tagged, "a6", "OK", "", "", ""},
      Row{"a7 OK [read-write] Select completed (0.001 + 0.000 secs).\r\n", Kind::tagged, "a7", "OK", "READ-WRITE", "",
          "Select completed (0.001 + 0.000 secs)."},
      Row{"a8 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n", Kind::tagged, "a8", "OK", "COPYUID",
          "38505 304,319:320 3956:3958", "Done"},
      Row{"* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n", Kind::untagged, "", "OK", "PERMANENTFLAGS", "(\\Seen \\*)",
          "Limited"},
      Row{"* OK [READ-WRITE]\r\n", Kind::untagged, "", "OK", "READ-WRITE", "", ""},
      Row{"* OK [UIDVALIDITY 1795996029] UIDs valid\r\n", Kind::untagged, "", "OK", "UIDVALIDITY", "1795996029",
          "UIDs valid"},
      Row{"* OK [BADCHARSET (US-ASCII \"a]b\")] x\r\n", Kind::untagged, "", "OK", "BADCHARSET",
          "(US-ASCII \"a]b\")", "x"},
      Row{"* OK [X-NESTED ((a b) (c [d] e]))] text [not a code]\r\n", Kind::untagged, "", "OK", "X-NESTED",
          "((a b) (c [d] e]))", "text [not a code]"},
      Row{"* OK [ALERT]No space\r\n", Kind::untagged, "", "OK", "ALERT", "", "No space"},
      Row{"* no [alert] disk full\r\n", Kind::untagged, "", "NO", "ALERT", "", "disk full"},
      Row{"* BAD unknown\r\n", Kind::untagged, "", "BAD", "", "", "unknown"},
      Row{"* PREAUTH IMAP4rev1 server logged in as Smith\r\n", Kind::untagged, "", "PREAUTH", "", "",
          "IMAP4rev1 server logged in as Smith"},
      Row{"* BYE Logging out\r\n", Kind::untagged, "", "BYE", "", "", "Logging out"},
      Row{"* bye\r\n", Kind::untagged, "", "BYE", "", "", ""},
      Row{"* OK Dovecot ready. \xC3\xA9\n", Kind::untagged, "", "OK", "", "", "Dovecot ready. \xC3\xA9"},
      Row{"+ Ready for literal data\r\n", Kind::continuation, "", "", "", "", "Ready for literal data"},
      Row{"+\r\n", Kind::continuation, "", "", "", "", ""}, Row{"+ \r\n", Kind::continuation, "", "", "", "", ""},
      Row{"+\n", Kind::continuation, "", "", "", "", ""},
      Row{"+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=\r\n", Kind::continuation, "", "",
          "", "", "YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ="},
      Row{"+ [ALERT] hurry\r\n", Kind::continuation, "", "", "ALERT", "", "hurry"});
  INFO(row.in);
  auto r = parse_response(row.in);
  INFO(r.error);
  REQUIRE(r.status == ParseResult::Status::complete);
  CHECK(r.consumed == row.in.size());
  CHECK(r.response.kind == row.kind);
  CHECK(r.response.is_status() == (row.kind != Kind::continuation));
  CHECK(r.response.tag == row.tag);
  CHECK(r.response.name == row.name);
  CHECK(r.response.code == row.code);
  CHECK(r.response.code_text == row.code_text);
  CHECK(r.response.text == row.text);
  CHECK_FALSE(r.response.number);
  CHECK(r.response.data.empty());
}

TEST_CASE("imap response: is_atom ignores ASCII case and only matches atoms", "[imap]") {
  auto r = parse_response("* 3 FETCH (uid 7 \"UID\" NIL)\r\n");
  REQUIRE(r.status == ParseResult::Status::complete);
  const auto& items = r.response.data.at(0).items;
  REQUIRE(items.size() == 4);
  CHECK(items[0].is_atom("UID"));
  CHECK(items[0].is_atom("uid"));
  CHECK_FALSE(items[0].is_atom("UIDX"));
  CHECK(items[1].number == 7);
  CHECK_FALSE(items[2].is_atom("UID"));  // a string, not an atom
  CHECK(items[3].type == Value::Type::nil);
  CHECK_FALSE(items[3].is_atom("NIL"));
}

TEST_CASE("imap response: every prefix of a response is incomplete, with a lower bound", "[imap]") {
  const std::string full =
      "* 12 FETCH (UID 345 FLAGS (\\Seen) BODY[HEADER.FIELDS (FROM)] {8}\r\nFrom: a\n"
      " BODY[] " + literal("x)\r\n(\r\n") + " X \"q\\\"\" ~{2+}\r\n\0\r)\r\n"s;
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto r = parse_response(std::string_view(full).substr(0, n));
    INFO("prefix of " << n << " bytes: " << status_name(r.status) << " " << r.error);
    REQUIRE(r.status == ParseResult::Status::incomplete);
    CHECK(r.need > n);
    CHECK(r.need <= full.size());  // a lower bound on the real length
  }
  auto r = parse_response(full);
  INFO(r.error);
  REQUIRE(r.status == ParseResult::Status::complete);
  CHECK(r.consumed == full.size());
  CHECK(dump(r.response.data) ==
        "(UID #345 FLAGS (\\Seen) BODY[HEADER.FIELDS (FROM)] \"From: a\\n\" BODY[] \"x)\\r\\n(\\r\\n\" X \"q\\\"\" "
        "\"\\x00\\r\")");
}

TEST_CASE("imap response: a large literal's need comes from its header alone", "[imap]") {
  // need = offset after the CRLF + N + 1: the 1 is the shortest line end
  // (a bare LF) that must follow the literal.
  const std::string header = "* 1 FETCH (UID 5 BODY[] {40000000}\r\n";
  auto r = parse_response(header);
  REQUIRE(r.status == ParseResult::Status::incomplete);
  CHECK(r.need == header.size() + 40000000 + 1);
  // Some of the literal: bytes that would be errors on a line (CR, NUL) are
  // not looked at, so the answer is the same.
  r = parse_response(header + "\r\0\rabc"s);
  REQUIRE(r.status == ParseResult::Status::incomplete);
  CHECK(r.need == header.size() + 40000000 + 1);
  // Before the CRLF, one more byte is all that can be asked for.
  const std::string no_crlf = "* 1 FETCH (UID 5 BODY[] {40000000}";
  r = parse_response(no_crlf);
  REQUIRE(r.status == ParseResult::Status::incomplete);
  CHECK(r.need == no_crlf.size() + 1);
  // After the literal the rest of the line is unknown: one byte at a time.
  const std::string whole = "* 1 FETCH (BODY[] " + literal("abc") + " UID 5";
  r = parse_response(whole);
  REQUIRE(r.status == ParseResult::Status::incomplete);
  CHECK(r.need == whole.size() + 1);
}

TEST_CASE("imap response: consumed stops after the first of two responses", "[imap]") {
  const std::string first = "* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n";
  const std::string second = "a1 OK FETCH done\r\n";
  auto r = parse_response(first + second);
  REQUIRE(r.status == ParseResult::Status::complete);
  CHECK(r.consumed == first.size());
  auto r2 = parse_response(std::string_view(first + second).substr(r.consumed));
  REQUIRE(r2.status == ParseResult::Status::complete);
  CHECK(r2.consumed == second.size());
  CHECK(r2.response.tag == "a1");
  // A partial second response does not disturb the first.
  r = parse_response(first + "a1 O");
  REQUIRE(r.status == ParseResult::Status::complete);
  CHECK(r.consumed == first.size());
}

TEST_CASE("imap response: limits are checked before anything is stored", "[imap]") {
  auto expect_error = [](const std::string& in, const ParserLimits& limits, const std::string& words) {
    INFO(in.substr(0, 80));
    auto r = parse_response(in, limits);
    REQUIRE(r.status == ParseResult::Status::error);
    INFO(r.error);
    CHECK_THAT(r.error, Catch::Contains(words));
  };
  auto expect_complete = [](const std::string& in, const ParserLimits& limits) {
    INFO(in.substr(0, 80));
    auto r = parse_response(in, limits);
    INFO(r.error);
    CHECK(r.status == ParseResult::Status::complete);
  };
  ParserLimits defaults;

  SECTION("a literal too big is refused from its header, before its bytes arrive") {
    expect_error("* 1 FETCH (BODY[] {99999999999}\r\n", defaults,
                 "literal of 99999999999 bytes exceeds the 50331648-byte limit");
    expect_error("* 1 FETCH (BODY[] {99999999999", defaults, "exceeds the 50331648-byte limit");
    expect_error("* 1 FETCH (BODY[] {50331649}\r\n", defaults, "literal of 50331649 bytes");
    expect_error("* 1 FETCH (BODY[] {123456789012345678901234567890}\r\n", defaults, "literal of");
    ParserLimits small;
    small.max_literal = 10;
    expect_complete("* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n", small);
    expect_error("* 1 FETCH (BODY[] {11}\r\n", small, "literal of 11 bytes exceeds the 10-byte limit");
  }
  SECTION("a line too long, as soon as the buffer shows it") {
    ParserLimits small;
    small.max_line = 100;
    const std::string text(95, 'x');  // "* OK " + 95 = 100 bytes
    expect_complete("* OK " + text + "\r\n", small);
    expect_complete("* OK " + text + "\n", small);
    expect_error("* OK " + text + "y\r\n", small, "line longer than the 100-byte limit");
    expect_error("* OK " + text + "yz", small, "line longer");  // no line end yet
    CHECK(parse_response("* OK " + text + "\r", small).status == ParseResult::Status::incomplete);
    // Each line between literals has its own budget; literals have theirs.
    const std::string half(40, 'a');
    expect_complete("* 1 FETCH (X " + half + " BODY[] " + literal(std::string(300, 'L')) + " Y " + half + ")\r\n", small);
  }
  SECTION("too many values") {
    ParserLimits small;
    small.max_values = 4;
    expect_complete("* SEARCH 1 2 3 4\r\n", small);
    expect_error("* SEARCH 1 2 3 4 5\r\n", small, "more than the limit of 4 values");
    expect_complete("* X (a (b))\r\n", small);  // lists count too
    expect_error("* X (a (b c))\r\n", small, "values");
    expect_error("* SEARCH 1 2 3 4 5", small, "values");  // before the line end
  }
  SECTION("too deep") {
    ParserLimits small;
    small.max_depth = 3;
    expect_complete("* X (((a)))\r\n", small);
    expect_error("* X ((((a))))\r\n", small, "nested deeper than the limit of 3");
    expect_error("* X ((((", small, "nested deeper");
    expect_error("* OK [X ((((a))))] y\r\n", small, "nested deeper");
    expect_error("* X " + std::string(1000, '(') + "\r\n", defaults, "nested deeper");
  }
  SECTION("a response too large, also from a literal header alone") {
    ParserLimits small;
    small.max_response = 100;
    expect_complete("* 1 FETCH (BODY[] " + literal(std::string(60, 'z')) + ")\r\n", small);
    expect_error("* 1 FETCH (BODY[] {90}\r\n", small, "response exceeds the 100-byte limit");
    expect_error("* 1 FETCH (BODY[] " + literal(std::string(60, 'z')) + " X " + std::string(40, 'x'), small,
                 "100-byte limit");
    expect_error("* OK " + std::string(200, 'x'), small, "response exceeds");
  }
}

TEST_CASE("imap response: malformed responses are errors", "[imap]") {
  auto bad = GENERATE(as<std::string>{},
                      " OK missing tag\r\n",                        // missing tag
                      "(a) OK\r\n",                                 // not a tag
                      "\r\n",                                       // empty line
                      "* 99999999999999999999 EXISTS\r\n",          // number out of range
                      "* 9223372036854775808 EXISTS\r\n",           // 2^63
                      "* X 9223372036854775808\r\n",                // 2^63 as a value
                      "* 1 FETCH (BODY[] \"abc\r\ndef\")\r\n",      // unterminated quote with CRLF
                      "* X \"abc\n",                                // unterminated quote with LF
                      "* X \"a\\nb\"\r\n",                          // bad escape
                      "* X \"a\\\r\n",                              // escape at the line end
                      "* 1 FETCH (BODY[] {abc}\r\nabc)\r\n",        // not a length
                      "* 1 FETCH (BODY[] {}\r\n)\r\n",              // no length
                      "* 1 FETCH (BODY[] {+}\r\n)\r\n",             // no length
                      "* 1 FETCH (BODY[] {5}hello)\r\n",            // {5} without CRLF
                      "* 1 FETCH (BODY[] {5} \r\nhello)\r\n",       // {5} then a space
                      "* 1 FETCH (BODY[] {5\r\nhello)\r\n",         // no '}'
                      "* 1 FETCH (BODY[] {5}\r\nhello))\r\n",       // garbage after a literal's list
                      "* 1 FETCH (BODY[] {5}\r\nhello)x\r\n",       // no space after the list
                      "* 1 FETCH (BODY[] {5}\r\nhello) \"open\r\n", // unterminated quote after
                      "* 1 FETCH (BODY[] {5}\r\nhelloUID 1)\r\n",   // no space after the literal
                      "* 1 FETCH (UID 1\r\n",                       // list open at the line end
                      "* X a)\r\n",                                 // ')' without '('
                      "* X (a)(b)\r\n",                             // no space between lists
                      "* X \"a\"\"b\"\r\n",                         // no space between strings
                      "* X \\ y\r\n",                               // lone backslash
                      "* X BODY[1 \r\n",                            // unterminated section
                      "* X \xC3\xA9t\xC3\xA9\r\n",                  // 8-bit atom
                      "* X a{5}\r\n",                               // '{' inside an atom
                      "* OK a\rb\r\n",                              // lone CR
                      "* X a\rb\r\n",                               // lone CR
                      "* OK a\0b\r\n"s,                             // NUL
                      "*\r\n", "*5 EXISTS\r\n", "* \r\n",           // '*' without a keyword
                      "* 5\r\n", "* 5 \r\n", "* 5 (x)\r\n",         // number without a keyword
                      "* 5 OK done\r\n",                            // numbered status
                      "* (x)\r\n", "* 5X y\r\n",                    // not a keyword
                      "a1 FOO bar\r\n", "a1 PREAUTH x\r\n",         // tagged must be OK, NO or BAD
                      "a1 BYE x\r\n", "a1\r\n", "a1  OK x\r\n",
                      "a+1 OK x\r\n",                               // '+' in a tag
                      "+x\r\n",                                     // no space after '+'
                      "* OK [UNTERMINATED text\r\n",                // response code without ']'
                      "* OK []\r\n",                                // empty code
                      "* OK [X)] y\r\n",                            // ')' without '(' in a code
                      "* OK [X (a] b\r\n",                          // ']' inside an open list
                      "* OK [X\"] y\r\n");                          // junk after the code name
  INFO(bad);
  auto r = parse_response(bad);
  INFO(status_name(r.status));
  CHECK(r.status == ParseResult::Status::error);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("imap response: error messages name the problem", "[imap]") {
  CHECK(parse_response("* 99999999999999999999 EXISTS\r\n").error ==
        "\"99999999999999999999\" is not a number up to 2^63-1");
  CHECK(parse_response("* X \"a\\nb\"\r\n").error == "bad escape \"\\n\" in quoted string");
  CHECK(parse_response("* X \"ab\r\n").error == "unterminated quoted string");
  CHECK(parse_response("* OK a\rb\r\n").error == "CR not followed by LF inside a line");
  CHECK(parse_response(" OK x\r\n").error == "missing tag (line starts with \" OK x\\x0D\\x0A\")");
}

TEST_CASE("imap response: quote() escapes, or refuses what needs a literal", "[imap]") {
  using dmarq::imap::quote;
  struct Row {
    std::string in;
    std::optional<std::string> out;
  };
  auto row = GENERATE(Row{"", "\"\""}, Row{"INBOX", "\"INBOX\""}, Row{"a\"b\\c", "\"a\\\"b\\\\c\""},
                      Row{"Envoy\xC3\xA9s", "\"Envoy\xC3\xA9s\""},  // 8-bit passes: the caller decides
                      Row{"with space (and parens)", "\"with space (and parens)\""}, Row{"a\rb", std::nullopt},
                      Row{"a\nb", std::nullopt}, Row{"a\0b"s, std::nullopt}, Row{"\r\n", std::nullopt});
  INFO(row.in);
  CHECK(quote(row.in) == row.out);
}

TEST_CASE("imap response: mailbox names in modified UTF-7 round-trip", "[imap]") {
  struct Row {
    std::string utf8, mutf7;
  };
  auto row = GENERATE(Row{"INBOX", "INBOX"}, Row{"", ""}, Row{"Envoy\xC3\xA9s", "Envoy&AOk-s"}, Row{"&", "&-"},
                      Row{"A&B&&", "A&-B&-&-"}, Row{"\xC3\xA9\xC3\xA9", "&AOkA6Q-"},
                      Row{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "&ZeVnLIqe-"},  // 日本語
                      // RFC 3501 section 5.1.3: ~peter/mail/台北/日本語
                      Row{"~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
                          "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
                      Row{"\xF0\x9F\x98\x80", "&2D3eAA-"},  // U+1F600, a surrogate pair
                      Row{"a\tb", "a&AAk-b"},               // controls are shifted too
                      Row{"Entw\xC3\xBCrfe-x", "Entw&APw-rfe-x"});
  INFO(row.mutf7);
  CHECK(encode_mailbox(row.utf8) == row.mutf7);
  CHECK(decode_mailbox(row.mutf7) == row.utf8);
}

TEST_CASE("imap response: encode_mailbox replaces invalid UTF-8 with U+FFFD", "[imap]") {
  CHECK(encode_mailbox("a\xFF" "b") == "a&,,0-b");
  CHECK(decode_mailbox(encode_mailbox("a\xFF" "b")) == "a\xEF\xBF\xBD" "b");
  CHECK(encode_mailbox("\xED\xA0\x80") == "&,,3,,f,9-");  // an encoded surrogate: three bad bytes
}

TEST_CASE("imap response: malformed modified UTF-7 decodes to nothing", "[imap]") {
  auto bad = GENERATE(as<std::string>{}, "&", "a&AOk", "&AOk-&",  // unterminated
                      "&A-", "&AO-",                               // not even one UTF-16 unit
                      "&AOkA-",                                    // odd UTF-16 length (3 bytes)
                      "&AOkA6QDpA-",                               // a spare base64 character
                      "&AOl-",                                     // nonzero padding bits
                      "&AOk=-", "&AOk/-", "&AO k-",                // not modified base64
                      "&AGE-", "&ACY-", "&AHgAeA-",                // printable ASCII must stand for itself
                      "&2D0-", "&3gA-", "&2D3YPQ-", "&2D0-&3gA-",  // unpaired surrogates
                      "Envoy\xC3\xA9s", "a\tb", "a\x7f");          // raw 8-bit or control bytes
  INFO(bad);
  CHECK_FALSE(decode_mailbox(bad));
}
