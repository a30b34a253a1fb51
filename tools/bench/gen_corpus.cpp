// dmarq-gen: writes a deterministic Maildir corpus of DMARC aggregate-report
// emails, for benchmarking and stress-testing `dmarq ingest`.
//
// Guarantees:
//  * Same options + seed => byte-identical files. All randomness comes from
//    gen_random.h, all times from a fixed epoch (2026-11-01T00:00:00Z), and
//    zip/gzip timestamps from the report's own dates, never the clock.
//  * Each message carries one report; (org, policy domain, day) triples are
//    never reused, so no two reports are duplicates of each other.
//  * Messages are written to DIR/tmp and renamed into DIR/new, as Maildir
//    delivery does, so a concurrent reader never sees a partial file.
//  * Message i does not depend on --big-report-mb: the big report is planned
//    and written after all the others, with its own random stream.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <string>
#include <unordered_set>
#include <vector>

#include "gen_mail.h"
#include "gen_random.h"
#include "gen_report.h"
#include "gen_sinks.h"

namespace fs = std::filesystem;
using namespace dmarq::gen;

namespace {

constexpr int64_t kEpochEnd = 1793491200;  // 2026-11-01T00:00:00Z
constexpr int64_t kDay = 86400;

struct Options {
  fs::path out;
  uint64_t messages = 100;
  uint64_t seed = 1;
  uint64_t min_records = 1;
  uint64_t max_records = 2000;
  uint32_t domains = 50;
  uint32_t days = 90;
  uint64_t big_report_mb = 0;
  bool quiet = false;
};

enum class Container { zip, gzip, xml };

struct MessagePlan {
  uint64_t number = 0;  // 1-based, names the file
  uint32_t org = 0, domain = 0, day = 0;
  Container container = Container::xml;
  bool big = false;
};

struct Totals {
  uint64_t messages = 0, records = 0, xml_bytes = 0;
  uint64_t per_container[3] = {0, 0, 0};
};

uint32_t pick_org(Rng& rng) {
  unsigned total = 0;
  for (const Org& o : kOrgs) total += o.weight;
  unsigned r = static_cast<unsigned>(rng.below(total));
  for (uint32_t i = 0; i < kOrgs.size(); ++i) {
    if (r < kOrgs[i].weight) return i;
    r -= kOrgs[i].weight;
  }
  return 0;
}

uint64_t triple_key(const Options& o, const MessagePlan& m) {
  return (uint64_t{m.org} * o.domains + m.domain) * o.days + m.day;
}

// Draws a fresh (org, domain, day) for every message by rejection; the
// caller has checked that enough distinct triples exist.
std::vector<MessagePlan> plan_messages(const Options& o) {
  Rng rng(hash_of(o.seed, 0x706c616e));  // "plan"
  std::unordered_set<uint64_t> used;
  std::vector<MessagePlan> plan;
  const uint64_t total = o.messages + (o.big_report_mb > 0 ? 1 : 0);
  for (uint64_t i = 0; i < total; ++i) {
    MessagePlan m;
    m.number = i + 1;
    m.big = i == o.messages;
    do {
      m.org = pick_org(rng);
      m.domain = static_cast<uint32_t>(rng.below(o.domains));
      m.day = static_cast<uint32_t>(rng.below(o.days));
    } while (!used.insert(triple_key(o, m)).second);
    const uint64_t c = rng.below(10);  // 40% zip, 40% gzip, 20% plain XML
    m.container = m.big ? Container::gzip : c < 4 ? Container::zip : c < 8 ? Container::gzip
                                                                          : Container::xml;
    plan.push_back(m);
  }
  return plan;
}

ReportSpec make_spec(const Options& o, const MessagePlan& m, Rng& rng) {
  ReportSpec s;
  s.org = &kOrgs[m.org];
  s.domain = make_domain(o.seed, m.domain);
  s.domain_index = m.domain;
  s.begin = kEpochEnd - static_cast<int64_t>(o.days - m.day) * kDay;
  s.end = s.begin + kDay - 1;
  s.report_id = make_report_id(*s.org, o.seed, triple_key(o, m), m.domain, s.begin);
  s.seed = o.seed;
  if (m.big) {
    s.min_xml_bytes = o.big_report_mb << 20;
  } else {
    s.records = rng.log_uniform(o.min_records, o.max_records);
  }
  return s;
}

MailHead make_head(const ReportSpec& s, const MessagePlan& m, uint64_t seed, Rng& rng) {
  MailHead h;
  h.org = s.org;
  h.to = "dmarc-reports@" + s.domain.name;
  h.subject = "Report Domain: " + s.domain.name + " Submitter: " + std::string(s.org->submitter) +
              " Report-ID: " + s.report_id;
  // Reporters send a few minutes to hours after the window closes.
  h.date = s.end + 1 + static_cast<int64_t>(rng.between(600, 8 * 3600));
  h.message_id = s.report_id + "." + std::to_string(seed) + "@" + std::string(s.org->submitter);
  char boundary[48];
  std::snprintf(boundary, sizeof boundary, "=_dmarq_gen_%016llx",
                static_cast<unsigned long long>(hash_of(seed, m.number, 0x626e64)));
  h.boundary = boundary;
  return h;
}

// Streams one message into `path`. Gzip and plain XML go straight through
// the sink chain; zip needs the member size up front, so that XML is built
// in memory first (ordinary reports are at most a few MB).
ReportStats write_message(const Options& o, const MessagePlan& m, const fs::path& path) {
  Rng rng(hash_of(o.seed, m.number, 0x726570));  // "rep"
  const ReportSpec spec = make_spec(o, m, rng);
  const MailHead head = make_head(spec, m, o.seed, rng);
  const std::string base = std::string(spec.org->submitter) + "!" + spec.domain.name + "!" +
                           std::to_string(spec.begin) + "!" + std::to_string(spec.end);
  static constexpr std::string_view kTypes[] = {"application/zip", "application/gzip",
                                                "text/xml"};
  static constexpr std::string_view kExts[] = {".zip", ".xml.gz", ".xml"};
  const auto ci = static_cast<std::size_t>(m.container);
  const AttachmentInfo att{kTypes[ci], base + std::string(kExts[ci])};

  FileSink file(path);
  file.write(message_head(head, att));
  Base64Sink b64(file);
  ReportStats stats;
  if (m.container == Container::zip) {
    std::string xml;
    StringSink xml_sink(xml);
    stats = write_report_xml(spec, rng, xml_sink);
    b64.write(zip_single_member(base + ".xml", xml, head.date));
  } else if (m.container == Container::gzip) {
    GzipSink gz(b64, base + ".xml", static_cast<uint32_t>(head.date));
    stats = write_report_xml(spec, rng, gz);
    gz.finish();
  } else {
    stats = write_report_xml(spec, rng, b64);
  }
  b64.finish();
  file.write(message_tail(head));
  file.close();
  return stats;
}

void make_maildir(const fs::path& dir) {
  for (const char* sub : {"new", "cur", "tmp"}) {
    const fs::path p = dir / sub;
    fs::create_directories(p);
    // Mixing two corpora would make record counts meaningless.
    if (!fs::is_empty(p))
      throw std::runtime_error(p.string() + " is not empty; use a fresh --out directory");
  }
}

std::string validate(const Options& o) {
  if (o.min_records < 1) return "--min-records must be at least 1";
  if (o.max_records < o.min_records) return "--max-records must be >= --min-records";
  if (o.domains < 1 || o.domains > 999999) return "--domains must be in 1..999999";
  if (o.days < 1 || o.days > 36500) return "--days must be in 1..36500";
  if (o.big_report_mb > (uint64_t{1} << 20)) return "--big-report-mb is too large";
  const uint64_t capacity = uint64_t{kOrgs.size()} * o.domains * o.days;
  const uint64_t wanted = o.messages + (o.big_report_mb > 0 ? 1 : 0);
  if (wanted > capacity)
    return "need " + std::to_string(wanted) + " distinct (org, domain, day) reports but only " +
           std::to_string(capacity) + " exist; raise --domains or --days";
  return {};
}

void print_progress(const Options& o, const MessagePlan& m, const ReportStats& s,
                    const fs::path& file) {
  if (o.quiet) return;
  if (m.big) {
    std::fprintf(stderr, "dmarq-gen: big report: %llu records, %llu XML bytes, message %s (%llu bytes)\n",
                 static_cast<unsigned long long>(s.records),
                 static_cast<unsigned long long>(s.xml_bytes), file.filename().c_str(),
                 static_cast<unsigned long long>(fs::file_size(file)));
    return;
  }
  const uint64_t step = o.messages >= 10 ? o.messages / 10 : 1;
  if (m.number % step == 0 || m.number == o.messages)
    std::fprintf(stderr, "dmarq-gen: %llu/%llu messages\n",
                 static_cast<unsigned long long>(m.number),
                 static_cast<unsigned long long>(o.messages));
}

Totals generate(const Options& o) {
  make_maildir(o.out);
  Totals t;
  for (const MessagePlan& m : plan_messages(o)) {
    char name[32];
    std::snprintf(name, sizeof name, "gen-%06llu.eml", static_cast<unsigned long long>(m.number));
    const fs::path tmp = o.out / "tmp" / name;
    const fs::path final_path = o.out / "new" / name;
    const ReportStats s = write_message(o, m, tmp);
    fs::rename(tmp, final_path);
    ++t.messages;
    t.records += s.records;
    t.xml_bytes += s.xml_bytes;
    ++t.per_container[static_cast<int>(m.container)];
    print_progress(o, m, s, final_path);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dmarq-gen: deterministic DMARC aggregate-report Maildir corpus generator"};
  Options o;
  app.add_option("--out", o.out, "Maildir to create (DIR/new, DIR/cur, DIR/tmp)")->required();
  app.add_option("--messages", o.messages, "number of report messages")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed; same seed + options => same bytes")
      ->capture_default_str();
  app.add_option("--min-records", o.min_records, "fewest records per report")
      ->capture_default_str();
  app.add_option("--max-records", o.max_records, "most records per report (log-uniform)")
      ->capture_default_str();
  app.add_option("--domains", o.domains, "policy domains (domain001.example, ...)")
      ->capture_default_str();
  app.add_option("--days", o.days, "1-day report windows spread over the K days before 2026-11-01Z")
      ->capture_default_str();
  app.add_option("--big-report-mb", o.big_report_mb,
                 "if > 0, add one gzipped report with at least this many MiB of XML")
      ->capture_default_str();
  app.add_flag("--quiet", o.quiet, "no progress on stderr (the summary is still printed)");
  CLI11_PARSE(app, argc, argv);

  // libarchive writes zip timestamps as local (DOS) time; pinning TZ keeps
  // the archive bytes the same whatever the caller's time zone.
  setenv("TZ", "UTC0", 1);
  tzset();

  if (const std::string err = validate(o); !err.empty()) {
    std::fprintf(stderr, "dmarq-gen: %s\n", err.c_str());
    return 2;
  }
  try {
    const Totals t = generate(o);
    std::printf("messages=%llu reports=%llu records=%llu xml_bytes=%llu (zip=%llu gzip=%llu xml=%llu)\n",
                static_cast<unsigned long long>(t.messages),
                static_cast<unsigned long long>(t.messages),
                static_cast<unsigned long long>(t.records),
                static_cast<unsigned long long>(t.xml_bytes),
                static_cast<unsigned long long>(t.per_container[0]),
                static_cast<unsigned long long>(t.per_container[1]),
                static_cast<unsigned long long>(t.per_container[2]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dmarq-gen: %s\n", e.what());
    return 1;
  }
  return 0;
}
