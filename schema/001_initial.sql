-- dmarq schema, version 1: aggregate reports, ingest log, rejects.
-- Applied once, in a transaction, by the store; PRAGMA user_version = 1.
-- Times are INTEGER seconds since the Unix epoch, UTC.

-- One row per message (or file) the ingest looked at: the ingest log.
CREATE TABLE message (
  id                INTEGER PRIMARY KEY,
  sha256            TEXT    NOT NULL,        -- of the raw bytes, hex
  origin            TEXT    NOT NULL,        -- file path, maildir path, mbox:path#n
  size              INTEGER NOT NULL,
  ingested_at       INTEGER NOT NULL,        -- our clock, never the report's
  outcome           TEXT    NOT NULL,        -- ok | partial | rejected | pending
  reports_new       INTEGER NOT NULL DEFAULT 0,
  reports_duplicate INTEGER NOT NULL DEFAULT 0,
  records           INTEGER NOT NULL DEFAULT 0,
  issues            TEXT    NOT NULL DEFAULT '[]'  -- JSON array of {code,severity,message,where}
);
CREATE INDEX message_sha256 ON message(sha256);

-- One row per distinct aggregate report.
CREATE TABLE report (
  id                 INTEGER PRIMARY KEY,
  message_id         INTEGER NOT NULL REFERENCES message(id),  -- first message that carried it
  part               TEXT    NOT NULL,   -- IMAP section[:zip member], '-' for a bare file
  xml_namespace      TEXT    NOT NULL DEFAULT '',
  version            TEXT    NOT NULL DEFAULT '',
  org_name           TEXT    NOT NULL,
  email              TEXT    NOT NULL DEFAULT '',
  extra_contact_info TEXT    NOT NULL DEFAULT '',
  report_id          TEXT    NOT NULL,
  generator          TEXT    NOT NULL DEFAULT '',
  begin_ts           INTEGER NOT NULL,
  end_ts             INTEGER NOT NULL,
  policy_domain      TEXT    NOT NULL,
  adkim              TEXT    NOT NULL DEFAULT '',
  aspf               TEXT    NOT NULL DEFAULT '',
  p                  TEXT    NOT NULL DEFAULT '',
  sp                 TEXT    NOT NULL DEFAULT '',
  np                 TEXT    NOT NULL DEFAULT '',
  pct                INTEGER,
  fo                 TEXT    NOT NULL DEFAULT '',
  testing            TEXT    NOT NULL DEFAULT '',
  discovery_method   TEXT    NOT NULL DEFAULT '',
  has_extensions     INTEGER NOT NULL DEFAULT 0,
  first_record       INTEGER,                      -- records are ids first_record ..
  record_count       INTEGER NOT NULL DEFAULT 0,   --   first_record + record_count - 1
  message_count      INTEGER NOT NULL DEFAULT 0,   -- sum of row/count
  UNIQUE (org_name, report_id, policy_domain, begin_ts, end_ts)
);
CREATE INDEX report_domain_begin ON report(policy_domain, begin_ts);

CREATE TABLE report_error (
  report_id INTEGER NOT NULL REFERENCES report(id),
  seq       INTEGER NOT NULL,
  text      TEXT    NOT NULL,
  PRIMARY KEY (report_id, seq)
) WITHOUT ROWID;

-- Every (message, part) that carried a report, including duplicates.
CREATE TABLE report_source (
  message_id INTEGER NOT NULL REFERENCES message(id),
  part       TEXT    NOT NULL,
  report_id  INTEGER NOT NULL REFERENCES report(id),
  duplicate  INTEGER NOT NULL,
  PRIMARY KEY (message_id, part)
) WITHOUT ROWID;

CREATE TABLE record (
  id            INTEGER PRIMARY KEY,
  report_id     INTEGER NOT NULL REFERENCES report(id),
  source_ip     TEXT,            -- canonical (RFC 5952 for IPv6); NULL if absent or unparseable
  source_ip_raw TEXT,            -- as written, only where it differs from source_ip
  ip            BLOB,            -- 16 bytes, IPv4 mapped into ::ffff:0:0/96; CIDR = BETWEEN
  count         INTEGER NOT NULL,
  disposition   TEXT    NOT NULL DEFAULT '',
  dkim_eval     TEXT    NOT NULL DEFAULT '',  -- policy_evaluated/dkim
  spf_eval      TEXT    NOT NULL DEFAULT '',
  envelope_to   TEXT    NOT NULL DEFAULT '',
  envelope_from TEXT    NOT NULL DEFAULT '',
  header_from   TEXT    NOT NULL DEFAULT '',
  has_extensions INTEGER NOT NULL DEFAULT 0
);
-- No index on record(report_id): a report's records are the contiguous id
-- range report.first_record .. + record_count - 1 (the store assigns ids),
-- and an index would cost every insert a second B-tree write.

CREATE TABLE dkim_result (
  record_id    INTEGER NOT NULL REFERENCES record(id),
  seq          INTEGER NOT NULL,
  domain       TEXT    NOT NULL,
  selector     TEXT    NOT NULL,
  result       TEXT    NOT NULL,
  human_result TEXT    NOT NULL,
  PRIMARY KEY (record_id, seq)
) WITHOUT ROWID;

CREATE TABLE spf_result (
  record_id    INTEGER NOT NULL REFERENCES record(id),
  seq          INTEGER NOT NULL,
  domain       TEXT    NOT NULL,
  scope        TEXT    NOT NULL,
  result       TEXT    NOT NULL,
  human_result TEXT    NOT NULL,
  PRIMARY KEY (record_id, seq)
) WITHOUT ROWID;

CREATE TABLE override_reason (
  record_id INTEGER NOT NULL REFERENCES record(id),
  seq       INTEGER NOT NULL,
  type      TEXT    NOT NULL,
  comment   TEXT    NOT NULL,
  PRIMARY KEY (record_id, seq)
) WITHOUT ROWID;

-- Inputs set aside: a whole message, or one part or archive member of it.
CREATE TABLE rejected_input (
  id          INTEGER PRIMARY KEY,
  message_id  INTEGER NOT NULL REFERENCES message(id),
  origin      TEXT    NOT NULL,
  part        TEXT    NOT NULL,   -- '' for the whole message
  code        TEXT    NOT NULL,
  reason      TEXT    NOT NULL,
  rejected_at INTEGER NOT NULL
);
CREATE INDEX rejected_input_message ON rejected_input(message_id);
