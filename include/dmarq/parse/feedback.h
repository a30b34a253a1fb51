// Feedback-loop and failure reports: ARF (RFC 5965), auth-failure (RFC 6591,
// RFC 9991), Microsoft JMRP in both its forms, and plain-text DMARC failure
// reports without an ARF part (Exim/cPanel style). Tolerated quirks are
// listed in QUIRKS.md.
//
// Pure functions over a parsed MIME tree; never throw for bad input.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "dmarq/mime/tree.h"
#include "dmarq/model/feedback.h"
#include "dmarq/model/issue.h"

namespace dmarq::parse {

struct FeedbackResult {
  std::vector<model::Feedback> reports;  // usually one; empty when the message is none of these
  model::Issues issues;                  // warnings about tolerated oddities
};

// Reads every ARF/failure report in the message, or the JMRP complaint, or a
// plain-text failure report. Empty when the message is none of them.
FeedbackResult parse_feedback(const mime::Tree& tree);

// RFC 5322 date-time (and the common obsolete forms: named US zones, "-0000",
// missing seconds or weekday) to UTC seconds; nullopt when unreadable.
std::optional<int64_t> parse_mail_date(std::string_view text);

// The address in an address field: the part inside <> if any, else the
// trimmed text; "" when there is none. Case kept.
std::string address_of(std::string_view field);

}  // namespace dmarq::parse
