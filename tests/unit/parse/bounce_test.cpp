#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "dmarq/mime/tree.h"
#include "dmarq/parse/bounce.h"

using namespace dmarq;

namespace {

struct Want {
  std::string recipient, action, status, klass, diagnostic;
};

struct Case {
  std::string name;
  std::string raw;
  bool is_bounce = false;
  bool rfc3464 = false;
  std::vector<Want> recipients;
};

parse::BounceResult parse_raw(const std::string& raw) { return parse::parse_bounce(mime::parse_tree(raw, Limits{})); }

bool has_code(const model::Issues& issues, const std::string& code) {
  for (const auto& i : issues)
    if (i.code == code) return true;
  return false;
}

// A multipart/report around one delivery-status body.
std::string dsn_message(const std::string& subject, const std::string& status_body) {
  return "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
         "To: sender@example.org\n"
         "Subject: " + subject + "\n"
         "MIME-Version: 1.0\n"
         "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\n"
         "\n"
         "--b1\n"
         "Content-Type: text/plain\n"
         "\n"
         "This is the mail system at host mx.example.net.\n"
         "\n"
         "--b1\n"
         "Content-Type: message/delivery-status\n"
         "\n" + status_body +
         "\n"
         "--b1\n"
         "Content-Type: message/rfc822\n"
         "\n"
         "From: sender@example.org\n"
         "To: someone-else@example.com\n"
         "Subject: hello\n"
         "\n"
         "Hello.\n"
         "--b1--\n";
}

const char* kQmail = R"EOF(Return-Path: <>
Date: 24 Jun 2024 08:52:01 -0000
From: MAILER-DAEMON@mail.example.net
To: sender@example.org
Subject: failure notice

Hi. This is the qmail-send program at mail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<Gone@Example.COM>:
Sorry, I couldn't find any host named example.com. (#5.1.2)

<full@example.com>:
192.0.2.10 does not like recipient.
Remote host said: 452 4.2.2 <full@example.com>... Mailbox full
Giving up on 192.0.2.10.

--- Below this line is a copy of the message.

Return-Path: <sender@example.org>
From: sender@example.org
To: gone@example.com, full@example.com, bystander@example.com
Subject: hello

<bystander@example.com>:
this line is in the returned message, not the notification
)EOF";

const char* kExim = R"EOF(Return-path: <>
X-Failed-Recipients: nobody@example.com
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: sender@example.org
Subject: Mail delivery failed: returning message to sender
Date: Thu, 29 Apr 2021 23:34:45 +0900

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nobody@example.com
    host mx.example.com [192.0.2.82]
    SMTP error from remote mail server after RCPT TO:<nobody@example.com>:
    550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

From: sender@example.org
To: nobody@example.com
Subject: hi

hi
)EOF";

const char* kExchange2003 = R"EOF(Return-Path: <>
From: System Administrator <postmaster@example.com>
To: sender@example.org
Subject: Undeliverable: Quarterly figures
Date: Thu, 29 Apr 2010 00:00:00 -0000
X-Mailer: Internet Mail Service (5.5.1960.3)

Your message

  To:      someone@example.com
  Subject: Quarterly figures
  Sent:    Thu, 29 Apr 2010 00:00:00 -0000

did not reach the following recipient(s):

someone@example.com on Thu, 29 Apr 2010 00:00:00 -0000
    The recipient name is not recognized
    MSEXCH:IMS:EXAMPLE:SITE:SERVER 0 (000C05A6)
Unknown Recipient
)EOF";

const char* kDomino = R"EOF(From: Postmaster@example.jp
To: sender@example.org
Subject: DELIVERY FAILURE: User Tanaka (tanaka@example.jp) not listed in Domino Directory
Content-Type: text/plain

Your message

  Subject: Test

was not delivered to:

  tanaka@example.jp

because:

  User Tanaka (tanaka@example.jp) not listed in Domino Directory
)EOF";

