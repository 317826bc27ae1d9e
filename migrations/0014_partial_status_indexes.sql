-- Fewer index entries written per event. D1 bills a row for each index entry
-- a write touches, and every status change moves an event in each index that
-- holds its status (or `updated_at`, which every change sets): five such
-- indexes cost about five entries per change, three changes per delivered
-- event. Each query's plan is asserted in src/store/plans.rs.
--
-- Indexes that serve one status become partial: an event has an entry only
-- while it is in that status, so a delivery touches them once or not at all.
DROP INDEX IF EXISTS events_lease;            -- (status, lease_until)
DROP INDEX IF EXISTS events_status_updated;   -- (status, updated_at)
DROP INDEX IF EXISTS events_status_id;        -- (status, id)
-- Counts per endpoint and its oldest in-flight event read events_endpoint_status.
DROP INDEX IF EXISTS events_endpoint_inflight;

-- Expired leases (the sweeper): only events being delivered.
CREATE INDEX events_leased ON events (lease_until) WHERE status = 'delivering';
-- Compaction: delivered events by their last change.
CREATE INDEX events_delivered_changed ON events (updated_at) WHERE status = 'delivered';
-- The dead-letter alert: dead events by when they died.
CREATE INDEX events_dead_changed ON events (updated_at) WHERE status = 'dead';
-- The dead letters of every endpoint, newest first (other statuses of every
-- endpoint are listed by a walk of the primary key in id order).
CREATE INDEX events_dead_id ON events (id) WHERE status = 'dead';

-- A body's R2 key ends with its ingest's id: the bucket walk looks ingests up
-- by id, so no index of the keys themselves.
DROP INDEX IF EXISTS ingests_body_key;

-- An event's id is minted at its receipt: the events list by time ranges
-- over ids (the primary key, or an endpoint's or route's id index).
DROP INDEX IF EXISTS events_received;
