#include "detail/pg.h"

#include <algorithm>
#include <charconv>

#include "dmarq/store/store.h"

namespace dmarq::detail {

namespace {

// libpq's messages span lines (ERROR, DETAIL, HINT, CONTEXT); one line
// reads better in a cron mail and a log.
std::string one_line(std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string out;
  for (char ch : msg) {
    if (ch == '\n') out += "; ";
    else if (!(ch == ' ' && !out.empty() && out.back() == ' ')) out += ch;
  }
  return out;
}

[[noreturn]] void fail(PGconn* c, const std::string& what) {
  std::string msg = one_line(c ? PQerrorMessage(c) : "out of memory");
  throw store::StoreError("PostgreSQL: " + what + ": " + msg);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

int64_t PgResult::i64(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r_.get(), row, col), out);
  return out;
}

std::string PgResult::bytes(int row, int col) const {
  std::string_view v(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  std::string out;
  if (v.size() < 2 || v[0] != '\\' || v[1] != 'x') return out;  // bytea_output is hex since 9.0
  out.reserve((v.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < v.size(); i += 2) out.push_back(static_cast<char>(hex(v[i]) << 4 | hex(v[i + 1])));
  return out;
}

uint64_t PgResult::affected() const {
  const char* n = PQcmdTuples(r_.get());
  uint64_t out = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), out);
  return out;
}

PgParam pg_int(int64_t v) { return std::to_string(v); }

PgParam pg_bytes(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// A UTF-8 check by hand: a few lines, and the replacement must match what
// the JSON columns already do with bad bytes (one U+FFFD per bad byte).
namespace {

// The escape of pg_text: U+FFFF, a noncharacter no report or mail header
// has reason to carry, followed by U+FFFF (itself) or by U+2800 + the byte
// (the Braille block: no case mapping, so lower() and upper() in SQL leave
// an escaped byte as it is).
constexpr std::string_view kEscape = "\xef\xbf\xbf";

// The length of the valid UTF-8 character at s[i] (NUL is not one), or 0.
std::size_t utf8_char(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  bool ok = len > 0 && c != 0 && i + len <= s.size() && !(len == 2 && c < 0xc2);
  for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
  if (ok && len == 3) {
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
  }
  if (ok && len == 4) {
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90) && c <= 0xf4;
  }
  return ok ? len : 0;
}

}  // namespace

std::string pg_text(std::string_view s) {
  // Most text is valid and has no U+FFFF: it goes as it is.
  bool plain = s.find(kEscape) == std::string_view::npos;
  for (std::size_t i = 0; plain && i < s.size();) {
    const std::size_t len = utf8_char(s, i);
    plain = len > 0;
    i += len;
  }
  if (plain) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = utf8_char(s, i);
    if (len == 3 && s.substr(i, 3) == kEscape) {
      out.append(kEscape).append(kEscape);
    } else if (len > 0) {
      out.append(s.substr(i, len));
    } else {
      // U+2800 + b in UTF-8: E2, A0 + (b >> 6), 80 + (b & 0x3f).
      const auto b = static_cast<unsigned char>(s[i]);
      out.append(kEscape);
      out.push_back('\xe2');
      out.push_back(static_cast<char>(0xa0 + (b >> 6)));
      out.push_back(static_cast<char>(0x80 + (b & 0x3f)));
    }
    i += len > 0 ? len : 1;
  }
  return out;
}

std::string pg_untext(std::string_view s) {
  if (s.find(kEscape) == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (s.substr(i, 3) != kEscape) {
      out.push_back(s[i++]);
      continue;
    }
    const std::string_view next = s.substr(i + 3, 3);
    if (next == kEscape) {
      out.append(kEscape);
      i += 6;
    } else if (next.size() == 3 && next[0] == '\xe2' && (static_cast<unsigned char>(next[1]) & 0xfc) == 0xa0 &&
               (static_cast<unsigned char>(next[2]) & 0xc0) == 0x80) {
      out.push_back(static_cast<char>(((static_cast<unsigned char>(next[1]) - 0xa0) << 6) |
                                      (static_cast<unsigned char>(next[2]) - 0x80)));
      i += 6;
    } else {
      out.append(kEscape);  // not written by pg_text: kept as it is
      i += 3;
    }
  }
  return out;
}

PgConn PgConn::connect(const std::string& url, const std::string& password) {
  PgConn c;
  // The URL expands into its parameters (expand_dbname); the password is
  // added beside them, so it is never part of a string anyone prints.
  const char* keys[] = {"dbname", password.empty() ? nullptr : "password", nullptr};
  const char* values[] = {url.c_str(), password.c_str(), nullptr};
  c.c_.reset(PQconnectdbParams(keys, values, 1));
  if (!c.c_ || PQstatus(c.c_.get()) != CONNECTION_OK) fail(c.c_.get(), "cannot connect");
  PQsetClientEncoding(c.c_.get(), "UTF8");
  c.exec("SET client_min_messages = warning");
  return c;
}

store::StoreError::Kind PgError::kind_of(const std::string& state) {
  auto cls = state.substr(0, 2);
  if (cls == "40") return Kind::conflict;
  if (cls == "08" || cls == "53" || state == "57P01" || state == "57P02" || state == "57P03") return Kind::transient;
  return Kind::other;
}

// The SQLSTATE of a failed result; a connection that broke on the way has
// none, and counts as 08006 (connection failure).
std::string PgConn::sqlstate_of(const PGresult* r) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (state && *state) return state;
  return PQstatus(c_.get()) == CONNECTION_BAD ? "08006" : "";
}

PgResult PgConn::exec(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* r = params.empty() ? PQexec(c_.get(), sql.c_str())
                               : PQexecParams(c_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                                              values.data(), nullptr, nullptr, 0);
  PgResult out(r);
  auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c_.get());
    msg = one_line(msg);
    std::string head = sql.substr(0, 80);
    throw PgError("PostgreSQL: " + msg + " (in: " + head + (sql.size() > 80 ? "...)" : ")"), sqlstate_of(r));
  }
  return out;
}

void PgConn::copy_in(const std::string& copy_sql, std::string_view data) {
  PgResult start(PQexec(c_.get(), copy_sql.c_str()));
  if (start.status() != PGRES_COPY_IN) fail(c_.get(), "COPY did not start");
  for (std::size_t at = 0; at < data.size();) {
    const std::size_t n = std::min<std::size_t>(data.size() - at, 1 << 20);
    if (PQputCopyData(c_.get(), data.data() + at, static_cast<int>(n)) != 1) fail(c_.get(), "COPY data");
    at += n;
  }
  if (PQputCopyEnd(c_.get(), nullptr) != 1) fail(c_.get(), "COPY end");
  std::string error, state;
  while (PGresult* r = PQgetResult(c_.get())) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && error.empty()) {
      error = PQresultErrorMessage(r);
      state = sqlstate_of(r);
    }
    PQclear(r);
  }
  error = one_line(error);
  if (!error.empty()) throw PgError("PostgreSQL: " + error + " (in: " + copy_sql.substr(0, 80) + ")", state);
}

void copy_field(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
  }
}

}  // namespace dmarq::detail
