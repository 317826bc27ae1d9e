//! `/api/v1/ingests`: the requests an endpoint received, routed or not.
//!
//! An event exists only for a route that accepted a request; an ingest that no
//! route accepted (`filtered`) has none, so this is where it is seen. The list
//! pages like the events list (newest first, a cursor, the same `limit`), and
//! each ingest names its events, so an operator can follow a request to every
//! delivery it became.

use super::events::{DEFAULT_PAGE, MAX_PAGE};
use super::newest_across_shards;
use super::{endpoint_query, limit_query, next_cursor, parsed_query};
use crate::error::{json_response, ApiError};
use crate::headers::HeaderList;
use crate::model::{EndpointId, IngestId, IngestStatus};
use crate::relay::Relay;
use crate::store::bodies;
use crate::store::ingests::{self, IngestSummary, ListFilter};
use crate::time::iso8601;
use crate::views::{IngestDetail, IngestView, Page};
use worker::{Response, Url};

pub async fn list(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let endpoint_id = endpoint_query(url)?;
    let status = parsed_query(
        url,
        "status",
        IngestStatus::parse,
        "status must be routed or filtered",
    )?;
    let cursor = parsed_query(url, "cursor", IngestId::parse, "cursor is not an ingest id")?;
    let limit = limit_query(url, DEFAULT_PAGE, MAX_PAGE)?;
    let filter = ListFilter {
        endpoint_id: endpoint_id.as_ref().map(EndpointId::as_str),
        status,
        before_id: cursor.as_ref().map(IngestId::as_str),
        limit,
    };
    // One endpoint's are in its shard; the others, in every shard.
    let rows = match &endpoint_id {
        Some(id) => ingests::list(&relay.for_endpoint(id.as_str()).await?.db, &filter).await?,
        None => {
            let page = async |shard: &Relay| Ok(ingests::list(&shard.db, &filter).await?);
            newest_across_shards(relay, limit, page, |r| r.id.as_str()).await?
        }
    };
    let data = rows
        .iter()
        .map(view)
        .collect::<Result<Vec<IngestView>, _>>()?;
    let next_cursor = next_cursor(&rows, limit, |r| &r.id);
    Ok(json_response(200, &Page { data, next_cursor })?)
}

/// One ingest with its stored headers (credential headers were never stored).
pub async fn get(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let id = IngestId::parse(raw_id).ok_or_else(|| ApiError::not_found("ingest"))?;
    let row = ingests::summary(&relay.db, id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("ingest"))?;
    let column = row.headers.as_deref().unwrap_or_default();
    let headers = match &row.body_key {
        Some(key) => bodies::ingest_headers(&relay.bodies()?, column, key).await?,
        None => Some(HeaderList::from_stored(column)?),
    }
    .unwrap_or_default();
    let detail = IngestDetail {
        ingest: view(&row)?,
        headers,
    };
    Ok(json_response(200, &detail)?)
}

fn view(row: &IngestSummary) -> Result<IngestView, ApiError> {
    Ok(IngestView {
        id: row.id.clone(),
        endpoint_id: row.endpoint_id.clone(),
        status: row.status.clone(),
        event_type: row.event_type.clone(),
        dedup_key: row.dedup_key.clone(),
        received_at: iso8601(row.received_at as i64),
        body_size: row.body_size as i64,
        content_type: row.content_type.clone(),
        event_ids: serde_json::from_str(&row.event_ids)?,
    })
}
