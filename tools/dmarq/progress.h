// A one-line progress bar on stderr, shown only when stderr is a terminal,
// redrawn at most ten times a second, and erased when done.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace dmarq::cli {

class Progress {
 public:
  Progress(std::size_t total, bool enabled);
  ~Progress() { done(); }
  void update(std::size_t current, std::size_t rejected);
  void done();

 private:
  std::size_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace dmarq::cli
