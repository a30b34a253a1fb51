#include <catch2/catch.hpp>

#include <limits>

#include "dmarq/analyze/days.h"

using dmarq::analyze::DayShare;
using dmarq::analyze::split_days;
using dmarq::analyze::utc_day;

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t k2024_10_14 = 1728864000;  // 2024-10-14T00:00:00Z

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

std::vector<uint64_t> counts(const std::vector<DayShare>& shares) {
  std::vector<uint64_t> out;
  for (const auto& s : shares) out.push_back(s.count);
  return out;
}

std::vector<int64_t> days(const std::vector<DayShare>& shares) {
  std::vector<int64_t> out;
  for (const auto& s : shares) out.push_back(s.day);
  return out;
}

}  // namespace

TEST_CASE("days: utc_day floors to midnight UTC, also before 1970", "[analyze]") {
  struct Row {
    int64_t t, day;
  };
  const Row rows[] = {
      {0, 0},
      {1, 0},
      {kDay - 1, 0},
      {kDay, kDay},
      {k2024_10_14, k2024_10_14},
      {k2024_10_14 + 34804, k2024_10_14},  // 09:40:04
      {k2024_10_14 - 1, k2024_10_14 - kDay},
      {-1, -kDay},
      {-kDay, -kDay},
      {-kDay - 1, -2 * kDay},
      {-kDay + 1, -kDay},
      {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max() / kDay * kDay},
      {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min()},  // no midnight before it
  };
  for (const auto& row : rows) {
    INFO(row.t);
    CHECK(utc_day(row.t) == row.day);
  }
}

TEST_CASE("days: split_days spreads a count over the UTC days of a range", "[analyze]") {
  const int64_t d = k2024_10_14;
  struct Row {
    std::string what;
    int64_t begin, end;
    uint64_t count;
    std::vector<int64_t> days;
    std::vector<uint64_t> counts;
    int max_days = 366;
  };
  const Row rows[] = {
      {"inside one day", d + 3600, d + 7200, 10, {d}, {10}},
      {"a whole day, 23:59:59 end", d, d + kDay - 1, 10, {d}, {10}},
      {"a whole day, next 00:00:00 end", d, d + kDay, 10, {d}, {10}},
      {"one second into the next day", d, d + kDay + 1, 86401, {d, d + kDay}, {86400, 1}},
      {"two days 50/50, odd count: tie to the earlier day", d + kDay / 2, d + kDay + kDay / 2, 3,
       {d, d + kDay},
       {2, 1}},
      {"two days 50/50, even count", d + kDay / 2, d + kDay + kDay / 2, 4, {d, d + kDay}, {2, 2}},
      {"one message over two days", d + kDay / 2, d + kDay + kDay / 2, 1, {d, d + kDay}, {1, 0}},
      // 1/4, 1/2, 1/4 of 10 = 2.5, 5, 2.5: one unit left, the earlier tie wins.
      {"three days, tie on the ends", d + kDay / 2, d + 2 * kDay + kDay / 2, 10, {d, d + kDay, d + 2 * kDay},
       {3, 5, 2}},
      // 1/6, 2/3, 1/6 of 10 = 1.67, 6.67, 1.67: two units left, a three-way tie, earliest first.
      {"three days uneven", d + 3 * kDay / 4, d + 2 * kDay + kDay / 4, 10, {d, d + kDay, d + 2 * kDay}, {2, 7, 1}},
      // 1/9, 2/3, 2/9 of 4 = 0.44, 2.67, 0.89: the later days have the larger remainders.
      {"largest remainder beats the earlier day", d + 5 * kDay / 6, d + 2 * kDay + kDay / 3, 4,
       {d, d + kDay, d + 2 * kDay},
       {0, 3, 1}},
      {"count 0 still lists the days", d + kDay / 2, d + kDay + kDay / 2, 0, {d, d + kDay}, {0, 0}},
      {"end equal to begin", d + 100, d + 100, 5, {d}, {5}},
      {"end before begin", d + kDay + 100, d + 100, 5, {d + kDay}, {5}},
      {"negative times", -kDay - 10, -kDay + 10, 4, {-2 * kDay, -kDay}, {2, 2}},
      {"across the epoch", -kDay / 2, kDay / 2, 3, {-kDay, 0}, {2, 1}},
      {"huge count", d + kDay / 2, d + kDay + kDay / 2, uint64_t{1} << 62, {d, d + kDay},
       {uint64_t{1} << 61, uint64_t{1} << 61}},
      {"largest count, odd", d + kDay / 2, d + kDay + kDay / 2, std::numeric_limits<uint64_t>::max(), {d, d + kDay},
       {std::numeric_limits<uint64_t>::max() / 2 + 1, std::numeric_limits<uint64_t>::max() / 2}},
      {"clamped to max_days", d, d + 10 * kDay, 9, {d, d + kDay, d + 2 * kDay}, {3, 3, 3}, 3},
      {"clamped, partial first day", d + kDay / 2, d + 10 * kDay, 5, {d, d + kDay}, {2, 3}, 2},
      {"max_days 0 counts as 1", d, d + 10 * kDay, 9, {d}, {9}, 0},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    auto shares = split_days(row.begin, row.end, row.count, row.max_days);
    CHECK(days(shares) == row.days);
    CHECK(counts(shares) == row.counts);
  }
}

