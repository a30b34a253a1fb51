#include "dmarq/output/table.h"

#include <algorithm>

#include "dmarq/output/escape.h"

namespace dmarq::output {

void Table::print(std::ostream& out, std::size_t max_width) const {
  const std::size_t n = headers_.size();
  auto cell = [&](const std::vector<std::string>& row, std::size_t c) {
    return terminal_safe(c < row.size() ? row[c] : std::string());
  };
  std::vector<std::size_t> width(n, 0);
  for (std::size_t c = 0; c < n; ++c) {
    width[c] = display_width(headers_[c]);
    for (const auto& row : rows_) width[c] = std::max(width[c], display_width(cell(row, c)));
  }
  // Shrink the widest column one step at a time until the line fits
  // (two spaces between columns), but never below 4 columns.
  auto total = [&] {
    std::size_t t = n > 0 ? 2 * (n - 1) : 0;
    for (auto w : width) t += w;
    return t;
  };
  while (total() > max_width) {
    auto widest = std::max_element(width.begin(), width.end());
    if (*widest <= 4) break;
    --*widest;
  }
  auto print_row = [&](const std::vector<std::string>& row, bool escape) {
    std::string line;
    for (std::size_t c = 0; c < n; ++c) {
      std::string text = escape ? cell(row, c) : row[c];
      text = truncate_display(text, width[c]);
      std::string pad(width[c] - display_width(text), ' ');
      bool right = std::find(right_.begin(), right_.end(), c) != right_.end();
      line += right ? pad + text : text + (c + 1 < n ? pad : "");
      if (c + 1 < n) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  print_row(headers_, false);
  for (const auto& row : rows_) print_row(row, true);
}

}  // namespace dmarq::output
