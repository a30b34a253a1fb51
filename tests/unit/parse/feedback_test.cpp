#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "dmarq/mime/tree.h"
#include "dmarq/parse/feedback.h"

using namespace dmarq;

namespace {

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

parse::FeedbackResult feedback_of(const std::string& message) {
  return parse::parse_feedback(mime::parse_tree(message, Limits{}));
}

std::string ip(const model::Feedback& f) { return f.source_ip ? f.source_ip->to_string() : "-"; }

// An ARF abuse report with every RFC 5965 field, out of order, with repeated
// and redacted recipients, and the whole original message attached.
const std::string kAbuse =
    "From fbl@isp.example Mon Oct 14 09:41:00 2024\n"
    "From: Feedback Loop <fbl@isp.example>\n"
    "To: abuse@sender.example\n"
    "Subject: Abuse report\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report;\n"
    " boundary=\"arf\"\n"
    "\n"
    "--arf\n"
    "Content-Type: text/plain\n"
    "\n"
    "A user complained.\n"
    "--arf\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "User-Agent: ISP-FBL/2.0\n"
    "Feedback-Type: Abuse\n"
    "Version: 1\n"
    "Original-Envelope-Id: ENV123\n"
    "Original-Mail-From: <Bounce@Sender.example>\n"
    "Original-Rcpt-To: undisclosed isp recipient <Redacted@ISP.example>\n"
    "Original-Rcpt-To: <second@isp.example>\n"
    "Arrival-Date: Mon, 14 Oct 2024 09:40:04 EDT\n"
    "Reporting-MTA: dns; mx1.isp.example\n"
    "Source-IP: 2001:DB8::0:1 (mail.sender.example)\n"
    "Incidents: 3\n"
    "Authentication-Results: mx1.isp.example; spf=pass\n"
    "  smtp.mailfrom=sender.example\n"
    "Reported-Domain: Sender.example\n"
    "Reported-Domain: other.example\n"
    "Reported-URI: http://sender.example/unsubscribe\n"
    "Removal-Recipient: <Redacted@ISP.example>\n"
    "\n"
    "--arf\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Return-Path: <bounce@sender.example>\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
    "\td=sender.example; s=sel\n"
    " 2024; h=from:to; bh=abc=; b=def\n"
    "DKIM-Signature: v=1; d=esp.example; s=esp; b=x\n"
    "From: Sender <news@sender.example>\n"
    "To: redacted@isp.example\n"
    "Subject: News\n"
    "Message-ID: <1@sender.example>\n"
    "Date: Mon, 14 Oct 2024 09:39:00 +0000\n"
    "List-Unsubscribe: <mailto:unsub@sender.example>\n"
    "\n"
    "The body, which is never kept.\n"
    "--arf--\n";

// An RFC 6591 / RFC 9991 failure report with headers only and the pre-RFC
// Received-Date.
const std::string kAuthFailure =
    "From: dmarc@receiver.example\n"
    "Subject: DMARC failure report\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "failure\n"
    "--b\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: auth-failure\n"
    "User-Agent: Receiver/1.0\n"
    "Version: 1\n"
    "Original-Mail-From: spoof@sender.example\n"
    "Received-Date: 14 Oct 2024 09:40 +0200\n"
    "Source-IP: 192.0.2.7\n"
    "Reported-Domain: sender.example\n"
    "Auth-Failure: DMARC\n"
    "Delivery-Result: Reject\n"
    "DKIM-Domain: sender.example\n"
    "DKIM-Identity: @sender.example\n"
    "DKIM-Selector: s1\n"
    "SPF-DNS: txt : sender.example : \"v=spf1 -all\"\n"
    "Identity-Alignment: dkim, spf\n"
    "\n"
    "--b\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "From: <ceo@sender.example>\n"
    "To: victim@receiver.example\n"
    "Subject: Wire transfer\n"
    "DKIM-Signature: v=1; d=sender.example; s=s1; b=zzz\n"
    "--b--\n";

// NetEase style: multipart/mixed, base64 feedback part, attached message.
const std::string kBase64Mixed =
    "From: postmaster@receiver.example\n"
    "Content-Type: multipart/mixed; boundary=\"m\"\n"
    "\n"
    "--m\n"
    "Content-Type: text/plain\n"
    "\n"
    "report\n"
    "--m\n"
    "Content-Type: message/feedback-report; name=\"ATT00001\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    // "Feedback-Type: auth-failure\nUser-Agent: Ntes/1.0\nSource-IP: 198.51.100.9\nReported-Domain: x.example\n"
    "RmVlZGJhY2stVHlwZTogYXV0aC1mYWlsdXJlClVzZXItQWdlbnQ6IE50ZXMvMS4wClNvdXJjZS1J\n"
    "UDogMTk4LjUxLjEwMC45ClJlcG9ydGVkLURvbWFpbjogeC5leGFtcGxlCg==\n"
    "--m\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: a@x.example\n"
    "Subject: hello\n"
    "\n"
    "body\n"
    "--m--\n";

// Amazon SES forwarding another loop's report: the ARF is an attached
// message.
const std::string kForwarded =
    "From: complaints@email-abuse.amazonses.example\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "Forwarded complaint.\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: feedback@isp.example\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: abuse\n"
    "User-Agent: Yahoo!-Mail-Feedback/2.0\n"
    "Original-Rcpt-To: user@isp.example\n"
    "--inner\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: news@sender.example\n"
    "Subject: forwarded original\n"
    "\n"
    "x\n"
    "--inner--\n"
    "--outer--\n";

const std::string kJmrpAttachment =
    "From: staff@hotmail.com\n"
    "Subject: complaint about message from 192.0.2.222\n"
    "Return-Path: staff@hotmail.com\n"
    "Content-Type: multipart/mixed; boundary=\"J\"\n"
    "\n"
    "--J\n"
    "Content-Type: message/rfc822\n"
    "Content-Disposition: inline\n"
    "\n"
    "X-HmXmrOriginalRecipient: <Complainer@Hotmail.com>\n"
    "X-Reporter-IP: 198.51.100.1\n"
    "Received: from mail.sender.example ([203.0.113.245]) by mc1.hotmail.example with Microsoft SMTPSVC;\n"
    "\t Thu, 29 Apr 2016 16:34:45 -0700\n"
    "Received: from inner.sender.example ([10.0.0.1]) by mail.sender.example; Thu, 29 Apr 2016 23:00:00 +0000\n"
    "Return-Path: <bounce@sender.example>\n"
    "From: news@sender.example\n"
    "Subject: Offer\n"
    "\n"
    "body\n"
    "--J--\n";

// The "original" JMRP form: Hotmail forwards the message itself, and its own
// header starts at X-HmXmrOriginalRecipient.
const std::string kJmrpOriginal =
    "Return-Path: staff@hotmail.com\n"
    "Received: from bay0-omc.hotmail.example ([65.54.190.76]) by mx.sender.example; Sat, 20 Feb 2010 05:25:12 -0000\n"
    "X-HmXmrOriginalRecipient: victim@hotmail.com\n"
    "X-Reporter-IP: 198.51.100.2\n"
    "Received: from promo.sender.example ([192.0.2.206]) by mc3.hotmail.example with SMTPSVC;\n"
    "\t Fri, 19 Feb 2010 19:58:37 -0800\n"
    "DKIM-Signature: v=1; d=promo.sender.example; s=selector1; b=x\n"
    "From: contact@promo.sender.example\n"
    "Subject: Finance report\n"
    "\n"
    "spam\n";

const std::string kPlainText =
    "From: no-reply@mailgate.example\n"
    "Subject: DMARC Forensic Report for sender.example from IP 203.0.113.68\n"
    "Content-Type: multipart/report; boundary=\"p\"\n"
    "\n"
    "--p\n"
    "Content-Type: text/plain; charset=\"us-ascii\"\n"
    "\n"
    "A message claiming to be from you has failed the published DMARC policy for your domain.\n"
    "\n"
    "  Sender Domain: Sender.example\n"
    "  Sender IP Address: 203.0.113.68\n"
    "  Received date: Mon, 14 Oct 2024 09:40:04 +0000\n"
    "  SPF Alignment: no\n"
    "\n"
    "------ This is a copy of the headers that were received before the error was detected.\n"
    "\n"
    "From: <user@sender.example>\n"
    "Subject: Payment\n"
    "\n"
    "--p--\n";

}  // namespace