const char* kGmailDelay = R"EOF(From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: sender@example.org
Subject: Delivery Status Notification (Delay)
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

This is an automatically generated Delivery Status Notification

THIS IS A WARNING MESSAGE ONLY.

Delivery to the following recipient has been delayed:

     late@example.jp

Technical details of temporary failure:=20
The error that the other server return=
ed was: 451 451 4.3.0 Try again later.

----- Original message -----

To: late@example.jp
Subject: x
)EOF";

// The JSON is one long line, cut by sendmail's 990-byte rule ("!" + newline +
// space) the way real SNS mails arrive.
std::string ses_message(const std::string& json) {
  return "From: AWS Notifications <no-reply@sns.amazonaws.com>\n"
         "To: ops@example.org\n"
         "Subject: AWS Notification Message\n"
         "Content-Type: text/plain; charset=UTF-8\n"
         "\n" + json + "\n"
         "\n"
         "--\n"
         "If you wish to stop receiving notifications from this topic, please click below.\n";
}

const char* kSesBounce =
    R"EOF({"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"Bounce@Simulator.Amazonses.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"},{"emailAddress":"other@example.com"}],"timestamp":"2016-10-21T00:06:40.502Z","reportingMTA":"dsn; a27-23.smtp-out.us-west-2.amazonses.com"},"mail":{"timestamp":"2016-10-21T00:06:39.000Z","source":"sender@example.org","headers":[{"name":"!
 Subject","value":"nyaan"}]}})EOF";

const char* kSesTransient =
    R"EOF({"Type":"Notification","MessageId":"x","Message":"{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Transient\",\"bounceSubType\":\"General\",\"bouncedRecipients\":[{\"emailAddress\":\"later@example.com\"}]}}"})EOF";

const char* kSesDelivery =
    R"EOF({"notificationType":"Delivery","mail":{"source":"sender@example.org","destination":["ok@example.com"]},"delivery":{"recipients":["ok@example.com"],"smtpResponse":"250 2.6.0 Message received"}})EOF";

const char* kAutoReplyWithAttachment = R"EOF(From: Jane Roe <jane@example.com>
To: sender@example.org
Subject: Out of Office: Quarterly figures
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="xx"

--xx
Content-Type: text/plain

I am away until Monday; your message could not be delivered to me in person.

--xx
Content-Type: message/rfc822

From: sender@example.org
To: jane@example.com
Subject: Quarterly figures

Figures attached.
--xx--
)EOF";

const char* kOrdinaryWithMessage = R"EOF(From: Joe <joe@example.com>
To: sender@example.org
Subject: see the mail below
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="yy"

--yy
Content-Type: text/plain

Forwarding the failure notice I got from you.

--yy
Content-Type: message/rfc822

From: MAILER-DAEMON@example.net
To: joe@example.com
Subject: failure notice

Hi. This is the qmail-send program at example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.

<lost@example.net>:
Sorry, no mailbox here by that name. (#5.1.1)
--yy--
)EOF";

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back(Case{"RFC 3464, two recipients",
                     dsn_message("Undelivered Mail Returned to Sender",
                                 "Reporting-MTA: dns; mx.example.net\n"
                                 "Arrival-Date: Tue, 1 Oct 2024 10:00:00 +0000\n"
                                 "\n"
                                 "Final-Recipient: rfc822; <Gone@Example.COM>\n"
                                 "Original-Recipient: rfc822;gone@example.com\n"
                                 "Action: Failed\n"
                                 "Status: 5.1.1 (bad destination mailbox)\n"
                                 "Remote-MTA: dns; mx1.example.com [192.0.2.1]\n"
                                 "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.com>:\n"
                                 "    Recipient address rejected: User unknown\n"
                                 "\n"
                                 "Final-Recipient: rfc822; full@example.com\n"
                                 "Action: failed\n"
                                 "Status: 5.2.2\n"
                                 "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n"),
                     true, true,
                     {{"gone@example.com", "failed", "5.1.1", "hard",
                       "smtp; 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"},
                      {"full@example.com", "failed", "5.2.2", "soft", "smtp; 552 5.2.2 Mailbox full"}}});
  out.push_back(Case{"RFC 3464 delay is soft",
                     dsn_message("Delayed Mail (still being retried)",
                                 "Reporting-MTA: dns; mx.example.net\n\n"
                                 "Final-Recipient: rfc822; slow@example.com\n"
                                 "Action: delayed\n"
                                 "Status: 4.4.7 (unable to deliver this message after 1 day)\n"),
                     true, true, {{"slow@example.com", "delayed", "4.4.7", "soft", ""}}});
  out.push_back(Case{"RFC 3464 5.7.1 is policy",
                     dsn_message("Undelivered Mail Returned to Sender",
                                 "Reporting-MTA: dns; mx.example.net\n\n"
                                 "Final-Recipient: rfc822; boss@example.com\n"
                                 "Action: failed\n"
                                 "Status: 5.7.1\n"
                                 "Diagnostic-Code: smtp; 554 5.7.1 Client host rejected: blocked using rbl.example\n"),
                     true, true,
                     {{"boss@example.com", "failed", "5.7.1", "policy",
                       "smtp; 554 5.7.1 Client host rejected: blocked using rbl.example"}}});
  out.push_back(Case{"RFC 3464 5.0.0 keeps its status; the class reads the diagnostic",
                     dsn_message("Mail delivery failed: returning message to sender",
                                 "Reporting-MTA: dns; mx.example.net\n\n"
                                 "Final-Recipient: rfc822;ceo@example.com\n"
                                 "Action: failed\n"
                                 "Status: 5.0.0\n"
                                 "Diagnostic-Code: smtp; 550 5.7.26 Unauthenticated email is not accepted due to\n"
                                 " the sender domain's DMARC policy\n"),
                     true, true,
                     {{"ceo@example.com", "failed", "5.0.0", "policy",
                       "smtp; 550 5.7.26 Unauthenticated email is not accepted due to the sender domain's DMARC "
                       "policy"}}});
  out.push_back(Case{"qmail", kQmail, true, false,
                     {{"gone@example.com", "", "5.1.2", "hard", ""}, {"full@example.com", "", "4.2.2", "soft", ""}}});
  out.push_back(Case{"Exim with X-Failed-Recipients (and Auto-Submitted)", kExim, true, false,
                     {{"nobody@example.com", "", "5.1.1", "hard", ""}}});
  out.push_back(Case{"Exchange 2003 text", kExchange2003, true, false, {{"someone@example.com", "", "", "hard", ""}}});
  out.push_back(Case{"Domino text", kDomino, true, false, {{"tanaka@example.jp", "", "", "hard", ""}}});
  out.push_back(Case{"Gmail delay text", kGmailDelay, true, false, {{"late@example.jp", "", "4.3.0", "soft", ""}}});
  out.push_back(Case{"Amazon SES bounce", ses_message(kSesBounce), true, false,
                     {{"bounce@simulator.amazonses.com", "failed", "5.1.1", "hard", "smtp; 550 5.1.1 user unknown"},
                      {"other@example.com", "", "", "unknown", ""}}});
  out.push_back(Case{"Amazon SES transient bounce in an SNS envelope", ses_message(kSesTransient), true, false,
                     {{"later@example.com", "", "", "soft", ""}}});
  out.push_back(Case{"Amazon SES delivery is not a bounce", ses_message(kSesDelivery), false, false, {}});
  out.push_back(Case{"auto-reply with an attachment is not a bounce", kAutoReplyWithAttachment, false, false, {}});
  out.push_back(Case{"ordinary mail with an attached bounce text is not a bounce", kOrdinaryWithMessage, false,
                     false, {}});
  out.push_back(Case{"delivery success DSN is not a bounce",
                     dsn_message("Successful Mail Delivery Report",
                                 "Reporting-MTA: dns; mx.example.net\n\n"
                                 "Final-Recipient: rfc822; a@example.com\n"
                                 "Action: delivered\n"
                                 "Status: 2.0.0\n\n"
                                 "Final-Recipient: rfc822; b@example.com\n"
                                 "Action: relayed\n"
                                 "Status: 2.0.0\n"),
                     false, false, {}});
  out.push_back(Case{"garbage", "\x01\x02\xff\xfe garbage {{{ [[[ <a@b.c>:\n\n\n--", false, false, {}});
  out.push_back(Case{"empty", "", false, false, {}});
  return out;
}

}  // namespace

