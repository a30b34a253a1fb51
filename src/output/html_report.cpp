#include "dmarq/output/html_report.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "dmarq/output/escape.h"
#include "dmarq/output/svg_chart.h"
#include "dmarq/util/sha256.h"
#include "dmarq/util/text.h"

namespace dmarq::output {
namespace {

constexpr int64_t kDay = 86400;

// Colours are the Okabe-Ito palette (told apart with the common colour-vision
// deficiencies); the dark scheme lightens them. Charts take their colours
// from these classes, so they follow the scheme and print in colour.
constexpr std::string_view kStyle = R"css(
:root{--bg:#fff;--fg:#1c2024;--muted:#5a636e;--line:#d9dee4;--card:#f4f6f8;--pass:#009e73;--known:#e69f00;--unknown:#d55e00;--rate:#0072b2;--ok:#0a7a50;--bad:#b3261e;--link:#0b5cad;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#14171a;--fg:#e4e7ea;--muted:#9aa4ae;--line:#343b42;--card:#1d2226;--pass:#2fbf8f;--known:#f0b433;--unknown:#f0804a;--rate:#56b4e9;--ok:#5ed3a0;--bad:#ff8a80;--link:#8cc4ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0}h2{font-size:1.3rem;margin:1.6em 0 .3em;padding-top:.6em;border-top:2px solid var(--line)}h3{font-size:1.05rem;margin:1.4em 0 .4em}
a{color:var(--link)}.muted,.sub{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:12px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .label{display:block;color:var(--muted);font-size:.85rem}.card .big{display:block;font-size:1.45rem;font-weight:600}
.ok .big,.ok{color:var(--ok)}.bad .big,.bad{color:var(--bad)}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600}th[data-sort]{cursor:pointer}th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}
td.expl{min-width:340px;max-width:560px}td.ip{white-space:nowrap}td.ip small{display:block;color:var(--muted)}
tr.others td{font-style:italic;color:var(--muted)}
.tag{display:inline-block;padding:0 6px;border-radius:9px;font-size:.8rem;white-space:nowrap;border:1px solid currentColor}
.st-known{color:var(--ok)}.st-authenticated{color:var(--rate)}.st-unknown{color:var(--bad)}
svg.chart{display:block;width:100%;height:auto;max-width:900px;margin:6px 0}
svg.chart text{fill:var(--muted);font-size:11px;font-family:inherit}
svg .grid{stroke:var(--line);fill:none}svg .frame{stroke:var(--muted);fill:none}
svg .s-pass{fill:var(--pass)}svg .s-known{fill:var(--known)}svg .s-unknown{fill:var(--unknown)}svg .s-complaint{fill:var(--unknown)}svg .s-bounce{fill:var(--known)}
svg .rate{fill:none;stroke:var(--rate);stroke-width:2;stroke-linecap:round}svg .cut{stroke:var(--bg);stroke-width:3}svg rect.rate{fill:var(--rate)}
ol.actions li{margin:.3em 0}
nav ul{padding-left:1.2em;columns:2 220px}
details summary{cursor:pointer;color:var(--muted)}
footer{margin:2em 0 1em;color:var(--muted);font-size:.85rem}
@media (max-width:600px){main{padding:10px}.card .big{font-size:1.2rem}td.expl{min-width:200px}}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--card:#fff}body{font-size:11pt}main{max-width:none;padding:0}
.scroll{overflow:visible}h2{break-before:page}section:first-of-type h2{break-before:auto}.card,svg.chart,tr,li{break-inside:avoid}details:not([open]){display:none}th[data-sort]::after{content:none}a{color:inherit;text-decoration:none}}
)css";

// Sorts a table by the clicked column: numbers by their data-v, text by
// content; "others" rows stay last. The page reads fine without it.
constexpr std::string_view kScript = R"js(
(function(){
function key(td,num){var v=td.getAttribute('data-v');if(v===null)v=td.textContent;return num?parseFloat(v)||0:v.toLowerCase();}
function sortBy(table,th){
var col=Array.prototype.indexOf.call(th.parentNode.children,th),num=th.getAttribute('data-sort')==='num';
var asc=th.getAttribute('aria-sort')==='descending'||(th.getAttribute('aria-sort')===null&&!num);
Array.prototype.forEach.call(th.parentNode.children,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),keep=rows.filter(function(r){return r.classList.contains('others');});
rows=rows.filter(function(r){return !r.classList.contains('others');});
rows.sort(function(a,b){var x=key(a.cells[col],num),y=key(b.cells[col],num);return (x<y?-1:x>y?1:0)*(asc?1:-1);});
rows.concat(keep).forEach(function(r){body.appendChild(r);});}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable th[data-sort]'),function(th){
th.tabIndex=0;var table=th.closest('table');
th.addEventListener('click',function(){sortBy(table,th);});
th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(table,th);}});});
})();
)js";

