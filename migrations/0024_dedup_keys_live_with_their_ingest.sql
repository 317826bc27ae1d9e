-- A dedup key lives as long as the ingest that holds it, and the key finds
-- its ingest: the store deletes a key with its ingest (compaction,
-- retention, a filtered request's expiry) instead of at the end of its
-- window, and compaction waits for the window to end (an event leaves D1
-- no sooner than DEDUP_WINDOW_S after its receipt, see Settings::
-- compaction_age_ms). So neither the keys' expiry index nor the ingests'
-- index of keys is written: two rows written (as D1 bills them) and some
-- 150 bytes of the working set fewer per webhook. A search by delivery id,
-- and catch-up's question which keys D1 holds, read the keys' primary key.
--
-- `expires_at` still ends the key's window: a request with an expired key
-- takes it over (the key then finds the newer ingest).
--
-- Keys whose ingest already left D1 were waiting for the expiry job, which
-- goes: they go now. That ends their window early only where HOT_WINDOW_S
-- was shorter than DEDUP_WINDOW_S.
DROP INDEX IF EXISTS dedup_keys_expires;   -- (expires_at)
DROP INDEX IF EXISTS ingests_dedup_key;    -- (dedup_key)
DELETE FROM dedup_keys WHERE NOT EXISTS (SELECT 1 FROM ingests WHERE id = dedup_keys.ingest_id);
