#include "dmarq/enrich/enrich.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>
#include <utility>

#include "config/toml_util.h"
#include "dmarq/analyze/domain.h"
#include "dmarq/model/ip.h"
#include "mail_services_toml.h"  // generated from schema/mail-services.toml

namespace dmarq::enrich {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Names as a suffix rule wants them: lower case, no dot at either end.
std::string normalized_suffix(std::string_view s) {
  while (!s.empty() && s.front() == '.') s.remove_prefix(1);
  while (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return lower(s);
}

}  // namespace

std::vector<IpInfo> resolve_ips(dns::Resolver& dns, const std::vector<std::string>& canonical_ips) {
  std::vector<IpInfo> out(canonical_ips.size());
  std::vector<dns::Query> ptr_queries;
  std::vector<std::size_t> ptr_of;  // ptr_queries[k] is for out[ptr_of[k]]
  std::vector<std::optional<model::IpAddress>> parsed(canonical_ips.size());
  for (std::size_t i = 0; i < canonical_ips.size(); ++i) {
    out[i].ip = canonical_ips[i];
    parsed[i] = model::parse_ip(canonical_ips[i]);
    if (!parsed[i]) continue;  // stays temporary: nothing to ask
    ptr_queries.push_back({dns::reverse_name(canonical_ips[i]), dns::Type::ptr});
    ptr_of.push_back(i);
  }
  auto ptr_answers = dns.lookup_all(ptr_queries);

  // Second batch: the addresses of every PTR name, of the address's family.
  std::vector<dns::Query> fwd_queries;
  std::vector<std::pair<std::size_t, std::string>> fwd_of;  // (out index, name)
  for (std::size_t k = 0; k < ptr_answers.size(); ++k) {
    auto& info = out[ptr_of[k]];
    const auto& a = ptr_answers[k];
    info.ptr_status = a.status;
    if (a.status != dns::Status::ok) continue;
    const auto type = parsed[ptr_of[k]]->v4 ? dns::Type::a : dns::Type::aaaa;
    for (std::size_t n = 0; n < a.data.size() && n < kMaxPtrNames; ++n) {
      std::string name = normalized_suffix(a.data[n]);
      if (name.empty()) continue;
      if (info.ptr.empty()) info.ptr = name;
      fwd_queries.push_back({name, type});
      fwd_of.emplace_back(ptr_of[k], std::move(name));
    }
  }
  auto fwd_answers = dns.lookup_all(fwd_queries);
  analyze::OrgDomains org;
  for (std::size_t k = 0; k < fwd_answers.size(); ++k) {
    auto& info = out[fwd_of[k].first];
    if (info.fcrdns || fwd_answers[k].status != dns::Status::ok) continue;
    for (const auto& addr : fwd_answers[k].data) {
      auto back = model::parse_ip(addr);
      if (back && back == parsed[fwd_of[k].first]) {
        // The name that resolves back is the one to show, even if an
        // earlier PTR name did not.
        info.fcrdns = true;
        info.ptr = fwd_of[k].second;
        break;
      }
    }
  }
  for (auto& info : out)
    if (!info.ptr.empty()) info.base_domain = org.of(info.ptr);
  return out;
}

const ServiceMap& ServiceMap::shipped() {
  static const ServiceMap map = parse(kMailServicesToml, "schema/mail-services.toml");
  return map;
}

ServiceMap ServiceMap::parse(std::string_view text, const std::string& origin) {
  ServiceMap map;
  toml::table root;
  try {
    root = config::parse_toml(text, origin);
  } catch (const std::exception& e) {
    throw std::runtime_error(e.what());
  }
  const toml::table* services = root["service"].as_table();
  if (!services) throw std::runtime_error(origin + ": no [service.*] tables");
  for (const auto& [key, node] : *services) {
    const toml::table* t = node.as_table();
    std::string where = origin + ": service." + std::string(key.str());
    if (!t) throw std::runtime_error(where + " is not a table");
    Service s;
    s.key = std::string(key.str());
    auto name = (*t)["name"].value<std::string>();
    if (!name || name->empty()) throw std::runtime_error(where + " has no name");
    s.name = *name;
    s.type = (*t)["type"].value_or(std::string());
    const toml::array* suffixes = (*t)["ptr_suffixes"].as_array();
    if (!suffixes || suffixes->empty()) throw std::runtime_error(where + " has no ptr_suffixes");
    for (const auto& v : *suffixes) {
      auto sfx = v.value<std::string>();
      std::string n = sfx ? normalized_suffix(*sfx) : std::string();
      // A single label ("com") would name half the Internet.
      if (n.find('.') == std::string::npos) throw std::runtime_error(where + ": a ptr_suffix must be a domain with a dot");
      s.ptr_suffixes.push_back(std::move(n));
    }
    map.services_.push_back(std::move(s));
  }
  // toml++ keeps tables in key order; file order is what the comment
  // promises, so sort by where each table starts.
  std::vector<std::pair<std::size_t, Service>> ordered;
  for (auto& s : map.services_) {
    auto* node = (*services)[s.key].node();
    ordered.emplace_back(node ? node->source().begin.line : 0, std::move(s));
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  map.services_.clear();
  for (auto& [line, s] : ordered) map.services_.push_back(std::move(s));
  return map;
}

const Service* ServiceMap::match(std::string_view ptr_name) const {
  std::string name = normalized_suffix(ptr_name);
  for (const auto& s : services_)
    for (const auto& sfx : s.ptr_suffixes)
      if (analyze::domain_is_under(name, sfx)) return &s;
  return nullptr;
}

}  // namespace dmarq::enrich
