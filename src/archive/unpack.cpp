// Zip through libarchive (zip format only, no other formats or filters, so a
// hostile input cannot reach libarchive's other parsers), gzip through zlib.
//
// Why zlib for gzip and not libarchive's gzip filter: libarchive silently joins
// concatenated gzip members and swallows bytes after the stream, so it cannot
// tell us about the trailing garbage Mimecast appends (QUIRKS.md), and we must
// read exactly the first member and warn about the rest.
#include "dmarq/archive/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <array>
#include <memory>

#include <fmt/format.h>

namespace dmarq::archive {
namespace {

using model::Issue;
using model::Issues;
using model::Severity;

// Small payloads compress very well (a 1 KB report to 300 bytes is 3:1, an
// empty-ish one even better), so the ratio applies only above this size.
constexpr uint64_t kRatioFloor = 1u << 20;

Issue error(std::string code, std::string message, std::string where = {}) {
  return Issue{std::move(code), Severity::error, std::move(message), std::move(where)};
}

// Counts what a member produced and stops it at the limits.
class Budget {
 public:
  Budget(const Limits& limits, std::size_t compressed, uint64_t& total)
      : limits_(limits), compressed_(compressed), total_(total) {}

  // Adds `n` produced bytes; false (with an issue) once a limit is crossed.
  bool take(std::size_t n, Issues& issues, const std::string& where) {
    member_ += n;
    total_ += n;
    if (member_ > limits_.max_entry_bytes) {
      issues.push_back(error("archive.entry_too_large",
                             fmt::format("member decompresses to more than {} bytes", limits_.max_entry_bytes), where));
      return false;
    }
    if (total_ > limits_.max_total_bytes) {
      issues.push_back(error("archive.too_large",
                             fmt::format("archive decompresses to more than {} bytes", limits_.max_total_bytes), where));
      return false;
    }
    if (total_ > kRatioFloor && total_ / std::max<std::size_t>(compressed_, 1) > limits_.max_ratio) {
      issues.push_back(error("archive.ratio",
                             fmt::format("compression ratio above {}:1 (a decompression bomb?)", limits_.max_ratio),
                             where));
      return false;
    }
    return true;
  }

 private:
  const Limits& limits_;
  std::size_t compressed_;
  uint64_t& total_;
  uint64_t member_ = 0;
};

std::string la_error(struct archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// --- zip -------------------------------------------------------------------------

class ZipMemberReader final : public util::ByteReader {
 public:
  ZipMemberReader(struct archive* a, Budget budget, std::string where)
      : a_(a), budget_(budget), where_(std::move(where)) {}
  long read(char* buf, std::size_t size) override {
    if (failed_) return -1;
    la_ssize_t n = archive_read_data(a_, buf, size);
    if (n < 0) {
      issues_.push_back(error("archive.corrupt", fmt::format("corrupt zip member: {}", la_error(a_)), where_));
      failed_ = true;
      return -1;
    }
    if (!budget_.take(static_cast<std::size_t>(n), issues_, where_)) {
      failed_ = true;
      return -1;
    }
    return static_cast<long>(n);
  }
  const Issues& issues() const { return issues_; }
  bool failed() const { return failed_; }

 private:
  struct archive* a_;
  Budget budget_;
  std::string where_;
  Issues issues_;
  bool failed_ = false;
};

Issues unpack_zip(std::string_view bytes, const Limits& limits, MemberSink& sink) {
  Issues top;
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    top.push_back(error("archive.corrupt", fmt::format("cannot open zip: {}", la_error(a.get()))));
    return top;
  }
  uint64_t total = 0;
  std::size_t entries = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      top.push_back(error("archive.corrupt", fmt::format("corrupt zip: {}", la_error(a.get()))));
      break;
    }
    if (archive_entry_filetype(entry) == AE_IFDIR) continue;
    if (++entries > limits.max_archive_entries) {
      top.push_back(error("archive.too_many_entries",
                          fmt::format("zip has more than {} members", limits.max_archive_entries)));
      break;
    }
    const char* raw_name = archive_entry_pathname(entry);
    std::string name = raw_name ? raw_name : "";
    ZipMemberReader reader(a.get(), Budget(limits, bytes.size(), total), "member " + name);
    sink.member(name, reader);
    sink.end_member(reader.issues());
    // A limit crossed or a corrupt member: the archive is not worth going on
    // with (libarchive would have to inflate the rest to skip it).
    if (reader.failed()) break;
  }
  if (entries == 0 && top.empty()) top.push_back(error("archive.empty", "zip archive has no member"));
  return top;
}

