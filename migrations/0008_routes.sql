-- Routes: one endpoint (the `ep_` URL a provider posts to) fans out to one or
-- more delivery targets, each with its own filter, transformation and delivery
-- controls. A route is a row of `endpoints`, so it carries every per-target
-- control column and live state (pause, circuit, rate TAT, FIFO) the delivery
-- claim already checks. The endpoint row is its own first route (route id = the
-- `ep_` id); an extra route is an `rt_` row whose source_id names its endpoint.

ALTER TABLE endpoints ADD COLUMN source_id TEXT;   -- NULL: an endpoint; else the ep_ id of the route's endpoint
ALTER TABLE endpoints ADD COLUMN filter TEXT;      -- JSON filter (src/filter.rs); NULL accepts everything
ALTER TABLE endpoints ADD COLUMN transform TEXT;   -- JSON transformation (src/transform.rs); NULL sends as received
CREATE INDEX endpoints_source ON endpoints (source_id);

-- `events.endpoint_id` stays the source endpoint (listing, health, stats);
-- `events.route_id` is the delivery target every claim, gate and lease keys on.
ALTER TABLE events ADD COLUMN route_id TEXT;
UPDATE events SET route_id = endpoint_id;
CREATE INDEX events_route_inflight ON events (route_id, status, next_attempt_at);
CREATE INDEX events_route ON events (route_id, id);

-- An ingest no route accepted is kept as `filtered`: visible, counted, and
-- routed again by a replay after a filter change.
ALTER TABLE ingests ADD COLUMN status TEXT NOT NULL DEFAULT 'routed' CHECK (status IN ('routed', 'filtered'));
CREATE INDEX ingests_endpoint_status ON ingests (endpoint_id, status, id);
