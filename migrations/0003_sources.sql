-- Source-side settings and the refusals log.
-- `secrets` (from 0001) now holds [{"value", "expires_at"}]; plain strings from
-- before are still read as secrets without expiry.

ALTER TABLE endpoints ADD COLUMN scheme_config TEXT NOT NULL DEFAULT '{}';   -- hmac / api_key settings
ALTER TABLE endpoints ADD COLUMN verify_token TEXT;                           -- Meta's subscription handshake
ALTER TABLE endpoints ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '[]';    -- empty: any source
ALTER TABLE endpoints ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;         -- refuse every request

-- The last 100 refusals per endpoint, for 24 hours. Never the body; header
-- values that carry signatures or credentials are redacted before they get here.
CREATE TABLE rejections (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id TEXT NOT NULL,
  at          INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  source_ip   TEXT,
  headers     TEXT NOT NULL,
  body_size   INTEGER NOT NULL
);
CREATE INDEX rejections_endpoint ON rejections (endpoint_id, id);
CREATE INDEX rejections_at ON rejections (at);

-- Refusals per reason, kept for good; endpoint_id '' counts requests to no known endpoint.
CREATE TABLE rejection_counts (
  endpoint_id TEXT NOT NULL,
  reason      TEXT NOT NULL,
  count       INTEGER NOT NULL,
  last_at     INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, reason)
);
