// An in-memory DNS for unit tests: names map to records by type. A name
// with no records at all is NXDOMAIN; a name with records of other types
// answers NODATA; names listed in `failing` answer Status::temporary.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dmarq/dns/resolver.h"

namespace dmarq::test {

class FakeResolver : public dns::Resolver {
 public:
  // add("example.com", dns::Type::txt, "v=spf1 -all"); names are matched
  // without case and without a trailing dot.
  FakeResolver& add(const std::string& name, dns::Type type, const std::string& data) {
    zone_[key(name)][type].push_back(data);
    return *this;
  }
  FakeResolver& fail(const std::string& name) {
    failing_.insert(key(name));
    return *this;
  }

  dns::Answer lookup(const std::string& name, dns::Type type) override {
    queries_.emplace_back(key(name), type);
    dns::Answer a;
    a.ttl = 300;
    std::string k = key(name);
    if (failing_.count(k)) {
      a.status = dns::Status::temporary;
      a.detail = "timeout (fake)";
      return a;
    }
    auto it = zone_.find(k);
    if (it == zone_.end()) {
      a.status = dns::Status::nxdomain;
      return a;
    }
    auto t = it->second.find(type);
    if (t == it->second.end() || t->second.empty()) {
      a.status = dns::Status::nodata;
      return a;
    }
    a.status = dns::Status::ok;
    a.data = t->second;
    return a;
  }

  // Every lookup made so far, as (lower-case name, type).
  const std::vector<std::pair<std::string, dns::Type>>& queries() const { return queries_; }
  std::size_t count(const std::string& name, dns::Type type) const {
    return static_cast<std::size_t>(
        std::count(queries_.begin(), queries_.end(), std::make_pair(key(name), type)));
  }

 private:
  static std::string key(std::string name) {
    if (!name.empty() && name.back() == '.') name.pop_back();
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  std::map<std::string, std::map<dns::Type, std::vector<std::string>>> zone_;
  std::set<std::string> failing_;
  std::vector<std::pair<std::string, dns::Type>> queries_;
};

}  // namespace dmarq::test
