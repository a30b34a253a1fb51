// The commands that read live DNS: check, spf and enrich, and the DNS
// options they share with ingest --enrich.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli.h"
#include "dmarq/analyze/domain.h"
#include "dmarq/analyze/senders.h"
#include "dmarq/check/check.h"
#include "dmarq/dns/ares.h"
#include "dmarq/dns/cache.h"
#include "dmarq/enrich/enrich.h"
#include "dmarq/model/ip.h"
#include "dmarq/output/escape.h"
#include "dmarq/spf/spf.h"

namespace dmarq::cli {

void add_dns_options(CLI::App* cmd, DnsOptions& o) {
  // One value per --resolver (CLI11 would otherwise take the following
  // words too, a path given after it among them).
  cmd->add_option("--resolver", o.resolvers,
                  "DNS server to ask, IP or IP:PORT ([IPv6]:PORT); repeat for more (default: /etc/resolv.conf)")
      ->allow_extra_args(false);
  cmd->add_flag("--offline", o.offline, "Make no DNS query at all");
  cmd->add_option("--dns-timeout", o.timeout, "Seconds one query may take, all tries included")
      ->check(CLI::Range(0.05, 60.0))
      ->capture_default_str();
  cmd->add_option("--dns-concurrency", o.concurrency, "DNS queries in flight at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
}

dns::Resolver& DnsContext::resolver() { return cached ? *cached : *upstream; }

std::optional<DnsContext> make_dns(const Globals& g, const DnsOptions& o, bool create_db) {
  DnsContext c;
  if (o.offline) {
    // Offline means no query and no cache either: what an offline run
    // reports never depends on what an earlier run happened to fetch.
    c.upstream = dns::make_offline_resolver();
    return c;
  }
  dns::ResolverOptions ro;
  ro.servers = o.resolvers;
  ro.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  ro.concurrency = o.concurrency;
  try {
    c.upstream = dns::make_ares_resolver(ro);
  } catch (const dns::ResolverError& e) {
    complain(e.what());
    return std::nullopt;
  }
  // Answers are cached in the database; check and spf create it if need be
  // (like ingest), so a second run asks the network only for what expired.
  // A PostgreSQL database is shared: every host's answers serve the others.
  const bool pg = store::is_postgres_url(g.db);
  std::error_code ec;
  if (!pg && !std::filesystem::exists(g.db, ec)) {
    if (!create_db) return c;
    auto parent = std::filesystem::path(g.db).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  }
  // Creates and migrates (SQLite, or PostgreSQL when allowed to create);
  // else checks the schema is there.
  // The password once: a password_command may be slow or prompt a vault.
  const std::string password = db_password(g, g.db);
  store::open_store(g.db, !pg || create_db ? store::OpenMode::read_write : store::OpenMode::read_only, password);
  c.cached = dns::make_cached_resolver(*c.upstream, g.db, [] { return now_utc(); }, password);
  return c;
}

namespace {

using nlohmann::json;

std::string json_text(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; }

// ---- check -------------------------------------------------------------------------

struct CheckOptions {
  std::string domain;
  std::vector<std::string> selectors;
  std::string format = "table";
  DnsOptions dns;
};

// DKIM selectors the stored reports show for `domain`'s own signatures.
std::vector<std::string> report_selectors(const Globals& g, const std::string& domain) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!store::is_postgres_url(g.db) && !std::filesystem::exists(g.db, ec)) return out;
  auto db = open_db(g, store::OpenMode::read_only);
  store::ReportFilter filter;
  filter.domain = domain;
  std::set<std::string> seen;
  db->for_each_record(filter, [&](const store::ExportRow& row) {
    for (const auto& d : row.record->dkim_results) {
      if (d.selector.empty() || !analyze::domain_is_under(d.domain, domain)) continue;
      if (seen.insert(d.selector).second) out.push_back(d.selector);
    }
  });
  return out;
}

void print_findings(std::ostream& out, const std::string& domain, const std::vector<check::Finding>& findings) {
  std::size_t errors = 0, warnings = 0, infos = 0;
  for (const auto& f : findings) {
    if (f.severity == check::Severity::error) ++errors;
    else if (f.severity == check::Severity::warning) ++warnings;
    else ++infos;
  }
  out << output::terminal_safe(domain) << ": " << errors << (errors == 1 ? " error, " : " errors, ") << warnings
      << (warnings == 1 ? " warning, " : " warnings, ") << infos << " info\n";
  for (auto severity : {check::Severity::error, check::Severity::warning, check::Severity::info}) {
    for (const auto& f : findings) {
      if (f.severity != severity) continue;
      std::string label = std::string(check::severity_name(f.severity));
      for (auto& c : label) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out << "\n" << fmt::format("{:<8}{}  {}", label, output::terminal_safe(f.code), output::terminal_safe(f.name))
          << "\n        " << output::terminal_safe(f.message) << "\n";
      if (!f.record.empty()) out << "        record: " << output::terminal_safe(f.record) << "\n";
      if (!f.fix.empty()) out << "        fix: " << output::terminal_safe(f.fix) << "\n";
    }
  }
}

int run_check(const Globals& g, const CheckOptions& o) {
  std::string domain = analyze::normalize_domain(o.domain);
  if (domain.empty() || domain.find('.') == std::string::npos) {
    complain("check: '" + o.domain + "' is not a domain name");
    return kUsage;
  }
  auto ctx = make_dns(g, o.dns, true);
  if (!ctx) return kUsage;
  check::Options opts;
  opts.selectors = o.selectors;
  opts.report_selectors = report_selectors(g, domain);
  auto findings = check::check_domain(ctx->resolver(), domain, opts);
  if (o.format == "json") {
    json j;
    j["domain"] = domain;
    j["findings"] = json::array();
    int errors = 0, warnings = 0;
    for (const auto& f : findings) {
      errors += f.severity == check::Severity::error;
      warnings += f.severity == check::Severity::warning;
      j["findings"].push_back({{"severity", check::severity_name(f.severity)},
                               {"code", f.code},
                               {"name", f.name},
                               {"record", f.record},
                               {"message", f.message},
                               {"fix", f.fix}});
    }
    j["errors"] = errors;
    j["warnings"] = warnings;
    std::cout << json_text(j);
  } else {
    print_findings(std::cout, domain, findings);
  }
  return check::has_error(findings) ? kRejected : kOk;
}

// ---- spf ---------------------------------------------------------------------------

struct SpfOptions {
  std::string domain, ip, sender;
  bool strict_all = false;
  std::string format = "text";
  DnsOptions dns;
};

int run_spf(const Globals& g, const SpfOptions& o) {
  std::string domain = analyze::normalize_domain(o.domain);
  auto ip = model::parse_ip(o.ip);
  if (!ip) {
    complain("spf: '" + o.ip + "' is not an IP address");
    return kUsage;
  }
  if (domain.empty()) {
    complain("spf: '" + o.domain + "' is not a domain name");
    return kUsage;
  }
  auto ctx = make_dns(g, o.dns, true);
  if (!ctx) return kUsage;
  std::string sender = o.sender.empty() ? "postmaster@" + domain : o.sender;
  spf::Options opts;
  opts.strict_all = o.strict_all;
  auto e = spf::check_host(ctx->resolver(), *ip, domain, sender, opts);
  if (o.format == "json") {
    json j{{"domain", domain},
           {"ip", ip->to_string()},
           {"sender", sender},
           {"strict_all", o.strict_all},
           {"result", spf::result_name(e.result)},
           {"mechanism", e.mechanism},
           {"decided_by", e.decided_by},
           {"dns_lookups", e.dns_lookups},
           {"void_lookups", e.void_lookups},
           {"problem", e.problem},
           {"trace", e.trace}};
    std::cout << json_text(j);
  } else {
    std::cout << "result: " << spf::result_name(e.result) << "\n";
    if (!e.mechanism.empty())
      std::cout << "matched: " << output::terminal_safe(e.mechanism) << " in "
                << output::terminal_safe(e.decided_by) << "\n";
    if (!e.problem.empty()) std::cout << "problem: " << output::terminal_safe(e.problem) << "\n";
    std::cout << "dns lookups: " << e.dns_lookups << " (void: " << e.void_lookups << ")\n";
    for (const auto& line : e.trace) std::cout << "  " << output::terminal_safe(line) << "\n";
  }
  return kOk;
}

// ---- enrich ------------------------------------------------------------------------

struct EnrichOptions {
  std::optional<std::string> domain, since;
  DnsOptions dns;
};

}  // namespace

