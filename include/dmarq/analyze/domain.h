// Domain names for DMARC identifier alignment (RFC 7489 section 3.1).
//
// Organizational domains come from libpsl, Debian's maintained Public Suffix
// List library, over the whole list (ICANN and private sections, so that
// `alice.github.io` and `bob.github.io` are different organizations). The
// method is recorded as "psl" wherever results are shown.
//
// Failure mode: never throws for odd input; a malformed name (empty label,
// white space or control byte inside, IP literal) or a suffix-only name
// ("co.uk", "github.io") is its own organizational domain, and aligns with
// nothing but itself. An empty name is its own (empty) organizational domain
// and aligns with nothing at all.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace dmarq::analyze {

// Lower-case ASCII, surrounding white space trimmed, one trailing dot removed.
std::string normalize_domain(std::string_view domain);

// True when `domain` is `suffix` or ends with "." + suffix (both normalized
// first): `mail.example.com` is under `example.com`, `evil-example.com` is not.
// Nothing is under an empty suffix, and an empty name is under nothing.
bool domain_is_under(std::string_view domain, std::string_view suffix);

enum class AlignMode { relaxed, strict };
// "s" is strict (case and surrounding white space ignored); anything else
// (including empty, the RFC default) is relaxed.
AlignMode align_mode(std::string_view word);

// Organizational domains with a cache. Not thread-safe; one per thread.
class OrgDomains {
 public:
  OrgDomains();
  ~OrgDomains();
  OrgDomains(const OrgDomains&) = delete;
  OrgDomains& operator=(const OrgDomains&) = delete;

  // The organizational domain of `domain` (normalized): the registrable
  // domain per the PSL, or the normalized name itself when it has none.
  // The reference stays valid as long as this object does.
  const std::string& of(std::string_view domain);

  // DMARC identifier alignment of `a` with `b`: equal when strict, same
  // organizational domain when relaxed. Empty names never align.
  bool aligned(std::string_view a, std::string_view b, AlignMode mode);

  // "psl", the method recorded with every result.
  static constexpr std::string_view method() { return "psl"; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dmarq::analyze
