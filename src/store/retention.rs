//! Retention: what the sweeper deletes, in bounded batches.
//!
//! Finished events (`delivered`, `dead`) older than their endpoint's retention go
//! with their attempts; an ingest goes when none of its events is left, and its
//! body key is returned so the R2 object is deleted *after* the row. A `filtered`
//! ingest (no events) goes when it is older than its endpoint's retention. In-flight
//! events are never deleted, however old (a paused endpoint may hold them).

use super::{bind, bodies, changes, int, text, Db};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::Result;

const DAY_MS: f64 = 86_400_000.0;

/// An event retention chose, with its ingest.
#[derive(Deserialize)]
pub struct Victim {
    event_id: String,
    ingest_id: String,
}

#[derive(Deserialize)]
struct BodyKey {
    body_key: String,
}

/// Whether an event (the `events` row in scope) is still finished, older
/// than its endpoint's retention, and untouched since retention chose it,
/// with ?2 = now (when it was chosen), ?3 = the default days, ?4 = one day in
/// ms. The deletes check it again, so an event a replay revived after it was
/// chosen stays, with its attempts, ingest and body, even when the replay has
/// already delivered it again.
const STILL_EXPIRED: &str = "events.status IN ('delivered', 'dead') AND events.updated_at < ?2 \
     AND events.received_at < ?2 - COALESCE((SELECT ep.retention_days FROM endpoints ep \
                                             WHERE ep.id = events.endpoint_id), ?3) * ?4";

/// Up to `limit` finished events older than their endpoint's retention, oldest first.
pub async fn expired_events(
    db: &Db,
    now_ms: i64,
    default_days: f64,
    limit: u32,
) -> Result<Vec<Victim>> {
    past_retention(db, &expired_events_sql(), now_ms, default_days, limit).await
}

/// The rows a retention statement returns, bound the way every one of them
/// takes its values: ?1 = now, ?2 = the default days, ?3 = one day in ms, ?4 =
/// the limit.
pub(crate) async fn past_retention<T: DeserializeOwned>(
    db: &Db,
    sql: &str,
    now_ms: i64,
    default_days: f64,
    limit: u32,
) -> Result<Vec<T>> {
    bind(
        db.prepare(sql),
        &[
            int(now_ms),
            JsValue::from_f64(default_days),
            JsValue::from_f64(DAY_MS),
            int(i64::from(limit)),
        ],
    )?
    .all()
    .await?
    .results()
}

/// The statement of [`expired_events`]: ?1 = now, ?2 = the default days, ?3 =
/// one day in ms, ?4 = the limit.
///
/// Driven from the endpoints: for each, `events_endpoint (endpoint_id, id)`
/// yields only its events minted before its own cutoff (an event's id is
/// minted at its receipt, so the bound is the first id of the cutoff's
/// millisecond; the few in flight among them are skipped), instead of every
/// finished event of the relay. `CROSS JOIN` pins that loop order. The
/// sort covers the expired events only. An event made later than its
/// request's receipt (a filtered request replayed) waits until its own id is
/// past the cutoff.
pub(crate) fn expired_events_sql() -> String {
    let cutoff = "?1 - COALESCE(ep.retention_days, ?2) * ?3";
    format!(
        "SELECT e.id AS event_id, e.ingest_id FROM endpoints ep CROSS JOIN events e \
         WHERE e.endpoint_id = ep.id AND e.id < {bound} \
           AND e.status IN ('delivered', 'dead') AND e.received_at < {cutoff} \
         ORDER BY e.id LIMIT ?4",
        bound = super::events::first_event_id_minted_at_sql(cutoff),
    )
}

/// Deletes the chosen events that are still expired, with their attempts, and
/// the ingests they leave empty, in one batch; returns the R2 keys of the
/// bodies no row points at any more.
pub async fn delete_expired(
    db: &Db,
    victims: &[Victim],
    now_ms: i64,
    default_days: f64,
) -> Result<Deleted> {
    if victims.is_empty() {
        return Ok(Deleted::default());
    }
    let event_ids =
        serde_json::to_string(&victims.iter().map(|v| &v.event_id).collect::<Vec<_>>())?;
    let ingest_ids =
        serde_json::to_string(&victims.iter().map(|v| &v.ingest_id).collect::<Vec<_>>())?;
    let expiry = |ids: &str| {
        [
            text(ids),
            int(now_ms),
            JsValue::from_f64(default_days),
            JsValue::from_f64(DAY_MS),
        ]
    };
    let results = db
        .batch(vec![
            bind(
                db.prepare(delete_expired_attempts_sql()),
                &expiry(&event_ids),
            )?,
            bind(db.prepare(delete_expired_events_sql()), &expiry(&event_ids))?,
            bind(
                db.prepare(super::ingests::DELETE_EMPTIED_DEDUP_KEYS),
                &[text(&ingest_ids)],
            )?,
            bind(db.prepare(DELETE_EMPTIED_INGESTS), &[text(&ingest_ids)])?,
            bind(
                db.prepare(super::ingests::DELETE_EMPTIED_SEARCH_VALUES),
                &[text(&ingest_ids)],
            )?,
        ])
        .await?;
    let events = match results.get(1) {
        Some(r) => changes(r)?,
        None => 0,
    };
    let keys: Vec<BodyKey> = match results.get(3) {
        Some(r) => r.results()?,
        None => Vec::new(),
    };
    Ok(Deleted {
        events,
        body_keys: keys.into_iter().map(|k| k.body_key).collect(),
    })
}

