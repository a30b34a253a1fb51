// The DNS answer cache over table dns_cache (see the header), in SQLite or
// PostgreSQL.
//
// Its own connection, so that it can sit beside an ingest. SQLite: WAL (set
// by the store) lets it read while an ingest writes, and the busy timeout
// lets its writes wait for the ingest's transaction to end. When the write
// lock does not come within that time the answers are returned without
// being stored: they are still right, only not remembered, and a lookup
// should not fail because an ingest is busy. PostgreSQL: rows are written in
// key order, so hosts caching at once cannot deadlock; a conflict all the
// same, or a read-only database (a hot standby), leaves the answers
// unstored, as a busy SQLite does.
//
// Key: the name ASCII lower-cased without its trailing dot, and the type
// number. Stored: ok, nodata and nxdomain, until fetched_at + TTL (the TTL
// capped at kMaxTtl; a TTL of 0 is stored and is stale at once). Never
// stored: temporary and offline answers, and answers whose records are not
// valid UTF-8 (TXT records are bytes; the JSON column could not give them
// back unchanged).
//
// Thread-safety: one thread at a time, like the Resolver it wraps.
#include "dmarq/dns/cache.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <tuple>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "dmarq/store/store.h"

#include "detail/pg.h"
#include "detail/sqlite.h"

