// The self-contained HTML report (`dmarq html`): one document with inline
// CSS, inline SVG charts and an optional inline script (sortable tables).
// It fetches nothing, works from file:// and reads fine without JavaScript.
//
// Every string that came from a report is HTML-escaped here, at the sink.
// Elements that carry a figure have data-k (what it is) and data-v (its raw
// value), so that scripts and the browser tests can read the figures without
// parsing the formatted text.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "dmarq/analyze/analyzer.h"
#include "dmarq/analyze/feedback_views.h"

namespace dmarq::output {

struct HtmlFeedback {
  std::vector<int64_t> days;               // the period's UTC days
  std::vector<uint64_t> complaints_per_day, bounces_per_day;  // one per day
  std::vector<analyze::ComplaintRow> complaints_by_type;
  std::vector<analyze::BounceRow> bounces_by_class;
  uint64_t complaints = 0, bounces = 0;
  uint64_t suppressions = 0;  // addresses on the suppression list
};

struct HtmlReport {
  int64_t generated_at = 0;
  analyze::Period period;
  std::vector<analyze::Overview> domains;
  HtmlFeedback feedback;
  std::size_t top_sources = 100;  // table rows before the rest becomes "others"
  std::size_t top_chart = 10;     // bars before "others"
  std::string alignment_method;   // how organizational domains were found
};

void write_html_report(std::ostream& out, const HtmlReport& report);

}  // namespace dmarq::output
