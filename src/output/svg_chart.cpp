#include "dmarq/output/svg_chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dmarq/output/escape.h"
#include "dmarq/util/text.h"

namespace dmarq::output {
namespace {

// Coordinates with one decimal at most: enough for a 720-unit viewBox, and
// it keeps a 365-day chart small.
std::string num(double v) {
  double r = std::round(v * 10) / 10;
  if (r == std::floor(r)) return fmt::format("{}", static_cast<int64_t>(r));
  return fmt::format("{:.1f}", r);
}

uint64_t stack_total(const std::vector<ChartSeries>& stacks, std::size_t i) {
  uint64_t t = 0;
  for (const auto& s : stacks)
    if (i < s.values.size()) t += s.values[i];
  return t;
}

// Four equal steps of a 1-2-5 size that reach `peak`: ticks stay round.
uint64_t axis_max(uint64_t peak) { return 4 * nice_ceiling(peak / 4 + (peak % 4 != 0)); }

// The <svg> element with its accessible name, both as attribute and <title>.
std::string open_svg(double w, double h, const std::string& title) {
  return fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">"
      "<title>{}</title>",
      num(w), num(h), html_escape(title), html_escape(title));
}

// The legend: a swatch and a name per series, then the line's sample.
std::string legend(const std::vector<ChartSeries>& stacks, const std::string& line_name, double x0, double y) {
  std::string out = "<g class=\"legend\">";
  double x = x0;
  for (const auto& s : stacks) {
    out += fmt::format("<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"10\" height=\"10\"/>", html_escape(s.css), num(x),
                       num(y - 9));
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>", num(x + 14), num(y), html_escape(s.name));
    x += 30 + 6.4 * static_cast<double>(display_width(s.name));
  }
  if (!line_name.empty()) {
    out += fmt::format("<path class=\"rate\" d=\"M{} {}h14\"/>", num(x), num(y - 4));
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>", num(x + 18), num(y), html_escape(line_name));
  }
  return out + "</g>";
}

}  // namespace

std::string group_digits(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string compact_number(double n) {
  static constexpr const char* kUnits[] = {"", "k", "M", "G", "T"};
  std::size_t u = 0;
  while (std::fabs(n) >= 1000 && u + 1 < std::size(kUnits)) {
    n /= 1000;
    ++u;
  }
  if (u == 0 || n >= 100 || n == std::floor(n)) return fmt::format("{}{}", num(std::round(n)), kUnits[u]);
  return fmt::format("{}{}", num(n), kUnits[u]);
}

uint64_t nice_ceiling(uint64_t n) {
  uint64_t p = 1;
  while (true) {
    for (uint64_t m : {1, 2, 5})
      if (m * p >= n) return m * p;
    if (p > UINT64_MAX / 100) return n;
    p *= 10;
  }
}

std::string daily_chart_svg(const DailyChart& c) {
  constexpr double W = 720, H = 260, left = 58, top = 30, bottom = 40;
  const double right = c.rate.empty() ? 16 : 46;
  const double pw = W - left - right, ph = H - top - bottom;
  const std::size_t n = c.days.size();
  uint64_t peak = 0;
  for (std::size_t i = 0; i < n; ++i) peak = std::max(peak, stack_total(c.stacks, i));
  const uint64_t ymax = axis_max(peak);

  std::string out = open_svg(W, H, c.title);
  out += legend(c.stacks, c.rate.empty() ? "" : c.rate_name, left, 14);

  // Horizontal grid and left axis: 0 and four steps up to ymax.
  out += "<g class=\"axis\">";
  for (int k = 0; k <= 4; ++k) {
    double y = top + ph - ph * k / 4;
    out += fmt::format("<path class=\"grid\" d=\"M{} {}h{}\"/>", num(left), num(y), num(pw));
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", num(left - 6), num(y + 4),
                       compact_number(static_cast<double>(ymax) * k / 4));
  }
  out += fmt::format("<text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>",
                     num(top + ph / 2), num(top + ph / 2), html_escape(c.y_label));
  if (!c.rate.empty()) {
    for (int k = 0; k <= 2; ++k)
      out += fmt::format("<text x=\"{}\" y=\"{}\">{}%</text>", num(left + pw + 5), num(top + ph - ph * k / 2 + 4),
                         k * 50);
  }
  // Day labels: at most eight, evenly spaced, the last day always included.
  const std::size_t step = n <= 8 ? 1 : (n + 7) / 8;
  const double bw = n ? pw / static_cast<double>(n) : pw;
  for (std::size_t i = 0; i < n; i += step) {
    std::string date = util::iso_date_utc(c.days[i]);
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", num(left + bw * (i + 0.5)),
                       num(top + ph + 15), date.substr(5));
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">day (UTC){}</text>", num(left + pw / 2),
                     num(H - 6),
                     n ? fmt::format(", {} to {}", util::iso_date_utc(c.days.front()), util::iso_date_utc(c.days.back()))
                       : std::string());
  out += "</g>";

  // Bars: one path per series, a rectangle per day with a value.
  const double gap = bw >= 4 ? bw * 0.15 : 0;
  std::vector<double> base(n, top + ph);
  for (const auto& s : c.stacks) {
    std::string d;
    for (std::size_t i = 0; i < n && i < s.values.size(); ++i) {
      if (s.values[i] == 0) continue;
      double h = ph * static_cast<double>(s.values[i]) / static_cast<double>(ymax);
      base[i] -= h;
      d += fmt::format("M{} {}h{}v{}h-{}z", num(left + bw * i + gap / 2), num(base[i]), num(bw - gap), num(h),
                       num(bw - gap));
    }
    if (!d.empty()) out += fmt::format("<path class=\"{}\" d=\"{}\"/>", html_escape(s.css), d);
  }

  // The rate line, broken over days without data.
  if (!c.rate.empty()) {
    std::string d;
    bool pen = false;
    for (std::size_t i = 0; i < n && i < c.rate.size(); ++i) {
      if (!c.rate[i]) {
        pen = false;
        continue;
      }
      double v = std::clamp(*c.rate[i], 0.0, 100.0);
      d += fmt::format("{}{} {}", pen ? "L" : "M", num(left + bw * (i + 0.5)), num(top + ph - ph * v / 100));
      // A day alone between gaps: a dot (round caps draw a short stroke as one).
      if (!pen && (i + 1 >= n || i + 1 >= c.rate.size() || !c.rate[i + 1])) d += "h0.1";
      pen = true;
    }
    if (!d.empty()) out += fmt::format("<path class=\"rate\" d=\"{}\"/>", d);
  }
  out += fmt::format("<path class=\"frame\" d=\"M{} {}v{}h{}\"/>", num(left), num(top), num(ph), num(pw));
  return out + "</svg>";
}

