// Escaping at the sink: every byte that reaches a terminal, a CSV file or a
// JSON document came from an untrusted report, so each writer escapes here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dmarq::output {

// Replaces C0 and C1 control characters and DEL with a visible \xNN, so a
// report cannot move the cursor or change the terminal's state. Invalid UTF-8
// bytes are shown as \xNN too.
std::string terminal_safe(std::string_view text);

// One RFC 4180 field: quoted when it holds a comma, quote, CR or LF. A cell
// whose first non-space character is = + - @ TAB or CR is prefixed with a
// single quote so spreadsheets do not run it as a formula.
std::string csv_field(std::string_view text);
// A whole CSV line of csv_field cells, ending in CRLF (RFC 4180).
std::string csv_line(const std::vector<std::string>& cells);

// Text for HTML element content and quoted attribute values: & < > " ' become
// character references; invalid UTF-8 bytes and control characters other
// than TAB and LF become U+FFFD, which is also what a browser would show.
std::string html_escape(std::string_view text);

// Number of terminal columns `text` takes (code points; no wide-char tables).
std::size_t display_width(std::string_view text);
// Cuts `text` to at most `width` columns, ending in "…" when cut.
std::string truncate_display(std::string_view text, std::size_t width);

}  // namespace dmarq::output
