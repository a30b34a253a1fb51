// Fuzz target: bytes as an e-mail through parse_tree and parse_feedback (ARF,
// auth-failure, JMRP, plain-text failure reports), and as a date and an
// address field through parse_mail_date and address_of. Checks what
// model/feedback.h promises about each report and that dates read back.
// Built as a libFuzzer target with clang (-DDMARQ_FUZZ=ON) and, with GCC, as
// a replayer (see replay_main.cpp).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "dmarq/mime/tree.h"
#include "dmarq/parse/feedback.h"
#include "dmarq/util/text.h"

namespace {

using dmarq::model::Feedback;

void expect(bool ok) {
  if (!ok) __builtin_trap();
}

bool is_lower(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

bool is_trimmed(std::string_view s) { return dmarq::util::trim_xml_space(s).size() == s.size(); }

bool ip_round_trips(const dmarq::model::IpAddress& ip) {
  auto back = dmarq::model::parse_ip(ip.to_string());
  return back && *back == ip;
}

// `t` written as an RFC 5322 date-time in UTC; empty when its year has no
// four-digit form.
std::string rfc5322(int64_t t) {
  using namespace std::chrono;
  const sys_seconds tp{seconds{t}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 1000 || year > 9999) return {};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%u %s %04d %02d:%02d:%02d +0000", static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1], year, static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

// A date that parse_mail_date read comes back unchanged when written out in
// the standard form.
void check_date(std::string_view text) {
  const auto t = dmarq::parse::parse_mail_date(text);
  if (text.size() > 200) expect(!t);
  if (!t) return;
  // Years have at most four characters (the ISO form takes "-999"), zones
  // move a time by less than a day.
  expect(*t > -94'000'000'000LL && *t < 253'402'300'800LL + 86'400);
  if (const std::string again = rfc5322(*t); !again.empty()) expect(dmarq::parse::parse_mail_date(again) == t);
}

void check_report(const Feedback& f) {
  expect(f.kind == "arf" || f.kind == "failure" || f.kind == "jmrp");
  if (f.kind == "failure") expect(f.feedback_type == "auth-failure");
  if (f.kind == "arf") expect(f.feedback_type != "auth-failure");
  if (f.kind == "jmrp") expect(f.feedback_type == "abuse");
  expect(is_lower(f.feedback_type) && is_lower(f.auth_failure) && is_lower(f.delivery_result) &&
         is_lower(f.identity_alignment));
  for (const auto& r : f.original_rcpt_to) expect(!r.empty() && is_lower(r));
  for (const auto& d : f.reported_domain) expect(!d.empty() && is_lower(d));
  expect(is_trimmed(f.original_mail_from) && is_trimmed(f.removal_recipient) && is_trimmed(f.reporting_mta));
  // The parsed forms come from the text kept beside them.
  if (f.source_ip) expect(!f.source_ip_text.empty() && ip_round_trips(*f.source_ip));
  if (f.arrival_date) expect(!f.arrival_date_text.empty());
  if (!f.arrival_date_text.empty()) expect(dmarq::parse::parse_mail_date(f.arrival_date_text) == f.arrival_date);
  expect(f.part.empty() || f.part.find_first_not_of("0123456789.") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const dmarq::mime::Tree tree = dmarq::mime::parse_tree(bytes, dmarq::Limits{});
  const dmarq::parse::FeedbackResult result = dmarq::parse::parse_feedback(tree);
  // Bad input only ever yields warnings here: the message is still read.
  for (const auto& i : result.issues)
    expect(!i.code.empty() && !i.message.empty() && i.severity == dmarq::model::Severity::warning);
  for (const auto& f : result.reports) check_report(f);
  // A JMRP complaint or a plain-text failure report is the whole message.
  if (!result.reports.empty() && result.reports.front().part.empty()) expect(result.reports.size() == 1);
  for (const auto& f : result.reports)
    if (f.kind == "jmrp") expect(result.reports.size() == 1);
  // Pure: the same tree gives the same reports.
  expect(dmarq::parse::parse_feedback(tree).reports.size() == result.reports.size());

  check_date(bytes);
  if (auto date = tree.root.header.get("Date")) check_date(*date);

  // address_of: a trimmed piece of the field with no '<' left in it, so a
  // second pass changes nothing.
  const std::string address = dmarq::parse::address_of(bytes);
  expect(bytes.find(address) != std::string_view::npos);
  expect(address.find('<') == std::string::npos && is_trimmed(address));
  expect(dmarq::parse::address_of(address) == address);
  return 0;
}
