-- Feedback-loop complaints, DMARC failure reports and bounces (issue 5).

-- What each message was: aggregate, arf, failure, jmrp, bounce, auto_reply,
-- not_report ('' for messages stored before this migration).
ALTER TABLE message ADD COLUMN kind TEXT NOT NULL DEFAULT '';

-- One row per ARF report, auth-failure report or JMRP complaint.
CREATE TABLE feedback (
  id                     INTEGER PRIMARY KEY,
  message_id             INTEGER NOT NULL REFERENCES message(id),
  part                   TEXT    NOT NULL,   -- IMAP section of the feedback part, '' when none
  kind                   TEXT    NOT NULL,   -- arf | failure | jmrp
  feedback_type          TEXT    NOT NULL,   -- lower case (abuse, fraud, auth-failure, ...)
  user_agent             TEXT    NOT NULL DEFAULT '',
  version                TEXT    NOT NULL DEFAULT '',
  original_envelope_id   TEXT    NOT NULL DEFAULT '',
  original_mail_from     TEXT    NOT NULL DEFAULT '',
  arrival_date           INTEGER,            -- UTC seconds, when readable
  arrival_date_text      TEXT    NOT NULL DEFAULT '',
  reporting_mta          TEXT    NOT NULL DEFAULT '',
  source_ip              TEXT,               -- canonical; NULL when absent or unparseable
  source_ip_raw          TEXT    NOT NULL DEFAULT '',
  ip                     BLOB,               -- 16 bytes, as record.ip
  incidents              INTEGER,
  authentication_results TEXT    NOT NULL DEFAULT '[]',  -- JSON array, every field
  reported_domain        TEXT    NOT NULL DEFAULT '',    -- the first, lower case
  reported_domains       TEXT    NOT NULL DEFAULT '[]',  -- JSON array, every field
  reported_uri           TEXT    NOT NULL DEFAULT '[]',  -- JSON array
  removal_recipient      TEXT    NOT NULL DEFAULT '',
  auth_failure           TEXT    NOT NULL DEFAULT '',
  delivery_result        TEXT    NOT NULL DEFAULT '',
  dkim_domain            TEXT    NOT NULL DEFAULT '',
  dkim_identity          TEXT    NOT NULL DEFAULT '',
  dkim_selector          TEXT    NOT NULL DEFAULT '',
  spf_dns                TEXT    NOT NULL DEFAULT '',
  identity_alignment     TEXT    NOT NULL DEFAULT '',
  -- The reported message's headers (never its body).
  orig_from              TEXT    NOT NULL DEFAULT '',
  orig_to                TEXT    NOT NULL DEFAULT '',
  orig_subject           TEXT    NOT NULL DEFAULT '',
  orig_message_id        TEXT    NOT NULL DEFAULT '',
  orig_date              TEXT    NOT NULL DEFAULT '',
  orig_list_unsubscribe  TEXT    NOT NULL DEFAULT '',
  orig_return_path       TEXT    NOT NULL DEFAULT '',
  orig_dkim_domain       TEXT    NOT NULL DEFAULT '',
  orig_dkim_selector     TEXT    NOT NULL DEFAULT '',
  orig_headers_only      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX feedback_message ON feedback(message_id);

-- Every Original-Rcpt-To (JMRP: the X-HmXmrOriginalRecipient).
CREATE TABLE feedback_rcpt (
  feedback_id INTEGER NOT NULL REFERENCES feedback(id),
  seq         INTEGER NOT NULL,
  address     TEXT    NOT NULL,   -- lower case
  PRIMARY KEY (feedback_id, seq)
) WITHOUT ROWID;
CREATE INDEX feedback_rcpt_address ON feedback_rcpt(address);

-- One row per bounced (or delayed) recipient.
CREATE TABLE bounce (
  id                 INTEGER PRIMARY KEY,
  message_id         INTEGER NOT NULL REFERENCES message(id),
  rfc3464            INTEGER NOT NULL,
  recipient          TEXT    NOT NULL,   -- lower case, '' when the text named none
  original_recipient TEXT    NOT NULL DEFAULT '',
  action             TEXT    NOT NULL DEFAULT '',
  status             TEXT    NOT NULL DEFAULT '',
  diagnostic_code    TEXT    NOT NULL DEFAULT '',
  remote_mta         TEXT    NOT NULL DEFAULT '',
  reporting_mta      TEXT    NOT NULL DEFAULT '',
  arrival_date       INTEGER,
  class              TEXT    NOT NULL,   -- hard | soft | policy | unknown
  seen_at            INTEGER NOT NULL    -- arrival_date, else when dmarq read it: for counting days
);
CREATE INDEX bounce_recipient ON bounce(recipient);
