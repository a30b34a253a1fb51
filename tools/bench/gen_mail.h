// RFC 5322 / MIME framing for dmarq-gen messages.
//
// Guarantees: LF line ends throughout; headers From, To, Subject, Date,
// Message-ID and MIME-Version; a multipart/mixed body whose first part is a
// short text/plain note and whose second part is the report as a base64
// attachment. Every header value is ASCII, so no encoded-words are needed.
// Dates are formatted from the given time in UTC (gmtime_r, fixed English
// names) and never depend on the clock, locale or TZ.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "gen_report.h"

namespace dmarq::gen {

struct MailHead {
  const Org* org = nullptr;
  std::string to;
  std::string subject;
  int64_t date = 0;
  std::string message_id;
  std::string boundary;
};

struct AttachmentInfo {
  std::string_view content_type;  // application/zip, application/gzip, text/xml
  std::string filename;
};

// "Sun, 01 Nov 2026 03:12:45 +0000"
inline std::string rfc5322_date(int64_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

inline std::string from_header(const Org& org) {
  if (org.display_name.empty()) return std::string(org.email);
  return "\"" + std::string(org.display_name) + "\" <" + std::string(org.email) + ">";
}

// Everything up to the attachment's base64 body.
inline std::string message_head(const MailHead& h, const AttachmentInfo& a) {
  std::string m;
  m.reserve(1024);
  m += "From: " + from_header(*h.org) + "\n";
  m += "To: " + h.to + "\n";
  m += "Subject: " + h.subject + "\n";
  m += "Date: " + rfc5322_date(h.date) + "\n";
  m += "Message-ID: <" + h.message_id + ">\n";
  m += "MIME-Version: 1.0\n";
  m += "Content-Type: multipart/mixed; boundary=\"" + h.boundary + "\"\n";
  m += "\n";
  m += "This is a multi-part message in MIME format.\n";
  m += "\n--" + h.boundary + "\n";
  m += "Content-Type: text/plain; charset=\"us-ascii\"\n";
  m += "Content-Transfer-Encoding: 7bit\n";
  m += "\n";
  m += "This is an aggregate DMARC report from " + std::string(h.org->submitter) + ".\n";
  m += "Please do not reply to this message.\n";
  m += "\n--" + h.boundary + "\n";
  m += "Content-Type: " + std::string(a.content_type) + "; name=\"" + a.filename + "\"\n";
  m += "Content-Disposition: attachment; filename=\"" + a.filename + "\"\n";
  m += "Content-Transfer-Encoding: base64\n";
  m += "\n";
  return m;
}

// Closes the multipart body after the base64 lines.
inline std::string message_tail(const MailHead& h) { return "\n--" + h.boundary + "--\n"; }

}  // namespace dmarq::gen
