-- The hourly rollups count failed attempts by outcome, each in a column named
-- as the outcome (core/src/stats.rs, FAILED_OUTCOMES), so the metrics'
-- attempts by outcome come from the rollups: a counter that compaction does
-- not lower, read without touching a single attempt. Rewriting a rollup row
-- that the attempt's batch writes anyway: no row written more per webhook.
ALTER TABLE rollups ADD COLUMN rate_limited    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN server_error    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN client_error    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN gone            INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN timeout         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN network_error   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN transform_error INTEGER NOT NULL DEFAULT 0;

-- The failed attempts still in D1 (the earlier ones in `attempts`, the latest
-- in its event's row), by the hour they started. Those already compacted
-- stay counted in `failed` only; the metrics call them `unclassified`.
INSERT INTO rollups (endpoint_id, hour, route_id, rate_limited, server_error, client_error,
                     gone, timeout, network_error, transform_error)
SELECT endpoint_id, hour, route_id,
       SUM(outcome = 'rate_limited'), SUM(outcome = 'server_error'), SUM(outcome = 'client_error'),
       SUM(outcome = 'gone'), SUM(outcome = 'timeout'), SUM(outcome = 'network_error'),
       SUM(outcome = 'transform_error')
FROM (
  SELECT e.endpoint_id AS endpoint_id, a.started_at / 3600000 * 3600000 AS hour,
         COALESCE(e.route_id, e.endpoint_id) AS route_id, a.outcome AS outcome
  FROM attempts a JOIN events e ON e.id = a.event_id
  UNION ALL
  SELECT endpoint_id, attempt_started_at / 3600000 * 3600000, COALESCE(route_id, endpoint_id),
         attempt_outcome
  FROM events WHERE attempt_outcome IS NOT NULL
)
WHERE outcome <> 'delivered'
GROUP BY 1, 2, 3
ON CONFLICT (endpoint_id, hour, route_id) DO UPDATE SET
  rate_limited = excluded.rate_limited, server_error = excluded.server_error,
  client_error = excluded.client_error, gone = excluded.gone, timeout = excluded.timeout,
  network_error = excluded.network_error, transform_error = excluded.transform_error;
