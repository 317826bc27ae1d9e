-- Ingests and events stored in their primary keys (WITHOUT ROWID), as dedup
-- keys and attempts are since 0015: an insert writes the table's b-tree and
-- its indexes, not a rowid b-tree plus an index of ids beside it, one row
-- written (as D1 bills them) fewer for each. Both are read by id or through
-- their indexes, never by rowid.
--
-- And an ingest's body key is `bodies/<yyyy-mm-dd of received_at>/<id>`
-- (src/store/bodies.rs, key_for): its id and receipt time say it, so a new
-- row stores none (`kept_body_key` is '') and `body_key` computes it, at no
-- byte of D1's working set. Rows written before, and ingests restored from
-- the archive, keep the key they were stored under.
--
-- `ingests_event_type` is not made again: only the events list filtered by
-- type read it, an operator's query that walks the events newest first
-- until its page is full, and it cost every ingest an index entry.
--
-- Each query's plan is asserted in src/store/plans.rs. The copy holds the
-- working set only: apply it after compaction has drained D1 to the hot
-- window.
PRAGMA defer_foreign_keys = true;

CREATE TABLE ingests_by_id (
  id            TEXT NOT NULL PRIMARY KEY,
  endpoint_id   TEXT NOT NULL,
  dedup_key     TEXT NOT NULL,
  kept_body_key TEXT NOT NULL,
  body_size     INTEGER NOT NULL,
  body_sha256   TEXT NOT NULL,              -- '' since the body object keeps it
  content_type  TEXT,
  headers       TEXT NOT NULL,              -- '' when the body object keeps them
  received_at   INTEGER NOT NULL,
  event_type    TEXT,
  status        TEXT NOT NULL DEFAULT 'routed' CHECK (status IN ('routed', 'filtered')),
  source        TEXT,
  body_key      TEXT GENERATED ALWAYS AS (
    CASE kept_body_key
      WHEN '' THEN 'bodies/' || strftime('%Y-%m-%d', received_at / 1000, 'unixepoch') || '/' || id
      ELSE kept_body_key
    END
  ) VIRTUAL
) WITHOUT ROWID;
INSERT INTO ingests_by_id (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256,
                           content_type, headers, received_at, event_type, status, source)
  SELECT id, endpoint_id, dedup_key, body_key, body_size, body_sha256,
         content_type, headers, received_at, event_type, status, source
  FROM ingests;

CREATE TABLE events_by_id (
  id              TEXT NOT NULL PRIMARY KEY,
  ingest_id       TEXT NOT NULL REFERENCES ingests_by_id (id), -- the new ingests, renamed below
  endpoint_id     TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('received', 'delivering', 'retrying', 'delivered', 'dead')),
  attempt_count   INTEGER NOT NULL DEFAULT 0, -- attempts ever made; numbering continues across replays
  cycle_attempts  INTEGER NOT NULL DEFAULT 0, -- attempts since receipt or the last replay; drives the schedule
  next_attempt_at INTEGER NOT NULL,
  lease_until     INTEGER,
  lease_token     TEXT,
  last_error      TEXT,
  dead_reason     TEXT,
  received_at     INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  delivered_at    INTEGER,
  route_id        TEXT,
  rate_slot_at    INTEGER
) WITHOUT ROWID;
INSERT INTO events_by_id (id, ingest_id, endpoint_id, status, attempt_count, cycle_attempts,
                          next_attempt_at, lease_until, lease_token, last_error, dead_reason,
                          received_at, updated_at, delivered_at, route_id, rate_slot_at)
  SELECT id, ingest_id, endpoint_id, status, attempt_count, cycle_attempts,
         next_attempt_at, lease_until, lease_token, last_error, dead_reason,
         received_at, updated_at, delivered_at, route_id, rate_slot_at
  FROM events;

DROP TABLE events;
DROP TABLE ingests;
ALTER TABLE ingests_by_id RENAME TO ingests;
ALTER TABLE events_by_id RENAME TO events;

CREATE INDEX ingests_dedup_key ON ingests (dedup_key);
CREATE INDEX ingests_endpoint_status ON ingests (endpoint_id, status, id);
CREATE INDEX ingests_filtered_received ON ingests (endpoint_id, received_at) WHERE status = 'filtered';

CREATE INDEX events_endpoint ON events (endpoint_id, id);
CREATE INDEX events_ingest ON events (ingest_id);
CREATE INDEX events_route ON events (route_id, id);
CREATE INDEX events_delivered_changed ON events (updated_at) WHERE status = 'delivered';
CREATE INDEX events_dead_changed ON events (updated_at) WHERE status = 'dead';
CREATE INDEX events_dead_id ON events (id) WHERE status = 'dead';
CREATE INDEX events_endpoint_open ON events (endpoint_id, status, id) WHERE status <> 'delivered';
CREATE INDEX events_route_open ON events (route_id, status, next_attempt_at) WHERE status <> 'delivered';
