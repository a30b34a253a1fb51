#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace dmarq::cli {

Progress::Progress(std::size_t total, bool enabled) : total_(total), enabled_(enabled && isatty(STDERR_FILENO)) {}

void Progress::update(std::size_t current, std::size_t rejected) {
  if (!enabled_ || total_ == 0) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && current < total_) return;
  last_ = now;
  constexpr std::size_t kWidth = 30;
  std::size_t filled = current * kWidth / total_;
  std::string bar(filled, '#');
  bar.resize(kWidth, ' ');
  std::string line = fmt::format("\r[{}] {}/{} messages", bar, current, total_);
  if (rejected) line += fmt::format(", {} rejected", rejected);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::done() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);  // erase the line
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace dmarq::cli