std::string esc(std::string_view s) { return html_escape(s); }

std::string pct_value(uint64_t part, uint64_t total) {
  return total == 0 ? std::string("-") : fmt::format("{:.1f}", 100.0 * double(part) / double(total));
}

// A figure: formatted text, raw value for scripts and tests.
std::string figure(std::string_view key, uint64_t v) {
  return fmt::format("<span data-k=\"{}\" data-v=\"{}\">{}</span>", key, v, group_digits(v));
}

std::string num_cell(uint64_t v) { return fmt::format("<td class=\"n\" data-v=\"{}\">{}</td>", v, group_digits(v)); }
std::string pct_cell(uint64_t part, uint64_t total) {
  std::string v = pct_value(part, total);
  return fmt::format("<td class=\"n\" data-v=\"{}\">{}</td>", v == "-" ? "-1" : v, v == "-" ? v : v + "%");
}

std::string verdict(bool ready) { return ready ? "ready" : "not ready"; }

void card(std::string& out, std::string_view label, std::string_view body, std::string_view cls = "") {
  out += fmt::format("<div class=\"card{}{}\"><span class=\"label\">{}</span><span class=\"big\">{}</span></div>",
                     cls.empty() ? "" : " ", cls, label, body);
}

std::string status_tag(const analyze::SourceRow& r) {
  std::string text = r.status == analyze::Status::known           ? "known: " + r.sender
                     : r.status == analyze::Status::authenticated ? std::string("authenticated, not listed")
                                                                  : std::string("unknown");
  return fmt::format("<span class=\"tag st-{}\">{}</span>", analyze::to_string(r.status), esc(text));
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

void trend_section(std::string& out, const analyze::Overview& o, const analyze::Period& period) {
  DailyChart c;
  c.title = "Messages per day by DMARC outcome, and the DMARC pass rate, " + o.readiness.domain;
  ChartSeries pass{"DMARC pass", "s-pass", {}}, known{"fail, known sender", "s-known", {}},
      unknown{"fail, unknown source", "s-unknown", {}};
  for (const auto& d : o.trend) {
    c.days.push_back(d.day);
    pass.values.push_back(d.dmarc_pass);
    known.values.push_back(d.fail_known);
    unknown.values.push_back(d.fail_unknown);
    c.rate.push_back(d.messages ? std::optional<double>(100.0 * double(d.dmarc_pass) / double(d.messages))
                                : std::nullopt);
  }
  c.stacks = {std::move(pass), std::move(known), std::move(unknown)};
  c.rate_name = "DMARC pass %";
  out += "<h3>Trend</h3>";
  out += daily_chart_svg(c);
  out += "<details><summary>Daily figures</summary><div class=\"scroll\"><table class=\"sortable\"><thead><tr>"
         "<th data-sort=\"text\">day (UTC)</th><th class=\"n\" data-sort=\"num\">messages</th>"
         "<th class=\"n\" data-sort=\"num\">DMARC pass</th><th class=\"n\" data-sort=\"num\">fail, known</th>"
         "<th class=\"n\" data-sort=\"num\">fail, unknown</th><th class=\"n\" data-sort=\"num\">pass %</th>"
         "</tr></thead><tbody>";
  for (const auto& d : o.trend) {
    if (d.messages == 0) continue;
    out += "<tr><td>" + util::iso_date_utc(d.day) + "</td>" + num_cell(d.messages) + num_cell(d.dmarc_pass) +
           num_cell(d.fail_known) + num_cell(d.fail_unknown) + pct_cell(d.dmarc_pass, d.messages) + "</tr>";
  }
  out += "</tbody></table></div></details>";
  (void)period;
}

void readiness_section(std::string& out, const analyze::Readiness& r) {
  out += "<h3>What tightening would do</h3><div class=\"scroll\"><table><thead><tr><th>messages that…</th>"
         "<th class=\"n\">SPF to -all</th><th class=\"n\">DMARC to p=reject</th></tr></thead><tbody>";
  auto row = [&](std::string_view label, std::string_view k1, uint64_t v1, std::string_view k2, uint64_t v2) {
    out += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>", label, figure(k1, v1),
                       figure(k2, v2));
  };
  row("pass today", "spf-passes", r.spf.passes, "dmarc-passes", r.dmarc.passes);
  row("would change, yet still pass (aligned DKIM / the receiver's override)", "spf-safe", r.spf.safe, "dmarc-safe",
      r.dmarc.safe);
  row("would fail from known senders: fix these first", "spf-known-fail", r.spf.known_fail, "dmarc-known-fail",
      r.dmarc.known_fail);
  row("would fail from unknown sources: spoofing, good to block", "spf-unknown-fail", r.spf.unknown_fail,
      "dmarc-unknown-fail", r.dmarc.unknown_fail);
  row("total", "spf-total", r.spf.total, "dmarc-total", r.dmarc.total);
  out += "</tbody></table></div>";
  if (r.spf_live > 0)
    out += fmt::format("<p class=\"muted\">The SPF column evaluates the live SPF record with -all for {} of {} "
                       "messages; the rest uses the reporters' SPF results.</p>",
                       group_digits(r.spf_live), group_digits(r.spf.total));
  else
    out += "<p class=\"muted\">The SPF column uses the reporters' SPF results (the live record was not "
           "evaluated).</p>";
  out += "<h3>Actions</h3><ol class=\"actions\">";
  for (const auto& a : r.actions) out += "<li>" + esc(a) + "</li>";
  out += "</ol>";
}