TEST_CASE("feedback: ARF abuse report with every field", "[feedback]") {
  std::string eol = GENERATE(as<std::string>{}, "\n", "\r\n", "\r");
  INFO("line end " << (eol == "\n" ? "LF" : eol == "\r" ? "CR" : "CRLF"));
  auto result = feedback_of(with_line_ends(kAbuse, eol));
  CHECK(result.issues.empty());
  REQUIRE(result.reports.size() == 1);
  const auto& f = result.reports[0];
  CHECK(f.kind == "arf");
  CHECK(f.feedback_type == "abuse");
  CHECK(f.user_agent == "ISP-FBL/2.0");
  CHECK(f.version == "1");
  CHECK(f.original_envelope_id == "ENV123");
  CHECK(f.original_mail_from == "Bounce@Sender.example");  // case kept
  CHECK(f.original_rcpt_to == std::vector<std::string>{"redacted@isp.example", "second@isp.example"});
  CHECK(f.arrival_date == 1728913204);  // EDT is -0400
  CHECK(f.arrival_date_text == "Mon, 14 Oct 2024 09:40:04 EDT");
  CHECK(f.reporting_mta == "mx1.isp.example");
  CHECK(f.source_ip_text == "2001:DB8::0:1 (mail.sender.example)");
  CHECK(ip(f) == "2001:db8::1");
  CHECK(f.incidents == 3u);
  CHECK(f.authentication_results == std::vector<std::string>{"mx1.isp.example; spf=pass smtp.mailfrom=sender.example"});
  CHECK(f.reported_domain == std::vector<std::string>{"sender.example", "other.example"});
  CHECK(f.reported_uri == std::vector<std::string>{"http://sender.example/unsubscribe"});
  CHECK(f.removal_recipient == "Redacted@ISP.example");
  CHECK(f.auth_failure.empty());
  CHECK(f.part == "2");
  const auto& o = f.original;
  CHECK_FALSE(o.headers_only);
  CHECK(o.from == "Sender <news@sender.example>");
  CHECK(o.to == "redacted@isp.example");
  CHECK(o.subject == "News");
  CHECK(o.message_id == "<1@sender.example>");
  CHECK(o.date == "Mon, 14 Oct 2024 09:39:00 +0000");
  CHECK(o.list_unsubscribe == "<mailto:unsub@sender.example>");
  CHECK(o.return_path == "<bounce@sender.example>");
  CHECK(o.dkim_domain == "sender.example");  // the first signature's, folding removed
  CHECK(o.dkim_selector == "sel2024");
}

