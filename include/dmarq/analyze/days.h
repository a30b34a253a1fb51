// Splitting a report's date range into UTC days.
//
// A record counts `count` messages over [begin, end]. Per-day views spread
// them over the UTC days the range overlaps, in proportion to the overlap,
// with the largest-remainder method so that the parts always sum to `count`
// exactly (ties go to the earlier day). A range with end <= begin counts
// wholly on the day of `begin`.
#pragma once

#include <cstdint>
#include <vector>

namespace dmarq::analyze {

// Seconds since the epoch of the UTC midnight on or before `t` (floor, also
// before 1970). The few instants before the first midnight int64 can hold
// give INT64_MIN.
int64_t utc_day(int64_t t);

struct DayShare {
  int64_t day = 0;     // UTC midnight, seconds since the epoch
  uint64_t count = 0;  // may be 0 for a day with a small overlap
};

// The shares of `count` messages over the UTC days that the half-open range
// [begin, end) overlaps by at least one second, in day order (so both
// "00:00:00 to 23:59:59" and "00:00:00 to next 00:00:00" are one day).
// Never more than `max_days` entries (a max_days below 1 counts as 1): a
// longer range is clamped to its first max_days days, and the whole count is
// spread over the clamped range.
std::vector<DayShare> split_days(int64_t begin, int64_t end, uint64_t count, int max_days = 366);

// split_days with the default limit into `out` (cleared first), without
// allocating for the common report that covers one UTC day. The analyzer
// and the rollups both count through here, so they agree to the message.
void day_shares(int64_t begin, int64_t end, uint64_t count, std::vector<DayShare>& out);

// The first and last UTC midnights that day_shares gives entries for.
struct DayRange {
  int64_t first = 0, last = 0;
};
DayRange report_days(int64_t begin, int64_t end);

}  // namespace dmarq::analyze
