//! The benchmark's baselines, built like the relay (Rust, the `worker` crate,
//! `worker-build --release` with the workspace's release profile) and run on
//! the same workerd, so `make bench` can put the relay next to them:
//!
//! - `POST /`: the bare Worker. Reads the whole request body and answers its
//!   length: the least a Rust Worker can do with the same request.
//! - `POST /minimal`: the minimal relay, the storage steps of the relay's
//!   ack and delivery and nothing else, so the bench can tell what the local
//!   storage costs from what the relay adds. Before the answer, the body to
//!   R2 and then one row to D1 (the two sequential storage round trips of a
//!   durable ack); after it, one queue message carrying the body (one send
//!   per request: the relay gathers the sends of concurrent acks, so this is
//!   a reference, not a lower bound). Its consumer claims a batch's rows in
//!   one statement, posts each body to `MINIMAL_DESTINATION`, and records
//!   the deliveries in one batch. No signature, dedup, index beyond the
//!   primary key, live stream, rollup, retry or log line. It assumes a text
//!   body (the bench's is JSON).
//! - `POST /durable`: the durable ack alone, the minimal relay's steps
//!   before its answer (the body to R2, then one row to D1) and nothing
//!   after: no queue message, no delivery. What any relay that acks only
//!   once the body is stored must do per request, at the least.

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::HashSet;
use wasm_bindgen::JsValue;
use worker::{
    console_error, event, Context, D1Database, Env, Fetch, MessageBatch, Method, Request,
    RequestInit, Response, Result,
};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    let body = req.bytes().await?;
    let length = body.len().to_string();
    match req.path().as_str() {
        "/durable" => {
            store_durably(&env, &body).await?;
        }
        "/minimal" => {
            let key = store_durably(&env, &body).await?;
            let queue = env.queue("DELIVERIES")?;
            let message = Stored {
                key,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            ctx.wait_until(async move {
                if let Err(err) = queue.send(message).await {
                    console_error!("queue send failed: {err}");
                }
            });
        }
        _ => {}
    }
    Response::ok(length)
}

/// The minimal relay's queue message: the row's key and the body.
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    body: String,
}

/// A claimed row's key, as D1 returns it.
#[derive(Deserialize)]
struct Claimed {
    key: String,
}

thread_local! {
    /// Whether this isolate has created the minimal relay's table (once per isolate,
    /// so the measured requests each make exactly two storage round trips).
    static TABLE_READY: Cell<bool> = const { Cell::new(false) };
    /// Makes each request's object key unique within the isolate.
    static NEXT_KEY: Cell<u64> = const { Cell::new(0) };
}

/// The body to R2, then one row naming it to D1; the row's key.
async fn store_durably(env: &Env, body: &[u8]) -> Result<String> {
    let db = env.d1("DB")?;
    if !TABLE_READY.get() {
        db.exec("CREATE TABLE IF NOT EXISTS acks (key TEXT PRIMARY KEY, size INTEGER NOT NULL, status TEXT NOT NULL)")
            .await?;
        TABLE_READY.set(true);
    }
    let key = format!(
        "{}-{}",
        worker::Date::now().as_millis(),
        NEXT_KEY.replace(NEXT_KEY.get() + 1)
    );
    env.bucket("BODIES")?
        .put(&key, body.to_vec())
        .execute()
        .await?;
    db.prepare("INSERT INTO acks (key, size, status) VALUES (?1, ?2, 'stored')")
        .bind(&[key.clone().into(), (body.len() as f64).into()])?
        .run()
        .await?;
    Ok(key)
}

#[event(queue)]
async fn queue(batch: MessageBatch<Stored>, env: Env, _ctx: Context) -> Result<()> {
    let messages = batch.messages()?;
    let db = env.d1("DB")?;
    let keys: Vec<&str> = messages.iter().map(|m| m.body().key.as_str()).collect();
    let claimed = claim(&db, &keys).await?;
    let destination = env.var("MINIMAL_DESTINATION")?.to_string();
    let posts = messages
        .iter()
        .map(|m| m.body())
        .filter(|stored| claimed.contains(&stored.key))
        .map(|stored| post(&destination, stored));
    let delivered: Vec<&str> = join_all(posts).await.into_iter().flatten().collect();
    let records = delivered.iter().map(|key| {
        db.prepare("UPDATE acks SET status = 'delivered' WHERE key = ?1")
            .bind(&[(*key).into()])
    });
    db.batch(records.collect::<Result<Vec<_>>>()?).await?;
    batch.ack_all();
    Ok(())
}

/// Takes the rows of `keys` still waiting, in one statement.
async fn claim(db: &D1Database, keys: &[&str]) -> Result<HashSet<String>> {
    let marks: Vec<String> = (1..=keys.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "UPDATE acks SET status = 'delivering' WHERE status = 'stored' AND key IN ({}) RETURNING key",
        marks.join(",")
    );
    let binds: Vec<JsValue> = keys.iter().map(|k| (*k).into()).collect();
    let rows = db.prepare(sql).bind(&binds)?.all().await?;
    Ok(rows
        .results::<Claimed>()?
        .into_iter()
        .map(|c| c.key)
        .collect())
}

/// Posts one body to the destination; its key when the answer was a 2xx.
async fn post<'a>(destination: &str, stored: &'a Stored) -> Option<&'a str> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&stored.body)));
    let request = Request::new_with_init(destination, &init).ok()?;
    let response = Fetch::Request(request).send().await.ok()?;
    (200..300)
        .contains(&response.status_code())
        .then_some(stored.key.as_str())
}
