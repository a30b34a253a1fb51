// ByteReader: a pull interface over bytes (a decompressing archive member, a
// string). Readers are how bytes flow from the archive layer into the XML
// parser, so a report is never held decompressed in memory.
#pragma once

#include <algorithm>
#include <cstring>
#include <string_view>

namespace dmarq::util {

class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // Copies up to `size` bytes into `buf`. Returns how many, 0 at the end,
  // or -1 when the bytes cannot be had (the owner says why).
  virtual long read(char* buf, std::size_t size) = 0;
};

// Reads a string_view, at most `step` bytes per call (tests use a small step
// to exercise every chunk boundary).
class ViewReader final : public ByteReader {
 public:
  explicit ViewReader(std::string_view bytes, std::size_t step = SIZE_MAX) : bytes_(bytes), step_(step) {}
  long read(char* buf, std::size_t size) override {
    std::size_t n = std::min({size, step_, bytes_.size() - pos_});
    std::memcpy(buf, bytes_.data() + pos_, n);
    pos_ += n;
    return static_cast<long>(n);
  }

 private:
  std::string_view bytes_;
  std::size_t step_;
  std::size_t pos_ = 0;
};

// Serves `prefix` first, then the rest of `rest`: how a sniffed first block
// is handed back to the parser.
class PrefixReader final : public ByteReader {
 public:
  PrefixReader(std::string_view prefix, ByteReader& rest) : prefix_(prefix), rest_(rest) {}
  long read(char* buf, std::size_t size) override {
    if (pos_ < prefix_.size()) {
      std::size_t n = std::min(size, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, n);
      pos_ += n;
      return static_cast<long>(n);
    }
    return rest_.read(buf, size);
  }

 private:
  std::string_view prefix_;
  ByteReader& rest_;
  std::size_t pos_ = 0;
};

}  // namespace dmarq::util
