-- DNS (issue 7): the answer cache and what enrichment learned of each source
-- address.

-- Answers kept for their TTL. Only ok, nodata and nxdomain are stored: a
-- temporary failure or an offline run is never cached as "no record".
CREATE TABLE dns_cache (
  name       TEXT    NOT NULL,  -- lower case, no trailing dot
  type       INTEGER NOT NULL,  -- RR type number (1 A, 12 PTR, 16 TXT, 28 AAAA, 99 SPF, ...)
  status     TEXT    NOT NULL,  -- ok | nodata | nxdomain
  data       TEXT    NOT NULL DEFAULT '[]',  -- JSON array of the records as text (see dns/resolver.h)
  fetched_at INTEGER NOT NULL,  -- UTC seconds
  expires_at INTEGER NOT NULL,  -- UTC seconds: fetched_at + TTL
  PRIMARY KEY (name, type)
) WITHOUT ROWID;

-- One row per source address enrichment has looked at.
CREATE TABLE ip_info (
  ip          TEXT    PRIMARY KEY,            -- canonical, as record.source_ip
  ptr_status  TEXT    NOT NULL,               -- ok | nodata | nxdomain (temporary answers are not stored)
  ptr         TEXT    NOT NULL DEFAULT '',    -- first PTR name, lower case, no trailing dot
  fcrdns      INTEGER NOT NULL DEFAULT 0,     -- 1: a PTR name resolves back to the address
  base_domain TEXT    NOT NULL DEFAULT '',    -- registrable domain of ptr (libpsl)
  service     TEXT    NOT NULL DEFAULT '',    -- mail service the PTR belongs to (known senders or the shipped map)
  service_type TEXT   NOT NULL DEFAULT '',    -- its kind, from the shipped map ("Email Provider", ...)
  resolved_at INTEGER NOT NULL                -- UTC seconds
) WITHOUT ROWID;
