-- Fewer index entries written per event (D1 bills a row for each index entry
-- a write touches, and every status change moves the event in each index that
-- holds its status). Each query's plan is asserted in src/store/plans.rs.
--
-- No query reads these any more: the sweeper finds due events through
-- events_route_inflight, retention through events_endpoint_received.
DROP INDEX IF EXISTS events_due;
DROP INDEX IF EXISTS events_retention;