// --- gzip --------------------------------------------------------------------------

class GzipReader final : public util::ByteReader {
 public:
  GzipReader(std::string_view bytes, Budget budget) : budget_(budget) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z_.avail_in = static_cast<uInt>(bytes.size());
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {  // 16: the gzip wrapper only
      issues_.push_back(error("archive.zlib", "zlib initialisation failed"));
      failed_ = true;
      return;
    }
    initialised_ = true;
    header_.name = name_.data();
    header_.name_max = static_cast<uInt>(name_.size() - 1);
    inflateGetHeader(&z_, &header_);
  }
  ~GzipReader() override {
    if (initialised_) inflateEnd(&z_);
  }

  long read(char* buf, std::size_t size) override {
    if (failed_) return -1;
    if (ended_ || size == 0) return 0;
    const uInt want = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = want;
    while (z_.avail_out == want && !ended_) {  // until some output or the end
      int r = inflate(&z_, Z_NO_FLUSH);
      if (r == Z_STREAM_END) {
        ended_ = true;
      } else if (r == Z_BUF_ERROR || (r == Z_OK && z_.avail_in == 0 && z_.avail_out == want)) {
        issues_.push_back(error("archive.truncated", "gzip data ends before the end of its stream"));
        failed_ = true;
        return -1;
      } else if (r != Z_OK) {
        issues_.push_back(error("archive.corrupt", fmt::format("corrupt gzip data: {}", z_.msg ? z_.msg : "inflate error")));
        failed_ = true;
        return -1;
      }
    }
    std::size_t n = want - z_.avail_out;
    if (!budget_.take(n, issues_, "")) {
      failed_ = true;
      return -1;
    }
    return static_cast<long>(n);
  }

  // Reads the header (if not read yet) to learn the stored file name.
  std::string name() {
    if (header_.done == 0 && !failed_) {
      // Inflate nothing but the header: zlib parses it on the first call.
      char probe;
      z_.next_out = reinterpret_cast<Bytef*>(&probe);
      z_.avail_out = 0;
      inflate(&z_, Z_NO_FLUSH);
    }
    return header_.done == 1 ? std::string(reinterpret_cast<const char*>(name_.data())) : std::string();
  }

  // After the sink is done: trailing bytes after a complete stream.
  Issues finish() {
    if (ended_ && z_.avail_in > 0)
      issues_.push_back(Issue{"archive.trailing_garbage", Severity::warning,
                              fmt::format("{} byte(s) after the gzip stream ignored", z_.avail_in), ""});
    return issues_;
  }

 private:
  z_stream z_{};
  gz_header header_{};
  std::array<unsigned char, 256> name_{};
  Budget budget_;
  Issues issues_;
  bool initialised_ = false, failed_ = false, ended_ = false;
};

Issues unpack_gzip(std::string_view bytes, const Limits& limits, MemberSink& sink) {
  uint64_t total = 0;
  GzipReader reader(bytes, Budget(limits, bytes.size(), total));
  sink.member(reader.name(), reader);
  sink.end_member(reader.finish());
  return {};
}

Issues pass_plain(std::string_view bytes, MemberSink& sink) {
  util::ViewReader reader(bytes);
  sink.member("", reader);
  sink.end_member({});
  return {};
}

}  // namespace

Issues unpack(std::string_view bytes, ContentKind kind, const Limits& limits, MemberSink& sink) {
  switch (kind) {
    case ContentKind::zip: return unpack_zip(bytes, limits, sink);
    case ContentKind::gzip: return unpack_gzip(bytes, limits, sink);
    default: return pass_plain(bytes, sink);
  }
}

}  // namespace dmarq::archive