void sources_section(std::string& out, const analyze::Overview& o, std::size_t top_rows, std::size_t top_bars) {
  // The overview keeps the biggest rows and sums up the rest.
  const auto& rows = o.sources;
  const analyze::SourcesRest& tail = o.rest;
  const std::size_t total = rows.size() + tail.rows;
  out += fmt::format("<h3>Sources</h3><p class=\"muted\">{} source(s) sent as {}; {} of them unknown.</p>",
                     group_digits(total), esc(o.readiness.domain), group_digits(o.unknown_sources));
  if (total == 0) return;
  // The chart: the biggest sources, the long tail as one "others" bar.
  BarChart c;
  c.title = "Messages per source, by DMARC outcome, " + o.readiness.domain;
  ChartSeries pass{"DMARC pass", "s-pass", {}}, known{"fail, known sender", "s-known", {}},
      unknown{"fail, unknown source", "s-unknown", {}};
  auto add_bar = [&](std::string label, uint64_t messages, uint64_t passed, bool is_unknown) {
    c.labels.push_back(std::move(label));
    pass.values.push_back(passed);
    known.values.push_back(is_unknown ? 0 : messages - passed);
    unknown.values.push_back(is_unknown ? messages - passed : 0);
  };
  uint64_t rest_pass = tail.dmarc_pass, rest_unknown_fail = tail.unknown_fail,
           rest_known_fail = tail.messages - tail.dmarc_pass - tail.unknown_fail;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    bool is_unknown = r.status == analyze::Status::unknown;
    if (i < top_bars) {
      add_bar(r.key, r.messages, r.dmarc_pass, is_unknown);
      continue;
    }
    rest_pass += r.dmarc_pass;
    (is_unknown ? rest_unknown_fail : rest_known_fail) += r.messages - r.dmarc_pass;
  }
  if (total > top_bars) {
    c.labels.push_back(fmt::format("others ({})", group_digits(total - top_bars)));
    pass.values.push_back(rest_pass);
    known.values.push_back(rest_known_fail);
    unknown.values.push_back(rest_unknown_fail);
    c.last_is_rest = true;
  }
  c.stacks = {std::move(pass), std::move(known), std::move(unknown)};
  out += bar_chart_svg(c);

  out += "<div class=\"scroll\"><table class=\"sortable sources\"><thead><tr><th data-sort=\"text\">source</th>"
         "<th data-sort=\"text\">status</th>"
         "<th class=\"n\" data-sort=\"num\">messages</th><th class=\"n\" data-sort=\"num\">DMARC pass</th>"
         "<th class=\"n\" data-sort=\"num\">SPF aligned</th><th class=\"n\" data-sort=\"num\">DKIM aligned</th>"
         "<th data-sort=\"text\">reason</th><th>why</th></tr></thead><tbody>";
  uint64_t m = tail.messages, p = tail.dmarc_pass, s = tail.spf_aligned, d = tail.dkim_aligned;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (i >= top_rows) {
      m += r.messages, p += r.dmarc_pass, s += r.spf_aligned, d += r.dkim_aligned;
      continue;
    }
    std::string ptr;
    if (!r.reverse_dns.empty())
      ptr = "<small>" + esc(r.reverse_dns) + (r.fcrdns ? "" : " (unconfirmed)") +
            (r.service.empty() ? "" : " · " + esc(r.service)) + "</small>";
    // The header From domain is worth a line only when it is not the domain itself.
    std::string from = joined(r.header_from);
    if (from != o.readiness.domain) ptr += "<small>From: " + esc(from) + "</small>";
    out += "<tr><td class=\"ip\">" + esc(r.key) + ptr + "</td><td>" +
           status_tag(r) + "</td>" + num_cell(r.messages) + pct_cell(r.dmarc_pass, r.messages) +
           pct_cell(r.spf_aligned, r.messages) + pct_cell(r.dkim_aligned, r.messages) + "<td><code>" +
           esc(analyze::code(r.main_reason)) + "</code></td><td class=\"expl\">" + esc(r.explanation) + "</td></tr>";
  }
  if (total > top_rows)
    out += fmt::format("<tr class=\"others\"><td colspan=\"2\">others: {} smaller sources</td>",
                       group_digits(total - top_rows)) +
           num_cell(m) + pct_cell(p, m) + pct_cell(s, m) + pct_cell(d, m) + "<td></td><td></td></tr>";
  out += "</tbody></table></div>";
}

