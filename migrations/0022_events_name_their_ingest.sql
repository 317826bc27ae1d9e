-- An event's id names its ingest: a new ingest's id ends in fifteen zero bits
-- (the last three characters, `000`), and the ids of the events it fans out
-- to are that id with the event's index in those bits (core::model,
-- `IngestId::mint` and `EventId::of_ingest`). So the events of an ingest are
-- a range of the primary key, `evt_<its first 23 characters>000` to `…zzz`,
-- and `ingest_id` is computed from the id: a new row stores none
-- (`kept_ingest_id` is '') and no index of ingest ids is written, one row
-- written (as D1 bills them) and some 90 bytes of the working set fewer per
-- event. Events whose id does not name their ingest (written before this
-- migration, routed later from a filtered ingest, or beyond the 32,768 an id
-- can number) keep it in `kept_ingest_id`, under a partial index of those
-- only. Queries find an ingest's events through both (store::events_of_ingest).
--
-- The reference to ingests goes: a computed column has no index to check it
-- by, and deleting an ingest would read every event. The store deletes an
-- ingest only when no event is left for it.
--
-- The copy holds the working set only: apply it after compaction has drained
-- D1 to the hot window.
PRAGMA defer_foreign_keys = true;

CREATE TABLE events_naming_ingests (
  id              TEXT NOT NULL PRIMARY KEY,
  kept_ingest_id  TEXT NOT NULL,              -- '' when the id names the ingest
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
  rate_slot_at    INTEGER,
  ingest_id       TEXT GENERATED ALWAYS AS (
    CASE kept_ingest_id
      WHEN '' THEN 'ing_' || substr(id, 5, 23) || '000'
      ELSE kept_ingest_id
    END
  ) VIRTUAL
) WITHOUT ROWID;
INSERT INTO events_naming_ingests (id, kept_ingest_id, endpoint_id, status, attempt_count,
                                   cycle_attempts, next_attempt_at, lease_until, lease_token,
                                   last_error, dead_reason, received_at, updated_at,
                                   delivered_at, route_id, rate_slot_at)
  SELECT id,
         CASE WHEN ingest_id = 'ing_' || substr(id, 5, 23) || '000' THEN '' ELSE ingest_id END,
         endpoint_id, status, attempt_count, cycle_attempts, next_attempt_at, lease_until,
         lease_token, last_error, dead_reason, received_at, updated_at, delivered_at, route_id,
         rate_slot_at
  FROM events;

DROP TABLE events;
ALTER TABLE events_naming_ingests RENAME TO events;

CREATE INDEX events_kept_ingest ON events (kept_ingest_id) WHERE kept_ingest_id <> '';
CREATE INDEX events_endpoint ON events (endpoint_id, id);
CREATE INDEX events_route ON events (route_id, id);
CREATE INDEX events_delivered_changed ON events (updated_at) WHERE status = 'delivered';
CREATE INDEX events_dead_changed ON events (updated_at) WHERE status = 'dead';
CREATE INDEX events_dead_id ON events (id) WHERE status = 'dead';
CREATE INDEX events_endpoint_open ON events (endpoint_id, status, id) WHERE status <> 'delivered';
CREATE INDEX events_route_open ON events (route_id, status, next_attempt_at) WHERE status <> 'delivered';
