-- Rate limits reserve a slot per event instead of refusing and asking again:
-- a deferred event keeps the slot it was given, so the claim that comes back
-- at that time sends at once (src/rate.rs, src/deliver.rs). NULL: no slot held.
ALTER TABLE events ADD COLUMN rate_slot_at INTEGER;
