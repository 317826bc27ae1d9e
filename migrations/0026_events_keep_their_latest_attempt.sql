-- An event keeps its latest attempt in its own row; the `attempts` table
-- holds the earlier ones. Recording an outcome writes the event's row
-- anyway, so a webhook delivered on its first try writes no attempts row:
-- one row written (as D1 bills it) fewer per webhook, and the attempt's
-- bytes without a second copy of the event's id and a b-tree of its own.
--
-- The latest attempt's number is the event's `attempt_count`. When the next
-- attempt is recorded, the one in the row moves to `attempts` in the same
-- batch, under the same lease (src/store/attempts.rs). Events written before
-- this migration have every attempt in `attempts` and none in the row
-- (`attempt_outcome` NULL); reads take both.
ALTER TABLE events ADD COLUMN attempt_started_at  INTEGER;
ALTER TABLE events ADD COLUMN attempt_duration_ms INTEGER;
ALTER TABLE events ADD COLUMN attempt_status_code INTEGER;
ALTER TABLE events ADD COLUMN attempt_outcome     TEXT;    -- NULL: no attempt in the row
ALTER TABLE events ADD COLUMN attempt_error       TEXT;
ALTER TABLE events ADD COLUMN attempt_snippet     TEXT;
