// Organizational domains through libpsl. libpsl is the only PSL code here:
// the list changes every week and Debian keeps it current in the
// `publicsuffix` package, which psl_latest() reads; a hand-written copy of the
// algorithm would also need the data, and would get the wildcard and
// exception rules wrong sooner or later.
#include "dmarq/analyze/domain.h"

#include <libpsl.h>

#include <unordered_map>

#include "dmarq/model/ip.h"

namespace dmarq::analyze {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

// Names libpsl would answer nonsense for: it has no notion of an IP literal
// ("192.0.2.1" -> "2.1") and it skips empty labels ("a..example.com" ->
// "example.com"). Such a name is its own organizational domain, as the
// header promises for anything malformed.
bool is_malformed(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return true;
  if (name.find("..") != std::string::npos) return true;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return true;
  }
  if (name.front() == '[') return true;  // bracketed IPv6 literal
  return model::parse_ip(name).has_value();
}

}  // namespace

std::string normalize_domain(std::string_view domain) {
  while (!domain.empty() && is_space(domain.front())) domain.remove_prefix(1);
  while (!domain.empty() && is_space(domain.back())) domain.remove_suffix(1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  std::string out(domain);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool domain_is_under(std::string_view domain, std::string_view suffix) {
  std::string d = normalize_domain(domain);
  std::string s = normalize_domain(suffix);
  // An empty suffix would otherwise put every name "under" it.
  if (d.empty() || s.empty() || d.size() < s.size()) return false;
  if (d.size() == s.size()) return d == s;
  return d.compare(d.size() - s.size(), s.size(), s) == 0 && d[d.size() - s.size() - 1] == '.';
}

AlignMode align_mode(std::string_view word) {
  while (!word.empty() && is_space(word.front())) word.remove_prefix(1);
  while (!word.empty() && is_space(word.back())) word.remove_suffix(1);
  return word == "s" || word == "S" ? AlignMode::strict : AlignMode::relaxed;
}

struct OrgDomains::Impl {
  psl_ctx_t* owned = nullptr;  // from psl_latest(); the built-in context is static and never freed
  const psl_ctx_t* psl = nullptr;
  // Node-based, so references handed out by of() stay valid as it grows.
  // Unbounded: the names come from records already bounded by Limits.
  std::unordered_map<std::string, std::string> cache;
};

OrgDomains::OrgDomains() : impl_(std::make_unique<Impl>()) {
  // NULL: the distribution's list (Debian: /usr/share/publicsuffix) when it is
  // newer than the one compiled into libpsl, else the compiled-in one.
  impl_->owned = psl_latest(nullptr);
  impl_->psl = impl_->owned ? impl_->owned : psl_builtin();
}

OrgDomains::~OrgDomains() {
  if (impl_ && impl_->owned) psl_free(impl_->owned);
}

const std::string& OrgDomains::of(std::string_view domain) {
  static const std::string empty;
  std::string name = normalize_domain(domain);
  if (name.empty()) return empty;
  auto it = impl_->cache.find(name);
  if (it != impl_->cache.end()) return it->second;

  std::string org = name;
  if (impl_->psl && !is_malformed(name)) {
    // NULL for a public suffix itself ("co.uk", "github.io", "localhost"):
    // such a name keeps itself. Unknown TLDs follow the default rule "*", so
    // "example.invalidtld" is registrable.
    if (const char* reg = psl_registrable_domain(impl_->psl, name.c_str())) org = reg;
  }
  return impl_->cache.emplace(std::move(name), std::move(org)).first->second;
}

bool OrgDomains::aligned(std::string_view a, std::string_view b, AlignMode mode) {
  std::string na = normalize_domain(a);
  std::string nb = normalize_domain(b);
  if (na.empty() || nb.empty()) return false;
  if (mode == AlignMode::strict) return na == nb;
  if (na == nb) return true;
  // of() may grow the cache, but references into an unordered_map survive that.
  const std::string& oa = of(na);
  const std::string& ob = of(nb);
  return oa == ob;
}

}  // namespace dmarq::analyze
