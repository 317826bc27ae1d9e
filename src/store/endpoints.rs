//! The `endpoints` table.

use super::{bind, changes, int, text};
use crate::model::{Endpoint, EndpointId};
use serde::Deserialize;
use worker::{D1Database, Error, Result};

const COLUMNS: &str = "id, name, provider, secrets, relay_secret, destination_url, \
                       retry_schedule, timeout_ms, created_at, updated_at";

#[derive(Deserialize)]
struct Row {
    id: String,
    name: String,
    provider: String,
    secrets: String,
    relay_secret: String,
    destination_url: String,
    retry_schedule: String,
    timeout_ms: f64,
    created_at: f64,
    updated_at: f64,
}

impl Row {
    fn into_endpoint(self) -> Result<Endpoint> {
        let id = EndpointId::parse(&self.id)
            .ok_or_else(|| Error::RustError(format!("bad endpoint id in D1: {}", self.id)))?;
        Ok(Endpoint {
            id,
            name: self.name,
            provider: self.provider,
            secrets: serde_json::from_str(&self.secrets)?,
            relay_secret: self.relay_secret,
            destination_url: self.destination_url,
            retry_schedule_s: serde_json::from_str(&self.retry_schedule)?,
            timeout_ms: self.timeout_ms as u32,
            created_at: self.created_at as i64,
            updated_at: self.updated_at as i64,
        })
    }
}

fn write_args(ep: &Endpoint) -> Result<Vec<wasm_bindgen::JsValue>> {
    Ok(vec![
        text(ep.id.as_str()),
        text(&ep.name),
        text(&ep.provider),
        text(&serde_json::to_string(&ep.secrets)?),
        text(&ep.relay_secret),
        text(&ep.destination_url),
        text(&serde_json::to_string(&ep.retry_schedule_s)?),
        int(i64::from(ep.timeout_ms)),
        int(ep.created_at),
        int(ep.updated_at),
    ])
}

pub async fn insert(db: &D1Database, ep: &Endpoint) -> Result<()> {
    let sql = format!(
        "INSERT INTO endpoints ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    );
    bind(db.prepare(sql), &write_args(ep)?)?.run().await?;
    Ok(())
}

/// Saves every editable field; `false` when the endpoint does not exist (or was deleted).
pub async fn update(db: &D1Database, ep: &Endpoint) -> Result<bool> {
    let sql = "UPDATE endpoints SET name = ?2, provider = ?3, secrets = ?4, relay_secret = ?5, \
               destination_url = ?6, retry_schedule = ?7, timeout_ms = ?8, updated_at = ?10 \
               WHERE id = ?1 AND deleted_at IS NULL";
    let result = bind(db.prepare(sql), &write_args(ep)?)?.run().await?;
    Ok(changes(&result)? > 0)
}

pub async fn get(db: &D1Database, id: &EndpointId) -> Result<Option<Endpoint>> {
    let sql = format!("SELECT {COLUMNS} FROM endpoints WHERE id = ?1 AND deleted_at IS NULL");
    let row: Option<Row> = bind(db.prepare(sql), &[text(id.as_str())])?
        .first(None)
        .await?;
    row.map(Row::into_endpoint).transpose()
}

pub async fn list(db: &D1Database) -> Result<Vec<Endpoint>> {
    let sql = format!("SELECT {COLUMNS} FROM endpoints WHERE deleted_at IS NULL ORDER BY id");
    let rows: Vec<Row> = db.prepare(sql).all().await?.results()?;
    rows.into_iter().map(Row::into_endpoint).collect()
}

pub async fn soft_delete(db: &D1Database, id: &EndpointId, now_ms: i64) -> Result<bool> {
    let sql = "UPDATE endpoints SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1 AND deleted_at IS NULL";
    let result = bind(db.prepare(sql), &[text(id.as_str()), int(now_ms)])?
        .run()
        .await?;
    Ok(changes(&result)? > 0)
}
