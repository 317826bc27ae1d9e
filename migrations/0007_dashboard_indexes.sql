-- Indexes for the dashboard's aggregate and search API: the time series
-- (events by received_at and delivered_at, failed attempts by started_at, each
-- over all endpoints or one), per-endpoint attempt figures of the last 24 h,
-- and the events list's event_type and delivery-id (`q`) filters.

CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_endpoint_received ON events (endpoint_id, received_at);
CREATE INDEX events_delivered ON events (delivered_at);
CREATE INDEX events_endpoint_delivered ON events (endpoint_id, delivered_at);

-- Covering for the stats queries: the range on started_at, the join to the
-- event, the outcome and the duration are all read from the index.
CREATE INDEX attempts_started ON attempts (started_at, event_id, outcome, duration_ms);

CREATE INDEX ingests_event_type ON ingests (event_type);
CREATE INDEX ingests_dedup_key ON ingests (dedup_key);
