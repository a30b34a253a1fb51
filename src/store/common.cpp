#include "store/common.h"

#include <nlohmann/json.hpp>

namespace dmarq::store {

std::string json_array(const std::vector<std::string>& items) {
  auto arr = nlohmann::json::array();
  for (const auto& i : items) arr.push_back(i);
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> from_json_array(std::string_view text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string issues_json(const model::Issues& issues) {
  auto arr = nlohmann::json::array();
  for (const auto& i : issues)
    arr.push_back({{"code", i.code},
                   {"severity", i.severity == model::Severity::error ? "error" : "warning"},
                   {"message", i.message},
                   {"where", i.where}});
  // Reports contain arbitrary bytes; never throw on invalid UTF-8 here.
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

model::Issues issues_from_json(std::string_view text) {
  model::Issues out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  auto field = [](const nlohmann::json& o, const char* k) {
    return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  for (const auto& o : j) {
    if (!o.is_object()) continue;
    model::Issue i;
    i.code = field(o, "code");
    i.severity = field(o, "severity") == "error" ? model::Severity::error : model::Severity::warning;
    i.message = field(o, "message");
    i.where = field(o, "where");
    out.push_back(std::move(i));
  }
  return out;
}

MessageOutcome outcome_from(std::string_view text) {
  return text == "rejected" ? MessageOutcome::rejected : text == "partial" ? MessageOutcome::partial
                                                                           : MessageOutcome::ok;
}

bool same_rollup(const model::ReportMeta& a, const model::ReportMeta& b) {
  const auto &x = a.policy, &y = b.policy;
  return a.begin == b.begin && a.end == b.end && x.domain == y.domain && x.adkim == y.adkim && x.aspf == y.aspf &&
         x.p == y.p && x.sp == y.sp && x.np == y.np && x.pct == y.pct;
}

}  // namespace dmarq::store
