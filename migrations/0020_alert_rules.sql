-- Alert rules: conditions an operator sets per endpoint, or per one of its
-- routes (`route_id`; NULL watches all of them), checked by the sweeper every
-- minute (core/src/alert_rules.rs). `firing_since` is the rule's state: set
-- when it fired, NULL once it resolved, so each rule fires once and resolves
-- once. `last_value` and `checked_at` are what the last check saw.
--
-- A control table of at most a hundred rows, read whole each minute; each
-- rule's figure is one indexed read of rollups or events.
CREATE TABLE alert_rules (
  id           TEXT PRIMARY KEY,
  endpoint_id  TEXT NOT NULL,
  route_id     TEXT,
  kind         TEXT NOT NULL CHECK (kind IN ('success_rate', 'oldest_in_flight', 'dead_letters')),
  threshold    REAL NOT NULL,
  window_s     INTEGER,
  min_attempts INTEGER,
  firing_since INTEGER,
  last_value   REAL,
  checked_at   INTEGER,
  created_at   INTEGER NOT NULL
);
