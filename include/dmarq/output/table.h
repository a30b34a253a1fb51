// A plain-text table for terminals: columns sized to their content, the
// widest columns shrunk (with "…") until the table fits `max_width`. Cells
// are escaped with terminal_safe.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace dmarq::output {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Right-align a column (numbers).
  void align_right(std::size_t column) { right_.push_back(column); }
  void print(std::ostream& out, std::size_t max_width = 100) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> right_;
};

}  // namespace dmarq::output
