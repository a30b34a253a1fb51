// The shared pieces of `dmarq check`: the memoizing resolver, the findings
// list, tag lists, and the MX and address answers that both the SPF coverage
// check and the mail-host checks read.
#include "check/context.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "dmarq/model/ip.h"

namespace dmarq::check::detail {

// --- CheckResolver ----------------------------------------------------------

CheckResolver::Key CheckResolver::key(const std::string& name, dns::Type type) {
  std::string k = name;
  if (!k.empty() && k.back() == '.') k.pop_back();
  for (char& c : k)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return {std::move(k), type};
}

dns::Answer CheckResolver::over_budget() const {
  dns::Answer a;
  a.status = dns::Status::temporary;
  a.detail = fmt::format("not asked: the check's budget of {} lookups was spent", kMaxLookups);
  return a;
}

void CheckResolver::remember(const Key& k, const std::string& name, dns::Type type, const dns::Answer& a) {
  cache_.emplace(k, a);
  if (a.status == dns::Status::offline) {
    ++offline_;
    if (offline_names_.size() < 5) offline_names_.push_back(fmt::format("{} {}", dns::type_name(type), k.first));
    return;
  }
  if (a.status != dns::Status::temporary) return;
  ++temporary_;
  findings_.push_back(Finding{
      Severity::warning, "dns.temporary", k.first, "",
      fmt::format("The {} lookup for {} failed temporarily ({}), so the checks that need it were skipped.",
                  dns::type_name(type), name, a.detail.empty() ? "no detail" : a.detail),
      fmt::format("Run the check again; if it keeps failing, make sure the name servers for {} answer.", name)});
}

dns::Answer CheckResolver::lookup(const std::string& name, dns::Type type) {
  Key k = key(name, type);
  if (auto it = cache_.find(k); it != cache_.end()) return it->second;
  if (asked_ >= kMaxLookups) {
    dns::Answer a = over_budget();
    if (!budget_noted_) {
      budget_noted_ = true;
      findings_.push_back(Finding{
          Severity::warning, "dns.budget", k.first, "",
          fmt::format("The check stopped querying DNS after {} lookups, so some records were not examined.",
                      kMaxLookups),
          "Reduce the number of MX hosts, addresses or includes, or check the remaining names one by one."});
    }
    ++temporary_;
    cache_.emplace(k, a);
    return a;
  }
  ++asked_;
  dns::Answer a = upstream_.lookup(k.first, type);
  if (a.status == dns::Status::ok && a.data.empty()) a.status = dns::Status::nodata;  // keep "ok" meaning data
  remember(k, name, type, a);
  return a;
}

std::vector<dns::Answer> CheckResolver::lookup_all(const std::vector<dns::Query>& queries) {
  // Send the unanswered, distinct queries that fit the budget in one batch.
  std::vector<dns::Query> batch;
  std::vector<Key> batch_keys;
  for (const auto& q : queries) {
    Key k = key(q.name, q.type);
    if (cache_.count(k) || std::find(batch_keys.begin(), batch_keys.end(), k) != batch_keys.end()) continue;
    if (asked_ + batch.size() >= kMaxLookups) break;
    batch.push_back({k.first, q.type});
    batch_keys.push_back(std::move(k));
  }
  if (!batch.empty()) {
    std::vector<dns::Answer> got = upstream_.lookup_all(batch);
    asked_ += batch.size();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      dns::Answer a;  // a resolver that returns too few answers leaves Status::temporary
      if (i < got.size()) a = std::move(got[i]);
      if (a.status == dns::Status::ok && a.data.empty()) a.status = dns::Status::nodata;
      remember(batch_keys[i], batch[i].name, batch[i].type, a);
    }
  }
  std::vector<dns::Answer> out;
  out.reserve(queries.size());
  for (const auto& q : queries) out.push_back(lookup(q.name, q.type));  // cached now, or over budget
  return out;
}

// --- Context ----------------------------------------------------------------

void Context::add(Severity severity, std::string code, std::string name, std::string record, std::string message,
                  std::string fix) {
  findings.push_back(
      Finding{severity, std::move(code), std::move(name), std::move(record), std::move(message), std::move(fix)});
}

bool Context::has(std::string_view code) const {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) { return f.code == code; });
}

// --- Text -------------------------------------------------------------------

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

