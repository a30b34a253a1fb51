// The normalized DMARC aggregate report (RFC 7489 Appendix C and RFC 9990).
//
// Text fields hold what the report wrote, trimmed of XML white space; nothing
// is rewritten (org_name and report_id in particular). Enumerated fields hold
// the lower-case word when it is one the RFCs define, and otherwise the text as
// written (the parser adds a warning). Empty string means absent or empty.
// Times are seconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "dmarq/model/ip.h"

namespace dmarq::model {

struct PolicyPublished {
  std::string domain;
  std::string adkim;  // r | s
  std::string aspf;   // r | s
  std::string p;      // none | quarantine | reject
  std::string sp;
  std::string np;     // RFC 9990 (and RFC 9091)
  std::optional<int64_t> pct;  // RFC 7489 only; removed by RFC 9990
  std::string fo;
  std::string testing;           // RFC 9990: n | y
  std::string discovery_method;  // RFC 9990: psl | treewalk
};

struct ReportMeta {
  std::string xml_namespace;  // namespace URI of <feedback>, empty if none
  std::string version;
  std::string org_name;
  std::string email;
  std::string extra_contact_info;
  std::string report_id;
  std::string generator;  // RFC 9990
  int64_t begin = 0;
  int64_t end = 0;
  bool has_date_range = false;
  std::vector<std::string> errors;
  PolicyPublished policy;
  bool has_extensions = false;  // RFC 9990 <extension> present
};

struct OverrideReason {
  std::string type;
  std::string comment;

  void clear() {
    type.clear();
    comment.clear();
  }
};

struct DkimResult {
  std::string domain;
  std::string selector;
  std::string result;
  std::string human_result;

  void clear() {
    domain.clear();
    selector.clear();
    result.clear();
    human_result.clear();
  }
};

struct SpfResult {
  std::string domain;
  std::string scope;
  std::string result;
  std::string human_result;

  void clear() {
    domain.clear();
    scope.clear();
    result.clear();
    human_result.clear();
  }
};

struct Record {
  std::string source_ip_text;  // as written
  std::optional<IpAddress> source_ip;  // parsed and canonical, if valid
  uint64_t count = 0;
  std::string disposition;  // none | pass | quarantine | reject
  std::string dkim;         // policy_evaluated: pass | fail, empty if missing
  std::string spf;
  std::vector<OverrideReason> reasons;
  std::string envelope_to;
  std::string envelope_from;
  std::string header_from;
  std::vector<DkimResult> dkim_results;
  std::vector<SpfResult> spf_results;
  bool has_extensions = false;

  // Empties the record but keeps the strings' capacity: the parser reuses
  // one Record for every <record>, and reallocating showed in profiles.
  void clear() {
    source_ip_text.clear();
    source_ip.reset();
    count = 0;
    disposition.clear();
    dkim.clear();
    spf.clear();
    reasons.clear();
    envelope_to.clear();
    envelope_from.clear();
    header_from.clear();
    dkim_results.clear();
    spf_results.clear();
    has_extensions = false;
  }

  // Member by member. std::swap's three whole-record moves showed in
  // profiles of ingest, which hands every record over twice by swapping.
  friend void swap(Record& a, Record& b) noexcept {
    using std::swap;
    swap(a.source_ip_text, b.source_ip_text);
    swap(a.source_ip, b.source_ip);
    swap(a.count, b.count);
    swap(a.disposition, b.disposition);
    swap(a.dkim, b.dkim);
    swap(a.spf, b.spf);
    swap(a.reasons, b.reasons);
    swap(a.envelope_to, b.envelope_to);
    swap(a.envelope_from, b.envelope_from);
    swap(a.header_from, b.header_from);
    swap(a.dkim_results, b.dkim_results);
    swap(a.spf_results, b.spf_results);
    swap(a.has_extensions, b.has_extensions);
  }
};

// A whole report in memory; used by tests and small inputs. Ingest streams
// records instead (see parse/aggregate_xml.h).
struct AggregateReport {
  ReportMeta meta;
  std::vector<Record> records;
};

}  // namespace dmarq::model
