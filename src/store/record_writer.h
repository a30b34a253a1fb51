// RecordWriter: writes a report's records and their DKIM, SPF and override
// rows to SQLite in multi-row INSERTs.
//
// Why batch by hand: one INSERT per row costs a statement start, a fresh
// cursor and a B-tree seek from the root each time, which was most of the
// loading thread's time. Records get ids we assign (the next free rowid,
// read once per message; the ingest lock makes us the only writer), so the
// child rows can be written without asking SQLite for each id, and a
// report's records occupy one contiguous id range.
//
// Records are buffered (at most kBatch at a time) and flushed when the batch
// is full or on flush(). discard() drops unflushed rows (the caller rolls
// back the flushed ones with its savepoint).
#pragma once

#include <sqlite3.h>

#include <array>
#include <map>
#include <vector>

#include "detail/sqlite.h"
#include "dmarq/model/aggregate.h"

namespace dmarq::store {

class RecordWriter {
 public:
  static constexpr std::size_t kBatch = 64;

  explicit RecordWriter(sqlite3* db) : db_(db) {}

  // Reads the next free record id; call at the start of every transaction.
  void start_transaction();
  // Records rows for `report` (taking the record's contents); returns the id
  // the record will have.
  int64_t add(int64_t report, model::Record& record);
  // The id the next record will get.
  int64_t next_id() const { return next_id_; }
  void flush();
  void discard() { buffered_ = 0; }

 private:
  struct Table {
    const char* name;
    const char* columns;
    int arity;
    std::map<std::size_t, detail::Stmt> by_rows;  // statement per row count
  };
  detail::Stmt& statement(Table& table, std::size_t rows);
  template <typename Row, typename Bind>
  void write(Table& table, const std::vector<Row>& rows, Bind bind);

  sqlite3* db_;
  int64_t next_id_ = 1;
  std::vector<model::Record> records_;  // reused slots
  std::vector<int64_t> ids_, reports_;
  std::vector<std::string> ip_text_;
  std::size_t buffered_ = 0;

  // One child row (DKIM, SPF or override) of a buffered record; the rows
  // are gathered per table at flush, in reused vectors.
  template <typename T>
  struct Child {
    int64_t record;
    int64_t seq;
    const T* item;
  };
  std::vector<std::size_t> recs_;
  std::vector<Child<model::DkimResult>> dkim_rows_;
  std::vector<Child<model::SpfResult>> spf_rows_;
  std::vector<Child<model::OverrideReason>> reason_rows_;

  Table record_{"record",
                "id, report_id, source_ip, source_ip_raw, ip, count, disposition, dkim_eval, spf_eval, "
                "envelope_to, envelope_from, header_from, has_extensions",
                13, {}};
  Table dkim_{"dkim_result", "record_id, seq, domain, selector, result, human_result", 6, {}};
  Table spf_{"spf_result", "record_id, seq, domain, scope, result, human_result", 6, {}};
  Table reason_{"override_reason", "record_id, seq, type, comment", 4, {}};
};

}  // namespace dmarq::store
