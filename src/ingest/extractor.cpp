#include "dmarq/ingest/extractor.h"

#include <fmt/format.h>

#include "dmarq/archive/unpack.h"
#include "dmarq/mime/message.h"
#include "dmarq/parse/aggregate_xml.h"
#include "dmarq/mime/tree.h"
#include "dmarq/parse/bounce.h"
#include "dmarq/parse/feedback.h"
#include "dmarq/util/sha256.h"
#include "dmarq/util/text.h"

namespace dmarq::ingest {
namespace {

using archive::ContentKind;
using model::Issue;
using model::Issues;
using model::Severity;

// What can carry a report once unpacked.
bool is_payload(ContentKind kind) {
  return kind == ContentKind::zip || kind == ContentKind::gzip || kind == ContentKind::xml;
}

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

// A root element named feedback (any prefix), after an optional XML
// declaration and comments: used for parts that are not declared as reports
// (text/html bodies start with '<' too, XHTML even with "<?xml").
bool starts_like_report(std::string_view b) {
  if (b.substr(0, 3) == "\xEF\xBB\xBF") b.remove_prefix(3);
  b = util::trim_xml_space(b.substr(0, 4096));
  for (;;) {  // skip the declaration, processing instructions and comments
    std::string_view close = b.substr(0, 4) == "<!--" ? "-->" : b.substr(0, 2) == "<?" ? "?>" : "";
    if (close.empty()) break;
    std::size_t end = b.find(close);
    if (end == std::string_view::npos) return false;
    b = util::trim_xml_space(b.substr(end + close.size()));
  }
  if (b.empty() || b[0] != '<') return false;
  std::size_t end = b.find_first_of(" \t\r\n/>", 1);
  std::string_view name = b.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
  std::size_t colon = name.find(':');
  if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
  return name == "feedback";
}

// Streams one report payload (all members of an archive) into the store.
class ReportSink final : public archive::MemberSink, public parse::AggregateHandler {
 public:
  ReportSink(OpSink& out, const Limits& limits, std::string part, std::string kind_note, const std::string& origin,
             int64_t now)
      : out_(out), limits_(limits), part_(std::move(part)), kind_note_(std::move(kind_note)), origin_(origin),
        now_(now), label_(part_) {}

  void member(const std::string& name, util::ByteReader& reader) override {
    // A bare zip's members are named by themselves; a zip inside an e-mail
    // as "SECTION:member".
    if (zip_ && !name.empty()) label_ = part_ == "-" ? name : part_ + ":" + name;
    else label_ = part_;
    state_ = State::empty;
    completed_ = false;
    report_open_ = false;
    parser_.reset();

    // Sniff the first bytes (a short read is not the end: keep reading).
    head_.resize(kSniff);
    std::size_t have = 0;
    while (have < kSniff) {
      long n = reader.read(head_.data() + have, kSniff - have);
      if (n < 0) {
        state_ = State::unreadable;
        return;
      }
      if (n == 0) break;
      have += static_cast<std::size_t>(n);
    }
    head_.resize(have);
    if (have == 0) return;
    ContentKind kind = archive::sniff(head_);
    if (kind != ContentKind::xml) {
      state_ = State::skipped;
      reject(kind == ContentKind::empty ? "input.empty" : "input.not_xml",
             fmt::format("{} content is {}, not XML", kind_note_, archive::describe(kind)));
      return;
    }
    state_ = State::parsed;
    parser_ = std::make_unique<parse::AggregateXmlParser>(*this, limits_);
    util::PrefixReader whole(head_, reader);
    parsed_ok_ = parser_->parse(whole);
  }

