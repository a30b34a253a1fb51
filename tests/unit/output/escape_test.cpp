#include <catch2/catch.hpp>

#include <sstream>

#include "dmarq/output/escape.h"
#include "dmarq/output/table.h"

using namespace dmarq::output;

TEST_CASE("escape: CSV fields follow RFC 4180", "[output]") {
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(csv_field("") == "");
}

TEST_CASE("escape: CSV cells that a spreadsheet would run are neutralised", "[output]") {
  struct Row {
    std::string in, out;
  };
  auto row = GENERATE(Row{"=1+1", "'=1+1"}, Row{"+cmd", "'+cmd"}, Row{"-2", "'-2"}, Row{"@SUM(A1)", "'@SUM(A1)"},
                      Row{"\tx", "'\tx"}, Row{"\rx", "\"'\rx\""}, Row{"   =HYPERLINK(1)", "'   =HYPERLINK(1)"},
                      Row{"a=b", "a=b"}, Row{"2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"});
  INFO(row.in);
  CHECK(csv_field(row.in) == row.out);
}

TEST_CASE("escape: terminal output cannot carry control sequences", "[output]") {
  CHECK(terminal_safe("ok") == "ok");
  CHECK(terminal_safe("\x1b[2Jgone") == "\\x1b[2Jgone");
  CHECK(terminal_safe("a\nb") == "a\\x0ab");
  CHECK(terminal_safe("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(terminal_safe("\xc2\x9b" "31m") == "\\xc2\\x9b31m");  // C1 CSI
  CHECK(terminal_safe("\xff") == "\\xff");                    // not UTF-8
}

TEST_CASE("table: fits the width and truncates with an ellipsis", "[output]") {
  Table t({"name", "value"});
  t.add_row({std::string(150, 'n'), "1"});
  t.add_row({"short", "22"});
  t.align_right(1);
  std::ostringstream out;
  t.print(out, 40);
  std::istringstream lines(out.str());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    CHECK(display_width(line) <= 40);
  }
  CHECK(n == 3);
  CHECK(out.str().find("…") != std::string::npos);
  CHECK(truncate_display("abcdef", 4) == "abc…");
  CHECK(truncate_display("abc", 4) == "abc");
}

TEST_CASE("escape: HTML text cannot open markup, and bad bytes show as U+FFFD", "[output]") {
  CHECK(html_escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;");
  CHECK(html_escape("a & \"b\" 'c'") == "a &amp; &quot;b&quot; &#39;c&#39;");
  CHECK(html_escape("&lt;") == "&amp;lt;");  // never double-decoded
  CHECK(html_escape("Mimecast\tDMARC\n") == "Mimecast\tDMARC\n");
  CHECK(html_escape(std::string("a\0b", 3)) == "a\xEF\xBF\xBD" "b");
  CHECK(html_escape("\x1b[31m") == "\xEF\xBF\xBD[31m");
  CHECK(html_escape("caf\xC3\xA9") == "caf\xC3\xA9");  // valid UTF-8 kept
  CHECK(html_escape("\xC3") == "\xEF\xBF\xBD");         // cut sequence
  CHECK(html_escape("\xC2\x85") == "\xEF\xBF\xBD");     // C1 control
}