TEST_CASE("feedback: the quirks of real reports", "[feedback]") {
  struct Row {
    const char* name;
    std::string message;
    std::string kind, feedback_type, source_ip, rcpt, mail_from, domain, auth_failure, part;
    int64_t arrival;  // 0: none
    bool headers_only;
  };
  auto row = GENERATE_COPY(
      Row{"auth-failure, headers only, Received-Date", kAuthFailure, "failure", "auth-failure", "192.0.2.7", "",
          "spoof@sender.example", "sender.example", "dmarc", "2", 1728891600, true},
      Row{"base64 feedback part, multipart/mixed", kBase64Mixed, "failure", "auth-failure", "198.51.100.9", "", "",
          "x.example", "", "2", 0, false},
      Row{"CRLF", with_line_ends(kBase64Mixed, "\r\n"), "failure", "auth-failure", "198.51.100.9", "", "",
          "x.example", "", "2", 0, false},
      Row{"ARF inside a forwarded message", kForwarded, "arf", "abuse", "-", "user@isp.example", "", "", "", "2.1",
          0, false},
      Row{"JMRP attachment form", kJmrpAttachment, "jmrp", "abuse", "203.0.113.245", "complainer@hotmail.com",
          "bounce@sender.example", "", "", "1", 1461972885, false},
      Row{"JMRP original form", kJmrpOriginal, "jmrp", "abuse", "192.0.2.206", "victim@hotmail.com", "", "", "", "",
          1266638317, false},
      Row{"JMRP original form, bare CR", with_line_ends(kJmrpOriginal, "\r"), "jmrp", "abuse", "192.0.2.206",
          "victim@hotmail.com", "", "", "", "", 1266638317, false},
      Row{"plain-text failure report", kPlainText, "failure", "auth-failure", "203.0.113.68", "", "",
          "sender.example", "dmarc", "1", 1728898804, true});
  INFO(row.name);
  auto result = feedback_of(row.message);
  REQUIRE(result.reports.size() == 1);
  const auto& f = result.reports[0];
  CHECK(f.kind == row.kind);
  CHECK(f.feedback_type == row.feedback_type);
  CHECK(ip(f) == row.source_ip);
  CHECK((f.original_rcpt_to.empty() ? "" : f.original_rcpt_to[0]) == row.rcpt);
  CHECK(f.original_mail_from == row.mail_from);
  CHECK((f.reported_domain.empty() ? "" : f.reported_domain[0]) == row.domain);
  CHECK(f.auth_failure == row.auth_failure);
  CHECK(f.part == row.part);
  CHECK(f.arrival_date.value_or(0) == row.arrival);
  CHECK(f.original.headers_only == row.headers_only);
}

