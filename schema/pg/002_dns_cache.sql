-- DNS answers kept for their TTL (src/dns/cache.cpp), as in SQLite's
-- schema/003_dns.sql: ok, nodata and nxdomain only. Every ingest and
-- analyst host shares them.
CREATE TABLE dns_cache (
  name       TEXT   NOT NULL,            -- lower case, no trailing dot
  type       INT    NOT NULL,            -- RR type number
  status     TEXT   NOT NULL,            -- ok | nodata | nxdomain
  data       TEXT   NOT NULL DEFAULT '[]',  -- JSON array of the records as text
  fetched_at BIGINT NOT NULL,            -- UTC seconds
  expires_at BIGINT NOT NULL,            -- UTC seconds: fetched_at + TTL
  PRIMARY KEY (name, type)
);
