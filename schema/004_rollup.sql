-- Rollups (issue 8): the per-domain views (dmarq html, readiness, trend) read
-- one row per (fact, day) instead of every record. A fact is a record's
-- content without its count, under its report's published policy; the same
-- fact reported by several receivers, or on several days, is one fact.
-- Messages are spread over UTC days exactly as the views spread them
-- (analyze/days.h). Written in the same transaction as the records, so the
-- rollups and the records never disagree; filled from the records when an
-- older database is migrated.

CREATE TABLE rollup_domain (
  id   INTEGER PRIMARY KEY,
  name TEXT    NOT NULL UNIQUE  -- report.policy_domain
);

CREATE TABLE rollup_fact (
  id        INTEGER PRIMARY KEY,
  domain_id INTEGER NOT NULL REFERENCES rollup_domain(id),
  digest    BLOB    NOT NULL UNIQUE,  -- XXH3-128 of the fact, seeded with domain_id
  fact      BLOB    NOT NULL          -- varint-length-prefixed fields (store/rollup.cpp)
);

-- Keyed by domain and day first: a report's rows land next to each other
-- (fast to write), and a period of one domain is one range (fast to read).
CREATE TABLE rollup_day (
  domain_id INTEGER NOT NULL,
  day       INTEGER NOT NULL,  -- UTC midnight
  fact_id   INTEGER NOT NULL,
  records   INTEGER NOT NULL,  -- records that added to it (a record of count 0 still counts as seen)
  messages  INTEGER NOT NULL,
  PRIMARY KEY (domain_id, day, fact_id)
) WITHOUT ROWID;

-- Per report, what the reporter itself said of its messages (its
-- policy_evaluated), for the reporters' view: DMARC pass (aligned DKIM or
-- SPF pass), and the messages it quarantined or rejected.
ALTER TABLE report ADD COLUMN evaluated_pass INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;
