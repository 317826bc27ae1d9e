-- hookrelay schema. D1 is the source of truth; the queue only makes delivery fast.

-- An endpoint is the `ep_` URL a provider posts to: the source (provider scheme and
-- its secrets) and, for now, its single destination. Soft-deleted so the events
-- that point at it stay readable.
CREATE TABLE endpoints (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  provider        TEXT NOT NULL,
  secrets         TEXT NOT NULL,            -- JSON array of live secrets; never returned by the API
  relay_secret    TEXT NOT NULL,            -- whsec_... used to sign outbound requests
  destination_url TEXT NOT NULL,
  retry_schedule  TEXT NOT NULL,            -- JSON array of delays in seconds
  timeout_ms      INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,         -- unix milliseconds, like every *_at below
  updated_at      INTEGER NOT NULL,
  deleted_at      INTEGER
);

-- Insert-first dedup: one row per (endpoint, provider delivery id). The row names
-- the ingest that won; a row past expires_at may be taken over by a new ingest.
CREATE TABLE dedup_keys (
  endpoint_id TEXT NOT NULL,
  dedup_key   TEXT NOT NULL,
  ingest_id   TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, dedup_key)
);
CREATE INDEX dedup_keys_expires ON dedup_keys (expires_at);

-- One accepted inbound request: owns the stored body (R2 key) and the headers to
-- replay. Events point at it, so fanning out to several routes moves no bytes.
CREATE TABLE ingests (
  id           TEXT PRIMARY KEY,
  endpoint_id  TEXT NOT NULL,
  dedup_key    TEXT NOT NULL,
  body_key     TEXT NOT NULL,
  body_size    INTEGER NOT NULL,
  body_sha256  TEXT NOT NULL,
  content_type TEXT,
  headers      TEXT NOT NULL,               -- JSON [[name, value], ...], forwardable only
  received_at  INTEGER NOT NULL
);

-- One delivery of one ingest to one destination, with its state machine.
CREATE TABLE events (
  id              TEXT PRIMARY KEY,
  ingest_id       TEXT NOT NULL REFERENCES ingests (id),
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
  delivered_at    INTEGER
);
CREATE INDEX events_due ON events (status, next_attempt_at);
CREATE INDEX events_lease ON events (status, lease_until);
CREATE INDEX events_endpoint ON events (endpoint_id, id);
CREATE INDEX events_endpoint_status ON events (endpoint_id, status, id);
CREATE INDEX events_status_id ON events (status, id);
CREATE INDEX events_ingest ON events (ingest_id);

-- Every delivery attempt, kept across replays.
CREATE TABLE attempts (
  event_id         TEXT NOT NULL,
  number           INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  duration_ms      INTEGER NOT NULL,
  status_code      INTEGER,
  outcome          TEXT NOT NULL,
  error            TEXT,
  response_snippet TEXT,
  PRIMARY KEY (event_id, number)
);

-- Small facts about the relay itself, such as the sweeper's heartbeat.
CREATE TABLE meta (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
