-- Indexes for queries the sweeper runs every minute, so none of them reads a
-- whole table. Each query's plan is asserted in src/store/plans.rs.

-- Retention's orphan-body walk (`store::retention::referenced_bodies`): which
-- of a page of R2 keys an ingest still points at, one lookup per key.
CREATE INDEX ingests_body_key ON ingests (body_key);

-- The dead-letter alert (`store::alerts::dead_between`): events that went dead
-- since the previous sweep, a range on `updated_at` within `status = 'dead'`.
CREATE INDEX events_status_updated ON events (status, updated_at);

-- Retention of `filtered` ingests (`store::retention::expire_filtered_ingests`):
-- per endpoint, those received before its retention cutoff. Partial: only
-- filtered ingests are in it, so routed ones cost nothing to write.
CREATE INDEX ingests_filtered_received ON ingests (endpoint_id, received_at) WHERE status = 'filtered';
