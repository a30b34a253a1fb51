// The DNS answer cache over table dns_cache (see the header).
//
// Its own SQLite connection, so that it can sit beside an ingest: WAL (set
// by the store) lets it read while an ingest writes, and the busy timeout
// lets its writes wait for the ingest's transaction to end. When the write
// lock does not come within that time the answers are returned without
// being stored: they are still right, only not remembered, and a lookup
// should not fail because an ingest is busy.
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

#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

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

class CachedResolver final : public Resolver {
 public:
  CachedResolver(Resolver& upstream, const std::string& db_path, std::function<int64_t()> now)
      : upstream_(upstream), now_(now ? std::move(now) : std::function<int64_t()>(system_now)) {
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
    select_.bind(1, name).bind(2, static_cast<int64_t>(type));
    std::optional<Answer> hit;
    if (select_.step()) {
      const int64_t expires_at = select_.i64(2);
      const auto status = status_from_name(select_.view(0));
      auto data = from_json(select_.view(1));
      const bool consistent = status && data && (*status == Status::ok) == !data->empty();
      if (expires_at > now && consistent) {
        hit.emplace();
        hit->status = *status;
        hit->data = std::move(*data);
        hit->ttl = static_cast<uint32_t>(std::min<int64_t>(expires_at - now, kMaxTtl));
      }
    }
    select_.reset();
    return hit;
  }

  void store(const std::vector<std::pair<std::string, uint16_t>>& keys, const std::vector<Answer>& answers,
             int64_t now) {
    struct Row {
      std::size_t index;
      std::string json;
    };
    std::vector<Row> rows;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (!storable(answers[i].status)) continue;
      if (auto json = to_json(answers[i].data)) rows.push_back({i, std::move(*json)});
    }
    if (rows.empty()) return;

    WriteTransaction tx(db_.get());
    if (!tx.begin()) return;
    for (const auto& row : rows) {
      const Answer& a = answers[row.index];
      const int64_t ttl = std::min<int64_t>(a.ttl, kMaxTtl);
      upsert_.bind(1, keys[row.index].first)
          .bind(2, static_cast<int64_t>(keys[row.index].second))
          .bind(3, status_name(a.status))
          .bind(4, row.json)
          .bind(5, now)
          .bind(6, now + ttl);
      upsert_.exec();
    }
    tx.commit();
  }

  Resolver& upstream_;
  std::function<int64_t()> now_;
  std::unique_ptr<sqlite3, detail::DbDeleter> db_;
  detail::Stmt select_;
  detail::Stmt upsert_;
};

}  // namespace

std::unique_ptr<Resolver> make_cached_resolver(Resolver& upstream, const std::string& db_path,
                                               std::function<int64_t()> now) {
  return std::make_unique<CachedResolver>(upstream, db_path, std::move(now));
}

}  // namespace dmarq::dns
