-- Shards (src/shards.rs in core): which D1 database holds each `endpoints`
-- row (an endpoint, or one of its routes) with everything that is its:
-- routes, live delivery state, dedup keys, ingests, events, attempts.
--
-- Every database (the control database `DB` and each `DB_SHARD_<n>`) gets
-- every migration, so they all have the same tables; this one is read and
-- written in the control database only. `DB` is also the first shard, so the
-- endpoints it already holds are recorded there and nothing moves.
-- A route is placed with its endpoint; a placement is never changed.
CREATE TABLE endpoint_shards (
  id     TEXT PRIMARY KEY,   -- an ep_ or rt_ id
  shard  TEXT NOT NULL       -- the binding name: DB or DB_SHARD_<n>
) WITHOUT ROWID;

INSERT INTO endpoint_shards (id, shard) SELECT id, 'DB' FROM endpoints;