int run_enrich(const Globals& g, const DnsOptions& dns_options, const store::ReportFilter& filter) {
  if (!require_db(g)) return kUsage;
  auto ctx = make_dns(g, dns_options, false);
  if (!ctx) return kUsage;
  auto db = open_db(g, store::OpenMode::read_write);
  // Addresses enriched in the last week are left alone; the DNS cache
  // answers the rest of a rerun within the records' TTLs.
  constexpr int64_t kFresh = 7 * 86400;
  const auto known = db->load_ip_info();
  const int64_t started = now_utc();
  std::set<std::string> ips;
  db->for_each_record(filter, [&](const store::ExportRow& row) {
    if (!row.record->source_ip) return;
    std::string ip = row.record->source_ip->to_string();
    auto it = known.find(ip);
    if (it != known.end() && started - it->second.resolved_at < kFresh) return;
    ips.insert(std::move(ip));
  });
  std::vector<std::string> list(ips.begin(), ips.end());
  auto infos = enrich::resolve_ips(ctx->resolver(), list);

  // A known sender of the config names a source before the shipped map.
  analyze::Senders senders;
  std::error_code ec;
  if (std::filesystem::exists(g.config, ec)) senders = analyze::load_senders(g.config);
  const auto& services = enrich::ServiceMap::shipped();

  std::vector<store::IpInfo> rows;
  std::size_t temporary = 0, with_ptr = 0, confirmed = 0;
  for (const auto& info : infos) {
    // A temporary failure or an offline run says nothing about the address:
    // nothing is stored, so a later run tries again.
    if (info.ptr_status == dns::Status::temporary || info.ptr_status == dns::Status::offline) {
      ++temporary;
      continue;
    }
    store::IpInfo row;
    row.ip = info.ip;
    row.ptr_status = std::string(dns::status_name(info.ptr_status));
    row.ptr = info.ptr;
    row.fcrdns = info.fcrdns;
    row.base_domain = info.base_domain;
    row.resolved_at = started;
    if (!info.ptr.empty()) ++with_ptr;
    if (info.fcrdns) {
      ++confirmed;
      // Only a forward-confirmed name names a service: anyone can publish
      // any PTR for their own addresses.
      analyze::SourceFacts facts;
      facts.ip = model::parse_ip(info.ip);
      facts.ptr_names = {info.ptr};
      if (auto m = senders.match(facts); m && m->kind == "ptr") {
        row.service = m->sender->name;
      } else if (const auto* s = services.match(info.ptr)) {
        row.service = s->name;
        row.service_type = s->type;
      }
    }
    rows.push_back(std::move(row));
  }
  db->put_ip_info(rows);
  if (g.verbose)
    std::cerr << fmt::format("dmarq: enriched {} address(es): {} with PTR, {} forward-confirmed, {} not answered\n",
                             list.size(), with_ptr, confirmed, temporary);
  if (temporary > 0 && !dns_options.offline)
    complain(fmt::format("enrich: {} of {} address(es) got no answer from DNS; run again later", temporary,
                         list.size()));
  return kOk;
}

