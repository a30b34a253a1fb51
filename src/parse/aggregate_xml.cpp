// SAX2 push parsing of aggregate reports with libxml2 (see the header for the
// contract). The SAX interface, unlike xmlTextReader, never builds nodes, so
// the cost per record is a few callbacks and string copies.
#include "dmarq/parse/aggregate_xml.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <array>
#include <mutex>
#include <span>
#include <charconv>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "dmarq/util/text.h"

namespace dmarq::parse {
namespace {

using model::Issue;
using model::Severity;

enum class Tag : uint8_t {
  other, feedback, version, report_metadata, org_name, email, extra_contact_info, report_id,
  generator, error, date_range, begin, end, policy_published, domain, adkim, aspf, p, sp, np, pct,
  fo, testing, discovery_method, extension, record, row, source_ip, count, policy_evaluated,
  disposition, dkim, spf, reason, type, comment, identifiers, envelope_to, envelope_from,
  header_from, auth_results, selector, result, human_result, scope,
};

const std::unordered_map<std::string_view, Tag>& tag_names() {
  static const std::unordered_map<std::string_view, Tag> names{
      {"feedback", Tag::feedback}, {"version", Tag::version},
      {"report_metadata", Tag::report_metadata}, {"org_name", Tag::org_name},
      {"email", Tag::email}, {"extra_contact_info", Tag::extra_contact_info},
      {"report_id", Tag::report_id}, {"generator", Tag::generator}, {"error", Tag::error},
      {"date_range", Tag::date_range},
      {"data_range", Tag::date_range},  // KDDI's misspelling, see QUIRKS.md
      {"begin", Tag::begin}, {"end", Tag::end}, {"policy_published", Tag::policy_published},
      {"domain", Tag::domain}, {"adkim", Tag::adkim}, {"aspf", Tag::aspf}, {"p", Tag::p},
      {"sp", Tag::sp}, {"np", Tag::np}, {"pct", Tag::pct}, {"fo", Tag::fo},
      {"testing", Tag::testing}, {"discovery_method", Tag::discovery_method},
      {"extension", Tag::extension}, {"record", Tag::record}, {"row", Tag::row},
      {"source_ip", Tag::source_ip}, {"count", Tag::count},
      {"policy_evaluated", Tag::policy_evaluated}, {"disposition", Tag::disposition},
      {"dkim", Tag::dkim}, {"spf", Tag::spf}, {"reason", Tag::reason}, {"type", Tag::type},
      {"comment", Tag::comment}, {"identifiers", Tag::identifiers},
      {"envelope_to", Tag::envelope_to}, {"envelope_from", Tag::envelope_from},
      {"header_from", Tag::header_from}, {"auth_results", Tag::auth_results},
      {"selector", Tag::selector}, {"result", Tag::result},
      {"human_result", Tag::human_result}, {"scope", Tag::scope},
  };
  return names;
}

// Words each enumerated field may hold (RFC 7489 Appendix C and RFC 9990).
using Words = std::span<const std::string_view>;
constexpr std::string_view kAlignment[] = {"r", "s"};
constexpr std::string_view kPolicy[] = {"none", "quarantine", "reject"};
constexpr std::string_view kDisposition[] = {"none", "pass", "quarantine", "reject"};
constexpr std::string_view kPassFail[] = {"pass", "fail"};
constexpr std::string_view kDkimResult[] = {"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"};
constexpr std::string_view kSpfResult[] = {"none", "neutral", "pass", "fail", "softfail", "policy", "temperror", "permerror"};
constexpr std::string_view kSpfScope[] = {"helo", "mfrom"};
constexpr std::string_view kReason[] = {"forwarded", "sampled_out", "trusted_forwarder", "mailing_list",
                        "local_policy", "other", "policy_test_mode"};
constexpr std::string_view kTesting[] = {"n", "y"};
constexpr std::string_view kDiscovery[] = {"psl", "treewalk"};

constexpr std::size_t kMaxIssues = 50;

}  // namespace

struct AggregateXmlParser::Impl {
  AggregateHandler& handler;
  const Limits& limits;
  xmlSAXHandler sax{};
  xmlParserCtxtPtr ctxt = nullptr;

  model::Issues issues;
  std::set<std::string> seen_warnings;  // one warning per distinct text
  std::size_t dropped_warnings = 0;
  bool failed = false;
  bool root_seen = false;
  bool report_started = false;
  bool report_done = false;

