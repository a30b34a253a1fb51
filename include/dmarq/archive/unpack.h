// Unpacking report payloads in memory: zip (every member), gzip (the first
// member) and plain data, streamed to a ChunkSink in bounded chunks so that a
// large report never sits decompressed in memory.
//
// Limits (see Limits): entries per zip, bytes per entry, bytes in total and
// the ratio of decompressed to compressed bytes. Crossing one stops the
// member with an error Issue. Member names are display text only.
// Failure mode: corrupt data yields error Issues, never an exception.
// Not thread-safe per call; separate calls are independent.
#pragma once

#include <string>
#include <string_view>

#include "dmarq/archive/sniff.h"
#include "dmarq/limits.h"
#include "dmarq/model/issue.h"

namespace dmarq::archive {

class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // A new member starts. `name` is empty for gzip without a name and plain data.
  virtual void begin_member(const std::string& name) = 0;
  // The next decompressed bytes. Return false to skip the rest of the member.
  virtual bool chunk(std::string_view data) = 0;
  // The member ended; `issues` holds what went wrong inside it (empty if none).
  virtual void end_member(const model::Issues& issues) = 0;
};

// Streams `bytes` (of the given sniffed kind: zip, gzip or anything else as
// plain data) to `sink`. Returns archive-level issues (a corrupt zip
// directory, too many entries, an archive with no member).
model::Issues unpack(std::string_view bytes, ContentKind kind, const Limits& limits,
                     ChunkSink& sink);

}  // namespace dmarq::archive
