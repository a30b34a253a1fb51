// Extractor: one raw message in, a stream of operations out (see ops.h).
//
// Recognises the input by content: a bare zip, gzip or XML report, or an
// e-mail whose MIME parts (at any depth) carry reports. Every report part is
// unpacked and streamed through the XML parser, so memory holds one record
// at a time. A bad part becomes a reject with its reason and position; the
// message's other parts go on. Pure: no I/O and no store access, so it can
// run on its own thread. Never throws for bad input.
#pragma once

#include "dmarq/ingest/ops.h"
#include "dmarq/limits.h"
#include "dmarq/source/sources.h"

namespace dmarq::ingest {

// `now` is our clock (seconds since the epoch, UTC); reports never set it.
void extract(const source::RawMessage& message, int64_t now, const Limits& limits, OpSink& out);

}  // namespace dmarq::ingest
