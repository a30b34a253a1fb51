#include "detail/sqlite.h"

namespace dmarq::detail {

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw,
                              nullptr);
  if (rc != SQLITE_OK)
    throw store::StoreError("SQL prepare failed: " + std::string(sqlite3_errmsg(db)) + " in: " + std::string(sql));
  s_.reset(raw);
}

void Stmt::check(int rc) {
  if (rc != SQLITE_OK) throw store::StoreError(std::string("SQL bind failed: ") + sqlite3_errmsg(db_));
}

bool Stmt::step() {
  int rc = sqlite3_step(s_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string msg = sqlite3_errmsg(db_);
  sqlite3_reset(s_.get());
  throw store::StoreError("SQL step failed: " + msg);
}

int Stmt::exec(bool allow_constraint) {
  int rc = sqlite3_step(s_.get());
  if (rc == SQLITE_ROW) rc = SQLITE_DONE;  // a statement whose rows we ignore
  if (rc != SQLITE_DONE && !(allow_constraint && (rc & 0xff) == SQLITE_CONSTRAINT)) {
    std::string msg = sqlite3_errmsg(db_);
    reset();
    throw store::StoreError("SQL failed: " + msg);
  }
  reset();
  return rc;
}

void exec_sql(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw store::StoreError("SQL failed: " + msg);
  }
}

}  // namespace dmarq::detail
