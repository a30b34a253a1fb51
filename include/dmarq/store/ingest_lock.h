// IngestLock: one ingest per database at a time.
//
// An advisory flock(2) on "<db>.lock", held for the life of the object and
// released by the kernel if the process dies, so a crashed run never leaves a
// stale lock behind. Readers (reports, export) do not take it: SQLite's WAL
// lets them read while an ingest writes.
#pragma once

#include <optional>
#include <string>

namespace dmarq::store {

class IngestLock {
 public:
  // Returns nullopt when another process holds the lock. Throws StoreError
  // when the lock file cannot be created.
  static std::optional<IngestLock> try_acquire(const std::string& db_path);

  IngestLock(IngestLock&& other) noexcept;
  IngestLock& operator=(IngestLock&&) = delete;
  ~IngestLock();

 private:
  explicit IngestLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace dmarq::store
