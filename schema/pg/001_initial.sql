-- PostgreSQL schema, version 1 (issue 9): the SQLite schema 001-005 in one
-- step, for many ingest hosts writing one database. Applied by dmarq under
-- an advisory lock (store/pg_store.cpp), which records it in dmarq_schema.
-- Times are UTC seconds (BIGINT), as in SQLite, so that both backends give
-- the same output. Differences from SQLite:
--  - a record's DKIM and SPF results and override reasons are JSONB arrays
--    in the record row, so that a record is one row in one partition;
--  - record is partitioned by month of its report's begin_ts; dmarq makes
--    each month's partition before the first record of that month;
--  - the rollups keep one row per (domain, day, fact): PostgreSQL sums a
--    row in place under ON CONFLICT DO UPDATE, concurrently.

CREATE TABLE message (
  id                BIGSERIAL PRIMARY KEY,
  sha256            TEXT   NOT NULL,
  origin            TEXT   NOT NULL,
  size              BIGINT NOT NULL,
  ingested_at       BIGINT NOT NULL,
  outcome           TEXT   NOT NULL,        -- ok | partial | rejected | pending
  reports_new       BIGINT NOT NULL DEFAULT 0,
  reports_duplicate BIGINT NOT NULL DEFAULT 0,
  records           BIGINT NOT NULL DEFAULT 0,
  issues            TEXT   NOT NULL DEFAULT '[]',
  kind              TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX message_sha256 ON message(sha256);

CREATE TABLE report (
  id                 BIGSERIAL PRIMARY KEY,
  message_id         BIGINT NOT NULL REFERENCES message(id),
  part               TEXT   NOT NULL,
  xml_namespace      TEXT   NOT NULL DEFAULT '',
  version            TEXT   NOT NULL DEFAULT '',
  org_name           TEXT   NOT NULL,
  email              TEXT   NOT NULL DEFAULT '',
  extra_contact_info TEXT   NOT NULL DEFAULT '',
  report_id          TEXT   NOT NULL,
  generator          TEXT   NOT NULL DEFAULT '',
  begin_ts           BIGINT NOT NULL,
  end_ts             BIGINT NOT NULL,
  policy_domain      TEXT   NOT NULL,
  adkim              TEXT   NOT NULL DEFAULT '',
  aspf               TEXT   NOT NULL DEFAULT '',
  p                  TEXT   NOT NULL DEFAULT '',
  sp                 TEXT   NOT NULL DEFAULT '',
  np                 TEXT   NOT NULL DEFAULT '',
  pct                BIGINT,
  fo                 TEXT   NOT NULL DEFAULT '',
  testing            TEXT   NOT NULL DEFAULT '',
  discovery_method   TEXT   NOT NULL DEFAULT '',
  has_extensions     BIGINT NOT NULL DEFAULT 0,
  record_count       BIGINT NOT NULL DEFAULT 0,
  message_count      BIGINT NOT NULL DEFAULT 0,
  evaluated_pass     BIGINT NOT NULL DEFAULT 0,
  quarantined        BIGINT NOT NULL DEFAULT 0,
  rejected           BIGINT NOT NULL DEFAULT 0,
  -- The dedupe key: a second host with the same report does nothing.
  UNIQUE (org_name, report_id, policy_domain, begin_ts, end_ts)
);
CREATE INDEX report_domain_begin ON report(policy_domain, begin_ts);

CREATE TABLE report_error (
  report_id BIGINT NOT NULL REFERENCES report(id),
  seq       BIGINT NOT NULL,
  text      TEXT   NOT NULL,
  PRIMARY KEY (report_id, seq)
);

CREATE TABLE report_source (
  message_id BIGINT NOT NULL REFERENCES message(id),
  part       TEXT   NOT NULL,
  report_id  BIGINT NOT NULL REFERENCES report(id),
  duplicate  BIGINT NOT NULL,
  PRIMARY KEY (message_id, part)
);
CREATE INDEX report_source_report ON report_source(report_id);

CREATE TABLE record (
  begin_ts       BIGINT NOT NULL,   -- the report's: the partition key
  report_id      BIGINT NOT NULL,
  seq            BIGINT NOT NULL,   -- order within the report
  source_ip      TEXT,
  source_ip_raw  TEXT,
  ip             BYTEA,
  count          BIGINT NOT NULL,
  disposition    TEXT   NOT NULL DEFAULT '',
  dkim_eval      TEXT   NOT NULL DEFAULT '',
  spf_eval       TEXT   NOT NULL DEFAULT '',
  envelope_to    TEXT   NOT NULL DEFAULT '',
  envelope_from  TEXT   NOT NULL DEFAULT '',
  header_from    TEXT   NOT NULL DEFAULT '',
  has_extensions BIGINT NOT NULL DEFAULT 0,
  dkim           JSONB  NOT NULL DEFAULT '[]',  -- [[domain, selector, result, human_result], ...]
  spf            JSONB  NOT NULL DEFAULT '[]',  -- [[domain, scope, result, human_result], ...]
  reasons        JSONB  NOT NULL DEFAULT '[]',  -- [[type, comment], ...]
  PRIMARY KEY (report_id, seq, begin_ts)
) PARTITION BY RANGE (begin_ts);

CREATE TABLE rejected_input (
  id          BIGSERIAL PRIMARY KEY,
  message_id  BIGINT NOT NULL REFERENCES message(id),
  origin      TEXT   NOT NULL,
  part        TEXT   NOT NULL,
  code        TEXT   NOT NULL,
  reason      TEXT   NOT NULL,
  rejected_at BIGINT NOT NULL
);

CREATE TABLE feedback (
  id                     BIGSERIAL PRIMARY KEY,
  message_id             BIGINT NOT NULL REFERENCES message(id),
  part                   TEXT   NOT NULL,
  kind                   TEXT   NOT NULL,
  feedback_type          TEXT   NOT NULL,
  user_agent             TEXT   NOT NULL DEFAULT '',
  version                TEXT   NOT NULL DEFAULT '',
  original_envelope_id   TEXT   NOT NULL DEFAULT '',
  original_mail_from     TEXT   NOT NULL DEFAULT '',
  arrival_date           BIGINT,
  arrival_date_text      TEXT   NOT NULL DEFAULT '',
  reporting_mta          TEXT   NOT NULL DEFAULT '',
  source_ip              TEXT,
  source_ip_raw          TEXT   NOT NULL DEFAULT '',
  ip                     BYTEA,
  incidents              BIGINT,
  authentication_results TEXT   NOT NULL DEFAULT '[]',
  reported_domain        TEXT   NOT NULL DEFAULT '',
  reported_domains       TEXT   NOT NULL DEFAULT '[]',
  reported_uri           TEXT   NOT NULL DEFAULT '[]',
  removal_recipient      TEXT   NOT NULL DEFAULT '',
  auth_failure           TEXT   NOT NULL DEFAULT '',
  delivery_result        TEXT   NOT NULL DEFAULT '',
  dkim_domain            TEXT   NOT NULL DEFAULT '',
  dkim_identity          TEXT   NOT NULL DEFAULT '',
  dkim_selector          TEXT   NOT NULL DEFAULT '',
  spf_dns                TEXT   NOT NULL DEFAULT '',
  identity_alignment     TEXT   NOT NULL DEFAULT '',
  orig_from              TEXT   NOT NULL DEFAULT '',
  orig_to                TEXT   NOT NULL DEFAULT '',
  orig_subject           TEXT   NOT NULL DEFAULT '',
  orig_message_id        TEXT   NOT NULL DEFAULT '',
  orig_date              TEXT   NOT NULL DEFAULT '',
  orig_list_unsubscribe  TEXT   NOT NULL DEFAULT '',
  orig_return_path       TEXT   NOT NULL DEFAULT '',
  orig_dkim_domain       TEXT   NOT NULL DEFAULT '',
  orig_dkim_selector     TEXT   NOT NULL DEFAULT '',
  orig_headers_only      BIGINT NOT NULL DEFAULT 0,
  rcpt                   JSONB  NOT NULL DEFAULT '[]'   -- original recipients, lower case
);
CREATE INDEX feedback_message ON feedback(message_id);

CREATE TABLE bounce (
  id                 BIGSERIAL PRIMARY KEY,
  message_id         BIGINT NOT NULL REFERENCES message(id),
  rfc3464            BIGINT NOT NULL,
  recipient          TEXT   NOT NULL,
  original_recipient TEXT   NOT NULL DEFAULT '',
  action             TEXT   NOT NULL DEFAULT '',
  status             TEXT   NOT NULL DEFAULT '',
  diagnostic_code    TEXT   NOT NULL DEFAULT '',
  remote_mta         TEXT   NOT NULL DEFAULT '',
  reporting_mta      TEXT   NOT NULL DEFAULT '',
  arrival_date       BIGINT,
  class              TEXT   NOT NULL,
  seen_at            BIGINT NOT NULL
);
CREATE INDEX bounce_recipient ON bounce(recipient);

CREATE TABLE ip_info (
  ip           TEXT   PRIMARY KEY,
  ptr_status   TEXT   NOT NULL,
  ptr          TEXT   NOT NULL DEFAULT '',
  fcrdns       BIGINT NOT NULL DEFAULT 0,
  base_domain  TEXT   NOT NULL DEFAULT '',
  service      TEXT   NOT NULL DEFAULT '',
  service_type TEXT   NOT NULL DEFAULT '',
  resolved_at  BIGINT NOT NULL
);

CREATE TABLE rollup_domain (
  id   BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE rollup_fact (
  id        BIGSERIAL PRIMARY KEY,
  domain_id BIGINT NOT NULL REFERENCES rollup_domain(id),
  digest    BYTEA  NOT NULL UNIQUE,
  fact      BYTEA  NOT NULL
);

CREATE TABLE rollup_day (
  domain_id BIGINT NOT NULL,
  day       BIGINT NOT NULL,
  fact_id   BIGINT NOT NULL,
  records   BIGINT NOT NULL,
  messages  BIGINT NOT NULL,
  PRIMARY KEY (domain_id, day, fact_id)
);
