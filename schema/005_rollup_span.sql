-- Rollups by 32-day span (issue 8): one row per (domain, span, fact) whose
-- `days` blob holds the fact's records and messages per UTC day of the span,
-- instead of one rollup_day row per (domain, day, fact). A 90-day view reads
-- a sixth of the rows or fewer. The blob (store/rollup.h): per day, in day
-- order, the day within the span (one byte, 0-31), then its records and
-- messages as LEB128 varints. A span is floor(UTC day number / 32).
-- dmarq fills this table from rollup_day, or from the records when
-- rollup_day is empty, and then drops rollup_day (store/sqlite_store.cpp).

CREATE TABLE rollup_span (
  domain_id INTEGER NOT NULL,
  span      INTEGER NOT NULL,
  fact_id   INTEGER NOT NULL,
  days      BLOB    NOT NULL,
  PRIMARY KEY (domain_id, span, fact_id)
) WITHOUT ROWID;
