#include "dmarq/ingest/ingester.h"

#include <fmt/format.h>

#include "dmarq/archive/unpack.h"
#include "dmarq/mime/message.h"
#include "dmarq/parse/aggregate_xml.h"
#include "dmarq/util/sha256.h"
#include "dmarq/util/text.h"

namespace dmarq::ingest {
namespace {

using archive::ContentKind;
using model::Issue;
using model::Issues;
using model::Severity;

// Media types and names that say "this part is meant to be a report".
bool declared_as_report(const mime::Part& part) {
  static const char* types[] = {"application/zip", "application/gzip", "application/x-gzip",
                                "application/x-zip-compressed", "application/x-zip", "application/octet-stream",
                                "text/xml", "application/xml"};
  for (const char* t : types)
    if (part.content_type == t) return true;
  std::string name = util::to_lower_ascii(part.filename);
  for (const char* ext : {".zip", ".gz", ".xml"})
    if (name.size() >= 4 && name.ends_with(ext)) return true;
  return false;
}

// An XML declaration or a root element named feedback (any prefix): used for
// parts that are not declared as reports (text/html bodies start with '<' too).
bool starts_like_report(std::string_view b) {
  if (b.substr(0, 3) == "\xEF\xBB\xBF") b.remove_prefix(3);
  b = util::trim_xml_space(b.substr(0, 4096));
  if (b.substr(0, 5) == "<?xml") return true;
  if (b.empty() || b[0] != '<') return false;
  std::size_t end = b.find_first_of(" \t\r\n/>", 1);
  std::string_view name = b.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
  std::size_t colon = name.find(':');
  if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
  return name == "feedback";
}

// Streams one report payload (all members of an archive) into the store.
class ReportSink final : public archive::ChunkSink, public parse::AggregateHandler {
 public:
  ReportSink(store::Store& store, const Limits& limits, std::string part, std::string kind_note, Result& result,
             const std::string& origin, int64_t now)
      : store_(store), limits_(limits), part_(std::move(part)), kind_note_(std::move(kind_note)),
        result_(result), origin_(origin), now_(now), label_(part_) {}

  void begin_member(const std::string& name) override {
    member_ = name;
    // A bare zip's members are named by themselves; a zip inside an e-mail
    // as "SECTION:member".
    if (zip_ && !name.empty()) label_ = part_ == "-" ? name : part_ + ":" + name;
    else label_ = part_;
    first_ = true;
    skipped_ = false;
    completed_ = false;
    report_open_ = false;
    parser_.reset();
  }

  bool chunk(std::string_view data) override {
    if (first_) {
      first_ = false;
      ContentKind kind = archive::sniff(data);
      if (kind != ContentKind::xml) {
        reject(kind == ContentKind::empty ? "input.empty" : "input.not_xml",
               fmt::format("{} content is {}, not XML", kind_note_, archive::describe(kind)));
        skipped_ = true;
        return false;
      }
      parser_ = std::make_unique<parse::AggregateXmlParser>(*this, limits_);
    }
    if (skipped_) return false;
    return parser_->feed(data);
  }

  void end_member(const Issues& issues) override {
    if (skipped_) return;
    bool archive_failed = model::has_error(issues);
    for (const auto& i : issues) {
      if (i.severity == Severity::warning) {
        result_.issues.push_back(located(i));
      } else if (completed_) {
        // The whole report was read and stored before the archive complained
        // (a bad CRC at the very end, say): keep it, but say so.
        Issue w = located(i);
        w.severity = Severity::warning;
        w.message += " (after the complete report was read)";
        result_.issues.push_back(std::move(w));
      }
    }
    if (completed_ && archive_failed) {
      ++stored_;
      return;
    }
    if (first_) {  // no bytes at all
      if (archive_failed) {
        for (const auto& i : issues)
          if (i.severity == Severity::error) reject(i.code, i.message);
      } else {
        reject("input.empty", fmt::format("{} is empty", kind_note_));
      }
      return;
    }
    bool ok = !archive_failed && parser_->finish();
    for (const auto& i : parser_->issues())
      if (i.severity == Severity::warning) result_.issues.push_back(located(i));
    if (ok) {
      ++stored_;
      return;
    }
    if (report_open_) store_.abort_report();
    report_open_ = false;
    records_in_member_ = 0;
    const Issues& why = archive_failed ? issues : parser_->issues();
    for (const auto& i : why)
      if (i.severity == Severity::error) {
        reject(i.code, i.where.empty() ? i.message : fmt::format("{} ({})", i.message, i.where));
        break;
      }
  }

  // parse::AggregateHandler
  void begin_report(const model::ReportMeta& meta) override {
    report_open_ = true;
    new_ = store_.begin_report(meta, label_);
    records_in_member_ = 0;
  }
  void record(const model::Record& r) override {
    store_.add_record(r);
    ++records_in_member_;
  }
  void end_report(const model::ReportMeta& meta) override {
    bool stored_new = store_.end_report(meta);
    report_open_ = false;
    completed_ = true;
    if (stored_new) {
      ++result_.reports_new;
      result_.records += records_in_member_;
    } else {
      ++result_.reports_duplicate;
    }
  }

  void set_zip(bool zip) { zip_ = zip; }
  void reject(std::string code, std::string reason) {
    store::Reject r{origin_, label_, std::move(code), std::move(reason), now_};
    result_.issues.push_back(Issue{r.code, Severity::error, r.reason, where()});
    result_.rejects.push_back(std::move(r));
    ++rejected_;
  }
  std::size_t rejected() const { return rejected_; }
  std::size_t stored() const { return stored_; }