void reporters_section(std::string& out, const analyze::Overview& o) {
  out += "<h3>Reporters</h3><p class=\"muted\">Each receiver's reports that reach into the period, whole, and "
         "what it did with the messages by its own DMARC evaluation.</p>"
         "<div class=\"scroll\"><table class=\"sortable reporters\"><thead><tr>"
         "<th data-sort=\"text\">reporter</th><th class=\"n\" data-sort=\"num\">reports</th>"
         "<th class=\"n\" data-sort=\"num\">records</th><th class=\"n\" data-sort=\"num\">messages</th>"
         "<th class=\"n\" data-sort=\"num\">DMARC pass (its verdict)</th>"
         "<th class=\"n\" data-sort=\"num\">quarantined</th><th class=\"n\" data-sort=\"num\">rejected</th>"
         "<th data-sort=\"text\">last report ends</th></tr></thead><tbody>";
  for (const auto& r : o.reporters)
    out += "<tr><td>" + esc(r.org_name) + "</td>" + num_cell(r.reports) + num_cell(r.records) +
           num_cell(r.messages) + pct_cell(r.evaluated_pass, r.messages) + num_cell(r.quarantined) +
           num_cell(r.rejected) + "<td>" + util::iso8601_utc(r.last_end) + "</td></tr>";
  out += "</tbody></table></div>";
}

void domain_section(std::string& out, const analyze::Overview& o, std::size_t index, const HtmlReport& report) {
  const auto& r = o.readiness;
  out += fmt::format("<section class=\"domain\" id=\"domain-{}\" data-domain=\"{}\"><h2>{}</h2>", index,
                     esc(r.domain), esc(r.domain));
  out += fmt::format("<p class=\"sub\">Published policy p=<span data-k=\"p\" data-v=\"{}\">{}</span> · "
                     "{} report(s)</p>",
                     esc(r.p), r.p.empty() ? "?" : esc(r.p), figure("reports", r.reports));
  out += "<div class=\"cards\">";
  card(out, "Messages", figure("messages", r.dmarc.total));
  std::string rate = pct_value(r.dmarc.passes, r.dmarc.total);
  card(out, "DMARC pass rate",
       fmt::format("<span data-k=\"dmarc-pass-pct\" data-v=\"{}\">{}</span>", rate, rate == "-" ? rate : rate + "%"));
  card(out, "SPF to -all",
       fmt::format("<span data-k=\"spf-verdict\" data-v=\"{0}\">{0}</span>", verdict(r.spf_ready)),
       r.spf_ready ? "ok" : "bad");
  card(out, "DMARC to p=reject",
       fmt::format("<span data-k=\"dmarc-verdict\" data-v=\"{0}\">{0}</span>", verdict(r.dmarc_ready)),
       r.dmarc_ready ? "ok" : "bad");
  card(out, "Unknown sources", figure("unknown-sources", o.unknown_sources), o.unknown_sources ? "bad" : "ok");
  out += "</div>";
  out += fmt::format("<p>Verdict: <strong class=\"{}\" data-k=\"verdict\" data-v=\"{}\">{}</strong></p>",
                     r.ready() ? "ok" : "bad", verdict(r.ready()), verdict(r.ready()));
  trend_section(out, o, report.period);
  readiness_section(out, r);
  sources_section(out, o, report.top_sources, report.top_chart);
  reporters_section(out, o);
  out += "</section>";
}

