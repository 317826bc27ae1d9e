-- PagerDuty alert channels: `kind` gains 'pagerduty' (its `secret` holds the
-- operator's routing key). SQLite cannot change a CHECK in place, so the
-- table, a handful of rows, is rebuilt.
CREATE TABLE alert_channels_new (
  id         TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('slack', 'webhook', 'pagerduty')),
  url        TEXT NOT NULL,
  secret     TEXT,
  created_at INTEGER NOT NULL
);
INSERT INTO alert_channels_new (id, kind, url, secret, created_at)
  SELECT id, kind, url, secret, created_at FROM alert_channels;
DROP TABLE alert_channels;
ALTER TABLE alert_channels_new RENAME TO alert_channels;
