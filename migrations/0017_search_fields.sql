-- Search fields: an endpoint may name up to 5 dotted paths into its JSON
-- bodies (`search_fields`, a JSON array; NULL for none and for route rows).
-- The values found there at receipt are stored per ingest, and the events
-- list's `q` matches them exactly.
--
-- Keyed by the ingest, so deleting an ingest's values (compaction, retention)
-- walks the primary key; `search_values_value` finds the ingests holding a
-- value, optionally of one endpoint. An ingest written without values (every
-- endpoint without search fields) costs nothing here.
ALTER TABLE endpoints ADD COLUMN search_fields TEXT;

CREATE TABLE search_values (
  ingest_id   TEXT NOT NULL,
  value       TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  PRIMARY KEY (ingest_id, value)
) WITHOUT ROWID;

CREATE INDEX search_values_value ON search_values (value, endpoint_id);