TEST_CASE("days: split_days at the ends of the int64 range", "[analyze]") {
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  auto whole = split_days(min, max, 1000);
  REQUIRE(whole.size() == 366);
  CHECK(whole[0].day == min);
  uint64_t sum = 0;
  for (const auto& s : whole) sum += s.count;
  CHECK(sum == 1000);

  auto last = split_days(max - 10, max, 7);
  REQUIRE(last.size() == 1);
  CHECK(last[0].day == utc_day(max));
  CHECK(last[0].count == 7);
}

TEST_CASE("days: split_days always sums to the count, each share within a unit of exact", "[analyze]") {
  uint64_t state = 0x2545F4914F6CDD1Dull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int n = 0; n < 20000; ++n) {
    const int64_t begin = k2024_10_14 + static_cast<int64_t>(next() % (40 * kDay)) - 20 * kDay;
    int64_t length;
    switch (next() % 4) {
      case 0: length = static_cast<int64_t>(next() % 10); break;  // includes 0: end == begin
      case 1: length = static_cast<int64_t>(next() % (3 * kDay)); break;
      case 2: length = static_cast<int64_t>(next() % (400 * kDay)); break;
      default: length = static_cast<int64_t>(next() % kDay) * 7; break;
    }
    const int64_t end = begin + length;
    uint64_t count;
    switch (next() % 3) {
      case 0: count = next() % 10; break;
      case 1: count = next() % 100000; break;
      default: count = next(); break;
    }
    const int max_days = next() % 2 ? 366 : static_cast<int>(next() % 10) + 1;
    INFO("begin " << begin << " end " << end << " count " << count << " max_days " << max_days);

    auto shares = split_days(begin, end, count, max_days);
    REQUIRE(!shares.empty());
    REQUIRE(shares.size() <= static_cast<std::size_t>(max_days));
    u128 sum = 0;
    for (const auto& s : shares) sum += s.count;
    REQUIRE(sum == count);
    if (end <= begin) {
      REQUIRE(shares.size() == 1);
      REQUIRE(shares[0].day == utc_day(begin));
      continue;
    }
    REQUIRE(shares[0].day == utc_day(begin));
    // The range the count is spread over, after clamping.
    const i128 hi = std::min<i128>(end, static_cast<i128>(shares[0].day) + static_cast<i128>(max_days) * kDay);
    const i128 total = hi - begin;
    for (std::size_t i = 0; i < shares.size(); ++i) {
      if (i > 0) REQUIRE(shares[i].day == shares[i - 1].day + kDay);
      const i128 ds = shares[i].day;
      const i128 overlap = std::min<i128>(hi, ds + kDay) - std::max<i128>(begin, ds);
      REQUIRE(overlap > 0);  // every listed day overlaps by at least one second
      const u128 exact = static_cast<u128>(count) * static_cast<u128>(overlap);
      const u128 floor = exact / static_cast<u128>(total);
      const u128 ceiling = floor + (exact % static_cast<u128>(total) != 0 ? 1 : 0);
      REQUIRE(shares[i].count >= floor);
      REQUIRE(shares[i].count <= ceiling);
    }
    // Every day that [begin, hi) touches is listed.
    REQUIRE(shares.back().day == utc_day(static_cast<int64_t>(hi - 1)));
  }
}