TEST_CASE("bounce: messages of every kind", "[parse]") {
  auto c = GENERATE(from_range(cases()));
  INFO(c.name);
  auto result = parse_raw(c.raw);
  REQUIRE(result.bounce.has_value() == c.is_bounce);
  if (!c.is_bounce) return;
  const auto& b = *result.bounce;
  CHECK(b.rfc3464 == c.rfc3464);
  REQUIRE(b.recipients.size() == c.recipients.size());
  for (std::size_t i = 0; i < c.recipients.size(); ++i) {
    const auto& got = b.recipients[i];
    const auto& want = c.recipients[i];
    INFO("recipient " << i);
    CHECK(got.recipient == want.recipient);
    CHECK(got.action == want.action);
    CHECK(got.status == want.status);
    CHECK(got.bounce_class == want.klass);
    CHECK(got.diagnostic_code == want.diagnostic);
  }
}

TEST_CASE("bounce: RFC 3464 per-message and per-recipient fields", "[parse]") {
  auto result = parse_raw(cases()[0].raw);
  REQUIRE(result.bounce);
  REQUIRE(result.bounce->recipients.size() == 2);
  const auto& r = result.bounce->recipients[0];
  CHECK(r.original_recipient == "gone@example.com");
  CHECK(r.remote_mta == "mx1.example.com");
  CHECK(r.reporting_mta == "mx.example.net");
  REQUIRE(r.arrival_date);
  CHECK(*r.arrival_date == 1727776800);
  CHECK(result.bounce->recipients[1].remote_mta.empty());
  CHECK(result.bounce->recipients[1].reporting_mta == "mx.example.net");
}

