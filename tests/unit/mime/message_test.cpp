#include <catch2/catch.hpp>

#include "dmarq/mime/message.h"
#include "support/support.h"

using namespace dmarq;

namespace {
const mime::Part* find(const mime::ScannedMessage& m, const std::string& section) {
  for (const auto& p : m.parts)
    if (p.section == section) return &p;
  return nullptr;
}
}  // namespace

TEST_CASE("mime: parts are numbered as IMAP body sections", "[mime]") {
  auto m = mime::scan_message(test::read_data("reports/basic-multipart.eml"), Limits{});
  CHECK(m.issues.empty());
  REQUIRE(m.parts.size() == 3);
  CHECK(m.parts[0].section == "1.1");
  CHECK(m.parts[0].content_type == "text/plain");
  CHECK(m.parts[0].bytes.find("Caf\xc3\xa9") != std::string::npos);  // quoted-printable decoded
  CHECK(m.parts[1].section == "1.2");
  CHECK(m.parts[1].content_type == "text/html");
  const auto* zip = find(m, "2");
  REQUIRE(zip);
  CHECK(zip->content_type == "application/x-zip-compressed");
  CHECK(zip->filename == "receiver.example!example.com!1793491200!1793577599.zip");
  CHECK(zip->bytes == test::read_data("reports/basic.zip"));  // base64 decoded
  CHECK(m.subject.find("Report Domain: example.com") != std::string::npos);
}

TEST_CASE("mime: a body that is itself the attachment is section 1", "[mime]") {
  auto m = mime::scan_message(test::read_data("reports/basic-whole-body.eml"), Limits{});
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].section == "1");
  CHECK(m.parts[0].content_type == "application/octet-stream");
  CHECK(m.parts[0].bytes == test::read_data("reports/basic.xml.gz"));
}

TEST_CASE("mime: an attached message's parts are numbered inside its section", "[mime]") {
  auto m = mime::scan_message(test::read_data("reports/basic-forwarded.eml"), Limits{});
  REQUIRE(m.parts.size() == 2);
  CHECK(m.parts[0].section == "1");
  CHECK(m.parts[1].section == "2.1");
  CHECK(m.parts[1].content_type == "text/xml");
  CHECK(m.parts[1].bytes.find("<feedback>") != std::string::npos);
}

TEST_CASE("mime: limits are checked before parsing", "[mime]") {
  Limits limits;
  SECTION("message size") {
    limits.max_message_bytes = 100;
    auto m = mime::scan_message(test::read_data("reports/basic-multipart.eml"), limits);
    CHECK(m.parts.empty());
    REQUIRE_FALSE(m.issues.empty());
    CHECK(m.issues[0].code == "mime.too_large");
  }
  SECTION("header line") {
    std::string msg = "Subject: " + std::string(100000, 'x') + "\n\nbody\n";
    auto m = mime::scan_message(msg, limits);
    REQUIRE_FALSE(m.issues.empty());
    CHECK(m.issues[0].code == "mime.header_too_long");
  }
  SECTION("nesting, whatever the letter case of the parameter") {
    std::string word = GENERATE(as<std::string>{}, "boundary", "BOUNDARY", "bOuNdArY");
    std::string msg = "Content-Type: multipart/mixed; " + word + "=b0\n\n";
    for (int i = 1; i < 200; ++i)
      msg += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; " + word + "=b" + std::to_string(i) + "\n\n";
    auto m = mime::scan_message(msg, limits);
    REQUIRE_FALSE(m.issues.empty());
    CHECK(m.issues[0].code == "mime.too_deep");
  }
}

TEST_CASE("mime: deeply nested message/rfc822 is refused before parsing", "[mime]") {
  std::string msg;
  for (int i = 0; i < 100000; ++i) msg += "Content-Type: message/RFC822\n\n";
  msg += "Subject: bottom\n\nhello\n";
  auto m = mime::scan_message(msg, Limits{});
  REQUIRE_FALSE(m.issues.empty());
  CHECK(m.issues[0].code == "mime.too_deep");
  CHECK(m.parts.empty());
}