void feedback_section(std::string& out, const HtmlFeedback& f) {
  out += "<section id=\"feedback\"><h2>Complaints and bounces</h2><div class=\"cards\">";
  card(out, "Complaints", figure("complaints", f.complaints));
  card(out, "Bounced recipients", figure("bounces", f.bounces));
  card(out, "Suppression list", figure("suppressions", f.suppressions));
  out += "</div>";
  if (f.complaints + f.bounces == 0) {
    out += "<p class=\"muted\">No complaints or bounces in this period.</p></section>";
    return;
  }
  DailyChart c;
  c.title = "Complaints and bounced recipients per day";
  c.days = f.days;
  c.y_label = "per day";
  c.stacks = {{"complaints", "s-complaint", f.complaints_per_day}, {"bounced recipients", "s-bounce", f.bounces_per_day}};
  out += daily_chart_svg(c);
  out += "<h3>Complaints by type</h3><div class=\"scroll\"><table class=\"sortable\"><thead><tr>"
         "<th data-sort=\"text\">type</th><th class=\"n\" data-sort=\"num\">complaints</th>"
         "<th data-sort=\"text\">reported by</th></tr></thead><tbody>";
  for (const auto& r : f.complaints_by_type)
    out += "<tr><td>" + esc(r.key) + "</td>" + num_cell(r.complaints) + "<td>" + esc(joined(r.reporters)) +
           "</td></tr>";
  out += "</tbody></table></div><h3>Bounces by class</h3><div class=\"scroll\"><table class=\"sortable\"><thead><tr>"
         "<th data-sort=\"text\">class</th><th class=\"n\" data-sort=\"num\">recipients</th></tr></thead><tbody>";
  for (const auto& r : f.bounces_by_class) out += "<tr><td>" + esc(r.key) + "</td>" + num_cell(r.recipients) + "</tr>";
  out += "</tbody></table></div></section>";
}

}  // namespace

void write_html_report(std::ostream& os, const HtmlReport& report) {
  const auto& period = report.period;
  std::string span = util::iso_date_utc(period.since) + " to " + util::iso_date_utc(period.until - kDay);
  std::string out;
  out.reserve(64 * 1024);
  out += "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"color-scheme\" content=\"light dark\">"
         // Nothing may load from anywhere, and only our own script may run:
         // should some report text ever slip past the escaping, the browser
         // still refuses its scripts, handlers and fetches.
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "script-src 'sha256-" + util::sha256_base64(kScript) + "'\">";
  out += "<title>DMARC report, " + span + " (UTC)</title><style>";
  out += kStyle;
  out += "</style></head><body><main><header><h1>DMARC report</h1>";
  out += fmt::format("<p class=\"sub\">{} (UTC) · {} domain(s) · generated {} by dmarq</p></header>", span,
                     report.domains.size(), util::iso8601_utc(report.generated_at));

  if (report.domains.empty()) out += "<p>No aggregate reports in this period.</p>";
  if (report.domains.size() > 1) {
    out += "<nav><h2>Domains</h2><div class=\"scroll\"><table class=\"sortable overview\"><thead><tr>"
           "<th data-sort=\"text\">domain</th><th class=\"n\" data-sort=\"num\">messages</th>"
           "<th class=\"n\" data-sort=\"num\">DMARC pass</th><th data-sort=\"text\">SPF -all</th>"
           "<th data-sort=\"text\">p=reject</th><th class=\"n\" data-sort=\"num\">unknown sources</th>"
           "</tr></thead><tbody>";
    for (std::size_t i = 0; i < report.domains.size(); ++i) {
      const auto& r = report.domains[i].readiness;
      out += fmt::format("<tr><td><a href=\"#domain-{}\">{}</a></td>", i + 1, esc(r.domain)) + num_cell(r.dmarc.total) +
             pct_cell(r.dmarc.passes, r.dmarc.total) +
             fmt::format("<td class=\"{}\">{}</td><td class=\"{}\">{}</td>", r.spf_ready ? "ok" : "bad",
                         verdict(r.spf_ready), r.dmarc_ready ? "ok" : "bad", verdict(r.dmarc_ready)) +
             num_cell(report.domains[i].unknown_sources) + "</tr>";
    }
    out += "</tbody></table></div></nav>";
  }
  for (std::size_t i = 0; i < report.domains.size(); ++i) domain_section(out, report.domains[i], i + 1, report);
  feedback_section(out, report.feedback);
  out += "<footer>Times are UTC. Status: <em>known</em> matches a sender of the configuration; "
         "<em>authenticated</em> passes aligned DKIM without being listed; <em>unknown</em> is neither. ";
  if (!report.alignment_method.empty())
    out += "Organizational domains: " + esc(report.alignment_method) + ". ";
  out += "</footer></main><script>";
  out += kScript;
  out += "</script></body></html>\n";
  os << out;
}

}  // namespace dmarq::output
