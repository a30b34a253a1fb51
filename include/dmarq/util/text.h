// Small text helpers shared by the parsers and writers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarq::util {

// Trims XML white space (space, TAB, CR, LF) only, as the XML spec defines it.
std::string_view trim_xml_space(std::string_view s);
std::string to_lower_ascii(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Seconds since the epoch, UTC, as ISO 8601 "2024-10-14T09:40:04Z".
// Independent of TZ and the C locale.
std::string iso8601_utc(int64_t epoch_seconds);
// "2024-10-14"
std::string iso_date_utc(int64_t epoch_seconds);
// Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" as UTC.
std::optional<int64_t> parse_iso_utc(std::string_view text);

}  // namespace dmarq::util
