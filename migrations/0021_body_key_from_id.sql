-- An ingest's body key is `bodies/<yyyy-mm-dd of received_at>/<id>`
-- (src/store/bodies.rs, key_for): its id and receipt time say it, so a new
-- row stores none (`kept_body_key` is '') and `body_key` computes it, at no
-- byte of D1's working set. Rows written before, and ingests restored from
-- the archive, keep the key they were stored under.
ALTER TABLE ingests RENAME COLUMN body_key TO kept_body_key;
ALTER TABLE ingests ADD COLUMN body_key TEXT GENERATED ALWAYS AS (
  CASE kept_body_key
    WHEN '' THEN 'bodies/' || strftime('%Y-%m-%d', received_at / 1000, 'unixepoch') || '/' || id
    ELSE kept_body_key
  END
) VIRTUAL;
