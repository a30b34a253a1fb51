#include <catch2/catch.hpp>

#include <string>

#include "dmarq/mime/tree.h"

using namespace dmarq;

namespace {

// An ARF report as receivers send it: multipart/report with a text part, the
// feedback part (base64 here, as some senders do) and the original message.
const std::string kReport =
    "From MAILER-DAEMON Mon Oct 14 09:40:04 2024\n"
    "Return-Path: <>\n"
    "From: FBL <fbl@isp.example>\n"
    "Subject: Abuse report\n"
    "  for example.com\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report;\n"
    "\tboundary=\"outer\"\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: text/plain; charset=\"US-ASCII\"\n"
    "\n"
    "This is an abuse report.\n"
    "--outer\n"
    "Content-Type: message/feedback-report\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    // "Feedback-Type: abuse\nUser-Agent: Test/1.0\nVersion: 1\n"
    "RmVlZGJhY2stVHlwZTogYWJ1c2UKVXNlci1BZ2VudDogVGVzdC8xLjAKVmVyc2lvbjogMQo=\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: sender@example.com\n"
    "To: victim@isp.example\n"
    "Subject: Buy now\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "plain\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>html</p>\n"
    "--inner--\n"
    "--outer--\n";

std::string with_line_ends(const std::string& s, const std::string& eol) {
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += eol;
    else
      out += c;
  }
  return out;
}

}  // namespace

TEST_CASE("mime tree: nested multipart/report with feedback part and original message", "[mime]") {
  std::string eol = GENERATE(as<std::string>{}, "\n", "\r\n", "\r");
  INFO("line end " << (eol == "\n" ? "LF" : eol == "\r" ? "CR" : "CRLF"));
  auto tree = mime::parse_tree(with_line_ends(kReport, eol), Limits{});
  CHECK(tree.issues.empty());
  const auto& root = tree.root;
  CHECK(root.content_type == "multipart/report");
  CHECK(root.section.empty());
  // The mbox line is not a header field; folded values are unfolded.
  REQUIRE_FALSE(root.header.fields.empty());
  CHECK(root.header.fields[0].name == "Return-Path");
  CHECK(root.header.get("subject") == "Abuse report for example.com");
  CHECK(root.header.get("CONTENT-TYPE").value().find("boundary=\"outer\"") != std::string_view::npos);
  REQUIRE(root.children.size() == 3);

  const auto& text = root.children[0];
  CHECK(text.section == "1");
  CHECK(text.content_type == "text/plain");
  CHECK(text.charset == "us-ascii");
  CHECK(text.body.find("This is an abuse report.") != std::string::npos);

  const auto& feedback = root.children[1];
  CHECK(feedback.section == "2");
  CHECK(feedback.content_type == "message/feedback-report");
  CHECK(feedback.children.empty());
  CHECK(feedback.body == "Feedback-Type: abuse\nUser-Agent: Test/1.0\nVersion: 1\n");

  const auto& attached = root.children[2];
  CHECK(attached.section == "3");
  CHECK(attached.content_type == "message/rfc822");
  CHECK(attached.body.empty());
  REQUIRE(attached.children.size() == 1);
  const auto& original = attached.children[0];
  CHECK(original.section == "3");  // multipart: its parts are 3.1 and 3.2
  CHECK(original.content_type == "multipart/alternative");
  CHECK(original.header.get("From") == "sender@example.com");
  CHECK(original.header.get("Subject") == "Buy now");
  REQUIRE(original.children.size() == 2);
  CHECK(original.children[0].section == "3.1");
  CHECK(original.children[0].body.find("plain") != std::string::npos);
  CHECK(original.children[1].section == "3.2");
  CHECK(original.children[1].content_type == "text/html");

  std::vector<std::string> order;
  mime::walk(root, [&](const mime::Entity& e) { order.push_back(e.content_type); });
  CHECK(order == std::vector<std::string>{"multipart/report", "text/plain", "message/feedback-report",
                                          "message/rfc822", "multipart/alternative", "text/plain", "text/html"});
}

TEST_CASE("mime tree: a single-part message and a single-part attached message", "[mime]") {
  auto tree = mime::parse_tree(
      "From: a@example.com\nContent-Type: message/rfc822\n\nFrom: b@example.com\nSubject: inner\n\nhello\n", Limits{});
  CHECK(tree.issues.empty());
  CHECK(tree.root.section == "1");
  REQUIRE(tree.root.children.size() == 1);
  const auto& inner = tree.root.children[0];
  CHECK(inner.section == "1.1");
  CHECK(inner.content_type == "text/plain");  // absent Content-Type
  CHECK(inner.header.get("subject") == "inner");
  CHECK(inner.body == "hello\n");
}

TEST_CASE("mime tree: text/rfc822-headers is a leaf holding the header text", "[mime]") {
  auto tree = mime::parse_tree(
      "From: fbl@isp.example\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n"
      "--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
      "--b\nContent-Type: text/rfc822-headers\n\nFrom: sender@example.com\nSubject: hi\n\n"
      "--b--\n",
      Limits{});
  CHECK(tree.issues.empty());
  REQUIRE(tree.root.children.size() == 2);
  const auto& headers = tree.root.children[1];
  CHECK(headers.content_type == "text/rfc822-headers");
  CHECK(headers.children.empty());
  CHECK(headers.body.find("From: sender@example.com\nSubject: hi\n") == 0);
}

