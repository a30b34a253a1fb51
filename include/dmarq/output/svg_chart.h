// Inline SVG charts for the HTML report: a per-day stacked bar chart with an
// optional rate line, and a horizontal stacked bar chart for "top N".
//
// The output is a pure function of the input (golden-tested): no clock, no
// locale, no random ids. Colours are not in the SVG: every shape carries a
// class (the series' `css`) that the page's stylesheet colours, so one chart
// follows the page into dark mode and into print. Every label is escaped
// here, since labels (source addresses, reporter names) come from reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmarq::output {

struct ChartSeries {
  std::string name;  // legend text
  std::string css;   // class of its shapes, e.g. "s-pass"
  std::vector<uint64_t> values;  // one per day (daily) or per bar (bars)
};

struct DailyChart {
  std::string title;         // the chart's accessible name
  std::vector<int64_t> days;  // UTC midnights, ascending, one per column
  std::vector<ChartSeries> stacks;  // stacked bottom-up, each `days.size()` values
  std::string y_label = "messages per day";
  // A 0-100 line over the bars on a right-hand axis; nullopt for a day
  // without data. Empty: no line.
  std::vector<std::optional<double>> rate;
  std::string rate_name;  // legend text of the line
};
std::string daily_chart_svg(const DailyChart& chart);

struct BarChart {
  std::string title;
  std::vector<std::string> labels;   // one per bar, top to bottom
  std::vector<ChartSeries> stacks;   // stacked left to right, each labels.size() values
  std::string x_label = "messages";
  // The last bar sums up the long tail ("others"): it does not set the
  // scale, so the named bars stay readable; when longer than the axis it is
  // cut at the end with a break mark, and its value is printed beside it.
  bool last_is_rest = false;
};
std::string bar_chart_svg(const BarChart& chart);

// 1234567 -> "1,234,567" (no locale: output must not depend on it).
std::string group_digits(uint64_t n);
// Axis labels: 950, 1.2k, 45k, 3.4M, 1.2G.
std::string compact_number(double n);
// The smallest 1, 2 or 5 times a power of ten that is >= n (1 for n <= 1).
uint64_t nice_ceiling(uint64_t n);

}  // namespace dmarq::output