  std::vector<Tag> stack;
  // libxml2 interns element names in its dictionary, so the same name comes
  // back as the same pointer: a small direct-mapped cache by pointer avoids
  // hashing the string for every element (it showed in profiles).
  struct CacheSlot {
    const xmlChar* name = nullptr;
    Tag tag = Tag::other;
  };
  std::array<CacheSlot, 1024> tag_cache{};
  bool collect = false;
  std::string text;

  model::ReportMeta meta;
  model::Record rec;
  // How many of rec's DKIM results, SPF results and reasons belong to the
  // record being read. The vectors keep the elements of earlier records, so
  // that their strings are reused instead of freed and allocated again (the
  // frees showed in profiles); finish_record() trims them to these counts.
  std::size_t n_dkim = 0, n_spf = 0, n_reasons = 0;
  uint64_t record_count = 0;

  template <typename T>
  static T& next_item(std::vector<T>& items, std::size_t& n) {
    if (n > items.size()) n = items.size();  // never past the end, whatever happened before
    if (n < items.size()) items[n].clear();
    else items.emplace_back();
    return items[n++];
  }
  // The current item of a count, or null when there is none (a <dkim> in
  // auth_results outside a record, say: found by fuzzing).
  template <typename T>
  static T* current(std::vector<T>& items, std::size_t n) {
    return n == 0 || n > items.size() ? nullptr : &items[n - 1];
  }

  Impl(AggregateHandler& h, const Limits& l) : handler(h), limits(l) {}

  ~Impl() {
    if (ctxt) {
      if (ctxt->myDoc) xmlFreeDoc(ctxt->myDoc);
      xmlFreeParserCtxt(ctxt);
    }
  }

  int line() const { return ctxt ? xmlSAX2GetLineNumber(ctxt) : 0; }

  void fail(std::string code, std::string message) {
    if (failed) return;
    failed = true;
    issues.push_back(Issue{std::move(code), Severity::error, std::move(message),
                           fmt::format("line {}", line())});
    if (ctxt) xmlStopParser(ctxt);
  }

  void warn(std::string code, std::string message) {
    if (!seen_warnings.insert(code + '\0' + message).second) return;
    if (issues.size() >= kMaxIssues) {
      ++dropped_warnings;
      return;
    }
    issues.push_back(Issue{std::move(code), Severity::warning, std::move(message),
                           fmt::format("line {}", line())});
  }

  Tag lookup(const xmlChar* name) {
    // Fibonacci hashing spreads the pool-allocated pointers over the slots.
    auto& slot = tag_cache[(reinterpret_cast<std::uintptr_t>(name) * 0x9E3779B97F4A7C15ull) >> 54];
    if (slot.name == name) return slot.tag;
    auto& names = tag_names();
    auto found = names.find(reinterpret_cast<const char*>(name));
    Tag t = found == names.end() ? Tag::other : found->second;
    slot = CacheSlot{name, t};
    return t;
  }

  Tag parent(std::size_t up = 1) const {
    return stack.size() > up ? stack[stack.size() - 1 - up] : Tag::other;
  }

  // --- element events -----------------------------------------------------

