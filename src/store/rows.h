// Rows to structs, for both stores: each store selects the same columns in
// the same order and hands over a row with text(col), i64(col) and
// null(col), so a field is mapped in one place (store/sqlite_store.cpp and
// store/pg_store.cpp list the columns in these orders).
#pragma once

#include "dmarq/model/ip.h"
#include "dmarq/store/store.h"
#include "store/common.h"

namespace dmarq::store::rows {

// id, org_name, report_id, policy_domain, p, begin_ts, end_ts, record_count,
// message_count, copies, sp, evaluated_pass, quarantined, rejected
template <typename Row>
ReportSummary summary(const Row& q) {
  auto u = [&](int c) { return static_cast<uint64_t>(q.i64(c)); };
  ReportSummary s;
  s.id = q.i64(0);
  s.org_name = q.text(1);
  s.report_id = q.text(2);
  s.policy_domain = q.text(3);
  s.p = q.text(4);
  s.begin = q.i64(5);
  s.end = q.i64(6);
  s.records = u(7);
  s.messages = u(8);
  s.copies = u(9);
  s.sp = q.text(10);
  s.evaluated_pass = u(11);
  s.quarantined = u(12);
  s.rejected = u(13);
  return s;
}

// xml_namespace, version, org_name, email, extra_contact_info, report_id,
// generator, begin_ts, end_ts, policy_domain, adkim, aspf, p, sp, np, pct,
// fo, testing, discovery_method, has_extensions (errors: the caller's)
template <typename Row>
model::ReportMeta meta(const Row& q) {
  model::ReportMeta m;
  m.xml_namespace = q.text(0);
  m.version = q.text(1);
  m.org_name = q.text(2);
  m.email = q.text(3);
  m.extra_contact_info = q.text(4);
  m.report_id = q.text(5);
  m.generator = q.text(6);
  m.begin = q.i64(7);
  m.end = q.i64(8);
  m.has_date_range = true;
  auto& pol = m.policy;
  pol.domain = q.text(9);
  pol.adkim = q.text(10);
  pol.aspf = q.text(11);
  pol.p = q.text(12);
  pol.sp = q.text(13);
  pol.np = q.text(14);
  if (!q.null(15)) pol.pct = q.i64(15);
  pol.fo = q.text(16);
  pol.testing = q.text(17);
  pol.discovery_method = q.text(18);
  m.has_extensions = q.i64(19) != 0;
  return m;
}

// records, messages, distinct ips, dmarc pass, dkim pass, spf pass,
// disposition none, quarantine, reject (into `s`, whose meta is the caller's)
template <typename Row>
void stats(const Row& q, ReportStats& s) {
  auto u = [&](int c) { return static_cast<uint64_t>(q.i64(c)); };
  s.records = u(0);
  s.messages = u(1);
  s.distinct_ips = u(2);
  s.dmarc_pass = u(3);
  s.dkim_aligned = u(4);
  s.spf_aligned = u(5);
  s.disposition_none = u(6);
  s.disposition_quarantine = u(7);
  s.disposition_reject = u(8);
}

// f.id, f.message_id, m.origin, m.ingested_at, then the feedback columns
// part .. orig_headers_only in schema order (original_rcpt_to: the caller's)
template <typename Row>
StoredFeedback feedback(const Row& q) {
  StoredFeedback s;
  s.id = q.i64(0);
  s.message_id = q.i64(1);
  s.origin = q.text(2);
  s.ingested_at = q.i64(3);
  model::Feedback& f = s.feedback;
  f.part = q.text(4);
  f.kind = q.text(5);
  f.feedback_type = q.text(6);
  f.user_agent = q.text(7);
  f.version = q.text(8);
  f.original_envelope_id = q.text(9);
  f.original_mail_from = q.text(10);
  if (!q.null(11)) f.arrival_date = q.i64(11);
  f.arrival_date_text = q.text(12);
  f.reporting_mta = q.text(13);
  if (!q.null(14)) f.source_ip = model::parse_ip(q.text(14));
  f.source_ip_text = q.text(15);
  if (!q.null(16)) f.incidents = static_cast<uint64_t>(q.i64(16));
  f.authentication_results = from_json_array(q.text(17));
  f.reported_domain = from_json_array(q.text(18));
  f.reported_uri = from_json_array(q.text(19));
  f.removal_recipient = q.text(20);
  f.auth_failure = q.text(21);
  f.delivery_result = q.text(22);
  f.dkim_domain = q.text(23);
  f.dkim_identity = q.text(24);
  f.dkim_selector = q.text(25);
  f.spf_dns = q.text(26);
  f.identity_alignment = q.text(27);
  auto& o = f.original;
  o.from = q.text(28);
  o.to = q.text(29);
  o.subject = q.text(30);
  o.message_id = q.text(31);
  o.date = q.text(32);
  o.list_unsubscribe = q.text(33);
  o.return_path = q.text(34);
  o.dkim_domain = q.text(35);
  o.dkim_selector = q.text(36);
  o.headers_only = q.i64(37) != 0;
  return s;
}

// b.id, b.message_id, m.origin, m.ingested_at, rfc3464, seen_at, recipient,
// original_recipient, action, status, diagnostic_code, remote_mta,
// reporting_mta, arrival_date, class
template <typename Row>
StoredBounce bounce(const Row& q) {
  StoredBounce s;
  s.id = q.i64(0);
  s.message_id = q.i64(1);
  s.origin = q.text(2);
  s.ingested_at = q.i64(3);
  s.rfc3464 = q.i64(4) != 0;
  s.seen_at = q.i64(5);
  auto& r = s.recipient;
  r.recipient = q.text(6);
  r.original_recipient = q.text(7);
  r.action = q.text(8);
  r.status = q.text(9);
  r.diagnostic_code = q.text(10);
  r.remote_mta = q.text(11);
  r.reporting_mta = q.text(12);
  if (!q.null(13)) r.arrival_date = q.i64(13);
  r.bounce_class = q.text(14);
  return s;
}

// ip, ptr_status, ptr, fcrdns, base_domain, service, service_type, resolved_at
template <typename Row>
IpInfo ip_info(const Row& q) {
  IpInfo r;
  r.ip = q.text(0);
  r.ptr_status = q.text(1);
  r.ptr = q.text(2);
  r.fcrdns = q.i64(3) != 0;
  r.base_domain = q.text(4);
  r.service = q.text(5);
  r.service_type = q.text(6);
  r.resolved_at = q.i64(7);
  return r;
}

// id, sha256, origin, size, ingested_at, outcome, reports_new,
// reports_duplicate, records, issues, kind
template <typename Row>
StoredMessage message(const Row& q) {
  StoredMessage m;
  m.id = q.i64(0);
  m.info = MessageInfo{q.text(1), q.text(2), static_cast<uint64_t>(q.i64(3)), q.i64(4)};
  m.summary.outcome = outcome_from(q.text(5));
  m.summary.reports_new = static_cast<uint64_t>(q.i64(6));
  m.summary.reports_duplicate = static_cast<uint64_t>(q.i64(7));
  m.summary.records = static_cast<uint64_t>(q.i64(8));
  m.summary.issues = issues_from_json(q.text(9));
  m.summary.kind = q.text(10);
  return m;
}

}  // namespace dmarq::store::rows