TEST_CASE("feedback: a report about a report is one report", "[feedback]") {
  // A failure report whose reported message is itself an ARF report: the
  // inner one is content.
  std::string inner = kAbuse.substr(kAbuse.find('\n') + 1);  // without the mbox line
  auto result = feedback_of(
      "From: dmarc@receiver.example\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=outer\n\n"
      "--outer\nContent-Type: message/feedback-report\n\nFeedback-Type: auth-failure\nAuth-Failure: dmarc\n"
      "--outer\nContent-Type: message/rfc822\n\n" + inner + "--outer--\n");
  REQUIRE(result.reports.size() == 1);
  CHECK(result.reports[0].kind == "failure");
  CHECK(result.reports[0].original.subject == "Abuse report");
}

TEST_CASE("feedback: RFC 6591 fields and the reported message's headers", "[feedback]") {
  auto result = feedback_of(kAuthFailure);
  REQUIRE(result.reports.size() == 1);
  const auto& f = result.reports[0];
  CHECK(f.delivery_result == "reject");
  CHECK(f.dkim_domain == "sender.example");
  CHECK(f.dkim_identity == "@sender.example");
  CHECK(f.dkim_selector == "s1");
  CHECK(f.spf_dns == "txt : sender.example : \"v=spf1 -all\"");
  CHECK(f.identity_alignment == "dkim, spf");
  CHECK(f.original.from == "<ceo@sender.example>");
  CHECK(f.original.subject == "Wire transfer");
  CHECK(f.original.dkim_domain == "sender.example");
  CHECK(f.original.dkim_selector == "s1");
}

TEST_CASE("feedback: JMRP keeps the complained message's headers", "[feedback]") {
  auto attachment = feedback_of(kJmrpAttachment);
  REQUIRE(attachment.reports.size() == 1);
  CHECK(attachment.reports[0].original.subject == "Offer");
  CHECK(attachment.reports[0].original.from == "news@sender.example");
  auto original = feedback_of(kJmrpOriginal);
  REQUIRE(original.reports.size() == 1);
  CHECK(original.reports[0].original.subject == "Finance report");
  CHECK(original.reports[0].original.dkim_domain == "promo.sender.example");
  CHECK(original.reports[0].original.return_path.empty());  // the top Return-Path is Hotmail's
}

TEST_CASE("feedback: other mail yields no report", "[feedback]") {
  auto message = GENERATE(as<std::string>{}, "", "garbage", "{\"a\":1}",
                          "From: a@example.com\nSubject: hello\n\nDMARC is great.\n",
                          // a bounce (RFC 3464) is not feedback
                          "From: MAILER-DAEMON@example.com\n"
                          "Content-Type: multipart/report; report-type=delivery-status; boundary=d\n\n"
                          "--d\nContent-Type: text/plain\n\nfailed\n"
                          "--d\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
                          "Final-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.1.1\n"
                          "--d--\n",
                          // the labels without any word of DMARC
                          "Subject: stats\n\nSender Domain: a.example\nSender IP Address: 192.0.2.1\n");
  auto result = feedback_of(message);
  CHECK(result.reports.empty());
}

TEST_CASE("feedback: odd fields give warnings, not failures", "[feedback]") {
  auto result = feedback_of(
      "Content-Type: multipart/report; boundary=b\n\n"
      "--b\nContent-Type: message/feedback-report\n\n"
      "User-Agent: x\nSource-IP: not-an-ip\nArrival-Date: yesterday\nIncidents: many\n"
      "--b--\n");
  REQUIRE(result.reports.size() == 1);
  const auto& f = result.reports[0];
  CHECK(f.kind == "arf");
  CHECK(f.feedback_type.empty());
  CHECK_FALSE(f.source_ip);
  CHECK(f.source_ip_text == "not-an-ip");
  CHECK_FALSE(f.arrival_date);
  CHECK_FALSE(f.incidents);
  std::vector<std::string> codes;
  for (const auto& i : result.issues) codes.push_back(i.code);
  CHECK(codes == std::vector<std::string>{"feedback.no_type", "feedback.bad_date", "feedback.bad_source_ip",
                                          "feedback.bad_incidents"});
}

