#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <sstream>

#include "dmarq/ingest/pipeline.h"
#include "dmarq/output/aggregate_export.h"
#include "support/support.h"

using namespace dmarq;

namespace {

const std::vector<std::string> kFiles{"basic.xml",        "dmarcbis.xml", "truncated.xml", "quirks-1252.xml",
                                      "basic-multipart.eml", "bom-oneline.xml", "doctype-bomb.xml", "basic.zip"};

struct Run {
  std::vector<std::string> done;  // origins in on_done order
  std::vector<ingest::Outcome> outcomes;
  std::string csv;
  std::size_t rejects = 0;
};

std::string export_csv(store::Store& db) {
  std::ostringstream out;
  output::AggregateWriter w(out, output::ExportFormat::csv);
  db.for_each_record({}, [&](const store::ExportRow& row) { w.row(*row.meta, *row.record); });
  w.finish();
  return out.str();
}

Run run_pipeline(unsigned extractors, int copies) {
  test::TestDb tdb;
  auto db = tdb.open();
  Run run;
  {
    ingest::PipelinedIngester pipe(*db, Limits{}, [&](const source::RawMessage& m, const ingest::Result& r) {
      run.done.push_back(m.origin);
      run.outcomes.push_back(r.outcome);
    }, extractors);
    std::size_t index = 0;
    for (int c = 0; c < copies; ++c)
      for (const auto& f : kFiles) {
        auto msg = source::read_file(test::data_path("reports/" + f).string(), Limits{});
        msg.origin = f + "#" + std::to_string(c);
        msg.index = index++;
        pipe.submit(std::move(msg), 1800000000);
      }
    pipe.finish();
  }
  run.csv = export_csv(*db);
  run.rejects = db->list_rejects().size();
  return run;
}

}  // namespace

TEST_CASE("pipeline: any number of extractors commits the same data in submission order", "[ingest][backend]") {
  Run one = run_pipeline(1, 3);
  REQUIRE(one.done.size() == kFiles.size() * 3);
  for (std::size_t i = 0; i < one.done.size(); ++i)
    CHECK(one.done[i] == kFiles[i % kFiles.size()] + "#" + std::to_string(i / kFiles.size()));
  CHECK(one.outcomes[0] == ingest::Outcome::ok);
  CHECK(one.outcomes[2] == ingest::Outcome::rejected);        // truncated.xml
  CHECK(one.outcomes[kFiles.size()] == ingest::Outcome::duplicate);  // same bytes again
  CHECK(one.rejects == 6);  // a rejected input is tried again each time it comes
  auto n = GENERATE(2u, 3u, 5u);
  INFO(n << " extractors");
  Run many = run_pipeline(n, 3);
  CHECK(many.done == one.done);
  CHECK(many.outcomes == one.outcomes);
  CHECK(many.csv == one.csv);
  CHECK(many.rejects == one.rejects);
}

TEST_CASE("pipeline: a store failure stops the run and is reported", "[ingest]") {
  test::TempDir dir;
  auto path = (dir.path() / "t.sqlite").string();
  auto db = store::open_sqlite(path, store::OpenMode::read_write);
  std::vector<std::string> done;
  ingest::PipelinedIngester pipe(*db, Limits{}, [&](const source::RawMessage& m, const ingest::Result&) {
    done.push_back(m.origin);
  }, 2);
  // Make every report insert fail, as a full disk would, behind the store's back.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw, "CREATE TRIGGER stop BEFORE INSERT ON report BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  auto submit_all = [&] {
    for (int i = 0; i < 20; ++i) {
      auto msg = source::read_file(test::data_path("reports/basic.xml").string(), Limits{});
      msg.origin = "m" + std::to_string(i);
      msg.bytes += std::string(static_cast<std::size_t>(i), ' ');  // distinct bytes, same report
      pipe.submit(std::move(msg), 1);
    }
    pipe.finish();
  };
  CHECK_THROWS_WITH(submit_all(), Catch::Contains("disk on fire"));
  CHECK(done.empty());
}