TEST_CASE("bounce: Amazon SES fields", "[parse]") {
  auto result = parse_raw(ses_message(kSesBounce));
  REQUIRE(result.bounce);
  REQUIRE_FALSE(result.bounce->recipients.empty());
  const auto& r = result.bounce->recipients[0];
  CHECK(r.reporting_mta == "a27-23.smtp-out.us-west-2.amazonses.com");
  REQUIRE(r.arrival_date);
  CHECK(*r.arrival_date == 1477008399);
  CHECK(result.issues.empty());

  auto broken = parse_raw(ses_message(R"({"notificationType":"Bounce","bounce":{"bouncedRecipients":[1,]}})"));
  CHECK_FALSE(broken.bounce);
  CHECK(has_code(broken.issues, "bounce.bad_json"));
}

TEST_CASE("bounce: raw ISO-2022-JP in Diagnostic-Code is decoded to UTF-8", "[parse]") {
  auto raw = dsn_message("DELIVERY FAILURE",
                         "Reporting-MTA: dns;mx.example.co.jp\n\n"
                         "Final-Recipient: rfc822;neko@example.co.jp\n"
                         "Action: failed\n"
                         "Status: 5.0.0\n"
                         "Diagnostic-Code: X-Notes; \x1b$B%f!<%6!<\x1b(BNeko \x1b$B$O\x1b(B Domino "
                         "\x1b$B%G%#%l%/%H%j$K$O8+$D$+$j$^$;$s!#\x1b(B\n");
  auto result = parse_raw(raw);
  REQUIRE(result.bounce);
  REQUIRE(result.bounce->recipients.size() == 1);
  const auto& r = result.bounce->recipients[0];
  CHECK(r.diagnostic_code == "X-Notes; ユーザーNeko は Domino ディレクトリには見つかりません。");
  CHECK(r.status == "5.0.0");
  CHECK(r.bounce_class == "hard");
}