TEST_CASE("feedback: parse_mail_date reads RFC 5322 and its obsolete forms as UTC", "[feedback]") {
  struct Row {
    std::string text;
    int64_t utc;
  };
  auto row = GENERATE(Row{"Mon, 14 Oct 2024 09:40:04 +0000", 1728898804},
                      Row{"Mon, 14 Oct 2024 09:40:04 -0700", 1728924004},
                      Row{"Mon, 14 Oct 2024 09:40:04 -0000", 1728898804},
                      Row{"Mon, 14 Oct 2024 09:40:04 -0000 (EST)", 1728898804},  // the number wins
                      Row{"Mon, 14 Oct 2024 09:40:04 +0000 (UTC)", 1728898804},
                      Row{"14 Oct 2024 09:40 +0200", 1728891600},                // no weekday, no seconds
                      Row{"Mon,  14 Oct 24 09:40:04 GMT", 1728898804},          // two-digit year
                      Row{"Mon, 14 Oct 2024 09:40:04 UT", 1728898804},
                      Row{"Mon, 14 Oct 2024 09:40:04 Z", 1728898804},
                      Row{"Mon, 14 Oct 2024 09:40:04 EST", 1728916804},
                      Row{"Mon, 14 Oct 2024 09:40:04 EDT", 1728913204},
                      Row{"Mon, 14 Oct 2024 09:40:04 CST", 1728920404},
                      Row{"Mon, 14 Oct 2024 09:40:04 CDT", 1728916804},
                      Row{"Mon, 14 Oct 2024 09:40:04 MST", 1728924004},
                      Row{"Mon, 14 Oct 2024 09:40:04 MDT", 1728920404},
                      Row{"Mon, 14 Oct 2024 09:40:04 PST", 1728927604},
                      Row{"Mon, 14 Oct 2024 09:40:04 pdt", 1728924004},
                      Row{"Mon, 14 Oct 2024 09:40:04 JST", 1728898804},  // unknown alphabetic zone: UTC
                      Row{"Thu, 29 Apr 2009 09:40:04 +0000", 1240998004},  // wrong weekday: ignored
                      Row{"Sat, 1 Jan 1999 00:00:00 +0530", 915129000},
                      Row{"Thu, 29 Feb 2024 23:59:60 +0000", 1709251200},  // leap second
                      Row{"2024-10-14T09:40:04Z", 1728898804});
  INFO(row.text);
  CHECK(parse::parse_mail_date(row.text) == row.utc);
}

TEST_CASE("feedback: parse_mail_date refuses what is not a date", "[feedback]") {
  auto bad = GENERATE(as<std::string>{}, "", "yesterday", "Mon, 14 Foo 2024 09:40:04 +0000",
                      "Mon, 31 Feb 2024 09:40:04 +0000", "Mon, 14 Oct 2024 24:00:00 +0000",
                      "Mon, 14 Oct 2024 09:60:00 +0000", "Mon, 14 Oct 2024 09:40:04 +2500",
                      "Mon, 14 Oct 2024 09:40:04 +00", "Mon, 14 Oct 2024", "14 Oct 2024 9", "Mon, 14 Oct 2024 a:b",
                      std::string(1000, '1'));
  INFO(bad);
  CHECK_FALSE(parse::parse_mail_date(bad));
}

TEST_CASE("feedback: address_of takes the address inside <>", "[feedback]") {
  struct Row {
    std::string in, out;
  };
  auto row = GENERATE(Row{"<User@Example.com>", "User@Example.com"},
                      Row{"undisclosed comcast recipient <redacted@comcast.net>", "redacted@comcast.net"},
                      Row{"\"A <b>\" <a@example.com>", "a@example.com"},
                      Row{"  user@example.com  ", "user@example.com"},
                      Row{"hashed@example.com", "hashed@example.com"}, Row{"<>", ""}, Row{"", ""},
                      Row{"<unclosed@example.com", "unclosed@example.com"});
  INFO(row.in);
  CHECK(parse::address_of(row.in) == row.out);
}
