// dmarq-floor: what the components that ingest is built on cost by
// themselves, on the same corpus, with none of dmarq's own work.
//
//   unpack  MIME decoding and libarchive, every report part of every message
//   parse   libxml2's SAX2 push parser over the unpacked XML with callbacks
//           that do nothing (the options dmarq uses)
//   insert  SQLite inserting the rows an ingest of the corpus wrote (records,
//           every DKIM and SPF result, override reasons) into a new database
//           with dmarq's schema: prepared statements, one transaction per
//           report, WAL, synchronous=NORMAL, as ingest does
//
// Each phase runs on one thread and is timed in that thread's CPU time, the
// fairest measure on a shared machine. From them it prints two ceilings for
// ingest: a single SQLite writer can go no faster than records / insert, and
// all three phases spread perfectly over the machine's cores no faster than
// records / ((unpack + parse + insert) / cores).
//
//   dmarq-floor --maildir CORPUS --db INGESTED.sqlite [--runs N]
//
// INGESTED.sqlite is a database that `dmarq ingest` filled from CORPUS
// (dmarq-bench --keep leaves one behind).
#include <CLI/CLI.hpp>
#include <libxml/parser.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dmarq/archive/sniff.h"
#include "dmarq/archive/unpack.h"
#include "dmarq/mime/message.h"
#include "dmarq/store/store.h"
#include "dmarq/util/cpu_time.h"

namespace fs = std::filesystem;
using namespace dmarq;

namespace {

std::vector<std::string> read_maildir(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / sub, ec))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

struct Collect final : archive::MemberSink {
  std::vector<std::string>* xml = nullptr;
  void member(const std::string&, util::ByteReader& reader) override {
    std::string bytes;
    char buf[65536];
    for (long n; (n = reader.read(buf, sizeof buf)) > 0;) bytes.append(buf, static_cast<std::size_t>(n));
    xml->push_back(std::move(bytes));
  }
  void end_member(const model::Issues&) override {}
};

std::vector<std::string> unpack_all(const std::vector<std::string>& messages) {
  Limits limits;
  std::vector<std::string> xml;
  Collect sink;
  sink.xml = &xml;
  for (const auto& raw : messages) {
    auto scanned = mime::scan_message(raw, limits);
    for (const auto& part : scanned.parts) {
      auto kind = archive::sniff(part.bytes);
      if (kind == archive::ContentKind::zip || kind == archive::ContentKind::gzip ||
          kind == archive::ContentKind::xml)
        archive::unpack(part.bytes, kind, limits, sink);
    }
  }
  return xml;
}

void parse_all(const std::vector<std::string>& docs) {
  xmlSAXHandler sax{};
  sax.initialized = XML_SAX2_MAGIC;
  sax.startElementNs = [](void*, const xmlChar*, const xmlChar*, const xmlChar*, int, const xmlChar**, int, int,
                          const xmlChar**) {};
  sax.endElementNs = [](void*, const xmlChar*, const xmlChar*, const xmlChar*) {};
  sax.characters = [](void*, const xmlChar*, int) {};
  for (const auto& doc : docs) {
    xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, nullptr, nullptr, 0, nullptr);
    if (!ctxt) throw std::runtime_error("libxml2: cannot create a parser");
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    constexpr std::size_t kChunk = 64 * 1024;
    for (std::size_t at = 0; at < doc.size(); at += kChunk)
      xmlParseChunk(ctxt, doc.data() + at, static_cast<int>(std::min(kChunk, doc.size() - at)), 0);
    xmlParseChunk(ctxt, nullptr, 0, 1);
    xmlFreeParserCtxt(ctxt);
  }
}

// Rows as SQLite gave them, every column kept as its own value.
struct Value {
  int type = SQLITE_NULL;
  sqlite3_int64 i = 0;
  std::string bytes;
};
using Row = std::vector<Value>;

struct Table {
  std::string name, columns;
  std::vector<Row> rows;
};

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