/// What one retention batch deleted.
#[derive(Debug, Default)]
pub struct Deleted {
    pub events: usize,
    /// The R2 keys of the bodies no row points at any more.
    pub body_keys: Vec<String>,
}

/// The chosen events (?1, a JSON array of ids) that are still expired, each
/// looked up by its id: `CROSS JOIN` pins the loop order, so the planner
/// cannot prefer a range over every finished event (`status IN (..) AND
/// updated_at < ?2` matches an index too).
fn still_expired_of_chosen() -> String {
    format!(
        "SELECT events.id FROM json_each(?1) chosen CROSS JOIN events ON events.id = chosen.value \
         WHERE {STILL_EXPIRED}"
    )
}

/// The attempts of the chosen events still expired (see [`delete_expired`]).
pub(crate) fn delete_expired_attempts_sql() -> String {
    format!(
        "DELETE FROM attempts WHERE event_id IN ({})",
        still_expired_of_chosen()
    )
}

/// The chosen events still expired (see [`delete_expired`]).
pub(crate) fn delete_expired_events_sql() -> String {
    format!(
        "DELETE FROM events WHERE id IN ({})",
        still_expired_of_chosen()
    )
}

/// Of the chosen ingests (?1, a JSON array of ids: the chosen events', or the
/// filtered ones past retention), those no event is left for.
pub(crate) const DELETE_EMPTIED_INGESTS: &str = concat!(
    "DELETE FROM ingests WHERE id IN (SELECT value FROM json_each(?1)) \
     AND NOT EXISTS (SELECT 1 FROM events e WHERE ",
    event_of_ingest!("e", "ingests.id"),
    ") RETURNING body_key"
);

/// Deletes up to `limit` `filtered` ingests (no route accepted them, so no event
/// will ever expire them) older than their endpoint's retention, with their
/// dedup keys; returns their body keys. A filtered ingest a replay has routed
/// in the meantime has events and waits for them.
pub async fn expire_filtered_ingests(
    db: &Db,
    now_ms: i64,
    default_days: f64,
    limit: u32,
) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Chosen {
        id: String,
    }
    let chosen: Vec<Chosen> =
        past_retention(db, FILTERED_PAST_RETENTION, now_ms, default_days, limit).await?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&chosen.iter().map(|c| &c.id).collect::<Vec<_>>())?;
    let results = db
        .batch(vec![
            bind(
                db.prepare(super::ingests::DELETE_EMPTIED_DEDUP_KEYS),
                &[text(&ids)],
            )?,
            bind(db.prepare(DELETE_EMPTIED_INGESTS), &[text(&ids)])?,
        ])
        .await?;
    let keys: Vec<BodyKey> = match results.get(1) {
        Some(r) => r.results()?,
        None => Vec::new(),
    };
    Ok(keys.into_iter().map(|k| k.body_key).collect())
}

/// The query of [`expire_filtered_ingests`]: ?1 = now, ?2 = the default
/// days, ?3 = one day in ms, ?4 = the limit.
///
/// Driven from the endpoints, as [`EXPIRED_EVENTS`] is: for each, the partial
/// index `ingests_filtered_received (endpoint_id, received_at) WHERE status =
/// 'filtered'` yields only its filtered ingests received before its cutoff.
pub(crate) const FILTERED_PAST_RETENTION: &str =
    "SELECT i.id FROM endpoints ep CROSS JOIN ingests i \
     WHERE i.endpoint_id = ep.id AND i.status = 'filtered' \
       AND i.received_at < ?1 - COALESCE(ep.retention_days, ?2) * ?3 \
     ORDER BY i.received_at LIMIT ?4";

/// Of `keys`, the ones some ingest row still points at. A body's key ends
/// with its ingest's id (`bodies::key_for`), so each is one primary-key
/// lookup; a key of another shape is never referenced.
pub async fn referenced_bodies(db: &Db, keys: &[String]) -> Result<Vec<String>> {
    let ids: Vec<&str> = keys
        .iter()
        .filter_map(|k| bodies::ingest_id_of(k))
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<BodyKey> = bind(
        db.prepare(REFERENCED_BODIES),
        &[text(&serde_json::to_string(&ids)?)],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|r| r.body_key).collect())
}

/// The statement of [`referenced_bodies`]: ?1 = a JSON array of ingest ids,
/// one primary-key lookup each.
pub(crate) const REFERENCED_BODIES: &str =
    "SELECT body_key FROM ingests WHERE id IN (SELECT value FROM json_each(?1))";