  void start(const xmlChar* localname, const xmlChar* uri) {
    if (failed) return;
    if (stack.size() >= static_cast<std::size_t>(limits.max_xml_depth)) {
      fail("xml.too_deep", fmt::format("elements nested deeper than {}", limits.max_xml_depth));
      return;
    }
    Tag tag = lookup(localname);
    if (!root_seen) {
      root_seen = true;
      if (tag != Tag::feedback) {
        fail("xml.not_aggregate",
             fmt::format("root element is <{}>, not <feedback>: not a DMARC aggregate report",
                         reinterpret_cast<const char*>(localname)));
        return;
      }
      if (uri) meta.xml_namespace = reinterpret_cast<const char*>(uri);
    }
    Tag up = stack.empty() ? Tag::other : stack.back();
    stack.push_back(tag);
    text.clear();
    collect = false;

    switch (tag) {
      case Tag::record:
        // Only a child of the root is a record: a <feedback> nested deeper
        // (inside a record's text, say) would otherwise start a record in
        // the middle of one and hand the handler a half-read record, then
        // go on filling the one the handler took (found by fuzzing).
        if (up == Tag::feedback && stack.size() == 2) {
          if (!report_started) {
            report_started = true;
            handler.begin_report(meta);
          }
          start_record();
        }
        break;
      case Tag::dkim:
        if (up == Tag::auth_results) {
          if (n_dkim >= limits.max_auth_results)
            fail("xml.too_many_results", fmt::format("more than {} DKIM results in one record",
                                                     limits.max_auth_results));
          else
            next_item(rec.dkim_results, n_dkim);
        } else {
          collect = true;  // policy_evaluated/dkim
        }
        break;
      case Tag::spf:
        if (up == Tag::auth_results) {
          if (n_spf >= limits.max_auth_results)
            fail("xml.too_many_results", fmt::format("more than {} SPF results in one record",
                                                     limits.max_auth_results));
          else
            next_item(rec.spf_results, n_spf);
        } else {
          collect = true;
        }
        break;
      case Tag::reason:
        if (up == Tag::policy_evaluated) {
          if (n_reasons >= limits.max_auth_results)
            fail("xml.too_many_results", "too many override reasons in one record");
          else
            next_item(rec.reasons, n_reasons);
        }
        break;
      case Tag::extension:
        if (up == Tag::feedback) meta.has_extensions = true;
        if (up == Tag::record) rec.has_extensions = true;
        break;
      case Tag::date_range:
        if (std::string_view(reinterpret_cast<const char*>(localname)) == "data_range")
          warn("xml.data_range", "<data_range> read as <date_range>");
        break;
      case Tag::other:
        // RFC 9990 lets a record carry namespaced extension elements after
        // auth_results, without an <extension> wrapper.
        if (up == Tag::record) rec.has_extensions = true;
        break;
      case Tag::feedback: case Tag::report_metadata: case Tag::policy_published: case Tag::row:
      case Tag::policy_evaluated: case Tag::identifiers: case Tag::auth_results:
        break;
      default:
        collect = true;  // a leaf we read
    }
  }

  void characters(const xmlChar* ch, int len) {
    if (!collect || failed) return;
    if (text.size() + static_cast<std::size_t>(len) > limits.max_text_bytes) {
      fail("xml.text_too_long", fmt::format("an element's text is longer than {} bytes", limits.max_text_bytes));
      return;
    }
    text.append(reinterpret_cast<const char*>(ch), static_cast<std::size_t>(len));
  }

  void end() {
    if (failed || stack.empty()) return;
    Tag tag = stack.back();
    if (collect) leaf(tag, util::trim_xml_space(text));
    collect = false;
    Tag up = parent();
    if (tag == Tag::record && up == Tag::feedback && stack.size() == 2) finish_record();
    if (tag == Tag::feedback && stack.size() == 1) finish_report();
    stack.pop_back();
  }

  // --- fields ---------------------------------------------------------------

  // Stores `value` in `target` as the RFC word when it is one (any case), as
  // written otherwise (with a warning). Assigning into the target keeps the
  // reused Record's string capacity.
  void enumerated(std::string& target, std::string_view value, Words words, std::string_view field) {
    for (auto w : words)  // the usual case: already a lower-case word
      if (value == w) {
        target.assign(w);
        return;
      }
    for (auto w : words)
      if (util::iequals(value, w)) {
        target.assign(w);
        return;
      }
    target.assign(value);
    if (!value.empty()) warn("xml.unknown_value", fmt::format("unknown {} value '{}' kept as written", field, value));
  }

  int64_t timestamp(std::string_view value, std::string_view field) {
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec == std::errc{} && ptr == value.data() + value.size()) return out;
    if (ec == std::errc{} && *ptr == '.') {
      std::string_view frac(ptr + 1, value.data() + value.size() - ptr - 1);
      if (frac.find_first_not_of("0123456789") == std::string_view::npos) {
        warn("xml.float_time", fmt::format("non-integer {} '{}' truncated", field, value));
        return out;
      }
    }
    fail("xml.bad_time", fmt::format("date_range {} '{}' is not a number of seconds", field, value));
    return 0;
  }

