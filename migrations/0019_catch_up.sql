-- Catch-up: an endpoint may hold where its provider's own record of what it
-- sent is read (`catch_up`, JSON with a credential the API never shows; NULL
-- for none and for route rows), and an ingest says how it arrived (`source`:
-- NULL for a webhook sent to the ingest URL, 'catch_up' for one read from the
-- provider's record). NULL costs an ingest no byte beyond its header.
ALTER TABLE endpoints ADD COLUMN catch_up TEXT;
ALTER TABLE ingests ADD COLUMN source TEXT;
