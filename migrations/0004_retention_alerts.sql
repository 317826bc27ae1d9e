-- Retention (per-endpoint override of RETENTION_DAYS) and alert channels.

ALTER TABLE endpoints ADD COLUMN retention_days REAL;   -- NULL: the RETENTION_DAYS var (default 30)
CREATE INDEX events_retention ON events (status, received_at);

-- Where alerts go: a Slack incoming webhook, or a generic JSON webhook signed
-- with Standard Webhooks headers using `secret`.
CREATE TABLE alert_channels (
  id         TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('slack', 'webhook')),
  url        TEXT NOT NULL,
  secret     TEXT,
  created_at INTEGER NOT NULL
);
