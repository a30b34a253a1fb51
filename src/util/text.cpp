#include "dmarq/util/text.h"

#include <charconv>
#include <chrono>

#include <fmt/format.h>

namespace dmarq::util {

std::string_view trim_xml_space(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// std::chrono's civil calendar keeps this independent of TZ and gmtime_r.
std::string iso8601_utc(int64_t t) {
  using namespace std::chrono;
  sys_seconds tp{seconds{t}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::string iso_date_utc(int64_t t) { return iso8601_utc(t).substr(0, 10); }

std::optional<int64_t> parse_iso_utc(std::string_view s) {
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    // Digits only: from_chars would also take a sign ("-999-01-01", "T-1:-1").
    for (std::size_t i = pos; i < pos + len; ++i)
      if (s[i] < '0' || s[i] > '9') return false;
    auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return r.ec == std::errc{} && r.ptr == s.data() + pos + len;
  };
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d))
    return std::nullopt;
  if (s.size() > 10) {
    if (s.size() < 19 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
        !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, se))
      return std::nullopt;
    std::string_view rest = s.substr(19);
    if (!(rest.empty() || rest == "Z")) return std::nullopt;
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  return sys_days{ymd}.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60 + se;
}

}  // namespace dmarq::util
