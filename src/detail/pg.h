// A thin RAII layer over libpq (Debian's libpq-dev): a connection, results,
// parameters as text, and COPY FROM STDIN. Errors throw store::StoreError
// with the server's message. Text protocol throughout: every value dmarq
// stores is text or an integer, and bytea travels as PostgreSQL's hex form.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/store/store.h"

namespace dmarq::detail {

// A statement the server refused, with its SQLSTATE ("23505" is a unique
// violation), so that callers test the code, not the server's wording,
// which follows its lc_messages.
class PgError : public store::StoreError {
 public:
  PgError(const std::string& what, std::string sqlstate)
      : StoreError(what, kind_of(sqlstate)), sqlstate_(std::move(sqlstate)) {}
  // By SQLSTATE class (PostgreSQL manual, appendix A): 40 transaction
  // rollback (40001 serialization failure, 40P01 deadlock) is a conflict;
  // 08 connection exception, 53 insufficient resources and 57P01..57P03
  // (shutdown, cannot connect now) are transient.
  static Kind kind_of(const std::string& state);
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// Text PostgreSQL accepts (valid UTF-8 without NUL) that gives back any
// bytes: a byte that is not part of valid UTF-8 (or NUL) is stored as U+FFFF
// then U+2800 + the byte, and U+FFFF itself as U+FFFF U+FFFF. Valid text
// without U+FFFF, all that reports give, is stored as it is. PgResult::text
// undoes it (pg_untext).
std::string pg_text(std::string_view s);
std::string pg_untext(std::string_view s);

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  int rows() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  // A text column, with pg_text's escapes undone.
  std::string text(int row, int col) const {
    return pg_untext({PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col))});
  }
  int64_t i64(int row, int col) const;
  std::string bytes(int row, int col) const;  // a bytea column, decoded
  uint64_t affected() const;                  // rows an INSERT/UPDATE/DELETE touched
  ExecStatusType status() const { return r_ ? PQresultStatus(r_.get()) : PGRES_FATAL_ERROR; }

 private:
  std::unique_ptr<PGresult, PgResultDeleter> r_;
};

// A parameter: text, or SQL NULL.
using PgParam = std::optional<std::string>;
PgParam pg_int(int64_t v);
PgParam pg_bytes(std::string_view raw);  // bytea in hex form

class PgConn {
 public:
  // `url` is a libpq connection URI; the password is `password` when not
  // empty, else what libpq finds in PGPASSFILE or ~/.pgpass. Throws
  // StoreError when it cannot connect.
  static PgConn connect(const std::string& url, const std::string& password = {});
  // Throws PgError when the server refuses the statement.
  PgResult exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs `fn` between BEGIN and COMMIT, rolling back when it throws.
  template <typename Fn>
  void in_transaction(Fn fn) {
    exec("BEGIN");
    try {
      fn();
      exec("COMMIT");
    } catch (...) {
      PQclear(PQexec(c_.get(), "ROLLBACK"));
      throw;
    }
  }
  // Runs `copy_sql` (COPY ... FROM STDIN) with `data` in COPY's text format.
  void copy_in(const std::string& copy_sql, std::string_view data);
  PGconn* raw() const { return c_.get(); }

 private:
  std::string sqlstate_of(const PGresult* r) const;

  std::unique_ptr<PGconn, PgConnDeleter> c_;
};

// Appends `v` to `out` escaped for COPY's text format (\N is NULL).
void copy_field(std::string& out, std::string_view v);

}  // namespace dmarq::detail
