// Issue: one problem found in untrusted input.
//
// Bad input is normal, so parsers and sources never throw for it: each stage
// returns its value together with a list of Issues. An Issue has a stable
// machine code (for grouping and tests), a severity, a human message that says
// what was wrong, and `where` (file, MIME section, archive member, XML line).
#pragma once

#include <string>
#include <vector>

namespace dmarq::model {

enum class Severity {
  warning,  // tolerated: the data was kept, maybe normalised
  error,    // this input (part, report) was rejected; others go on
};

struct Issue {
  std::string code;     // stable, e.g. "xml.malformed", "archive.ratio"
  Severity severity = Severity::warning;
  std::string message;  // what was wrong, in plain words
  std::string where;    // "part 2", "member x.xml", "line 12", ...
};

using Issues = std::vector<Issue>;

inline bool has_error(const Issues& issues) {
  for (const auto& i : issues)
    if (i.severity == Severity::error) return true;
  return false;
}

// "message (where)" for one line of terminal or log output.
std::string describe(const Issue& issue);

}  // namespace dmarq::model
