// DKIM findings for each selector asked for or seen in reports: the key
// record at SELECTOR._domainkey.DOMAIN (RFC 6376 3.6.1), its tag list, and
// the key itself. RSA keys are read with OpenSSL as DER SubjectPublicKeyInfo
// (what every signer publishes), with the bare RSAPublicKey of RFC 6376's
// wording accepted too; Ed25519 keys are the raw 32 bytes of RFC 8463.
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "check/context.h"
#include "dmarq/util/text.h"

namespace dmarq::check::detail {
namespace {

// Longer than the base64 of any key a verifier accepts (16384-bit RSA is
// under 3 KB); past this the record is not a key, and we do not decode it.
constexpr std::size_t kMaxKeyBase64 = 8192;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Strict base64 (RFC 4648 4, padding required), white space already removed.
// OpenSSL's EVP_DecodeBlock decodes; it would also accept what we reject
// here, and it counts padding as zero bytes, which we take off.
std::optional<std::string> decode_base64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  while (pad < 2 && s[s.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = 0; i < s.size() - pad; ++i) {
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  std::string out(s.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0 || static_cast<std::size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

Pkey read_rsa_key(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key) {
    p = reinterpret_cast<const unsigned char*>(der.data());
    key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
  }
  ERR_clear_error();  // a failed parse leaves its reasons on this thread's queue
  return key;
}

struct Selector {
  std::string name;
  bool asked = false;     // from options.selectors
  bool reported = false;  // from options.report_selectors
};

bool has_word(std::string_view value, std::string_view word) {
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t colon = value.find(':', pos);
    std::size_t end = colon == std::string_view::npos ? value.size() : colon;
    if (util::iequals(trim_wsp(value.substr(pos, end - pos)), word)) return true;
    pos = end + 1;
  }
  return false;
}

void check_key(Context& ctx, const std::string& selector, const std::string& name, const std::string& record,
               std::string_view key_type, std::string_view p) {
  auto bad_key = [&](const std::string& why) {
    ctx.add(Severity::error, "dkim.bad_key", name, record,
            fmt::format("The key of selector {} cannot be read: {}, so every signature made with it fails.",
                        selector, why),
            "Publish the public key again from the signing server (base64 of the DER public key, no line breaks "
            "or quotes inside).");
  };
  std::string b64;
  for (char c : p)
    if (!is_wsp(c)) b64.push_back(c);
  if (b64.size() > kMaxKeyBase64) return bad_key(fmt::format("p= is {} characters, longer than any key", b64.size()));
  std::optional<std::string> der = decode_base64(b64);
  if (!der) return bad_key("p= is not valid base64");

  if (key_type == "ed25519") {
    if (der->size() != 32)
      return bad_key(fmt::format("an Ed25519 key is 32 bytes (RFC 8463) and this one is {}", der->size()));
    ctx.add(Severity::info, "dkim.ed25519_key", name, record,
            fmt::format("Selector {} publishes an Ed25519 key (RFC 8463); receivers that do not support it need a "
                        "second, RSA signature.",
                        selector),
            "");
    return;
  }
  Pkey key = read_rsa_key(*der);
  if (!key) return bad_key("p= is not a DER-encoded public key");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return bad_key("p= holds a key that is not RSA, but k=rsa");
  int bits = EVP_PKEY_get_bits(key.get());
  if (bits < 1024)
    ctx.add(Severity::error, "dkim.weak_key", name, record,
            fmt::format("Selector {} publishes a {}-bit RSA key; RFC 8301 requires at least 1024 bits and "
                        "receivers treat its signatures as failing.",
                        selector, bits),
            "Generate a 2048-bit key, publish it under a new selector, and sign with that.");
  else if (bits < 2048)
    ctx.add(Severity::warning, "dkim.short_key", name, record,
            fmt::format("Selector {} publishes a {}-bit RSA key, shorter than the 2048 bits RFC 8301 recommends.",
                        selector, bits),
            "Generate a 2048-bit key, publish it under a new selector, and switch signing to it.");
  else
    ctx.add(Severity::info, "dkim.rsa_key", name, record,
            fmt::format("Selector {} publishes a {}-bit RSA key.", selector, bits), "");
}

void check_record(Context& ctx, const std::string& selector, const std::string& name, const std::string& record) {
  std::vector<std::string> problems;
  std::string fix = "Publish it as \"v=DKIM1; k=rsa; p=<base64 public key>\" (RFC 6376 3.6.1).";

  // A zone file that writes "v=DKIM1\\; k=rsa\\; ..." publishes the
  // backslashes. Say so, then judge the record as it was meant.
  std::string text = record;
  if (text.find('\\') != std::string::npos) {
    std::size_t at = text.find('\\');
    std::size_t from = at < 12 ? 0 : at - 12;
    problems.push_back(fmt::format("it contains backslashes (\"{}\"), so verifiers read values such as \"DKIM1\\\" "
                                   "and \"rsa\\\" that they reject",
                                   text.substr(from, at - from + 2)));
    fix = "Remove the backslashes: in a zone file a ';' inside quotes needs no escape, so write \"v=DKIM1; k=rsa; "
          "p=...\".";
    text.erase(std::remove(text.begin(), text.end(), '\\'), text.end());
  }
  if (std::any_of(text.begin(), text.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && !is_wsp(c)) || u >= 0x7f;
      }))
    problems.push_back("it contains bytes that are not printable ASCII");

