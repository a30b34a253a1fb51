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

constexpr std::size_t kChunk = 256 * 1024;
// Small payloads compress very well (a 1 KB report to 300 bytes is 3:1, an
// empty-ish one even better), so the ratio applies only above this size.
constexpr uint64_t kRatioFloor = 1u << 20;

Issue error(std::string code, std::string message, std::string where = {}) {
  return Issue{std::move(code), Severity::error, std::move(message), std::move(where)};
}

// Checks the per-member, total and ratio limits after `member_bytes` of this
// member and `total_bytes` of all members were produced.
bool within_limits(uint64_t member_bytes, uint64_t total_bytes, std::size_t compressed,
                   const Limits& limits, Issues& issues, const std::string& where) {
  if (member_bytes > limits.max_entry_bytes) {
    issues.push_back(error("archive.entry_too_large",
                           fmt::format("member decompresses to more than {} bytes", limits.max_entry_bytes),
                           where));
    return false;
  }
  if (total_bytes > limits.max_total_bytes) {
    issues.push_back(error("archive.too_large",
                           fmt::format("archive decompresses to more than {} bytes", limits.max_total_bytes),
                           where));
    return false;
  }
  if (total_bytes > kRatioFloor && total_bytes / std::max<std::size_t>(compressed, 1) > limits.max_ratio) {
    issues.push_back(error("archive.ratio",
                           fmt::format("compression ratio above {}:1 (a decompression bomb?)", limits.max_ratio),
                           where));
    return false;
  }
  return true;
}

std::string la_error(struct archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

// One decompression buffer per thread, reused: a fresh 256 KiB allocation
// per payload goes to mmap/munmap every time, which showed in profiles.
std::vector<char>& chunk_buffer() {
  thread_local std::vector<char> buffer(kChunk);
  return buffer;
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

Issues unpack_zip(std::string_view bytes, const Limits& limits, ChunkSink& sink) {
  Issues top;
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    top.push_back(error("archive.corrupt", fmt::format("cannot open zip: {}", la_error(a.get()))));
    return top;
  }
  std::vector<char>& buf = chunk_buffer();
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
    Issues member_issues;
    sink.begin_member(name);
    uint64_t member_bytes = 0;
    bool wanted = true;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        member_issues.push_back(error("archive.corrupt",
                                      fmt::format("corrupt zip member: {}", la_error(a.get())),
                                      "member " + name));
        break;
      }
      member_bytes += static_cast<uint64_t>(n);
      total += static_cast<uint64_t>(n);
      if (!within_limits(member_bytes, total, bytes.size(), limits, member_issues, "member " + name)) break;
      if (wanted && !sink.chunk(std::string_view(buf.data(), static_cast<std::size_t>(n)))) wanted = false;
      if (!wanted) break;  // skip the rest: libarchive skips unread data itself
    }
    sink.end_member(member_issues);
    if (model::has_error(member_issues) && member_issues.back().code != "archive.corrupt") break;
  }
  if (entries == 0 && top.empty())
    top.push_back(error("archive.empty", "zip archive has no member"));
  return top;
}

struct InflateGuard {
  z_stream* z;
  ~InflateGuard() { inflateEnd(z); }
};

Issues unpack_gzip(std::string_view bytes, const Limits& limits, ChunkSink& sink) {
  Issues issues;
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {  // 16: gzip wrapper only
    issues.push_back(error("archive.zlib", "zlib initialisation failed"));
    return issues;
  }
  InflateGuard guard{&z};

  // The gzip header may carry the original file name; it is display text.
  std::array<unsigned char, 256> name_buf{};
  gz_header header{};
  header.name = name_buf.data();
  header.name_max = name_buf.size() - 1;
  inflateGetHeader(&z, &header);

  std::vector<char>& out = chunk_buffer();
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  bool started = false, wanted = true;
  uint64_t produced = 0;
  Issues member_issues;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int r = inflate(&z, Z_NO_FLUSH);
    if (!started && header.done == 1) {
      sink.begin_member(reinterpret_cast<const char*>(name_buf.data()));
      started = true;
    }
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
      if (!started) sink.begin_member("");
      started = true;
      member_issues.push_back(error("archive.corrupt",
                                    fmt::format("corrupt gzip data: {}", z.msg ? z.msg : "inflate error")));
      break;
    }
    std::size_t n = out.size() - z.avail_out;
    if (n > 0) {
      if (!started) { sink.begin_member(""); started = true; }
      produced += n;
      if (!within_limits(produced, produced, bytes.size(), limits, member_issues, "")) break;
      if (wanted && !sink.chunk(std::string_view(out.data(), n))) wanted = false;
      if (!wanted) break;
    }
    if (r == Z_STREAM_END) {
      if (z.avail_in > 0)
        member_issues.push_back(Issue{"archive.trailing_garbage", Severity::warning,
                                      fmt::format("{} byte(s) after the gzip stream ignored", z.avail_in), ""});
      break;
    }
    if (r == Z_BUF_ERROR || (z.avail_in == 0 && n == 0)) {
      member_issues.push_back(error("archive.truncated", "gzip data ends before the end of its stream"));
      break;
    }
  }
  if (!started) sink.begin_member("");
  sink.end_member(member_issues);
  return {};
}

Issues pass_plain(std::string_view bytes, const Limits& limits, ChunkSink& sink) {
  sink.begin_member("");
  Issues member_issues;
  for (std::size_t off = 0; off < bytes.size(); off += kChunk) {
    if (!sink.chunk(bytes.substr(off, kChunk))) break;
  }
  (void)limits;
  sink.end_member(member_issues);
  return {};
}

}  // namespace

Issues unpack(std::string_view bytes, ContentKind kind, const Limits& limits, ChunkSink& sink) {
  switch (kind) {
    case ContentKind::zip: return unpack_zip(bytes, limits, sink);
    case ContentKind::gzip: return unpack_gzip(bytes, limits, sink);
    default: return pass_plain(bytes, limits, sink);
  }
}

}  // namespace dmarq::archive