  void leaf(Tag tag, std::string_view value) {
    Tag up = parent();
    Tag up2 = parent(2);
    auto& pol = meta.policy;
    switch (up) {
      case Tag::feedback:
        if (tag == Tag::version) meta.version.assign(value);
        break;
      case Tag::report_metadata:
        switch (tag) {
          case Tag::org_name: meta.org_name.assign(value); break;
          case Tag::email: meta.email.assign(value); break;
          case Tag::extra_contact_info: meta.extra_contact_info.assign(value); break;
          case Tag::report_id: meta.report_id.assign(value); break;
          case Tag::generator: meta.generator.assign(value); break;
          case Tag::error:
            if (meta.errors.size() < limits.max_auth_results) meta.errors.emplace_back(value);
            break;
          default: break;
        }
        break;
      case Tag::date_range:
        if (up2 != Tag::report_metadata) break;
        if (tag == Tag::begin) { meta.begin = timestamp(value, "begin"); meta.has_date_range = true; }
        if (tag == Tag::end) meta.end = timestamp(value, "end");
        break;
      case Tag::policy_published:
        switch (tag) {
          case Tag::domain: pol.domain = util::to_lower_ascii(value); break;
          case Tag::adkim: enumerated(pol.adkim, value, kAlignment, "adkim"); break;
          case Tag::aspf: enumerated(pol.aspf, value, kAlignment, "aspf"); break;
          case Tag::p: enumerated(pol.p, value, kPolicy, "p"); break;
          case Tag::sp: enumerated(pol.sp, value, kPolicy, "sp"); break;
          case Tag::np: enumerated(pol.np, value, kPolicy, "np"); break;
          case Tag::fo: pol.fo.assign(value); break;
          case Tag::testing: enumerated(pol.testing, value, kTesting, "testing"); break;
          case Tag::discovery_method:
            enumerated(pol.discovery_method, value, kDiscovery, "discovery_method");
            break;
          case Tag::pct: {
            int64_t v = 0;
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec == std::errc{} && ptr == value.data() + value.size())
              pol.pct = v;
            else if (!value.empty())
              warn("xml.bad_pct", fmt::format("pct '{}' is not an integer; ignored", value));
            break;
          }
          default: break;
        }
        break;
      case Tag::row:
        if (tag == Tag::source_ip) rec.source_ip_text.assign(value);
        if (tag == Tag::count) {
          uint64_t v = 0;
          auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
          if (ec == std::errc{} && ptr == value.data() + value.size())
            rec.count = v;
          else
            warn("xml.bad_count", fmt::format("count '{}' is not a whole number; counted as 0", value));
        }
        break;
      case Tag::policy_evaluated:
        if (tag == Tag::disposition) enumerated(rec.disposition, value, kDisposition, "disposition");
        if (tag == Tag::dkim) enumerated(rec.dkim, value, kPassFail, "policy_evaluated dkim");
        if (tag == Tag::spf) enumerated(rec.spf, value, kPassFail, "policy_evaluated spf");
        break;
      case Tag::reason:
        if (up2 != Tag::policy_evaluated) break;
        if (auto* r = current(rec.reasons, n_reasons)) {
          if (tag == Tag::type) enumerated(r->type, value, kReason, "reason type");
          if (tag == Tag::comment) r->comment.assign(value);
        }
        break;
      case Tag::identifiers:
        if (tag == Tag::envelope_to) rec.envelope_to.assign(value);
        if (tag == Tag::envelope_from) rec.envelope_from.assign(value);
        if (tag == Tag::header_from) rec.header_from.assign(value);
        break;
      case Tag::dkim:
        if (up2 != Tag::auth_results || !current(rec.dkim_results, n_dkim)) break;
        {
          auto& d = *current(rec.dkim_results, n_dkim);
          if (tag == Tag::domain) d.domain.assign(value);
          if (tag == Tag::selector) d.selector.assign(value);
          if (tag == Tag::result) enumerated(d.result, value, kDkimResult, "DKIM result");
          if (tag == Tag::human_result) d.human_result.assign(value);
        }
        break;
      case Tag::spf:
        if (up2 != Tag::auth_results || !current(rec.spf_results, n_spf)) break;
        {
          auto& s = *current(rec.spf_results, n_spf);
          if (tag == Tag::domain) s.domain.assign(value);
          if (tag == Tag::scope) enumerated(s.scope, value, kSpfScope, "SPF scope");
          if (tag == Tag::result) enumerated(s.result, value, kSpfResult, "SPF result");
          if (tag == Tag::human_result) s.human_result.assign(value);
        }
        break;
      default:
        break;
    }
  }

  void start_record() {
    // Like rec.clear(), but the result vectors keep their elements for reuse.
    auto dkim = std::move(rec.dkim_results);
    auto spf = std::move(rec.spf_results);
    auto reasons = std::move(rec.reasons);
    rec.clear();
    rec.dkim_results = std::move(dkim);
    rec.spf_results = std::move(spf);
    rec.reasons = std::move(reasons);
    n_dkim = n_spf = n_reasons = 0;
  }

  void finish_record() {
    rec.dkim_results.resize(n_dkim);
    rec.spf_results.resize(n_spf);
    rec.reasons.resize(n_reasons);
    if (++record_count > limits.max_records) {
      fail("xml.too_many_records", fmt::format("more than {} records in one report", limits.max_records));
      return;
    }
    if (rec.source_ip_text.empty()) {
      warn("xml.no_source_ip", "record without source_ip kept without an address");
    } else {
      rec.source_ip = model::parse_ip(rec.source_ip_text);
      if (!rec.source_ip)
        warn("xml.bad_source_ip",
             fmt::format("unparseable source_ip '{}' kept as text", rec.source_ip_text));
    }
    if (rec.disposition.empty()) warn("xml.no_disposition", "record without disposition counted as none");
    handler.record(rec);
    // The handler may have swapped another record in: the counts describe
    // nothing in it. Results outside a record must find none.
    n_dkim = n_spf = n_reasons = 0;
  }

  void finish_report() {
    if (meta.report_id.empty()) {
      fail("xml.no_report_id", "report has no report_id");
      return;
    }
    if (!meta.has_date_range) {
      fail("xml.no_date_range", "report has no date_range begin");
      return;
    }
    if (meta.policy.domain.empty()) warn("xml.no_policy_domain", "policy_published has no domain; kept empty");
    if (meta.org_name.empty()) warn("xml.no_org_name", "report_metadata has no org_name; kept empty");
    if (!report_started) {
      report_started = true;
      handler.begin_report(meta);
    }
    report_done = true;
    handler.end_report(meta);
  }

  // --- libxml2 callbacks ------------------------------------------------------

  static Impl* self(void* ctx) {
    auto* c = static_cast<xmlParserCtxtPtr>(ctx);
    return static_cast<Impl*>(c->_private);
  }

  static void on_start(void* ctx, const xmlChar* localname, const xmlChar*, const xmlChar* uri, int, const xmlChar**,
                       int, int, const xmlChar**) {
    self(ctx)->start(localname, uri);
  }
  static void on_end(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) { self(ctx)->end(); }
  static void on_chars(void* ctx, const xmlChar* ch, int len) { self(ctx)->characters(ch, len); }
  static void on_doctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
    self(ctx)->fail("xml.doctype", "document has a DOCTYPE, which aggregate reports never need; refused");
  }
  static void on_entity_decl(void* ctx, const xmlChar*, int, const xmlChar*, const xmlChar*, xmlChar*) {
    self(ctx)->fail("xml.entity", "document declares an entity; refused");
  }
  // libxml2 2.9 calls serror with ctxt->userData, which is the context
  // itself because we pass no user data.
  static void on_error(void* ctx, xmlErrorPtr err) {
    Impl* impl = self(ctx);
    if (!err || impl->failed) return;
    std::string msg(util::trim_xml_space(err->message ? err->message : "XML error"));
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    if (err->level == XML_ERR_WARNING) {
      impl->warn("xml.warning", msg);
      return;
    }
    if (impl->report_done) {
      // Bytes after </feedback>: the report is complete and the handler has
      // had end_report, so failing now would reject a report already
      // delivered (found by fuzzing). Ignored with a warning, like bytes
      // after a gzip stream.
      impl->warn("xml.trailing_content", "content after </feedback> ignored: " + msg);
      if (impl->ctxt) xmlStopParser(impl->ctxt);
      return;
    }
    impl->failed = true;
    impl->issues.push_back(Issue{"xml.malformed", Severity::error, "malformed XML: " + msg,
                                 fmt::format("line {}, column {}", err->line, err->int2)});
    if (impl->ctxt) xmlStopParser(impl->ctxt);
  }

  // The parser running on this thread, for errors libxml2 raises without a
  // context: bytes that are invalid in the declared encoding are reported
  // that way, and are the real reason the document then ends early.
  static inline thread_local Impl* active_parser = nullptr;

  static void on_generic_error(void*, const char* format, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, format);
    std::vsnprintf(buf, sizeof buf, format, ap);
    va_end(ap);
    Impl* impl = active_parser;
    if (!impl || impl->failed) return;
    std::string msg(util::trim_xml_space(buf));
    if (msg.empty() || msg == "encoder error") return;  // the detail comes in its own message
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    // Not fail(): libxml2 is in the middle of switching its input here, so
    // neither stopping the parser nor asking it for the line is safe. The
    // parse ends by itself once the input cannot be decoded.
    if (impl->report_done) {  // after </feedback>: see on_error
      if (impl->issues.size() < kMaxIssues)
        impl->issues.push_back(Issue{"xml.trailing_content", Severity::warning,
                                     "content after </feedback> ignored: " + msg, ""});
      return;
    }
    impl->failed = true;
    impl->issues.push_back(Issue{"xml.encoding", Severity::error,
                                 "cannot decode the document in its declared encoding: " + msg, ""});
  }

  // Fills libxml2's buffer completely unless the input ends: libxml2 2.9
  // misparses an XML declaration that arrives in short reads.
  static int on_read(void* ctx, char* buf, int len) {
    auto* in = static_cast<util::ByteReader*>(ctx);
    int have = 0;
    while (have < len) {
      long n = in->read(buf + have, static_cast<std::size_t>(len - have));
      if (n < 0) return -1;
      if (n == 0) break;
      have += static_cast<int>(n);
    }
    return have;
  }

  bool run(util::ByteReader& in) {
    // Errors without a parser context (encoding conversion, I/O) would go to
    // libxml2's generic handler, which prints to stderr. Those we need also
    // reach our context's handler; the rest is noise on a cron job's output.
    // The handler is per thread in libxml2, so set it on every run.
    xmlSetGenericErrorFunc(nullptr, on_generic_error);
    active_parser = this;
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_chars;
    sax.cdataBlock = on_chars;
    // With XML_PARSE_NOBLANKS the indentation between elements arrives
    // here instead of in `characters`; we never need it.
    sax.ignorableWhitespace = [](void*, const xmlChar*, int) {};
    sax.internalSubset = on_doctype;
    sax.externalSubset = on_doctype;
    sax.entityDecl = on_entity_decl;
    sax.serror = on_error;
    // libxml2 detects the encoding (BOM, UTF-16, declaration) from the
    // first bytes it reads.
    ctxt = xmlCreateIOParserCtxt(&sax, nullptr, on_read, nullptr, &in, XML_CHAR_ENCODING_NONE);
    if (!ctxt) {
      fail("xml.init", "cannot create the XML parser");
      return false;
    }
    ctxt->_private = this;
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    xmlParseDocument(ctxt);
    active_parser = nullptr;
    return !failed;
  }
};