  void end_member(const Issues& issues) override {
    if (state_ == State::skipped) return;
    bool archive_failed = model::has_error(issues);
    for (const auto& i : issues) {
      if (i.severity == Severity::warning) {
        out_.warning(located(i));
      } else if (completed_) {
        // The whole report was read and stored before the archive complained
        // (a bad CRC at the very end, say): keep it, but say so.
        Issue w = located(i);
        w.severity = Severity::warning;
        w.message += " (after the complete report was read)";
        out_.warning(w);
      }
    }
    if (completed_ && archive_failed) return;
    if (state_ != State::parsed) {  // no bytes at all
      if (archive_failed) {
        for (const auto& i : issues)
          if (i.severity == Severity::error) reject(i.code, i.message);
      } else {
        reject("input.empty", fmt::format("{} is empty", kind_note_));
      }
      return;
    }
    bool ok = !archive_failed && parsed_ok_;
    for (const auto& i : parser_->issues())
      if (i.severity == Severity::warning) out_.warning(located(i));
    if (ok) return;
    if (report_open_) out_.abort_report();
    report_open_ = false;
    // When the archive failed, the parser only saw the bytes stop: the
    // archive's reason is the real one.
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
    out_.begin_report(meta, label_);
  }
  void record(model::Record& r) override { out_.record(r); }
  void end_report(const model::ReportMeta& meta) override {
    out_.end_report(meta);
    report_open_ = false;
    completed_ = true;
  }

  void set_zip(bool zip) { zip_ = zip; }
  void reject(std::string code, std::string reason) {
    out_.reject(store::Reject{origin_, label_, std::move(code), std::move(reason), now_});
  }

 private:
  std::string where() const { return label_ == "-" ? std::string() : "part " + label_; }
  Issue located(Issue i) const {
    std::string w = where();
    i.where = w.empty() ? i.where : (i.where.empty() ? w : w + ", " + i.where);
    return i;
  }

  OpSink& out_;
  const Limits& limits_;
  std::string part_, kind_note_;
  const std::string& origin_;
  int64_t now_;
  std::string label_;
  bool zip_ = false;
  bool completed_ = false;  // the current member's report reached end_report
  enum class State { empty, unreadable, skipped, parsed };
  static constexpr std::size_t kSniff = 4096;
  State state_ = State::empty;
  std::string head_;
  bool report_open_ = false, parsed_ok_ = false;
  std::unique_ptr<parse::AggregateXmlParser> parser_;
};

struct Payload {
  std::string_view bytes;
  std::string part;      // "-" for a bare file, else the IMAP section
  std::string note;      // how it was declared, for messages
};

// Forwards to the real sink and remembers whether a report is open, so that
// an unexpected exception can close the message cleanly.
class TrackingSink final : public OpSink {
 public:
  explicit TrackingSink(OpSink& out) : out_(out) {}
  void begin_message(const store::MessageInfo& info, bool readable) override { out_.begin_message(info, readable); }
  void begin_report(const model::ReportMeta& meta, const std::string& part) override {
    out_.begin_report(meta, part);
    open_ = true;
  }
  void record(model::Record& r) override { out_.record(r); }
  void end_report(const model::ReportMeta& meta) override {
    out_.end_report(meta);
    open_ = false;
  }
  void abort_report() override {
    out_.abort_report();
    open_ = false;
  }
  void reject(const store::Reject& r) override { out_.reject(r); }
  void warning(const model::Issue& i) override { out_.warning(i); }
  void feedback(const model::Feedback& f) override { out_.feedback(f); }
  void bounce(const model::Bounce& b) override { out_.bounce(b); }
  void kind(const std::string& k) override { out_.kind(k); }
  void end_message() override { out_.end_message(); }
  bool report_open() const { return open_; }

