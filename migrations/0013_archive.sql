-- The archive: delivered events older than the hot window (HOT_WINDOW_S) leave
-- D1, with their attempts and (once no event of theirs is left) their ingest,
-- for gzip NDJSON objects in R2. Each object holds the events of one route
-- received in one UTC hour, from one compaction batch; this table is its index
-- (one row per object, a few hundred events each), so D1 keeps a few bytes per
-- archived event instead of the event.
CREATE TABLE archives (
  key         TEXT PRIMARY KEY,             -- the R2 object (archive/<endpoint>/<hour>/<route>/<first id>.<batch>.ndjson.gz)
  endpoint_id TEXT NOT NULL,
  route_id    TEXT NOT NULL,
  hour        INTEGER NOT NULL,             -- the hour its events were received in, unix ms
  last_received_at INTEGER NOT NULL,        -- when the newest event inside was received
  first_id    TEXT NOT NULL,                -- the smallest event id inside
  last_id     TEXT NOT NULL,                -- the largest
  events      INTEGER NOT NULL,             -- events inside, all delivered
  ingests     INTEGER NOT NULL DEFAULT 0,   -- ingests whose last event left D1 in this object's batch
  id_filter   TEXT NOT NULL,                -- a Bloom filter of the ids inside (archive::IdFilter)
  created_at  INTEGER NOT NULL
);

-- The events list by endpoint and time, and archive retention per endpoint.
CREATE INDEX archives_endpoint_hour ON archives (endpoint_id, hour);
-- An event by id: the objects of the hour its id was minted in.
CREATE INDEX archives_hour ON archives (hour);
-- Counts per route (archived events are counted with those still in D1).
CREATE INDEX archives_route ON archives (route_id, events);