  TagList tl = parse_tag_list(text);
  problems.insert(problems.end(), tl.problems.begin(), tl.problems.end());
  for (std::size_t i = 0; i < tl.tags.size(); ++i) {
    if (tl.tags[i].name != "v") continue;
    if (i != 0) problems.push_back("v= is present but not the first tag");
    if (tl.tags[i].value != "DKIM1") problems.push_back(fmt::format("v={} is not v=DKIM1", clip(tl.tags[i].value)));
    break;
  }
  std::string key_type = "rsa";
  if (const Tag* k = tl.find("k")) {
    key_type = util::to_lower_ascii(k->value);
    if (key_type != "rsa" && key_type != "ed25519")
      problems.push_back(fmt::format("k={} is not a key type verifiers know (rsa, ed25519)", clip(k->value)));
  }
  if (const Tag* s = tl.find("s"); s && !has_word(s->value, "*") && !has_word(s->value, "email"))
    problems.push_back(fmt::format("s={} does not include email, so verifiers may not use the key for mail",
                                   clip(s->value)));
  const Tag* p = tl.find("p");
  if (!p) problems.push_back("the required p= tag is missing");

  if (!problems.empty()) {
    ctx.add(Severity::error, "dkim.bad_format", name, record,
            fmt::format("The key record of selector {} is malformed: {}.", selector, join_problems(problems)), fix);
  }

  if (const Tag* h = tl.find("h"); h && has_word(h->value, "sha1") && !has_word(h->value, "sha256"))
    ctx.add(Severity::warning, "dkim.sha1_only", name, record,
            fmt::format("The key of selector {} allows only SHA-1 signatures (h={}), which RFC 8301 forbids "
                        "verifiers to accept.",
                        selector, clip(h->value)),
            "Remove h= (or set h=sha256) and sign with rsa-sha256.");
  if (const Tag* t = tl.find("t"); t && has_word(t->value, "y"))
    ctx.add(Severity::warning, "dkim.testing", name, record,
            fmt::format("The key of selector {} has t=y (testing), so verifiers may treat its signatures as "
                        "unsigned mail.",
                        selector),
            "Remove t=y once signing works.");
  if (!p) return;
  if (trim_wsp(p->value).empty()) {
    ctx.add(Severity::warning, "dkim.revoked", name, record,
            fmt::format("The key of selector {} is revoked (empty p=), so signatures made with it fail.", selector),
            "If the selector still signs mail, publish its public key; otherwise stop signing with it.");
    return;
  }
  if (key_type == "rsa" || key_type == "ed25519") check_key(ctx, selector, name, record, key_type, p->value);
}

std::string lower_trimmed(std::string_view s) { return util::to_lower_ascii(trim_wsp(s)); }

}  // namespace

