// Unpacking report payloads in memory: zip (every member), gzip (the first
// member) and plain data. Each member is handed to a MemberSink as a
// ByteReader that decompresses as it is read, so a large report never sits
// decompressed in memory.
//
// Limits (see Limits): entries per zip, bytes per entry and in total, and the
// ratio of decompressed to compressed bytes. Crossing one ends the member's
// reader with -1 and an error Issue. Member names are display text only.
// Failure mode: corrupt data yields error Issues, never an exception.
// Not thread-safe per call; separate calls are independent.
#pragma once

#include <string>
#include <string_view>

#include "dmarq/archive/sniff.h"
#include "dmarq/limits.h"
#include "dmarq/model/issue.h"
#include "dmarq/util/byte_reader.h"

namespace dmarq::archive {

class MemberSink {
 public:
  virtual ~MemberSink() = default;
  // One member: `name` is empty for gzip without a name and for plain data.
  // The sink reads as much of `reader` as it wants; the rest is skipped.
  virtual void member(const std::string& name, util::ByteReader& reader) = 0;
  // The member ended; `issues` holds what went wrong inside it (empty if
  // none) and warnings such as trailing garbage.
  virtual void end_member(const model::Issues& issues) = 0;
};

// Streams `bytes` (of the given sniffed kind: zip, gzip or anything else as
// plain data) to `sink`. Returns archive-level issues (a corrupt zip
// directory, too many entries, an archive with no member).
model::Issues unpack(std::string_view bytes, ContentKind kind, const Limits& limits, MemberSink& sink);

}  // namespace dmarq::archive
