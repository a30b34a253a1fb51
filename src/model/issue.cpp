#include "dmarq/model/issue.h"

namespace dmarq::model {

std::string describe(const Issue& issue) {
  if (issue.where.empty()) return issue.message;
  return issue.where + ": " + issue.message;
}

}  // namespace dmarq::model
