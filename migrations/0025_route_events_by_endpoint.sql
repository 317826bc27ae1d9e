-- A route's events are read as its endpoint's: `events_endpoint` entries
-- carry the route, and `events_route (route_id, id)` goes. For an endpoint
-- with one route (the usual case) the two indexes held the same entries;
-- now an event is written to one of them: one row written (as D1 bills it)
-- fewer per webhook.
--
-- What read `events_route`:
-- - a route's events not delivered (FIFO's line, the waiting events a resume
--   or a closing circuit drains, the head of the line) read
--   `events_route_open (route_id, status, ...)`, which holds only those;
-- - a route's list and its counts read its endpoint's entries
--   (`endpoint_id = <the route's source, or itself>`) and keep those of the
--   route, without reading the rows.
-- Each query's plan is asserted in src/store/plans.rs.
--
-- On a database holding millions of events, apply this after compaction has
-- drained the working set to its hot window: it rebuilds one index.
DROP INDEX IF EXISTS events_route;     -- (route_id, id)
DROP INDEX IF EXISTS events_endpoint;  -- (endpoint_id, id)
CREATE INDEX events_endpoint ON events (endpoint_id, id, route_id);
