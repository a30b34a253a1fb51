// Streaming parser for DMARC aggregate report XML (RFC 7489 Appendix C and
// RFC 9990, with the tolerances listed in QUIRKS.md).
//
// The parser pulls bytes from a ByteReader (for ingest, a decompressing
// archive member) and hands each <record> to an AggregateHandler as soon as
// it is complete, so memory is bounded by one record and not by the report.
// Pulling rather than pushing: libxml2's push mode re-scans ahead for the end
// of every tag and was measurably slower. Elements are matched by local name, whatever
// their namespace or prefix.
//
// Safety: libxml2 runs with no network, no DTD loading and no entity
// substitution, and any DOCTYPE is refused. Depth, text size, record count and
// results per record are limited (see Limits).
//
// Failure mode: malformed or hostile XML yields an error Issue with the line
// and column and the parser stops; tolerated oddities yield warnings. Never
// throws for bad input. One parser per document; not thread-safe.
#pragma once

#include <memory>
#include <string_view>

#include "dmarq/limits.h"
#include "dmarq/model/aggregate.h"
#include "dmarq/model/issue.h"
#include "dmarq/util/byte_reader.h"

namespace dmarq::parse {

class AggregateHandler {
 public:
  virtual ~AggregateHandler() = default;
  // Once, before the first record (or at the end when there is none), with
  // the metadata and policy seen so far.
  virtual void begin_report(const model::ReportMeta& meta) = 0;
  // The handler may take the record's contents (by swapping them with a
  // record of its own, to keep string capacity circulating); the parser
  // clears it before reading the next one.
  virtual void record(model::Record& record) = 0;
  // Once, after </feedback>, with the final metadata. Not called when the
  // document failed (finish() returns false).
  virtual void end_report(const model::ReportMeta& meta) = 0;
};

class AggregateXmlParser {
 public:
  AggregateXmlParser(AggregateHandler& handler, const Limits& limits);
  ~AggregateXmlParser();
  AggregateXmlParser(const AggregateXmlParser&) = delete;
  AggregateXmlParser& operator=(const AggregateXmlParser&) = delete;

  // Reads and parses the whole document. True when a complete report was
  // delivered (end_report was called). Call once.
  bool parse(util::ByteReader& in);

  const model::Issues& issues() const;
  uint64_t records() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses a whole document in memory. Returns nullopt (with an error Issue)
// when the document is not a usable report.
std::optional<model::AggregateReport> parse_aggregate_xml(std::string_view xml, const Limits& limits,
                                                          model::Issues& issues);

}  // namespace dmarq::parse