 private:
  std::string where() const { return label_ == "-" ? std::string() : "part " + label_; }
  Issue located(Issue i) const {
    std::string w = where();
    i.where = w.empty() ? i.where : (i.where.empty() ? w : w + ", " + i.where);
    return i;
  }

  store::Store& store_;
  const Limits& limits_;
  std::string part_, kind_note_;
  Result& result_;
  const std::string& origin_;
  int64_t now_;
  std::string label_;
  bool zip_ = false;
  bool completed_ = false;  // the current member's report reached end_report
  std::string member_;
  bool first_ = true, skipped_ = false, report_open_ = false, new_ = false;
  std::unique_ptr<parse::AggregateXmlParser> parser_;
  uint64_t records_in_member_ = 0;
  std::size_t rejected_ = 0, stored_ = 0;
};

struct Payload {
  std::string_view bytes;
  std::string part;      // "-" for a bare file, else the IMAP section
  std::string note;      // how it was declared, for messages
};

}  // namespace

Result Ingester::ingest(const source::RawMessage& msg, int64_t now) {
  Result result;
  store::MessageInfo info{util::sha256_hex(msg.bytes), msg.origin, msg.bytes.size(), now};
  if (msg.read_error.empty() && store_.has_message(info.sha256)) {
    result.outcome = Outcome::duplicate;
    return result;
  }
  store_.begin_message(info);
  try {
    std::size_t rejected = 0, stored = 0, candidates = 0;
    auto reject_whole = [&](std::string code, std::string reason) {
      store::Reject r{msg.origin, "", std::move(code), std::move(reason), now};
      result.issues.push_back(Issue{r.code, Severity::error, r.reason, ""});
      result.rejects.push_back(std::move(r));
      ++rejected;
    };
    auto run = [&](const Payload& p, ContentKind kind) {
      ++candidates;
      ReportSink sink(store_, limits_, p.part, p.note, result, msg.origin, now);
      sink.set_zip(kind == ContentKind::zip);
      Issues top = archive::unpack(p.bytes, kind, limits_, sink);
      for (const auto& i : top) {
        if (i.severity == Severity::error) {
          sink.reject(i.code, fmt::format("{}: {}", p.note, i.message));
        } else {
          result.issues.push_back(i);
        }
      }
      rejected += sink.rejected();
      stored += sink.stored();
    };

    ContentKind kind = archive::sniff(msg.bytes);
    if (!msg.read_error.empty()) {
      reject_whole("input.unreadable", msg.read_error);
    } else if (kind == ContentKind::zip || kind == ContentKind::gzip || kind == ContentKind::xml) {
      run(Payload{msg.bytes, "-", std::string(archive::describe(kind))}, kind);
    } else if (mime::looks_like_message(msg.bytes)) {
      mime::ScannedMessage scanned = mime::scan_message(msg.bytes, limits_);
      for (const auto& i : scanned.issues) {
        if (i.severity == Severity::error) reject_whole(i.code, fmt::format("{} ({})", i.message, i.where));
        else result.issues.push_back(i);
      }
      for (const auto& part : scanned.parts) {
        ContentKind pk = archive::sniff(part.bytes);
        std::string note = part.filename.empty()
                               ? fmt::format("part {} declared {}", part.section, part.content_type)
                               : fmt::format("attachment {} declared {}", part.filename, part.content_type);
        bool report_kind = pk == ContentKind::zip || pk == ContentKind::gzip || pk == ContentKind::xml;
        if (pk == ContentKind::xml && !declared_as_report(part) && !starts_like_report(part.bytes))
          report_kind = false;  // an HTML or text body that merely starts with '<'

        if (report_kind) {
          run(Payload{part.bytes, part.section, note}, pk);
        } else if (declared_as_report(part)) {
          ++candidates;
          store::Reject r{msg.origin, part.section, pk == ContentKind::json ? "input.json" : "input.not_report",
                          fmt::format("{} is {}, not zip, gzip or XML", note, archive::describe(pk)), now};
          result.issues.push_back(Issue{r.code, Severity::error, r.reason, "part " + part.section});
          result.rejects.push_back(std::move(r));
          ++rejected;
        }
      }
      if (candidates == 0 && rejected == 0)
        reject_whole("input.no_report", "e-mail carries no DMARC aggregate report (no zip, gzip or XML part)");
    } else {
      reject_whole(kind == ContentKind::json ? "input.json" : "input.not_report",
                   fmt::format("input is {}, not a DMARC aggregate report or an e-mail", archive::describe(kind)));
    }

    for (const auto& r : result.rejects) store_.add_reject(r);
    if (rejected == 0) result.outcome = Outcome::ok;
    else if (stored > 0) result.outcome = Outcome::partial;
    else result.outcome = Outcome::rejected;

    store::MessageSummary summary;
    summary.outcome = result.outcome == Outcome::ok        ? store::MessageOutcome::ok
                      : result.outcome == Outcome::partial ? store::MessageOutcome::partial
                                                           : store::MessageOutcome::rejected;
    summary.reports_new = result.reports_new;
    summary.reports_duplicate = result.reports_duplicate;
    summary.records = result.records;
    summary.issues = result.issues;
    store_.commit_message(summary);
  } catch (...) {
    store_.rollback_message();
    throw;
  }
  return result;
}

}  // namespace dmarq::ingest