TEST_CASE("mime tree: header names compare case-insensitively; all() keeps order", "[mime]") {
  auto tree = mime::parse_tree("Received: one\nreceived: two\nRECEIVED:   three  \nX: y\n\nbody\n", Limits{});
  CHECK(tree.root.header.all("Received") == std::vector<std::string_view>{"one", "two", "three"});
  CHECK(tree.root.header.get("x") == "y");
  CHECK_FALSE(tree.root.header.get("Missing"));
  CHECK(tree.root.body == "body\n");
}

TEST_CASE("mime tree: limits give an error issue, never an exception", "[mime]") {
  Limits limits;
  SECTION("size") {
    limits.max_message_bytes = 100;
    auto tree = mime::parse_tree(kReport, limits);
    REQUIRE_FALSE(tree.issues.empty());
    CHECK(tree.issues[0].code == "mime.too_large");
    CHECK(tree.root.children.empty());
  }
  SECTION("header line") {
    auto tree = mime::parse_tree("Subject: " + std::string(100000, 'x') + "\n\nbody\n", limits);
    REQUIRE_FALSE(tree.issues.empty());
    CHECK(tree.issues[0].code == "mime.header_too_long");
  }
  SECTION("boundaries") {
    std::string msg = "Content-Type: multipart/mixed; boundary=b0\n\n";
    for (int i = 1; i < 200; ++i)
      msg += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n";
    auto tree = mime::parse_tree(msg, limits);
    REQUIRE_FALSE(tree.issues.empty());
    CHECK(tree.issues[0].code == "mime.too_deep");
  }
  SECTION("depth") {
    limits.max_mime_depth = 2;
    std::string msg = "Content-Type: multipart/mixed; boundary=b0\n\n";
    for (int i = 1; i < 5; ++i)
      msg += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n";
    auto tree = mime::parse_tree(msg, limits);
    REQUIRE(tree.issues.size() == 1);
    CHECK(tree.issues[0].code == "mime.too_deep");
    REQUIRE(tree.root.children.size() == 1);
    REQUIRE(tree.root.children[0].children.size() == 1);
    CHECK(tree.root.children[0].children[0].children.empty());  // depth 2: not descended
  }
  SECTION("parts") {
    limits.max_mime_parts = 3;
    std::string msg = "Content-Type: multipart/mixed; boundary=b\n\n";
    for (int i = 0; i < 10; ++i) msg += "--b\n\npart\n";
    msg += "--b--\n";
    auto tree = mime::parse_tree(msg, limits);
    REQUIRE(tree.issues.size() == 1);
    CHECK(tree.issues[0].code == "mime.too_many_parts");
    CHECK(tree.root.children.size() == 3);
  }
  SECTION("garbage") {
    auto input = GENERATE(as<std::string>{}, "", "\r", "From \n", "\n\nbody only\n", "\x01\x02\x03");
    auto tree = mime::parse_tree(input, limits);
    CHECK(model::has_error(tree.issues));
  }
}

TEST_CASE("mime tree: field groups of a delivery-status or feedback-report body", "[mime]") {
  SECTION("groups, folding and line ends") {
    std::string eol = GENERATE(as<std::string>{}, "\n", "\r\n", "\r");
    std::string body = with_line_ends(
        "Reporting-MTA: dns; mx.example.net\n"
        "Arrival-Date: Mon, 14 Oct 2024\n"
        "  09:40:04 +0000\n"
        "\n\n"
        "Final-Recipient: rfc822; a@example.com\n"
        "Action: failed\n"
        "   \n"
        "final-recipient: rfc822; b@example.com\n"
        "not a field\n"
        "Status:5.1.1\n",
        eol);
    auto groups = mime::parse_field_groups(body);
    REQUIRE(groups.size() == 3);
    CHECK(groups[0].get("Arrival-Date") == "Mon, 14 Oct 2024 09:40:04 +0000");
    CHECK(groups[0].get("reporting-mta") == "dns; mx.example.net");
    CHECK(groups[1].fields.size() == 2);
    CHECK(groups[2].get("Final-Recipient") == "rfc822; b@example.com");
    CHECK(groups[2].get("Status") == "5.1.1");
  }
  SECTION("nothing") {
    CHECK(mime::parse_field_groups("").empty());
    CHECK(mime::parse_field_groups("\n\n \n").empty());
    CHECK(mime::parse_field_groups("  continuation without a field\n").empty());
  }
}

TEST_CASE("mime tree: an attached message that keeps its mbox From line", "[mime]") {
  // Yahoo's and AOL's feedback loops attach the original so.
  auto tree = mime::parse_tree(
      "From: fbl@isp.example\nContent-Type: multipart/report; boundary=b\n\n"
      "--b\nContent-Type: message/rfc822\n\n"
      "From sender.example Thu Feb 18 11:22:53 2010\nFrom: news@sender.example\nSubject: offer\n\nbody\n"
      "--b--\n",
      Limits{});
  CHECK(tree.issues.empty());
  REQUIRE(tree.root.children.size() == 1);
  REQUIRE(tree.root.children[0].children.size() == 1);
  const auto& original = tree.root.children[0].children[0];
  CHECK(original.header.get("From") == "news@sender.example");
  CHECK(original.header.get("Subject") == "offer");
  CHECK(original.body == "body");  // the line end before a boundary belongs to the boundary
}
