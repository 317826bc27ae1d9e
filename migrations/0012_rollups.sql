-- Hourly rollups: what the time series, success rates and latency
-- percentiles read, so no chart scans events or attempts, and the figures
-- survive compaction (events leave D1 for the R2 archive) unchanged.
--
-- One row per endpoint, UTC hour and route (its first route is the endpoint
-- itself), counted as things happen: `received` in the ack's batch (one per
-- route that accepted the request), `delivered`/`failed` and the latency
-- histogram with each attempt, in the batch that records it. The histogram's
-- buckets l0..l11 hold durations of at most 10, 25, 50, 100, 250, 500, 1000,
-- 2500, 5000, 10000, 30000 ms and above (`stats::LATENCY_BOUNDS_MS`).
CREATE TABLE rollups (
  endpoint_id TEXT NOT NULL,
  hour        INTEGER NOT NULL,             -- the hour's start, unix ms
  route_id    TEXT NOT NULL,
  received    INTEGER NOT NULL DEFAULT 0,   -- events received
  delivered   INTEGER NOT NULL DEFAULT 0,   -- attempts that delivered
  failed      INTEGER NOT NULL DEFAULT 0,   -- attempts that failed
  l0          INTEGER NOT NULL DEFAULT 0,
  l1          INTEGER NOT NULL DEFAULT 0,
  l2          INTEGER NOT NULL DEFAULT 0,
  l3          INTEGER NOT NULL DEFAULT 0,
  l4          INTEGER NOT NULL DEFAULT 0,
  l5          INTEGER NOT NULL DEFAULT 0,
  l6          INTEGER NOT NULL DEFAULT 0,
  l7          INTEGER NOT NULL DEFAULT 0,
  l8          INTEGER NOT NULL DEFAULT 0,
  l9          INTEGER NOT NULL DEFAULT 0,
  l10         INTEGER NOT NULL DEFAULT 0,
  l11         INTEGER NOT NULL DEFAULT 0,
  max_ms      INTEGER NOT NULL DEFAULT 0,   -- the slowest attempt
  PRIMARY KEY (endpoint_id, hour, route_id)
) WITHOUT ROWID;

-- Every endpoint's figures over a window.
CREATE INDEX rollups_hour ON rollups (hour);

-- The figures of what is on record already.
INSERT INTO rollups (endpoint_id, hour, route_id, received)
SELECT endpoint_id, received_at / 3600000 * 3600000, COALESCE(route_id, endpoint_id), COUNT(*)
FROM events GROUP BY 1, 2, 3;

INSERT INTO rollups (endpoint_id, hour, route_id, delivered, failed, l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11, max_ms)
SELECT e.endpoint_id, a.started_at / 3600000 * 3600000, COALESCE(e.route_id, e.endpoint_id),
       SUM(a.outcome = 'delivered'), SUM(a.outcome <> 'delivered'),
       SUM(a.duration_ms <= 10),
       SUM(a.duration_ms > 10 AND a.duration_ms <= 25),
       SUM(a.duration_ms > 25 AND a.duration_ms <= 50),
       SUM(a.duration_ms > 50 AND a.duration_ms <= 100),
       SUM(a.duration_ms > 100 AND a.duration_ms <= 250),
       SUM(a.duration_ms > 250 AND a.duration_ms <= 500),
       SUM(a.duration_ms > 500 AND a.duration_ms <= 1000),
       SUM(a.duration_ms > 1000 AND a.duration_ms <= 2500),
       SUM(a.duration_ms > 2500 AND a.duration_ms <= 5000),
       SUM(a.duration_ms > 5000 AND a.duration_ms <= 10000),
       SUM(a.duration_ms > 10000 AND a.duration_ms <= 30000),
       SUM(a.duration_ms > 30000),
       MAX(a.duration_ms)
FROM attempts a JOIN events e ON e.id = a.event_id GROUP BY 1, 2, 3
ON CONFLICT (endpoint_id, hour, route_id) DO UPDATE SET
  delivered = delivered + excluded.delivered, failed = failed + excluded.failed,
  l0 = l0 + excluded.l0,
  l1 = l1 + excluded.l1,
  l2 = l2 + excluded.l2,
  l3 = l3 + excluded.l3,
  l4 = l4 + excluded.l4,
  l5 = l5 + excluded.l5,
  l6 = l6 + excluded.l6,
  l7 = l7 + excluded.l7,
  l8 = l8 + excluded.l8,
  l9 = l9 + excluded.l9,
  l10 = l10 + excluded.l10,
  l11 = l11 + excluded.l11,
  max_ms = MAX(max_ms, excluded.max_ms);

-- Only the rollups read these.
DROP INDEX IF EXISTS events_delivered;
DROP INDEX IF EXISTS events_endpoint_delivered;
DROP INDEX IF EXISTS attempts_started;