void check_dkim(Context& ctx, const Options& options) {
  std::vector<Selector> selectors;
  auto add = [&](const std::string& raw, bool asked) {
    std::string s = lower_trimmed(raw);
    auto it = std::find_if(selectors.begin(), selectors.end(), [&](const Selector& x) { return x.name == s; });
    if (it == selectors.end()) it = selectors.insert(selectors.end(), Selector{s});
    (asked ? it->asked : it->reported) = true;
  };
  for (const auto& s : options.selectors) add(s, true);
  for (const auto& s : options.report_selectors) add(s, false);

  if (selectors.empty()) {
    ctx.add(Severity::info, "dkim.no_selectors", ctx.domain, "",
            fmt::format("No DKIM selector was given, and DNS cannot list them, so no DKIM key of {} was checked.",
                        ctx.domain),
            "Run again with --selector NAME, the s= of the DKIM-Signature header your mail carries.");
    return;
  }
  if (selectors.size() > kMaxSelectors) {
    ctx.add(Severity::info, "dkim.selectors_skipped", ctx.domain, "",
            fmt::format("{} selectors were given or reported; only the first {} were checked.", selectors.size(),
                        kMaxSelectors),
            "");
    selectors.resize(kMaxSelectors);
  }

  std::vector<const Selector*> usable;
  std::vector<dns::Query> queries;
  for (const auto& s : selectors) {
    std::string name = s.name + "._domainkey." + ctx.domain;
    if (s.name.empty() || !is_query_name(name)) {
      ctx.add(Severity::warning, "dkim.bad_selector", ctx.domain, "",
              fmt::format("\"{}\" is not a selector that can be looked up (letters, digits, '-' and '_' in "
                          "dot-separated labels).",
                          clip(s.name)),
              "Give the selector exactly as the s= tag of the DKIM-Signature header has it.");
      continue;
    }
    usable.push_back(&s);
    queries.push_back({name, dns::Type::txt});
  }
  std::vector<dns::Answer> answers = ctx.dns.lookup_all(queries);

  for (std::size_t i = 0; i < usable.size(); ++i) {
    const Selector& s = *usable[i];
    const std::string& name = queries[i].name;
    const dns::Answer& a = answers[i];
    if (!present(a) && !absent(a)) continue;  // temporary or offline: noted already
    if (absent(a)) {
      if (s.reported && !s.asked)
        ctx.add(Severity::error, "dkim.missing", name, "",
                fmt::format("Selector {} is used in reports but absent from DNS: {} has no TXT record, so mail "
                            "signed with s={} fails DKIM.",
                            s.name, name, s.name),
                fmt::format("If selector {} still signs mail for {}, publish its public key at {}; if it was "
                            "retired, find what still signs with it.",
                            s.name, ctx.domain, name));
      else
        ctx.add(Severity::error, "dkim.missing", name, "",
                fmt::format("{} has no TXT record, so mail signed with selector {} fails DKIM.", name, s.name),
                fmt::format("Publish the selector's public key as TXT at {} (\"v=DKIM1; k=rsa; p=...\").", name));
      continue;
    }
    if (a.data.size() > 1)
      ctx.add(Severity::warning, "dkim.multiple", name, join_records(a.data),
              fmt::format("{} has {} TXT records, and which one a verifier uses is undefined (RFC 6376 3.6.2.2).",
                          name, a.data.size()),
              "Keep one key record per selector; publish a new key under a new selector.");
    for (std::size_t r = 0; r < a.data.size() && r < kMaxRecords; ++r) check_record(ctx, s.name, name, a.data[r]);
  }
}

}  // namespace dmarq::check::detail
