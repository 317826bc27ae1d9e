//! The per-invocation context: bindings, settings, and the queue helpers.
//!
//! Binding names match `wrangler.toml`: `DB` (D1), `BODIES` (R2), `DELIVERIES`
//! (the delivery queue's producer).

use crate::hub;
use crate::ledger::{self, Path};
use crate::model::DeliveryMessage;
use crate::settings::Settings;
use crate::store::bodies::Bodies;
use crate::store::Db;
use worker::{BatchMessageBuilder, Env, MessageBuilder, Queue, Result};

/// Cloudflare Queues accept at most 100 messages per `sendBatch`.
const QUEUE_BATCH_MAX: usize = 100;

pub struct Relay {
    pub env: Env,
    pub db: Db,
    pub settings: Settings,
    /// What this invocation tells the live hub, coalesced.
    pub live: hub::Outbox,
}

impl Relay {
    /// The context of one invocation serving `path` (whose capacity ledger
    /// its storage calls count towards).
    pub fn new(env: Env, path: Path) -> Result<Relay> {
        let settings = Settings::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()));
        let db = Db::new(env.d1("DB")?, path);
        Ok(Relay {
            env,
            db,
            settings,
            live: hub::Outbox::default(),
        })
    }

    /// The path this invocation serves.
    pub fn path(&self) -> Path {
        self.db.path()
    }

    pub fn bodies(&self) -> Result<Bodies> {
        Ok(Bodies::new(self.env.bucket("BODIES")?, self.path()))
    }

    pub fn queue(&self) -> Result<Queue> {
        self.env.queue("DELIVERIES")
    }

    pub fn admin_token(&self) -> Option<String> {
        self.env
            .secret("ADMIN_TOKEN")
            .ok()
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
    }

    /// The name of the dead-letter queue whose consumer marks events dead.
    pub fn dead_letter_queue_name(&self) -> String {
        self.env
            .var("DEAD_LETTER_QUEUE")
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "hookrelay-deliveries-dlq".into())
    }
}

/// Sends one delivery message, optionally delayed (capped at the queue's 12 h).
pub async fn enqueue(queue: &Queue, path: Path, event_id: &str, delay_s: u32) -> Result<()> {
    let message = DeliveryMessage {
        event_id: event_id.to_string(),
    };
    let mut builder = MessageBuilder::new(message);
    if delay_s > 0 {
        builder = builder.delay_seconds(delay_s.min(crate::retry::MAX_DELAY_S));
    }
    queue.send(builder.build()).await?;
    ledger::queue_send(path, 1);
    Ok(())
}

/// Sends many delivery messages, in batches of the queue's maximum size.
pub async fn enqueue_many<Id: std::borrow::Borrow<str>>(
    queue: &Queue,
    path: Path,
    event_ids: &[Id],
) -> Result<()> {
    for chunk in event_ids.chunks(QUEUE_BATCH_MAX) {
        let messages = chunk.iter().map(|id| DeliveryMessage {
            event_id: id.borrow().to_string(),
        });
        queue
            .send_batch(BatchMessageBuilder::new().messages(messages).build())
            .await?;
        ledger::queue_send(path, chunk.len() as u64);
    }
    Ok(())
}

pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("crypto.getRandomValues is available in Workers");
    bytes
}

/// Uniform in [0, 1), for jitter.
pub fn random_unit() -> f64 {
    let n = u64::from_be_bytes(random_bytes::<8>()) >> 11;
    n as f64 / (1u64 << 53) as f64
}
