#include "dmarq/store/ingest_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dmarq/store/store.h"

namespace dmarq::store {

std::optional<IngestLock> IngestLock::try_acquire(const std::string& db_path) {
  std::string path = db_path + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw StoreError("cannot open lock file " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::nullopt;
    throw StoreError("cannot lock " + path + ": " + std::strerror(err));
  }
  return IngestLock(fd);
}

IngestLock::IngestLock(IngestLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

IngestLock::~IngestLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace dmarq::store
