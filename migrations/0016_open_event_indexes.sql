-- Delivered events leave the indexes that hold status. Most of the working set
-- is delivered events waiting for compaction, and the delivering -> delivered
-- change paid an entry in each of the two indexes below; now it only removes
-- the entries (D1 bills the entries a write inserts).
--
-- SQLite uses a partial index only for a query whose WHERE holds the index's
-- own term, so every query that wants these indexes says `status <> 'delivered'`
-- as is, next to its narrower status condition. The delivered events of an
-- endpoint or route are counted as all of its events (events_endpoint,
-- events_route) minus those still here. Each query's plan is asserted in
-- src/store/plans.rs.
DROP INDEX IF EXISTS events_endpoint_status;   -- (endpoint_id, status, id)
DROP INDEX IF EXISTS events_route_inflight;    -- (route_id, status, next_attempt_at)
CREATE INDEX events_endpoint_open ON events (endpoint_id, status, id) WHERE status <> 'delivered';
CREATE INDEX events_route_open ON events (route_id, status, next_attempt_at) WHERE status <> 'delivered';