bool is_query_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::string clip(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

std::string join_problems(const std::vector<std::string>& problems) {
  constexpr std::size_t kShown = 4;
  std::string out;
  for (std::size_t i = 0; i < problems.size() && i < kShown; ++i) out += (i ? "; " : "") + problems[i];
  if (problems.size() > kShown) out += fmt::format("; and {} more", problems.size() - kShown);
  return out;
}

std::string join_records(const std::vector<std::string>& records) {
  std::string out;
  for (const auto& r : records) {
    if (!out.empty()) out += " | ";
    out += r;
  }
  return out;
}

namespace {

bool is_tag_name(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

const Tag* TagList::find(std::string_view name) const {
  for (const auto& t : tags)
    if (t.name == name) return &t;
  return nullptr;
}

TagList parse_tag_list(std::string_view record) {
  TagList out;
  std::size_t pos = 0;
  while (pos <= record.size()) {
    std::size_t semi = record.find(';', pos);
    std::size_t end = semi == std::string_view::npos ? record.size() : semi;
    std::string_view part = trim_wsp(record.substr(pos, end - pos));
    pos = end + 1;
    if (part.empty()) continue;  // "a=b;;" and a trailing ';' are harmless
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.problems.push_back(fmt::format("'{}' is not a tag=value pair", clip(part, 40)));
      continue;
    }
    std::string_view name = trim_wsp(part.substr(0, eq));
    if (!is_tag_name(name)) {
      out.problems.push_back(fmt::format("'{}' is not a valid tag name", clip(name, 40)));
      continue;
    }
    Tag tag;
    tag.name.reserve(name.size());
    for (char c : name) tag.name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    tag.value = std::string(trim_wsp(part.substr(eq + 1)));
    // RFC 6376 3.2: a tag named twice makes the whole list invalid.
    if (out.find(tag.name)) out.problems.push_back(fmt::format("the tag {}= appears more than once", tag.name));
    out.tags.push_back(std::move(tag));
  }
  return out;
}

// --- MX hosts and addresses -------------------------------------------------

MxSet mx_hosts(Context& ctx) {
  MxSet set;
  set.answer = ctx.dns.lookup(ctx.domain, dns::Type::mx);
  if (!present(set.answer)) return set;
  std::vector<MxHost> all;
  for (const auto& entry : set.answer.data) {
    std::string_view e = trim_wsp(entry);
    std::size_t sp = e.find_first_of(" \t");
    std::string_view pref = e.substr(0, sp);
    std::string_view host = sp == std::string_view::npos ? std::string_view{} : trim_wsp(e.substr(sp));
    int value = -1;
    auto [ptr, ec] = std::from_chars(pref.data(), pref.data() + pref.size(), value);
    bool pref_ok = ec == std::errc{} && ptr == pref.data() + pref.size() && value >= 0 && value <= 65535;
    if (!pref_ok || sp == std::string_view::npos) {
      set.malformed.push_back(entry);
      continue;
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.empty()) {  // "0 ." (RFC 7505)
      set.null_mx = true;
      continue;
    }
    if (!is_query_name(host)) {
      set.malformed.push_back(entry);
      continue;
    }
    MxHost h;
    h.preference = value;
    for (char c : host) h.host.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    if (std::none_of(all.begin(), all.end(), [&](const MxHost& o) { return o.host == h.host; }))
      all.push_back(std::move(h));
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
  if (all.size() > kMaxMxHosts) {
    set.dropped = all.size() - kMaxMxHosts;
    all.resize(kMaxMxHosts);
  }
  set.hosts = std::move(all);
  return set;
}

HostAddresses host_addresses(Context& ctx, const std::string& host) {
  HostAddresses out;
  auto answers = ctx.dns.lookup_all({{host, dns::Type::a}, {host, dns::Type::aaaa}});
  out.a = answers[0];
  out.aaaa = answers[1];
  auto take = [](const dns::Answer& a, bool v4, std::vector<std::string>& into) {
    if (!present(a)) return;
    for (const auto& text : a.data) {
      auto ip = model::parse_ip(trim_wsp(text));
      if (!ip || ip->v4 != v4) continue;
      std::string canonical = ip->to_string();
      if (std::find(into.begin(), into.end(), canonical) != into.end()) continue;
      into.push_back(std::move(canonical));
      if (into.size() >= kMaxAddressesPerType) break;
    }
  };
  take(out.a, true, out.v4);
  take(out.aaaa, false, out.v6);
  return out;
}

}  // namespace dmarq::check::detail
