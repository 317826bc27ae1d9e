-- API keys for the management API and the dashboard. Only the SHA-256 of a key is
-- stored; the key itself is shown once, when it is created. `ADMIN_TOKEN` stays
-- the bootstrap admin that creates the first keys.
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,             -- key_...
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'pull')),
  endpoint_id  TEXT,                         -- the one pull destination of a 'pull' key
  prefix       TEXT NOT NULL,                -- the first characters, to tell keys apart
  key_hash     TEXT NOT NULL UNIQUE,         -- hex SHA-256 of the key
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER,
  CHECK ((role = 'pull') = (endpoint_id IS NOT NULL))
);
