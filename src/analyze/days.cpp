// UTC day arithmetic and the largest-remainder split. Written by hand: it is a
// few lines of integer arithmetic, and it must be exact (no floating point)
// for counts up to 2^64 - 1, which no calendar library promises.
#include "dmarq/analyze/days.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace dmarq::analyze {

namespace {

// count * overlap needs up to 64 + 17 bits; __extension__ keeps -Wpedantic quiet.
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

constexpr int64_t kDay = 86400;

// floor(t / kDay): C++ division truncates toward zero, which is wrong before 1970.
int64_t day_index(int64_t t) {
  int64_t q = t / kDay;
  return t % kDay < 0 ? q - 1 : q;
}

// The midnight of day `index`. Only the 86399 seconds before the first
// midnight representable in int64 have no midnight of their own; they get
// the smallest int64 rather than a value that wrapped around.
int64_t day_start(int64_t index) {
  i128 s = static_cast<i128>(index) * kDay;
  return s < std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::min() : static_cast<int64_t>(s);
}

}  // namespace

int64_t utc_day(int64_t t) { return day_start(day_index(t)); }

std::vector<DayShare> split_days(int64_t begin, int64_t end, uint64_t count, int max_days) {
  if (end <= begin) return {DayShare{utc_day(begin), count}};
  // A caller asking for no days still gets the count somewhere.
  const int64_t limit = std::max(max_days, 1);

  const int64_t first = day_index(begin);
  const int64_t last = day_index(end - 1);  // the last day with at least one second of [begin, end)
  const int64_t n = std::min<int64_t>(last - first + 1, limit);

  // Clamping the range (not just dropping later days) keeps the sum exact.
  const i128 lo = begin;
  const i128 hi = std::min<i128>(end, (static_cast<i128>(first) + n) * kDay);
  const u128 total = static_cast<u128>(hi - lo);

  std::vector<DayShare> out(static_cast<std::size_t>(n));
  std::vector<u128> remainder(out.size());
  uint64_t given = 0;
  for (int64_t i = 0; i < n; ++i) {
    const i128 ds = static_cast<i128>(first + i) * kDay;
    const i128 overlap = std::min<i128>(hi, ds + kDay) - std::max<i128>(lo, ds);
    const u128 exact = static_cast<u128>(count) * static_cast<u128>(overlap);
    auto& share = out[static_cast<std::size_t>(i)];
    share.day = day_start(first + i);
    share.count = static_cast<uint64_t>(exact / total);
    remainder[static_cast<std::size_t>(i)] = exact % total;
    given += share.count;
  }

  // The floors leave fewer than n units; each goes to one of the days with
  // the largest remainders, the earlier day first on a tie (stable sort).
  uint64_t left = count - given;
  std::vector<std::size_t> order(out.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainder[a] > remainder[b]; });
  for (std::size_t k = 0; k < order.size() && left > 0; ++k, --left) ++out[order[k]].count;
  return out;
}

void day_shares(int64_t begin, int64_t end, uint64_t count, std::vector<DayShare>& out) {
  out.clear();
  const int64_t first = utc_day(begin);
  if (end <= begin || utc_day(end - 1) == first) {
    out.push_back({first, count});
    return;
  }
  out = split_days(begin, end, count);
}

DayRange report_days(int64_t begin, int64_t end) {
  const int64_t first = utc_day(begin);
  if (end <= begin) return {first, first};
  const int64_t last = std::min<int64_t>(day_index(end - 1), day_index(begin) + 365);
  return {first, day_start(last)};
}

}  // namespace dmarq::analyze