void add_dns_commands(CLI::App& app, Globals& g, Action& run) {
  {
    auto o = std::make_shared<CheckOptions>();
    auto* cmd = app.add_subcommand("check", "Check a domain's published SPF, DMARC, DKIM and MX records in live DNS");
    cmd->add_option("domain", o->domain, "The domain to check")->required();
    cmd->add_option("--selector", o->selectors, "DKIM selector to check (repeatable; selectors seen in stored "
                                                "reports are checked too)")
        ->allow_extra_args(false);
    cmd->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
    add_dns_options(cmd, o->dns);
    cmd->footer("Exit status: 0 no errors found, 1 errors found, 2 usage or resolver problem.");
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_check(g, *o); }; });
  }
  {
    auto o = std::make_shared<SpfOptions>();
    auto* cmd = app.add_subcommand("spf", "Evaluate a domain's SPF record for an address, with a trace (RFC 7208)");
    cmd->add_option("domain", o->domain, "MAIL FROM (or HELO) domain")->required();
    cmd->add_option("ip", o->ip, "Sending address")->required();
    cmd->add_option("--sender", o->sender, "MAIL FROM address (default: postmaster@DOMAIN)");
    cmd->add_flag("--strict-all", o->strict_all, "Evaluate as if the record ended in -all");
    cmd->add_option("--format", o->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    add_dns_options(cmd, o->dns);
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_spf(g, *o); }; });
  }
  {
    auto o = std::make_shared<EnrichOptions>();
    auto* cmd = app.add_subcommand("enrich", "Resolve PTR and forward-confirmed reverse DNS of stored source addresses");
    cmd->add_option("--domain", o->domain, "Only the sources of this domain's reports");
    cmd->add_option("--since", o->since, "Only reports since 30d or YYYY-MM-DD");
    add_dns_options(cmd, o->dns);
    cmd->callback([&g, &run, o] {
      run = [&g, o] {
        auto filter = make_filter(o->domain, o->since);
        if (!filter) return static_cast<int>(kUsage);
        return run_enrich(g, o->dns, *filter);
      };
    });
  }
}

}  // namespace dmarq::cli
