-- Pull destinations: an endpoint whose events are leased by a client (the
-- `hookrelay listen` CLI) instead of pushed to a URL; and each ingest's event
-- type, so clients and filters can select by it.

ALTER TABLE endpoints ADD COLUMN destination_type TEXT NOT NULL DEFAULT 'push' CHECK (destination_type IN ('push', 'pull'));
ALTER TABLE ingests ADD COLUMN event_type TEXT;