TEST_CASE("bounce: at most 1000 recipients per message", "[parse]") {
  // RFC 6533 "utf-8;" address types: mime::parse_tree refuses a message with
  // more than 64 "rfc822" strings (it counts them as embedded messages).
  std::string groups = "Reporting-MTA: dns; mx.example.net\n";
  std::string json = R"({"notificationType":"Bounce","bounce":{"bouncedRecipients":[)";
  std::string text = "From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n\n"
                     "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n";
  for (int i = 0; i < 1200; ++i) {
    std::string a = "user" + std::to_string(i) + "@example.com";
    groups += "\nFinal-Recipient: utf-8; " + a + "\nAction: failed\nStatus: 5.1.1\n";
    json += (i ? "," : "") + std::string(R"({"emailAddress":")") + a + "\"}";
    text += "<" + a + ">:\nSorry, no mailbox here by that name. (#5.1.1)\n\n";
  }
  json += "]}}";
  auto raw = GENERATE_COPY(dsn_message("Undelivered Mail Returned to Sender", groups), ses_message(json), text);
  auto result = parse_raw(raw);
  REQUIRE(result.bounce);
  CHECK(result.bounce->recipients.size() == 1000);
  CHECK(result.bounce->recipients.back().recipient == "user999@example.com");
  CHECK(has_code(result.issues, "bounce.too_many_recipients"));
}

TEST_CASE("bounce: hostile input never throws", "[parse]") {
  std::string deep = "{\"notificationType\":\"Bounce\",\"bounce\":" + std::string(100000, '[') + "\n";
  std::string bad_types =
      R"({"notificationType":"Bounce","bounce":{"bouncedRecipients":[1,"x",{"emailAddress":7},{"emailAddress":"ok@example.com","status":5}]}})";
  auto body = GENERATE_COPY(as<std::string>{}, deep, bad_types, std::string("{\"notificationType\":"),
                            std::string(200000, '<') + "@x.y>:");
  auto raw = ses_message(body);
  CHECK_NOTHROW(parse_raw(raw));
  auto result = parse_raw(raw);
  if (result.bounce)
    for (const auto& r : result.bounce->recipients) CHECK(r.recipient == "ok@example.com");
}

TEST_CASE("bounce: auto-replies", "[parse]") {
  struct Row {
    std::string headers;
    bool auto_reply;
  };
  auto row = GENERATE(Row{"Auto-Submitted: auto-replied\nSubject: Away", true},
                      Row{"Auto-Submitted: auto-replied; owner-email=\"jane@example.com\"\nSubject: x", true},
                      Row{"Auto-Submitted: no\nSubject: Quarterly figures", false},
                      Row{"Auto-Submitted: auto-generated\nSubject: Report domain: example.com", false},
                      Row{"X-Autoreply: yes\nSubject: Re: hi", true}, Row{"X-Autorespond: 1\nSubject: hi", true},
                      Row{"Precedence: auto_reply\nSubject: hi", true}, Row{"Precedence: bulk\nSubject: news", false},
                      Row{"Subject: Automatic reply: Quarterly figures", true},
                      Row{"Subject: Auto: Quarterly figures", true}, Row{"Subject: Autoreply: hi", true},
                      Row{"Subject: Out of Office: hi", true}, Row{"Subject: Abwesenheitsnotiz: hi", true},
                      Row{"Subject: =?utf-8?Q?R=C3=A9ponse_automatique_:_hi?=", true},
                      Row{"Subject: =?ISO-8859-1?Q?R=E9ponse_automatique?=", true},
                      Row{"Subject: Quarterly figures", false},
                      // Exim's bounces carry Auto-Submitted: auto-replied.
                      Row{"From: Mail Delivery System <Mailer-Daemon@example.net>\nAuto-Submitted: auto-replied\n"
                          "Subject: Mail delivery failed",
                          false});
  INFO(row.headers);
  std::string raw = row.headers + "\n";
  if (row.headers.find("From:") == std::string::npos) raw = "From: Jane <jane@example.com>\n" + raw;
  raw += "To: sender@example.org\n\nbody\n";
  CHECK(parse::is_auto_reply(mime::parse_tree(raw, Limits{})) == row.auto_reply);
  if (row.auto_reply) CHECK_FALSE(parse_raw(raw).bounce);
}

