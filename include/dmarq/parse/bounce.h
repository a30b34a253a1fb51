// Delivery status notifications: RFC 3464 (message/delivery-status, per
// recipient) and the common non-standard bounces (qmail, Exim/Gmail with
// X-Failed-Recipients, Exchange and Domino text, Amazon SES JSON, ...), and
// auto-replies, which are never bounces. Tolerated forms are listed in
// QUIRKS.md.
//
// Pure functions over a parsed MIME tree; never throw for bad input.
#pragma once

#include <optional>
#include <string_view>

#include "dmarq/mime/tree.h"
#include "dmarq/model/feedback.h"
#include "dmarq/model/issue.h"

namespace dmarq::parse {

// True for an automatic reply (RFC 3834 Auto-Submitted: auto-replied,
// X-Autoreply, X-Autorespond, Precedence: auto_reply, vacation/out-of-office
// subjects, RFC 2047-decoded, in a dozen languages), which is never a bounce.
// Never true for what a mail system sends (From MAILER-DAEMON, postmaster or
// "Mail Delivery ...", X-Failed-Recipients, a delivery-status part) nor for a
// multipart/report: Exim marks its bounces, and some DMARC failure-report
// generators their reports, "Auto-Submitted: auto-replied".
bool is_auto_reply(const mime::Tree& tree);

struct BounceResult {
  std::optional<model::Bounce> bounce;  // nullopt: not a bounce
  model::Issues issues;
};

// A bounce or delay notice, with one entry per recipient; nullopt for
// anything else (auto-replies, delivery successes, ordinary mail, Amazon SES
// Delivery and Complaint notifications).
//
// The first message/delivery-status part (pre-order, at any depth) makes it
// an RFC 3464 bounce, unless every recipient was delivered, relayed or
// expanded. Without one, the notification text (never an attached original)
// is read for the non-standard forms, and an SES JSON notification for its
// bouncedRecipients. At most 1000 recipients (warning
// bounce.too_many_recipients); a bounce whose recipients cannot be read is
// still one, with warning bounce.no_recipients.
BounceResult parse_bounce(const mime::Tree& tree);

// hard (permanent address/host failure: 5.1.x, 5.2.1, 5.4.4, user-unknown or
// no-such-domain text), soft (4.x.x, Action delayed, 5.2.2 mailbox full,
// 5.4.7 expired), policy (5.7.x, blocks, spam, RBL, DMARC or reverse-DNS
// rejections), or unknown (also for delivered/relayed/expanded). The status
// code decides first; when it is generic (X.0.0, 5.5.0) or absent, the code
// in the diagnostic, then its words.
std::string classify_bounce(std::string_view action, std::string_view status, std::string_view diagnostic);

}  // namespace dmarq::parse
