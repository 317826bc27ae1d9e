//! The benchmark's baseline: a Worker that reads the whole request body and
//! answers its length. It is built like the relay (Rust, the `worker` crate,
//! `worker-build --release` with the workspace's release profile) and run on
//! the same workerd, so `make bench` can put the relay's ack path next to the
//! least a Rust Worker can do with the same request.

use worker::{event, Context, Env, Request, Response, Result};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let body = req.bytes().await?;
    Response::ok(body.len().to_string())
}