TEST_CASE("mime: the nesting count sees message / rfc822 with white space, not rfc822; addresses", "[mime]") {
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "Content-Type: message / rfc822\n\n";
  deep += "Subject: bottom\n\nhello\n";
  auto m = mime::scan_message(deep, Limits{});
  REQUIRE_FALSE(m.issues.empty());
  CHECK(m.issues[0].code == "mime.too_deep");

  // A delivery-status part names every recipient "rfc822;" twice: 200
  // recipients are not 400 embedded messages.
  std::string dsn = "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\n"
                    "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n";
  for (int i = 0; i < 200; ++i)
    dsn += "\nFinal-Recipient: rfc822; u" + std::to_string(i) + "@example.net\nOriginal-Recipient: rfc822; u" +
           std::to_string(i) + "@example.net\nAction: failed\nStatus: 5.1.1\n";
  dsn += "\n--B--\n";
  auto d = mime::scan_message(dsn, Limits{});
  CHECK(d.issues.empty());
  CHECK(d.parts.size() == 1);
}

TEST_CASE("mime: looks_like_message", "[mime]") {
  CHECK(mime::looks_like_message("Return-Path: <a@b>\n"));
  CHECK(mime::looks_like_message("From someone@example.com Mon Nov  2 00:00:00 2026\n"));
  CHECK_FALSE(mime::looks_like_message("<?xml version='1.0'?>"));
  CHECK_FALSE(mime::looks_like_message("just some text\n"));
}

namespace {
std::string base64(const std::string& in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
    out += abc[v >> 18 & 63];
    out += abc[v >> 12 & 63];
    out += i + 1 < in.size() ? abc[v >> 6 & 63] : '=';
    out += i + 2 < in.size() ? abc[v & 63] : '=';
    if (out.size() % 77 == 76) out += "\r\n";
  }
  return out;
}
}  // namespace

TEST_CASE("mime: base64 bodies of every length decode exactly", "[mime]") {
  for (std::size_t len : {0u, 1u, 2u, 3u, 4u, 5u, 56u, 57u, 58u, 1000u, 4099u}) {
    std::string data;
    for (std::size_t i = 0; i < len; ++i) data.push_back(static_cast<char>((i * 131 + len) & 0xff));
    std::string msg = "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                      base64(data) + "\r\n";
    INFO("length " << len);
    auto m = mime::scan_message(msg, Limits{});
    REQUIRE(m.parts.size() == 1);
    CHECK(m.parts[0].bytes == data);
  }
}

TEST_CASE("mime: base64 with stray characters is still decoded leniently", "[mime]") {
  std::string msg = "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                    "aGVs*bG8g!d29y\nbGQ=\n";
  auto m = mime::scan_message(msg, Limits{});
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].bytes == "hello world");
}

TEST_CASE("mime: a lone CR before a boundary does not break the parse (fuzz finding)", "[mime]") {
  // mimetic threw std::length_error on this input and leaked the parts it had
  // built; line ends are now normalised first.
  std::string msg = test::read_data("reports/fuzz-mimetic-lone-cr.eml");
  REQUIRE(msg.find('\r') != std::string::npos);
  mime::ScannedMessage m;
  REQUIRE_NOTHROW(m = mime::scan_message(msg, Limits{}));
  CHECK_FALSE(m.parts.empty());
}

TEST_CASE("mime: CRLF and bare CR line ends parse like LF", "[mime]") {
  std::string lf = "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n--b--\n";
  for (std::string eol : {"\r\n", "\r"}) {
    std::string msg;
    for (char c : lf) msg += c == '\n' ? eol : std::string(1, c);
    auto m = mime::scan_message(msg, Limits{});
    REQUIRE(m.parts.size() == 1);
    CHECK(m.parts[0].section == "1");
    CHECK(m.parts[0].bytes == "hello");
    CHECK(m.subject == "x");
  }
}
