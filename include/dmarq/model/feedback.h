// Feedback-loop complaints and DMARC failure reports (RFC 5965 ARF, RFC 6591
// auth-failure, RFC 9991), Microsoft JMRP, and delivery status notifications
// (RFC 3464 bounces and the common non-standard ones).
//
// Text fields hold what the message said, unfolded and trimmed; "" means
// absent. Times are seconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dmarq/model/ip.h"

namespace dmarq::model {

// The complained-about (or failing) message, from its headers only: the body
// is never kept.
struct ReportedMessage {
  std::string from, to, subject, message_id, date, list_unsubscribe, return_path;
  std::string dkim_domain, dkim_selector;  // first DKIM-Signature's d= and s=
  bool headers_only = false;               // text/rfc822-headers rather than a whole message
};

struct Feedback {
  std::string kind;           // "arf", "failure" or "jmrp"
  std::string feedback_type;  // lower case: abuse, fraud, auth-failure, opt-out, ...; JMRP: abuse
  std::string user_agent;
  std::string version;
  std::string original_envelope_id;
  std::string original_mail_from;             // the address inside <> if any, case kept
  std::vector<std::string> original_rcpt_to;  // addresses inside <> if any, lower case, every one
  std::optional<int64_t> arrival_date;        // Arrival-Date (or pre-RFC Received-Date), UTC
  std::string arrival_date_text;              // as written
  std::string reporting_mta;                  // the name after "dns;"
  std::string source_ip_text;                 // as written
  std::optional<IpAddress> source_ip;         // canonical, trailing "(rdns)" text cut off
  std::optional<uint64_t> incidents;
  std::vector<std::string> authentication_results;
  std::vector<std::string> reported_domain;   // lower case
  std::vector<std::string> reported_uri;
  std::string removal_recipient;
  std::string auth_failure;                   // lower case
  std::string delivery_result;
  std::string dkim_domain, dkim_identity, dkim_selector;
  std::string spf_dns;
  std::string identity_alignment;
  ReportedMessage original;
  std::string part;                           // IMAP section of the feedback part ("" for JMRP original form / text)
};

struct BounceRecipient {
  std::string recipient;           // Final-Recipient address (no "rfc822;", no <>), lower case; or from the text / SES JSON
  std::string original_recipient;  // Original-Recipient address, if given
  std::string action;              // lower case: failed, delayed, delivered, relayed, expanded; "" when the message has none
  std::string status;              // the first enhanced code d.d.d in Status (comments dropped, never taken from
                                   // Diagnostic-Code); or the one the text / SES JSON gives; or ""
  std::string diagnostic_code;     // as written (unfolded); raw ISO-2022-JP (ESC sequences, Domino) decoded to UTF-8
  std::string remote_mta;          // name after "dns;"
  std::string reporting_mta;       // name after "dns;" (the message's, when the recipient has none)
  std::optional<int64_t> arrival_date;  // the per-message Arrival-Date (SES: the mail's timestamp)
  std::string bounce_class;        // "hard", "soft", "policy" or "unknown" (see parse::classify_bounce)
};

struct Bounce {
  bool rfc3464 = false;  // a message/delivery-status part was found
  std::vector<BounceRecipient> recipients;
};

}  // namespace dmarq::model
