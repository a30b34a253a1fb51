#include <catch2/catch.hpp>

#include <fstream>

#include "dmarq/source/sources.h"
#include "support/support.h"

using namespace dmarq;
namespace fs = std::filesystem;

namespace {
void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}
}  // namespace

TEST_CASE("sources: files and directories, recursively and in order", "[source]") {
  test::TempDir dir;
  write(dir.path() / "b" / "2.xml", "two");
  write(dir.path() / "a.xml", "one");
  write(dir.path() / "b" / "c" / "3.xml", "three");
  source::FileSource src({dir.path().string()}, Limits{});
  std::vector<std::string> seen;
  source::RawMessage m;
  while (src.next(m)) seen.push_back(m.bytes);
  CHECK(seen == std::vector<std::string>{"one", "two", "three"});
  CHECK_THROWS(source::FileSource({(dir.path() / "missing").string()}, Limits{}));
}

TEST_CASE("sources: files above the size limit are not read", "[source]") {
  test::TempDir dir;
  write(dir.path() / "big", std::string(1000, 'x'));
  Limits limits;
  limits.max_message_bytes = 100;
  auto m = source::read_file((dir.path() / "big").string(), limits);
  CHECK(m.bytes.empty());
  CHECK(m.read_error.find("above the message size limit") != std::string::npos);
}

TEST_CASE("sources: a Maildir's messages move only when finished", "[source]") {
  test::TempDir dir;
  write(dir.path() / "new" / "1.eml", "a");
  write(dir.path() / "cur" / "2.eml:2,S", "b");
  fs::create_directories(dir.path() / "tmp");
  source::MaildirSource src(dir.path().string(), Limits{});
  source::RawMessage m;
  REQUIRE(src.next(m));
  CHECK(m.bytes == "a");
  CHECK(fs::exists(dir.path() / "new" / "1.eml"));
  src.finish(m, source::Disposition::processed);
  CHECK_FALSE(fs::exists(dir.path() / "new" / "1.eml"));
  CHECK(fs::exists(dir.path() / ".Processed" / "cur" / "1.eml:2,S"));
  CHECK(fs::exists(dir.path() / ".Processed" / "maildirfolder"));
  REQUIRE(src.next(m));
  src.finish(m, source::Disposition::invalid);
  CHECK(fs::exists(dir.path() / ".Invalid" / "cur" / "2.eml:2,S"));
  CHECK_FALSE(src.next(m));
  CHECK_THROWS(source::MaildirSource((dir.path() / "nothing").string(), Limits{}));
}

TEST_CASE("sources: a Maildir++ subfolder's folders are its siblings", "[source]") {
  test::TempDir dir;
  fs::path sub = dir.path() / ".dmarc";
  write(sub / "new" / "1.eml", "a");
  write(sub / "maildirfolder", "");
  source::MaildirSource src((sub.string() + "/"), Limits{});
  source::RawMessage m;
  REQUIRE(src.next(m));
  src.finish(m, source::Disposition::processed);
  CHECK(fs::exists(dir.path() / ".dmarc.Processed" / "cur" / "1.eml:2,S"));
  CHECK(fs::exists(dir.path() / ".dmarc.Processed" / "maildirfolder"));
  CHECK_FALSE(fs::exists(sub / ".Processed"));
}

TEST_CASE("sources: retrying the Invalid folder keeps rejects there and files the rest beside it", "[source]") {
  test::TempDir dir;
  fs::path invalid = dir.path() / ".dmarc.Invalid";
  write(invalid / "cur" / "1.eml:2,S", "a");
  write(invalid / "cur" / "2.eml:2,S", "b");
  write(invalid / "maildirfolder", "");
  source::MaildirSource src(invalid.string(), Limits{});
  source::RawMessage m;
  REQUIRE(src.next(m));
  src.finish(m, source::Disposition::invalid);
  CHECK(fs::exists(invalid / "cur" / "1.eml:2,S"));
  REQUIRE(src.next(m));
  src.finish(m, source::Disposition::processed);
  CHECK(fs::exists(dir.path() / ".dmarc.Processed" / "cur" / "2.eml:2,S"));
  CHECK_FALSE(fs::exists(dir.path() / ".dmarc.Invalid.Invalid"));
  CHECK_FALSE(fs::exists(dir.path() / ".dmarc.Invalid.Processed"));
}

TEST_CASE("sources: mbox messages are split on From lines and unescaped", "[source]") {
  test::TempDir dir;
  write(dir.path() / "box",
        "From a@b Mon Nov  2 00:00:00 2026\nSubject: one\n\nbody one\n>From the start\n\n"
        "From c@d Mon Nov  2 00:00:01 2026\nSubject: two\n\nbody two\n");
  source::MboxSource src((dir.path() / "box").string(), Limits{});
  source::RawMessage m;
  REQUIRE(src.next(m));
  CHECK(m.bytes == "Subject: one\n\nbody one\nFrom the start\n");
  CHECK(m.origin.ends_with("box#1"));
  REQUIRE(src.next(m));
  CHECK(m.bytes == "Subject: two\n\nbody two\n");
  CHECK(m.origin.ends_with("box#2"));
  CHECK_FALSE(src.next(m));
}

TEST_CASE("sources: an mbox line longer than the message limit is not held in memory", "[source]") {
  test::TempDir dir;
  write(dir.path() / "box", "From a@b Mon Nov  2 00:00:00 2026\nSubject: big\n\n" + std::string(5000, 'x') +
                                "\n\nFrom c@d Mon Nov  2 00:00:01 2026\nSubject: small\n\nok\n");
  Limits limits;
  limits.max_message_bytes = 1000;
  source::MboxSource src((dir.path() / "box").string(), limits);
  source::RawMessage m;
  REQUIRE(src.next(m));
  CHECK(m.bytes.empty());
  CHECK(m.read_error.find("above the message size limit") != std::string::npos);
  REQUIRE(src.next(m));
  CHECK(m.read_error.empty());
  CHECK(m.bytes == "Subject: small\n\nok\n");
  CHECK_FALSE(src.next(m));
}
