#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "dmarq/archive/unpack.h"
#include "support/support.h"

using namespace dmarq;
using archive::ContentKind;

namespace {

struct Member {
  std::string name, data;
  model::Issues issues;
};

// Reads each member in reads of `read_size` bytes, stopping after
// `stop_after` bytes (the rest must then be skipped by unpack).
struct Collect : archive::MemberSink {
  std::vector<Member> members;
  std::size_t stop_after = SIZE_MAX;
  std::size_t read_size = 65536;
  bool saw_error = false;
  void member(const std::string& name, util::ByteReader& reader) override {
    members.push_back({name, {}, {}});
    std::string buf(read_size, '\0');
    while (members.back().data.size() < stop_after) {
      long n = reader.read(buf.data(), buf.size());
      if (n < 0) saw_error = true;
      if (n <= 0) break;
      members.back().data.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  void end_member(const model::Issues& issues) override { members.back().issues = issues; }
};

std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zip(const std::vector<std::pair<std::string, std::string>>& files) {
  struct archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  std::string out(1 << 22, '\0');
  size_t used = 0;
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& [name, data] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

bool has_code(const model::Issues& issues, const std::string& code) {
  for (const auto& i : issues)
    if (i.code == code) return true;
  return false;
}

}  // namespace

TEST_CASE("unpack: sniffing goes by content, not by name", "[archive]") {
  CHECK(archive::sniff(test::read_data("reports/basic.xml.gz")) == ContentKind::gzip);
  CHECK(archive::sniff(test::read_data("reports/basic.zip")) == ContentKind::zip);
  CHECK(archive::sniff(test::read_data("reports/basic.xml")) == ContentKind::xml);
  CHECK(archive::sniff(test::read_data("reports/bom-oneline.xml")) == ContentKind::xml);
  CHECK(archive::sniff("") == ContentKind::empty);
  CHECK(archive::sniff(" \n") == ContentKind::empty);
  CHECK(archive::sniff("{\"organization-name\": 1}") == ContentKind::json);
  CHECK(archive::sniff("\x89PNG\r\n\x1a\nxxxx") == ContentKind::png);
  CHECK(archive::sniff(std::string("\x00\x01\x02garbage", 10)) == ContentKind::unknown);
}

TEST_CASE("unpack: gzip, zip and plain give the same bytes, whatever the read size", "[archive]") {
  std::string xml = test::read_data("reports/basic.xml");
  auto file = GENERATE(as<std::string>{}, "basic.xml", "basic.xml.gz", "basic.zip");
  auto read_size = GENERATE(1u, 7u, 4096u);
  INFO(file << " read " << read_size);
  std::string bytes = test::read_data("reports/" + file);
  Collect sink;
  sink.read_size = read_size;
  auto top = archive::unpack(bytes, archive::sniff(bytes), Limits{}, sink);
  CHECK(top.empty());
  REQUIRE(sink.members.size() == 1);
  CHECK(sink.members[0].data == xml);
  CHECK(sink.members[0].issues.empty());
}

TEST_CASE("unpack: gzip trailing garbage is ignored with a warning", "[archive]") {
  std::string bytes = test::read_data("reports/basic-trailing-garbage.xml.gz");
  Collect sink;
  archive::unpack(bytes, ContentKind::gzip, Limits{}, sink);
  REQUIRE(sink.members.size() == 1);
  CHECK(sink.members[0].data == test::read_data("reports/basic.xml"));
  REQUIRE(sink.members[0].issues.size() == 1);
  CHECK(sink.members[0].issues[0].code == "archive.trailing_garbage");
  CHECK(sink.members[0].issues[0].severity == model::Severity::warning);
}

TEST_CASE("unpack: only the first gzip member is read", "[archive]") {
  std::string bytes = gzip("<a/>") + gzip("<b/>");
  Collect sink;
  archive::unpack(bytes, ContentKind::gzip, Limits{}, sink);
  REQUIRE(sink.members.size() == 1);
  CHECK(sink.members[0].data == "<a/>");
  CHECK(has_code(sink.members[0].issues, "archive.trailing_garbage"));
}

TEST_CASE("unpack: truncated and corrupt archives are errors", "[archive]") {
  std::string gz = test::read_data("reports/basic.xml.gz");
  SECTION("truncated gzip") {
    Collect sink;
    archive::unpack(gz.substr(0, gz.size() / 2), ContentKind::gzip, Limits{}, sink);
    REQUIRE(sink.members.size() == 1);
    CHECK(has_code(sink.members[0].issues, "archive.truncated"));
    CHECK(sink.saw_error);
  }
  SECTION("corrupt gzip") {
    std::string bad = gz;
    for (std::size_t i = 20; i < 60; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    Collect sink;
    archive::unpack(bad, ContentKind::gzip, Limits{}, sink);
    REQUIRE(sink.members.size() == 1);
    CHECK(model::has_error(sink.members[0].issues));
  }
  SECTION("corrupt zip") {
    std::string z = test::read_data("reports/basic.zip");
    std::string bad = z.substr(0, 40) + std::string(z.size() - 40, 'x');
    Collect sink;
    auto top = archive::unpack(bad, ContentKind::zip, Limits{}, sink);
    bool failed = model::has_error(top);
    for (const auto& m : sink.members) failed = failed || model::has_error(m.issues);
    CHECK(failed);
  }
}

TEST_CASE("unpack: every zip member is streamed, within the entry limit", "[archive]") {
  std::string z = zip({{"a.xml", "<a/>"}, {"b.xml", "<b/>"}, {"c.xml", "<c/>"}});
  SECTION("all members") {
    Collect sink;
    auto top = archive::unpack(z, ContentKind::zip, Limits{}, sink);
    CHECK(top.empty());
    REQUIRE(sink.members.size() == 3);
    CHECK(sink.members[1].name == "b.xml");
    CHECK(sink.members[2].data == "<c/>");
  }
  SECTION("too many entries") {
    Limits limits;
    limits.max_archive_entries = 2;
    Collect sink;
    auto top = archive::unpack(z, ContentKind::zip, limits, sink);
    CHECK(has_code(top, "archive.too_many_entries"));
    CHECK(sink.members.size() == 2);
  }
}

TEST_CASE("unpack: decompression bombs stop at the ratio and size limits", "[archive]") {
  std::string zeros(64u << 20, '\0');  // 64 MiB of zeros compress about 1000:1
  std::string gz = gzip(zeros);
  SECTION("ratio") {
    Collect sink;
    archive::unpack(gz, ContentKind::gzip, Limits{}, sink);
    REQUIRE(sink.members.size() == 1);
    CHECK(has_code(sink.members[0].issues, "archive.ratio"));
    CHECK(sink.members[0].data.size() < zeros.size());
  }
  SECTION("bytes per entry") {
    Limits limits;
    limits.max_ratio = 1u << 30;
    limits.max_entry_bytes = 1u << 20;
    Collect sink;
    archive::unpack(gz, ContentKind::gzip, limits, sink);
    CHECK(has_code(sink.members[0].issues, "archive.entry_too_large"));
  }
  SECTION("zip bomb") {
    std::string z = zip({{"bomb.xml", zeros}});
    Collect sink;
    archive::unpack(z, ContentKind::zip, Limits{}, sink);
    REQUIRE(sink.members.size() == 1);
    CHECK(has_code(sink.members[0].issues, "archive.ratio"));
  }
}

TEST_CASE("unpack: a sink may stop a member early", "[archive]") {
  std::string big;
  while (big.size() < (2u << 20)) big += test::read_data("reports/basic.xml");
  std::string bytes = gzip(big);
  Collect sink;
  sink.stop_after = 1;
  archive::unpack(bytes, ContentKind::gzip, Limits{}, sink);
  REQUIRE(sink.members.size() == 1);
  CHECK_FALSE(sink.members[0].data.empty());
  CHECK(sink.members[0].data.size() < big.size());
}
