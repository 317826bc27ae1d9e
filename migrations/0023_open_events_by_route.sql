-- An endpoint's open events are its routes' open events: every event's route
-- is the endpoint's first route (whose id is the endpoint's) or one of its
-- extra routes (`source_id` is the endpoint). So the endpoint's counts, its
-- oldest event in flight and the ending of its waiting events read
-- `events_route_open` for each of its routes (`route_id IN (SELECT id FROM
-- endpoints WHERE id = ?1 OR source_id = ?1)`), and `events_endpoint_open`
-- goes: two rows written (as D1 bills them) fewer per webhook, one when its
-- event is received and one when a claim changes its status.
--
-- The list of an endpoint's dead events keeps an index in id order, of the
-- dead only: a happy webhook never enters it. An endpoint's events in
-- another open status are listed by walking its events newest first.
-- Each query's plan is asserted in src/store/plans.rs.
DROP INDEX IF EXISTS events_endpoint_open;   -- (endpoint_id, status, id) WHERE status <> 'delivered'
CREATE INDEX events_endpoint_dead ON events (endpoint_id, id) WHERE status = 'dead';
