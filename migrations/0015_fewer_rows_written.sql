-- Fewer rows written per webhook. D1 bills one row for the table and one for
-- each index entry a write inserts; these tables pay for a rowid b-tree beside
-- the primary key they are always read by.
--
-- Dedup keys and attempts are read only through their primary keys (and the
-- keys' expiry index): stored in the primary key itself (WITHOUT ROWID), an
-- insert writes one b-tree instead of two. Each query's plan is asserted in
-- src/store/plans.rs.
CREATE TABLE dedup_keys_by_key (
  endpoint_id TEXT NOT NULL,
  dedup_key   TEXT NOT NULL,
  ingest_id   TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, dedup_key)
) WITHOUT ROWID;
INSERT INTO dedup_keys_by_key (endpoint_id, dedup_key, ingest_id, expires_at)
  SELECT endpoint_id, dedup_key, ingest_id, expires_at FROM dedup_keys;
DROP TABLE dedup_keys;
ALTER TABLE dedup_keys_by_key RENAME TO dedup_keys;
CREATE INDEX dedup_keys_expires ON dedup_keys (expires_at);

CREATE TABLE attempts_by_event (
  event_id         TEXT NOT NULL,
  number           INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  duration_ms      INTEGER NOT NULL,
  status_code      INTEGER,
  outcome          TEXT NOT NULL,
  error            TEXT,
  response_snippet TEXT,
  PRIMARY KEY (event_id, number)
) WITHOUT ROWID;
INSERT INTO attempts_by_event (event_id, number, started_at, duration_ms, status_code, outcome,
                               error, response_snippet)
  SELECT event_id, number, started_at, duration_ms, status_code, outcome, error, response_snippet
  FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_by_event RENAME TO attempts;

-- Expired leases: the few events being delivered are found per route through
-- events_route_inflight (route_id, status, ...), which a claim updates anyway,
-- so a claim no longer inserts an entry of its own.
DROP INDEX IF EXISTS events_leased;

-- Retention ranges over ids (minted at receipt) through events_endpoint
-- (endpoint_id, id), so the endpoint's events by receipt time need no index
-- of their own.
DROP INDEX IF EXISTS events_endpoint_received;