namespace dmarq::dns {
namespace {

constexpr int64_t kMaxTtl = 7 * 24 * 3600;
constexpr int kBusyTimeoutMs = 5000;

std::string cache_key(std::string name) {
  // Drop one trailing dot, unless it is escaped ("a\." ends in a label byte).
  if (name.size() > 1 && name.back() == '.') {
    std::size_t backslashes = 0;
    for (std::size_t i = name.size() - 1; i > 0 && name[i - 1] == '\\'; --i) ++backslashes;
    if (backslashes % 2 == 0) name.pop_back();
  }
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return name;
}

bool storable(Status s) { return s == Status::ok || s == Status::nodata || s == Status::nxdomain; }

std::optional<Status> status_from_name(std::string_view s) {
  for (Status st : {Status::ok, Status::nodata, Status::nxdomain})
    if (status_name(st) == s) return st;
  return std::nullopt;
}

// The records as a JSON array; nullopt when one is not valid UTF-8.
std::optional<std::string> to_json(const std::vector<std::string>& data) {
  try {
    return nlohmann::json(data).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::type_error&) {
    return std::nullopt;
  }
}

// The records of a cached row; nullopt when the column is not an array of
// strings (a row written by something else is a miss, not a crash).
std::optional<std::vector<std::string>> from_json(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(j.size());
  for (const auto& item : j) {
    if (!item.is_string()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed; never throws
// from its destructor.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) {}
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  ~WriteTransaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  // False when another writer kept the lock past the busy timeout.
  bool begin() {
    const int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if ((rc & 0xff) == SQLITE_BUSY) return false;
    if (rc != SQLITE_OK) throw store::StoreError(std::string("DNS cache: BEGIN failed: ") + sqlite3_errmsg(db_));
    open_ = true;
    return true;
  }
  void commit() {
    detail::exec_sql(db_, "COMMIT");
    open_ = false;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

// One cached row, and where rows are kept.
struct CachedRow {
  std::string status, data;
  int64_t expires_at = 0;
};
struct NewRow {
  const std::string* name;
  uint16_t type;
  std::string_view status;
  const std::string* data;
  int64_t fetched_at, expires_at;
};
class CacheTable {
 public:
  virtual ~CacheTable() = default;
  virtual std::optional<CachedRow> get(const std::string& name, uint16_t type) = 0;
  // Best effort: rows another writer keeps from being stored are dropped.
  virtual void put(const std::vector<NewRow>& rows) = 0;
};

class SqliteTable final : public CacheTable {
 public:
  explicit SqliteTable(const std::string& db_path) {
    sqlite3* raw = nullptr;
    // No SQLITE_OPEN_CREATE: the database must exist with dmarq's schema.
    const int rc = sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK)
      throw store::StoreError("DNS cache: cannot open database " + db_path + ": " +
                              (raw ? sqlite3_errmsg(raw) : "out of memory"));
    sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
    sqlite3_extended_result_codes(db_.get(), 1);
    // Prepared now, so that a database without the table fails here, at
    // once, with SQLite's "no such table: dns_cache".
    select_ = detail::Stmt(db_.get(), "SELECT status, data, expires_at FROM dns_cache WHERE name=?1 AND type=?2");
    upsert_ = detail::Stmt(db_.get(),
                           "INSERT INTO dns_cache(name, type, status, data, fetched_at, expires_at) "
                           "VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT(name, type) DO UPDATE SET "
                           "status=excluded.status, data=excluded.data, fetched_at=excluded.fetched_at, "
                           "expires_at=excluded.expires_at");
  }

  std::optional<CachedRow> get(const std::string& name, uint16_t type) override {
    select_.bind(1, name).bind(2, static_cast<int64_t>(type));
    std::optional<CachedRow> row;
    if (select_.step()) row = CachedRow{std::string(select_.view(0)), std::string(select_.view(1)), select_.i64(2)};
    select_.reset();
    return row;
  }

  void put(const std::vector<NewRow>& rows) override {
    WriteTransaction tx(db_.get());
    if (!tx.begin()) return;
    for (const auto& r : rows) {
      upsert_.bind(1, *r.name)
          .bind(2, static_cast<int64_t>(r.type))
          .bind(3, r.status)
          .bind(4, *r.data)
          .bind(5, r.fetched_at)
          .bind(6, r.expires_at);
      upsert_.exec();
    }
    tx.commit();
  }

 private:
  std::unique_ptr<sqlite3, detail::DbDeleter> db_;
  detail::Stmt select_;
  detail::Stmt upsert_;
};

class PgTable final : public CacheTable {
 public:
  PgTable(const std::string& url, const std::string& password) : db_(detail::PgConn::connect(url, password)) {
    // As in SQLite: a database without the table fails here, at once.
    db_.exec("SELECT 1 FROM dns_cache LIMIT 0");
  }

  std::optional<CachedRow> get(const std::string& name, uint16_t type) override {
    auto r = db_.exec("SELECT status, data, expires_at FROM dns_cache WHERE name=$1 AND type=$2",
                      {detail::pg_text(name), detail::pg_int(type)});
    if (r.rows() == 0) return std::nullopt;
    return CachedRow{r.text(0, 0), r.text(0, 1), r.i64(0, 2)};
  }

  void put(const std::vector<NewRow>& rows) override {
    std::vector<const NewRow*> sorted;
    for (const auto& r : rows) sorted.push_back(&r);
    std::sort(sorted.begin(), sorted.end(), [](const NewRow* a, const NewRow* b) {
      return std::tie(*a->name, a->type) < std::tie(*b->name, b->type);
    });
    try {
      db_.in_transaction([&] {
        for (const NewRow* r : sorted)
          db_.exec("INSERT INTO dns_cache(name, type, status, data, fetched_at, expires_at) "
                   "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (name, type) DO UPDATE SET "
                   "status=excluded.status, data=excluded.data, fetched_at=excluded.fetched_at, "
                   "expires_at=excluded.expires_at",
                   {detail::pg_text(*r->name), detail::pg_int(r->type), std::string(r->status),
                    detail::pg_text(*r->data), detail::pg_int(r->fetched_at), detail::pg_int(r->expires_at)});
      });
    } catch (const detail::PgError& e) {
      // Another host's write crossed this one, or the database is read-only
      // (25006: a hot standby, or default_transaction_read_only): the
      // answers are right, only not remembered.
      if (e.kind() != store::StoreError::Kind::conflict && e.sqlstate() != "25006") throw;
    }
  }

 private:
  detail::PgConn db_;
};

class CachedResolver final : public Resolver {
 public:
  CachedResolver(Resolver& upstream, std::unique_ptr<CacheTable> table, std::function<int64_t()> now)
      : upstream_(upstream),
        table_(std::move(table)),
        now_(now ? std::move(now) : std::function<int64_t()>(system_now)) {}

  Answer lookup(const std::string& name, Type type) override {
    auto answers = lookup_all({Query{name, type}});
    return std::move(answers.front());
  }

  std::vector<Answer> lookup_all(const std::vector<Query>& queries) override {
    const int64_t now = now_();
    std::vector<Answer> out(queries.size());

    // Hits are served; each distinct miss is asked once, all in one batch.
    using Key = std::pair<std::string, uint16_t>;
    std::map<Key, std::size_t> miss_index;
    std::vector<Key> miss_keys;
    std::vector<Query> misses;
    std::vector<std::pair<std::size_t, std::size_t>> waiting;  // (query, miss)
    for (std::size_t i = 0; i < queries.size(); ++i) {
      Key key{cache_key(queries[i].name), static_cast<uint16_t>(queries[i].type)};
      if (auto hit = find(key.first, key.second, now)) {
        out[i] = std::move(*hit);
        continue;
      }
      auto [it, inserted] = miss_index.emplace(key, misses.size());
      if (inserted) {
        misses.push_back(queries[i]);
        miss_keys.push_back(std::move(key));
      }
      waiting.emplace_back(i, it->second);
    }
    if (misses.empty()) return out;

    std::vector<Answer> fetched = upstream_.lookup_all(misses);
    if (fetched.size() != misses.size())
      throw std::logic_error("DNS cache: upstream resolver returned a wrong number of answers");
    store(miss_keys, fetched, now);
    for (const auto& [query, miss] : waiting) out[query] = fetched[miss];
    return out;
  }

 private:
  std::optional<Answer> find(const std::string& name, uint16_t type, int64_t now) {
    auto row = table_->get(name, type);
    if (!row) return std::nullopt;
    const auto status = status_from_name(row->status);
    auto data = from_json(row->data);
    const bool consistent = status && data && (*status == Status::ok) == !data->empty();
    if (row->expires_at <= now || !consistent) return std::nullopt;
    Answer hit;
    hit.status = *status;
    hit.data = std::move(*data);
    hit.ttl = static_cast<uint32_t>(std::min<int64_t>(row->expires_at - now, kMaxTtl));
    return hit;
  }

  void store(const std::vector<std::pair<std::string, uint16_t>>& keys, const std::vector<Answer>& answers,
             int64_t now) {
    std::vector<std::string> json(answers.size());
    std::vector<NewRow> rows;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (!storable(answers[i].status)) continue;
      auto text = to_json(answers[i].data);
      if (!text) continue;
      json[i] = std::move(*text);
      const int64_t ttl = std::min<int64_t>(answers[i].ttl, kMaxTtl);
      rows.push_back({&keys[i].first, keys[i].second, status_name(answers[i].status), &json[i], now, now + ttl});
    }
    if (!rows.empty()) table_->put(rows);
  }

  Resolver& upstream_;
  std::unique_ptr<CacheTable> table_;
  std::function<int64_t()> now_;
};

}  // namespace

std::unique_ptr<Resolver> make_cached_resolver(Resolver& upstream, const std::string& db,
                                               std::function<int64_t()> now, const std::string& password) {
  std::unique_ptr<CacheTable> table;
  if (store::is_postgres_url(db)) table = std::make_unique<PgTable>(db, password);
  else table = std::make_unique<SqliteTable>(store::sqlite_path(db));
  return std::make_unique<CachedResolver>(upstream, std::move(table), std::move(now));
}

}  // namespace dmarq::dns
