//! The benchmark's baselines, built like the relay (Rust, the `worker` crate,
//! `worker-build --release` with the workspace's release profile) and run on
//! the same workerd, so `make bench` can put the relay's ack path next to them:
//!
//! - `POST /`: the bare Worker. Reads the whole request body and answers its
//!   length: the least a Rust Worker can do with the same request.
//! - `POST /durable`: the durable floor. Also writes the body to R2 and then
//!   one row to D1 before answering, the two sequential storage round trips
//!   an ack needs to be durable, and nothing else (no signature, no index
//!   beyond the primary key, no queue, no delivery). The relay's ack cannot
//!   cost less than this on the same runtime.

use std::cell::Cell;
use worker::{event, Context, Env, Request, Response, Result};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let body = req.bytes().await?;
    if req.path() == "/durable" {
        store_durably(&env, &body).await?;
    }
    Response::ok(body.len().to_string())
}

thread_local! {
    /// Whether this isolate has created the floor's table (once per isolate,
    /// so the measured requests each make exactly two storage round trips).
    static TABLE_READY: Cell<bool> = const { Cell::new(false) };
    /// Makes each request's object key unique within the isolate.
    static NEXT_KEY: Cell<u64> = const { Cell::new(0) };
}

/// The body to R2, then one row naming it to D1.
async fn store_durably(env: &Env, body: &[u8]) -> Result<()> {
    let db = env.d1("DB")?;
    if !TABLE_READY.get() {
        db.exec("CREATE TABLE IF NOT EXISTS acks (key TEXT PRIMARY KEY, size INTEGER NOT NULL)")
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
    db.prepare("INSERT INTO acks (key, size) VALUES (?1, ?2)")
        .bind(&[key.into(), (body.len() as f64).into()])?
        .run()
        .await?;
    Ok(())
}