TEST_CASE("bounce: a failure report marked auto-replied is neither auto-reply nor bounce", "[parse]") {
  const char* raw = R"EOF(From: no-reply@mailgate.example.net
To: dmarc@example.com
Subject: DMARC Forensic Report for example.com from IP 203.0.113.68
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="zz"

--zz
Content-Type: text/plain

A message claiming to be from you has failed the published DMARC policy for your domain.
--zz--
)EOF";
  auto tree = mime::parse_tree(raw, Limits{});
  CHECK_FALSE(parse::is_auto_reply(tree));
  CHECK_FALSE(parse::parse_bounce(tree).bounce);
}

TEST_CASE("bounce: classify_bounce", "[parse]") {
  struct Row {
    std::string action, status, diagnostic, klass;
  };
  auto row = GENERATE(Row{"failed", "5.1.1", "", "hard"}, Row{"failed", "5.1.10", "", "hard"},
                      Row{"failed", "5.1.2", "", "hard"}, Row{"failed", "5.2.1", "", "hard"},
                      Row{"failed", "5.4.4", "Host or domain name not found", "hard"},
                      Row{"failed", "5.0.0", "smtp; 550 5.1.1 <a@b.example>... User Unknown", "hard"},
                      Row{"failed", "5.0.0", "smtp; 550 #5.1.0 Address rejected.", "hard"},
                      Row{"failed", "5.0.0", "unknown; No such domain.", "hard"},
                      Row{"failed", "5.5.0", "550 Unknown user a@b.example", "hard"},
                      Row{"", "", "The recipient name is not recognized", "hard"},
                      Row{"failed", "4.4.1", "connect to example.com: Connection timed out", "soft"},
                      Row{"failed", "4.2.2", "Over quota", "soft"}, Row{"delayed", "4.4.7", "", "soft"},
                      Row{"delayed", "", "", "soft"}, Row{"delayed", "5.1.1", "", "soft"},
                      Row{"failed", "5.2.2", "", "soft"}, Row{"failed", "", "451 try again later", "soft"},
                      Row{"failed", "5.7.1", "", "policy"}, Row{"failed", "5.7.509", "does not pass DMARC", "policy"},
                      Row{"failed", "5.0.0", "smtp; 550 5.7.1 Fix reverse DNS for 203.0.113.2", "policy"},
                      Row{"failed", "5.0.0", "Message rejected as spam", "policy"},
                      Row{"failed", "", "554 blocked using zen.spamhaus.org", "policy"},
                      Row{"failed", "5.0.0", "", "unknown"}, Row{"failed", "", "", "unknown"},
                      Row{"failed", "5.0.0", "something else went wrong", "unknown"},
                      Row{"delivered", "2.0.0", "", "unknown"}, Row{"relayed", "", "", "unknown"},
                      Row{"failed", "5.0.0", "host 192.0.2.153 said: bad thing", "unknown"});
  INFO(row.action << " | " << row.status << " | " << row.diagnostic);
  CHECK(parse::classify_bounce(row.action, row.status, row.diagnostic) == row.klass);
}
