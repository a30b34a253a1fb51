// Byte sinks and containers for dmarq-gen: string, file, base64, gzip, zip.
//
// Sinks chain (XML -> gzip -> base64 -> file) so a report of any size can be
// written with constant memory. Guarantees: output depends only on the bytes
// written and the explicit mtime arguments; nothing reads the clock, so the
// gzip header and zip entry timestamps are reproducible. Errors throw
// std::runtime_error with the library's message.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dmarq::gen {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(std::string_view bytes) = 0;
};

class StringSink final : public ByteSink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  void write(std::string_view bytes) override { out_.append(bytes); }

 private:
  std::string& out_;
};

// Buffered file writer; close() reports write errors (a full disk must not
// produce a silently truncated corpus).
class FileSink final : public ByteSink {
 public:
  explicit FileSink(const std::filesystem::path& path)
      : path_(path), file_(std::fopen(path.c_str(), "wb")) {
    if (!file_) throw std::runtime_error("cannot create " + path.string());
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 16);
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  ~FileSink() override {
    if (file_) std::fclose(file_);
  }

  void write(std::string_view bytes) override {
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
      throw std::runtime_error("write failed: " + path_.string());
  }

  void close() {
    const bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed) throw std::runtime_error("write failed: " + path_.string());
  }

 private:
  std::filesystem::path path_;
  std::FILE* file_;
};

// MIME base64 (RFC 2045): 76-character lines, LF line ends. Input is
// consumed in 57-byte groups because 57 bytes encode to exactly 76 chars.
class Base64Sink final : public ByteSink {
 public:
  explicit Base64Sink(ByteSink& next) : next_(next) {}

  void write(std::string_view bytes) override {
    for (char c : bytes) {
      pending_[pending_size_++] = static_cast<unsigned char>(c);
      if (pending_size_ == kLineInput) flush_line();
    }
  }

  void finish() {
    if (pending_size_ > 0) flush_line();
  }

 private:
  static constexpr std::size_t kLineInput = 57;

  void flush_line() {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string line;
    line.reserve(78);
    for (std::size_t i = 0; i < pending_size_; i += 3) {
      const std::size_t n = pending_size_ - i < 3 ? pending_size_ - i : 3;
      uint32_t group = uint32_t{pending_[i]} << 16;
      if (n > 1) group |= uint32_t{pending_[i + 1]} << 8;
      if (n > 2) group |= pending_[i + 2];
      line += kAlphabet[(group >> 18) & 63];
      line += kAlphabet[(group >> 12) & 63];
      line += n > 1 ? kAlphabet[(group >> 6) & 63] : '=';
      line += n > 2 ? kAlphabet[group & 63] : '=';
    }
    line += '\n';
    next_.write(line);
    pending_size_ = 0;
  }

  ByteSink& next_;
  unsigned char pending_[kLineInput] = {};
  std::size_t pending_size_ = 0;
};

// gzip (RFC 1952) through zlib's deflate. The header carries the given
// mtime and original file name, like `gzip -N` would, instead of "now".
class GzipSink final : public ByteSink {
 public:
  GzipSink(ByteSink& next, std::string original_name, uint32_t mtime)
      : next_(next), name_(std::move(original_name)) {
    // windowBits 15 + 16 selects the gzip wrapper instead of zlib's.
    if (deflateInit2(&stream_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("deflateInit2 failed");
    header_.time = mtime;
    header_.os = 3;  // Unix, fixed so output does not vary by build host
    header_.name = reinterpret_cast<Bytef*>(name_.data());
    if (deflateSetHeader(&stream_, &header_) != Z_OK)
      throw std::runtime_error("deflateSetHeader failed");
  }
  GzipSink(const GzipSink&) = delete;
  GzipSink& operator=(const GzipSink&) = delete;
  ~GzipSink() override { deflateEnd(&stream_); }

  void write(std::string_view bytes) override {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    stream_.avail_in = static_cast<uInt>(bytes.size());
    pump(Z_NO_FLUSH);
  }

  void finish() { pump(Z_FINISH); }

 private:
  void pump(int flush) {
    unsigned char out[1 << 15];
    int rc;
    do {
      stream_.next_out = out;
      stream_.avail_out = sizeof out;
      rc = deflate(&stream_, flush);
      if (rc == Z_STREAM_ERROR) throw std::runtime_error("deflate failed");
      const std::size_t produced = sizeof out - stream_.avail_out;
      if (produced > 0)
        next_.write({reinterpret_cast<const char*>(out), produced});
    } while (stream_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }

  ByteSink& next_;
  std::string name_;  // must outlive the header, which zlib reads lazily
  gz_header header_{};
  z_stream stream_{};
};

// A zip archive with one deflated member, built in memory with libarchive.
// uid/gid/mode/mtime are set explicitly because libarchive records them in
// extra fields; defaults would leak the build host's identity into output.
inline std::string zip_single_member(const std::string& member_name,
                                     std::string_view content, int64_t mtime) {
  struct Deleter {
    void operator()(archive* a) const { archive_write_free(a); }
  };
  std::unique_ptr<archive, Deleter> zip(archive_write_new());
  std::string out;
  auto fail = [&](const char* what) {
    throw std::runtime_error(std::string(what) + ": " +
                             (archive_error_string(zip.get()) ? archive_error_string(zip.get()) : "?"));
  };
  auto append = [](archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_set_format_zip(zip.get()) != ARCHIVE_OK) fail("zip format");
  if (archive_write_zip_set_compression_deflate(zip.get()) != ARCHIVE_OK) fail("zip deflate");
  // Without this libarchive pads the last block to 10240 bytes.
  archive_write_set_bytes_in_last_block(zip.get(), 1);
  if (archive_write_open(zip.get(), &out, nullptr, append, nullptr) != ARCHIVE_OK)
    fail("zip open");

  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                        &archive_entry_free);
  archive_entry_set_pathname(entry.get(), member_name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
  archive_entry_set_mtime(entry.get(), mtime, 0);
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  if (archive_write_header(zip.get(), entry.get()) != ARCHIVE_OK) fail("zip header");
  if (archive_write_data(zip.get(), content.data(), content.size()) !=
      static_cast<la_ssize_t>(content.size()))
    fail("zip data");
  if (archive_write_close(zip.get()) != ARCHIVE_OK) fail("zip close");
  return out;
}

}  // namespace dmarq::gen