AggregateXmlParser::AggregateXmlParser(AggregateHandler& handler, const Limits& limits)
    : impl_(std::make_unique<Impl>(handler, limits)) {
  // libxml2 2.9 initialises its globals lazily and not thread-safely: two
  // extractor threads parsing their first document at once raced there
  // (LeakSanitizer saw the lost encoding handlers). Initialise once, first.
  static std::once_flag initialised;
  std::call_once(initialised, xmlInitParser);
}

AggregateXmlParser::~AggregateXmlParser() = default;

bool AggregateXmlParser::parse(util::ByteReader& in) {
  auto& m = *impl_;
  m.run(in);
  if (!m.failed && !m.report_done)
    m.fail("xml.truncated", m.root_seen ? "document ends before </feedback>" : "no XML element found");
  if (m.dropped_warnings > 0)
    m.issues.push_back(Issue{"xml.more_warnings", Severity::warning,
                             fmt::format("{} further warning(s) not listed", m.dropped_warnings), ""});
  return !m.failed;
}

const model::Issues& AggregateXmlParser::issues() const { return impl_->issues; }
uint64_t AggregateXmlParser::records() const { return impl_->record_count; }

namespace {
class CollectingHandler : public AggregateHandler {
 public:
  model::AggregateReport report;
  void begin_report(const model::ReportMeta& meta) override { report.meta = meta; }
  void record(model::Record& r) override { report.records.push_back(r); }
  void end_report(const model::ReportMeta& meta) override { report.meta = meta; }
};
}  // namespace

std::optional<model::AggregateReport> parse_aggregate_xml(std::string_view xml, const Limits& limits,
                                                          model::Issues& issues) {
  CollectingHandler handler;
  AggregateXmlParser parser(handler, limits);
  util::ViewReader reader(xml);
  bool ok = parser.parse(reader);
  issues.insert(issues.end(), parser.issues().begin(), parser.issues().end());
  if (!ok) return std::nullopt;
  return std::move(handler.report);
}

}  // namespace dmarq::parse