std::string bar_chart_svg(const BarChart& c) {
  constexpr double W = 720, label_w = 210, value_w = 70, top = 30, row = 20, bottom = 34;
  const std::size_t n = c.labels.size();
  const double pw = W - label_w - value_w, H = top + row * static_cast<double>(n) + bottom;
  uint64_t peak = 0;
  const std::size_t scaled = c.last_is_rest && n > 1 ? n - 1 : n;
  for (std::size_t i = 0; i < scaled; ++i) peak = std::max(peak, stack_total(c.stacks, i));
  const uint64_t xmax = axis_max(peak);

  std::string out = open_svg(W, H, c.title);
  out += legend(c.stacks, "", label_w, 14);
  out += "<g class=\"axis\">";
  const double axis_y = top + row * static_cast<double>(n);
  for (int k = 0; k <= 4; ++k) {
    double x = label_w + pw * k / 4;
    out += fmt::format("<path class=\"grid\" d=\"M{} {}v{}\"/>", num(x), num(top), num(axis_y - top));
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", num(x), num(axis_y + 14),
                       compact_number(static_cast<double>(xmax) * k / 4));
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", num(label_w + pw / 2), num(H - 4),
                     html_escape(c.x_label));
  for (std::size_t i = 0; i < n; ++i) {
    double y = top + row * static_cast<double>(i) + row / 2 + 4;
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", num(label_w - 6), num(y),
                       html_escape(truncate_display(c.labels[i], 32)));
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>", num(W - value_w + 6), num(y),
                       group_digits(stack_total(c.stacks, i)));
  }
  out += "</g>";
  std::vector<double> base(n, label_w);
  for (const auto& s : c.stacks) {
    std::string d;
    for (std::size_t i = 0; i < n && i < s.values.size(); ++i) {
      if (s.values[i] == 0 || base[i] >= label_w + pw) continue;
      double w = std::min(pw * static_cast<double>(s.values[i]) / static_cast<double>(xmax), label_w + pw - base[i]);
      d += fmt::format("M{} {}h{}v{}h-{}z", num(base[i]), num(top + row * static_cast<double>(i) + 3), num(w),
                       num(row - 6), num(w));
      base[i] += w;
    }
    if (!d.empty()) out += fmt::format("<path class=\"{}\" d=\"{}\"/>", html_escape(s.css), d);
  }
  // A cut bar: two slanted strokes in the page's colour across its end.
  for (std::size_t i = 0; i < n; ++i)
    if (stack_total(c.stacks, i) > xmax) {
      double x = label_w + pw - 12, y = top + row * static_cast<double>(i) + 1;
      out += fmt::format("<path class=\"cut\" d=\"M{} {}l4 {}M{} {}l4 {}\"/>", num(x), num(y + row - 2), num(-row + 2),
                         num(x + 4), num(y + row - 2), num(-row + 2));
    }
  out += fmt::format("<path class=\"frame\" d=\"M{} {}v{}h{}\"/>", num(label_w), num(top), num(axis_y - top), num(pw));
  return out + "</svg>";
}

}  // namespace dmarq::output
