// Thin RAII over the SQLite C API: the only place besides the store that
// includes <sqlite3.h>. Statements are prepared once and reused.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "dmarq/store/store.h"

namespace dmarq::detail {

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, std::string_view sql);
  // Whether it holds a prepared statement (a default-constructed one does not).
  explicit operator bool() const { return s_ != nullptr; }

  // Binds without copying: `v` must stay alive until the statement has run
  // (exec() or the last step()). Use bind_copy for temporaries.
  Stmt& bind(int i, std::string_view v) {
    check(sqlite3_bind_text(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC));
    return *this;
  }
  Stmt& bind_copy(int i, std::string_view v) {
    check(sqlite3_bind_text(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(s_.get(), i, v));
    return *this;
  }
  Stmt& bind_blob(int i, const void* data, int size) {
    check(sqlite3_bind_blob(s_.get(), i, data, size, SQLITE_STATIC));
    return *this;
  }
  Stmt& bind_null(int i) {
    check(sqlite3_bind_null(s_.get(), i));
    return *this;
  }
  // True while a row is available; false when done. Throws on error.
  bool step();
  // Runs to completion and resets; returns sqlite's result code (DONE or a
  // constraint code when allow_constraint is set).
  int exec(bool allow_constraint = false);
  void reset() {
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
  }

  int64_t i64(int col) const { return sqlite3_column_int64(s_.get(), col); }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_.get(), col))) : std::string();
  }
  // Valid until the next step(), reset() or column call on this column:
  // assign it into a reused string to read rows without allocating.
  std::string_view view(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_.get(), col))) : std::string_view();
  }
  std::span<const unsigned char> blob(int col) const {
    auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s_.get(), col));
    return p ? std::span<const unsigned char>(p, static_cast<std::size_t>(sqlite3_column_bytes(s_.get(), col)))
             : std::span<const unsigned char>();
  }
  bool is_null(int col) const { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }
  bool null(int col) const { return is_null(col); }  // the name store/rows.h reads

 private:
  void check(int rc);
  std::unique_ptr<sqlite3_stmt, StmtDeleter> s_;
  sqlite3* db_ = nullptr;
};

void exec_sql(sqlite3* db, const std::string& sql);

}  // namespace dmarq::detail