 private:
  OpSink& out_;
  bool open_ = false;
};

// Returns the message's kind (see OpSink::kind).
std::string extract_content(const source::RawMessage& msg, int64_t now, const Limits& limits, OpSink& out);

}  // namespace

void extract(const source::RawMessage& msg, int64_t now, const Limits& limits, OpSink& sink) {
  TrackingSink out(sink);
  store::MessageInfo info{util::sha256_hex(msg.bytes), msg.origin, msg.bytes.size(), now};
  out.begin_message(info, msg.read_error.empty());
  std::string kind = "not_report";
  try {
    kind = extract_content(msg, now, limits, out);
  } catch (const store::StoreError&) {
    throw;  // the environment, not the input: the caller rolls back and stops
  } catch (const std::exception& e) {
    // A bug or resource exhaustion while reading this input: set the input
    // aside with the reason and go on with the next one.
    if (out.report_open()) out.abort_report();
    out.reject(store::Reject{msg.origin, "", "internal.error",
                             fmt::format("internal error while reading this input: {}", e.what()), now});
  }
  out.kind(kind);
  out.end_message();
}

namespace {

// A message without an aggregate report: a feedback-loop complaint, a
// failure report, an auto-reply, a bounce, or none of these (set aside).
std::string classify_other(const source::RawMessage& msg, int64_t now, const Limits& limits, OpSink& out) {
  mime::Tree tree = mime::parse_tree(msg.bytes, limits);
  parse::FeedbackResult fb = parse::parse_feedback(tree);
  for (const auto& i : fb.issues) out.warning(i);
  if (!fb.reports.empty()) {
    for (const auto& f : fb.reports) out.feedback(f);
    return fb.reports.front().kind;
  }
  // Before bounces: an out-of-office reply is never counted as a bounce.
  if (parse::is_auto_reply(tree)) return "auto_reply";
  parse::BounceResult bounce = parse::parse_bounce(tree);
  for (const auto& i : bounce.issues) out.warning(i);
  if (bounce.bounce && !bounce.bounce->recipients.empty()) {
    out.bounce(*bounce.bounce);
    return "bounce";
  }
  std::string why = "not a report: an e-mail with no DMARC aggregate report, feedback or failure report, "
                    "complaint or bounce";
  for (const auto& i : tree.issues)
    if (i.severity == Severity::error) why = fmt::format("{} ({})", why, i.message);
  out.reject(store::Reject{msg.origin, "", "input.not_report", why, now});
  return "not_report";
}

std::string extract_content(const source::RawMessage& msg, int64_t now, const Limits& limits, OpSink& out) {
  auto reject_whole = [&](std::string code, std::string reason) {
    out.reject(store::Reject{msg.origin, "", std::move(code), std::move(reason), now});
  };
  auto run = [&](const Payload& p, ContentKind kind) {
    ReportSink sink(out, limits, p.part, p.note, msg.origin, now);
    sink.set_zip(kind == ContentKind::zip);
    Issues top = archive::unpack(p.bytes, kind, limits, sink);
    for (const auto& i : top) {
      if (i.severity == Severity::error) sink.reject(i.code, fmt::format("{}: {}", p.note, i.message));
      else out.warning(i);
    }
  };

  ContentKind kind = archive::sniff(msg.bytes);
  if (!msg.read_error.empty()) {
    reject_whole("input.unreadable", msg.read_error);
    return "not_report";
  } else if (is_payload(kind)) {
    run(Payload{msg.bytes, "-", std::string(archive::describe(kind))}, kind);
    return "aggregate";
  } else if (kind != ContentKind::json && mime::looks_like_message(msg.bytes)) {
    mime::ScannedMessage scanned = mime::scan_message(msg.bytes, limits);
    std::size_t candidates = 0;
    for (const auto& i : scanned.issues) {
      if (i.severity == Severity::error) {
        reject_whole(i.code, i.where.empty() ? i.message : fmt::format("{} ({})", i.message, i.where));
        ++candidates;
      } else {
        out.warning(i);
      }
    }
    for (const auto& part : scanned.parts) {
      ContentKind pk = archive::sniff(part.bytes);
      std::string note = part.filename.empty()
                             ? fmt::format("part {} declared {}", part.section, part.content_type)
                             : fmt::format("attachment {} declared {}", part.filename, part.content_type);
      bool declared = declared_as_report(part);
      // An HTML or text body that merely starts with '<' is not a report.
      bool report_kind = is_payload(pk) && (pk != ContentKind::xml || declared || starts_like_report(part.bytes));
      if (report_kind) {
        ++candidates;
        run(Payload{part.bytes, part.section, note}, pk);
      } else if (declared) {
        ++candidates;
        out.reject(store::Reject{msg.origin, part.section, pk == ContentKind::json ? "input.json" : "input.not_report",
                                 fmt::format("{} is {}, not zip, gzip or XML", note, archive::describe(pk)), now});
      }
    }
    if (candidates == 0) return classify_other(msg, now, limits, out);
    return "aggregate";
  }
  reject_whole(kind == ContentKind::json ? "input.json" : "input.not_report",
               fmt::format("input is {}, not a DMARC aggregate report or an e-mail", archive::describe(kind)));
  return "not_report";
}

}  // namespace

}  // namespace dmarq::ingest
