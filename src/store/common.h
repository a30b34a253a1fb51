// What the SQLite and PostgreSQL stores share: the JSON columns, the
// reporter's verdict sums, and when a report's records roll up alike.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dmarq/model/aggregate.h"
#include "dmarq/model/issue.h"
#include "dmarq/store/store.h"

namespace dmarq::store {

std::string json_array(const std::vector<std::string>& items);  // invalid UTF-8 replaced, never thrown
std::vector<std::string> from_json_array(std::string_view text);
std::string issues_json(const model::Issues& issues);
model::Issues issues_from_json(std::string_view text);

MessageOutcome outcome_from(std::string_view text);

// Whether two views of a report's metadata roll its records up alike: the
// same date range, domain, and the policy fields a fact holds (encode_fact).
bool same_rollup(const model::ReportMeta& a, const model::ReportMeta& b);

// What a reporter said of a report's messages (its policy_evaluated).
struct Said {
  uint64_t pass = 0, quarantined = 0, rejected = 0;
  void add(const model::Record& r) {
    if (r.dkim == "pass" || r.spf == "pass") pass += r.count;
    if (r.disposition == "quarantine") quarantined += r.count;
    else if (r.disposition == "reject") rejected += r.count;
  }
};

}  // namespace dmarq::store
