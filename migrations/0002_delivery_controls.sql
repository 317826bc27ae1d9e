-- Per-endpoint delivery controls: retry policy, pause, circuit breaker, rate
-- limit, FIFO ordering. Configuration and live state sit on the endpoint row so
-- the delivery claim can check every gate in the same statement.

ALTER TABLE endpoints ADD COLUMN max_attempts INTEGER;                          -- NULL: one more than the schedule
ALTER TABLE endpoints ADD COLUMN jitter REAL NOT NULL DEFAULT 0.2;
ALTER TABLE endpoints ADD COLUMN max_delay_s INTEGER NOT NULL DEFAULT 43200;     -- caps Retry-After
ALTER TABLE endpoints ADD COLUMN retry_client_errors INTEGER NOT NULL DEFAULT 0;

ALTER TABLE endpoints ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN paused_reason TEXT;
ALTER TABLE endpoints ADD COLUMN paused_at INTEGER;

ALTER TABLE endpoints ADD COLUMN circuit_threshold INTEGER NOT NULL DEFAULT 10;
ALTER TABLE endpoints ADD COLUMN circuit_probe_base_s INTEGER NOT NULL DEFAULT 60;
ALTER TABLE endpoints ADD COLUMN circuit_state TEXT NOT NULL DEFAULT 'closed' CHECK (circuit_state IN ('closed', 'open'));
ALTER TABLE endpoints ADD COLUMN circuit_failures INTEGER NOT NULL DEFAULT 0;    -- consecutive
ALTER TABLE endpoints ADD COLUMN circuit_changed_at INTEGER;
ALTER TABLE endpoints ADD COLUMN circuit_probe_interval_s INTEGER NOT NULL DEFAULT 60;
ALTER TABLE endpoints ADD COLUMN circuit_next_probe_at INTEGER;

ALTER TABLE endpoints ADD COLUMN rate_limit_per_s REAL;                          -- NULL: unlimited
ALTER TABLE endpoints ADD COLUMN rate_tat INTEGER NOT NULL DEFAULT 0;            -- GCRA theoretical arrival time (ms)

ALTER TABLE endpoints ADD COLUMN fifo INTEGER NOT NULL DEFAULT 0;

CREATE INDEX events_endpoint_inflight ON events (endpoint_id, status, next_attempt_at);
CREATE INDEX endpoints_open_circuits ON endpoints (circuit_state, circuit_next_probe_at);