Table load(sqlite3* db, const std::string& name, const std::string& columns, const std::string& order) {
  Table t{name, columns, {}};
  sqlite3_stmt* s = nullptr;
  check(db, sqlite3_prepare_v2(db, ("SELECT " + columns + " FROM " + name + " ORDER BY " + order).c_str(), -1, &s,
                               nullptr),
        "read rows");
  const int n = sqlite3_column_count(s);
  while (sqlite3_step(s) == SQLITE_ROW) {
    Row row(static_cast<std::size_t>(n));
    for (int c = 0; c < n; ++c) {
      auto& v = row[static_cast<std::size_t>(c)];
      v.type = sqlite3_column_type(s, c);
      if (v.type == SQLITE_INTEGER) v.i = sqlite3_column_int64(s, c);
      else if (v.type != SQLITE_NULL)
        v.bytes.assign(static_cast<const char*>(sqlite3_column_blob(s, c)),
                       static_cast<std::size_t>(sqlite3_column_bytes(s, c)));
    }
    t.rows.push_back(std::move(row));
  }
  sqlite3_finalize(s);
  return t;
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

void bind_and_step(sqlite3* db, sqlite3_stmt* s, const Row& row) {
  for (std::size_t c = 0; c < row.size(); ++c) {
    const auto& v = row[c];
    const int i = static_cast<int>(c) + 1;
    switch (v.type) {
      case SQLITE_INTEGER: sqlite3_bind_int64(s, i, v.i); break;
      case SQLITE_NULL: sqlite3_bind_null(s, i); break;
      case SQLITE_BLOB: sqlite3_bind_blob(s, i, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_STATIC); break;
      default: sqlite3_bind_text(s, i, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_STATIC);
    }
  }
  check(db, sqlite3_step(s), "insert");
  sqlite3_reset(s);
}

// Inserts `record` (ordered by id, column 1 = report_id) and its children
// (ordered by record_id, column 0) in one transaction per report.
void insert_all(const fs::path& path, const Table& record, const std::vector<const Table*>& children) {
  store::open_sqlite(path.string(), store::OpenMode::read_write);  // creates dmarq's schema
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    throw std::runtime_error("cannot open " + path.string());
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> guard(db, sqlite3_close_v2);
  check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8000;",
                         nullptr, nullptr, nullptr),
        "pragmas");
  auto prepare = [&](const Table& t, std::size_t arity) {
    std::string sql = "INSERT INTO " + t.name + " (" + t.columns + ") VALUES (";
    for (std::size_t i = 0; i < arity; ++i) sql += i ? ",?" : "?";
    sql += ")";
    auto stmt = std::make_unique<Stmt>();
    check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt->s, nullptr), "prepare");
    return stmt;
  };
  if (record.rows.empty()) return;
  auto rec_stmt = prepare(record, record.rows.front().size());
  std::vector<std::unique_ptr<Stmt>> child_stmts;
  std::vector<std::size_t> next(children.size(), 0);
  for (const auto* c : children) child_stmts.push_back(c->rows.empty() ? nullptr : prepare(*c, c->rows.front().size()));

  sqlite3_int64 report = -1;
  bool open = false;
  for (const auto& row : record.rows) {
    if (row[1].i != report) {
      if (open) check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
      check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
      open = true;
      report = row[1].i;
    }
    bind_and_step(db, rec_stmt->s, row);
    for (std::size_t k = 0; k < children.size(); ++k) {
      const auto& rows = children[k]->rows;
      while (next[k] < rows.size() && rows[next[k]][0].i == row[0].i) bind_and_step(db, child_stmts[k]->s, rows[next[k]++]);
    }
  }
  if (open) check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dmarq-floor: the CPU cost of MIME+libarchive, libxml2 and SQLite alone on a corpus"};
  std::string maildir, db_path;
  int runs = 3;
  app.add_option("--maildir", maildir, "Corpus written by dmarq-gen")->required()->check(CLI::ExistingDirectory);
  app.add_option("--db", db_path, "Database dmarq ingest filled from the same corpus")->required()->check(CLI::ExistingFile);
  app.add_option("--runs", runs, "Repetitions of each phase (min and median are printed)")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  try {
    const auto messages = read_maildir(maildir);
    sqlite3* src = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot open " + db_path);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> src_guard(src, sqlite3_close_v2);
    const Table record = load(src,
                              "record",
                              "id, report_id, source_ip, source_ip_raw, ip, count, disposition, dkim_eval, spf_eval, "
                              "envelope_to, envelope_from, header_from, has_extensions",
                              "id");
    const Table dkim = load(src, "dkim_result", "record_id, seq, domain, selector, result, human_result", "record_id, seq");
    const Table spf = load(src, "spf_result", "record_id, seq, domain, scope, result, human_result", "record_id, seq");
    const Table reason = load(src, "override_reason", "record_id, seq, type, comment", "record_id, seq");

    char tmpl[] = "/tmp/dmarq-floor-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    const fs::path work = tmpl;

    std::vector<double> unpack_s, parse_s, insert_s;
    std::vector<std::string> xml;
    std::size_t xml_bytes = 0;
    for (int r = 0; r < runs; ++r) {
      double t = util::thread_cpu_seconds();
      xml = unpack_all(messages);
      unpack_s.push_back(util::thread_cpu_seconds() - t);
      t = util::thread_cpu_seconds();
      parse_all(xml);
      parse_s.push_back(util::thread_cpu_seconds() - t);
      const fs::path out = work / ("run-" + std::to_string(r) + ".sqlite");
      t = util::thread_cpu_seconds();
      insert_all(out, record, {&dkim, &spf, &reason});
      insert_s.push_back(util::thread_cpu_seconds() - t);
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm", ".lock"}) fs::remove(out.string() + suffix, ec);
    }
    fs::remove_all(work);
    for (const auto& d : xml) xml_bytes += d.size();

    const double n = static_cast<double>(record.rows.size());
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const double u = median(unpack_s), p = median(parse_s), i = median(insert_s);
    const double umin = *std::min_element(unpack_s.begin(), unpack_s.end());
    const double pmin = *std::min_element(parse_s.begin(), parse_s.end());
    const double imin = *std::min_element(insert_s.begin(), insert_s.end());
    std::printf("corpus: messages=%zu xml=%zu (%.1f MB) records=%zu dkim=%zu spf=%zu reasons=%zu\n", messages.size(),
                xml.size(), static_cast<double>(xml_bytes) / 1e6, record.rows.size(), dkim.rows.size(),
                spf.rows.size(), reason.rows.size());
    std::printf("cpu seconds min/median over %d run(s): unpack=%.3f/%.3f parse=%.3f/%.3f insert=%.3f/%.3f\n", runs,
                umin, u, pmin, p, imin, i);
    std::printf("ceiling, one SQLite writer: records/s <= %.0f (best run %.0f)\n", n / i, n / imin);
    std::printf("ceiling, all phases on %u core(s): records/s <= %.0f (best runs %.0f)\n", cores,
                n / ((u + p + i) / cores), n / ((umin + pmin + imin) / cores));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dmarq-floor: %s\n", e.what());
    return 1;
  }
  return 0;
}
