//! `GET /api/v1/stream` (viewer; `?endpoint_id=` optional): a
//! `text/event-stream` with one `event` message per status change of an
//! event, and a comment at least every 15 s (see [`crate::hub`]).

use super::endpoint_query;
use crate::error::ApiError;
use crate::hub;
use crate::relay::Relay;
use worker::{Response, Url};

pub async fn open(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let endpoint_id = endpoint_query(url)?;
    Ok(hub::open_stream(relay, endpoint_id.as_ref()).await?)
}
