//! The `endpoint_shards` table of the control database: the shard each
//! endpoint and route was placed on (migration 0027; see `core::shards`).

use super::{bind, changes, text, Db};
use crate::shards::ShardName;
use serde::Deserialize;
use worker::Result;

/// SQL: the shard an id was placed on.
pub(crate) const PLACED_ON: &str = "SELECT shard FROM endpoint_shards WHERE id = ?1";

#[derive(Deserialize)]
struct PlacementRow {
    shard: String,
}

/// The shard `id` (an `ep_` or `rt_` id) was placed on, or `None` for an id
/// never placed. `control` is the control database.
pub async fn placed_on(control: &Db, id: &str) -> Result<Option<ShardName>> {
    let row: Option<PlacementRow> = bind(control.prepare(PLACED_ON), &[text(id)])?
        .first(None)
        .await?;
    Ok(row.and_then(|r| ShardName::parse(&r.shard)))
}

/// Records `id` as placed on `shard`, before its row is written there, so a
/// row is never in a shard the control database does not name. Placing an id
/// again on the same shard is a no-op; on another, it fails (a placement is
/// never changed).
pub async fn place(control: &Db, id: &str, shard: &ShardName) -> Result<()> {
    let placed = bind(
        control.prepare(
            "INSERT INTO endpoint_shards (id, shard) VALUES (?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET shard = excluded.shard WHERE shard = excluded.shard",
        ),
        &[text(id), text(shard.as_str())],
    )?
    .run()
    .await?;
    if changes(&placed)? == 0 {
        return Err(worker::Error::RustError(format!(
            "{id} is already placed on another shard"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
struct CountRow {
    shard: String,
    endpoints: f64,
}

/// Endpoints (not routes) placed on each shard that has any.
pub async fn endpoints_per_shard(control: &Db) -> Result<Vec<(ShardName, u64)>> {
    let rows: Vec<CountRow> = control
        .prepare(
            "SELECT shard, count(*) AS endpoints FROM endpoint_shards \
             WHERE substr(id, 1, 3) = 'ep_' GROUP BY shard",
        )
        .all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((ShardName::parse(&r.shard)?, r.endpoints as u64)))
        .collect())
}
