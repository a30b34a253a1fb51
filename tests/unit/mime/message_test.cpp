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

TEST_CASE("mime: looks_like_message", "[mime]") {
  CHECK(mime::looks_like_message("Return-Path: <a@b>\n"));
  CHECK(mime::looks_like_message("From someone@example.com Mon Nov  2 00:00:00 2026\n"));
  CHECK_FALSE(mime::looks_like_message("<?xml version='1.0'?>"));
  CHECK_FALSE(mime::looks_like_message("just some text\n"));
}
