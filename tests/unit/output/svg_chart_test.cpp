#include "dmarq/output/svg_chart.h"

#include <catch2/catch.hpp>

#include "support/support.h"

using namespace dmarq::output;

namespace {

constexpr int64_t kOct1 = 1790812800;  // 2026-10-01T00:00:00Z
constexpr int64_t kDay = 86400;

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

DailyChart week() {
  DailyChart c;
  c.title = "A week <of> mail";
  for (int i = 0; i < 7; ++i) c.days.push_back(kOct1 + i * kDay);
  c.stacks = {{"pass", "s-pass", {120, 0, 80, 95, 0, 1, 250}},
              {"fail, known", "s-known", {10, 0, 5, 0, 0, 0, 3}},
              {"fail, unknown", "s-unknown", {2, 0, 0, 40, 0, 0, 1}}};
  c.rate = {120.0 / 132 * 100, std::nullopt, 80.0 / 85 * 100, 95.0 / 135 * 100, std::nullopt, 100.0, 250.0 / 254 * 100};
  c.rate_name = "pass %";
  return c;
}

}  // namespace

TEST_CASE("svg_chart: numbers are grouped and compacted without the locale", "[output][html]") {
  CHECK(group_digits(0) == "0");
  CHECK(group_digits(999) == "999");
  CHECK(group_digits(1000) == "1,000");
  CHECK(group_digits(1234567) == "1,234,567");
  CHECK(group_digits(18446744073709551615ull) == "18,446,744,073,709,551,615");
  CHECK(compact_number(0) == "0");
  CHECK(compact_number(950) == "950");
  CHECK(compact_number(1200) == "1.2k");
  CHECK(compact_number(45000) == "45k");
  CHECK(compact_number(2500000) == "2.5M");
  CHECK(compact_number(1e9) == "1G");
  CHECK(nice_ceiling(0) == 1);
  CHECK(nice_ceiling(3) == 5);
  CHECK(nice_ceiling(11) == 20);
  CHECK(nice_ceiling(50) == 50);
  CHECK(nice_ceiling(51) == 100);
}

TEST_CASE("svg_chart: daily stacked bars with a rate line, golden", "[output][html]") {
  std::string svg = daily_chart_svg(week());
  dmarq::test::check_golden("html/daily-week.svg", svg + "\n");
  // One path per non-empty series, the line broken on the days without data.
  CHECK(count(svg, "class=\"s-pass\" d=") == 1);
  CHECK(count(svg, "class=\"rate\" d=\"M") == 2);  // legend sample + the line
  CHECK(svg.find("A week &lt;of&gt; mail") != std::string::npos);
  CHECK(svg.find("<of>") == std::string::npos);
  // Axis labels and units: messages per day on the left, percent on the right.
  CHECK(svg.find(">messages per day<") != std::string::npos);
  CHECK(svg.find(">100%<") != std::string::npos);
  CHECK(svg.find(">10-07<") != std::string::npos);
  // Round ticks: four steps of 100 are the smallest 1-2-5 steps that reach the peak of 254.
  CHECK(svg.find(">400<") != std::string::npos);
  CHECK(svg.find(">300<") != std::string::npos);
}

TEST_CASE("svg_chart: a year of days stays small and labels at most eight days", "[output][html]") {
  DailyChart c;
  c.title = "year";
  ChartSeries s{"pass", "s-pass", {}};
  for (int i = 0; i < 365; ++i) {
    c.days.push_back(kOct1 + i * kDay);
    s.values.push_back(1000 + static_cast<uint64_t>(i) * 37 % 900);
    c.rate.push_back(90.0 + i % 10);
  }
  c.stacks = {s, {"fail", "s-unknown", std::vector<uint64_t>(365, 25)}};
  std::string svg = daily_chart_svg(c);
  CHECK(svg.size() < 40000);
  int day_labels = count(svg, "text-anchor=\"middle\">") - 2;  // minus the two axis titles
  CHECK(day_labels <= 8);
  CHECK(day_labels >= 6);
}

TEST_CASE("svg_chart: horizontal bars with escaped labels, golden", "[output][html]") {
  BarChart c;
  c.title = "Top sources";
  c.labels = {"192.0.2.1", "2001:db8::1", "<script>alert(1)</script>", "others (997)"};
  c.stacks = {{"pass", "s-pass", {900, 10, 0, 300}},
              {"fail, known", "s-known", {0, 40, 0, 20}},
              {"fail, unknown", "s-unknown", {0, 0, 7, 100}}};
  std::string svg = bar_chart_svg(c);
  dmarq::test::check_golden("html/bars-top.svg", svg + "\n");
  CHECK(svg.find("<script>") == std::string::npos);
  CHECK(svg.find("&lt;script&gt;") != std::string::npos);
  CHECK(svg.find(">900<") != std::string::npos);   // the value beside the bar
  CHECK(svg.find(">420<") != std::string::npos);   // others: 300 + 20 + 100
  CHECK(svg.find(">1.5k<") != std::string::npos);  // axis: 4 steps of 500 reach the peak of 900
}

TEST_CASE("svg_chart: empty input still draws axes, never divides by zero", "[output][html]") {
  DailyChart c;
  c.title = "nothing";
  std::string svg = daily_chart_svg(c);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  BarChart b;
  b.title = "none";
  svg = bar_chart_svg(b);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
}

TEST_CASE("svg_chart: the long tail does not squash the named bars", "[output][html]") {
  BarChart c;
  c.title = "Top sources";
  c.labels = {"192.0.2.1", "192.0.2.2", "others (1,498)"};
  c.stacks = {{"pass", "s-pass", {3600, 3000, 4000000}}, {"fail", "s-unknown", {0, 100, 350000}}};
  c.last_is_rest = true;
  std::string svg = bar_chart_svg(c);
  CHECK(svg.find(">4k<") != std::string::npos);  // the axis ends at 4 x 1,000, set by the named bars
  CHECK(svg.find(">4,350,000<") != std::string::npos);  // the rest's real value beside it
  CHECK(count(svg, "class=\"cut\"") == 1);              // and its bar cut with a break mark
  c.last_is_rest = false;
  CHECK(bar_chart_svg(c).find("class=\"cut\"") == std::string::npos);
}

TEST_CASE("svg_chart: a day with data between empty days is a dot on the rate line", "[output][html]") {
  DailyChart c;
  c.title = "dots";
  for (int i = 0; i < 3; ++i) c.days.push_back(kOct1 + i * kDay);
  c.stacks = {{"pass", "s-pass", {0, 5, 0}}};
  c.rate = {std::nullopt, 100.0, std::nullopt};
  c.rate_name = "pass %";
  CHECK(daily_chart_svg(c).find("h0.1\"/>") != std::string::npos);
}
