//! The per-invocation context: bindings, settings, and the queue helpers.
//!
//! Binding names match `wrangler.toml`: `DB` (the control database, also the
//! first shard), `DB_SHARD_<n>` (further shards, see `core::shards`), `BODIES`
//! (R2), `DELIVERIES` and `DELIVERIES_<n>` (the delivery queues' producers,
//! see `core::queues`).
//!
//! A `Relay` works in one shard (`db`): an endpoint's work is done in the
//! shard it was placed on, through [`Relay::on`]; what is global (API keys,
//! alert channels and rules, refusals, the heartbeat, placements) is in
//! `control`.

use crate::hub;
use crate::ledger::{self, Path};
use crate::model::DeliveryMessage;
use crate::queues;
use crate::settings::Settings;
use crate::shards::{self, ShardName};
use crate::store::bodies::Bodies;
use crate::store::endpoint_cache;
use crate::store::Db;
use std::cell::OnceCell;
use worker::{BatchMessageBuilder, Env, MessageBuilder, Queue, Result};

thread_local! {
    /// The settings as this isolate read them from its variables.
    static SETTINGS: OnceCell<Settings> = const { OnceCell::new() };
}

/// The settings, read from the variables once per isolate: a Worker's
/// variables are fixed for the life of its isolates (a deploy or a
/// restart starts new ones), and reading each of them again cost every
/// request about 2 % of the isolate's CPU (profiled at 32 senders).
fn settings_of(env: &Env) -> Settings {
    SETTINGS.with(|cached| {
        cached
            .get_or_init(|| Settings::from_lookup(|name| env.var(name).ok().map(|v| v.to_string())))
            .clone()
    })
}

pub struct Relay {
    pub env: Env,
    /// The shard this invocation works in (at first the control database).
    pub db: Db,
    /// The control database.
    pub control: Db,
    pub settings: Settings,
    /// What this invocation tells the live hub, coalesced.
    pub live: hub::Outbox,
}

impl Relay {
    /// The context of one invocation serving `path` (whose capacity ledger
    /// its storage calls count towards).
    pub fn new(env: Env, path: Path) -> Result<Relay> {
        let settings = settings_of(&env);
        let control = ShardName::control();
        let db = Db::new(env.d1(control.as_str())?, path, control.clone());
        let control = Db::new(env.d1(control.as_str())?, path, control);
        Ok(Relay {
            env,
            db,
            control,
            settings,
            live: hub::Outbox::default(),
        })
    }

    /// The same invocation, working in `shard`.
    pub fn on(&self, shard: &ShardName) -> Result<Relay> {
        let path = self.path();
        Ok(Relay {
            env: self.env.clone(),
            db: Db::new(self.env.d1(shard.as_str())?, path, shard.clone()),
            control: Db::new(self.env.d1(shards::CONTROL)?, path, ShardName::control()),
            settings: self.settings.clone(),
            live: hub::Outbox::default(),
        })
    }

    /// The same invocation, working in the shard holding the endpoint or
    /// route `id` (the control database for an id never placed).
    pub async fn for_endpoint(&self, id: &str) -> Result<Relay> {
        Ok(self.placed(id).await?.0)
    }

    /// As [`Relay::for_endpoint`], and whether the placement came from the
    /// cache (a miss is a round trip to the control database).
    pub async fn placed(&self, id: &str) -> Result<(Relay, bool)> {
        let ttl_s = self.settings.endpoint_cache_ttl_s;
        let (shard, cached) = endpoint_cache::shard_of(&self.control, id, now_ms(), ttl_s).await?;
        Ok((self.on(&shard)?, cached))
    }

    /// The same invocation once per shard, the control database first.
    pub fn on_every_shard(&self) -> Result<Vec<Relay>> {
        self.shards().iter().map(|shard| self.on(shard)).collect()
    }

    /// Where a read scoped to the endpoint or route `id` looks: its shard;
    /// with no scope, every shard.
    pub async fn for_scope(&self, id: Option<&str>) -> Result<Vec<Relay>> {
        match id {
            Some(id) => Ok(vec![self.for_endpoint(id).await?]),
            None => self.on_every_shard(),
        }
    }

    /// Every shard bound to this Worker, the control database first.
    pub fn shards(&self) -> Vec<ShardName> {
        shards::bound(|name| self.env.d1(name).is_ok())
    }

    /// The shard this invocation works in.
    pub fn shard(&self) -> &ShardName {
        self.db.shard()
    }

    /// The path this invocation serves.
    pub fn path(&self) -> Path {
        self.db.path()
    }

    pub fn bodies(&self) -> Result<Bodies> {
        Ok(Bodies::new(self.env.bucket("BODIES")?, self.path()))
    }

    /// The delivery queue of this invocation's shard: `DELIVERIES` or
    /// `DELIVERIES_<n>`, as many as are bound ([`queues::for_shard`]).
    pub fn deliveries(&self) -> Result<Deliveries> {
        Deliveries::of_shard(&self.env, self.shard(), self.path())
    }

    /// Sends one delivery message for an event of this shard.
    pub async fn enqueue(&self, event_id: &str, delay_s: u32) -> Result<()> {
        self.deliveries()?.send(event_id, delay_s).await
    }

    /// Sends delivery messages for events of this shard.
    pub async fn enqueue_many<Id: std::borrow::Borrow<str>>(&self, event_ids: &[Id]) -> Result<()> {
        self.deliveries()?.send_many(event_ids).await
    }

    /// Sends delivery messages already made (of events of this shard).
    pub async fn enqueue_all(&self, messages: &[DeliveryMessage]) -> Result<()> {
        self.deliveries()?.send_all(messages).await
    }

    pub fn admin_token(&self) -> Option<String> {
        self.env
            .secret("ADMIN_TOKEN")
            .ok()
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
    }

    /// Whether `queue` is a dead-letter queue, whose messages' events are
    /// marked dead: one of those the `DEAD_LETTER_QUEUE` variable lists
    /// (comma-separated; one per delivery queue).
    pub fn is_dead_letter_queue(&self, queue: &str) -> bool {
        let listed = self
            .env
            .var("DEAD_LETTER_QUEUE")
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "hookrelay-deliveries-dlq".into());
        queues::is_dead_letter_queue(queue, &listed)
    }
}

/// The delivery queue of one shard ([`queues::for_shard`]): the messages
/// sent through it name the shard, and count towards `path`'s ledger.
pub struct Deliveries {
    queue: Queue,
    shard: ShardName,
    path: Path,
}

impl Deliveries {
    /// The delivery queue of `shard`, its sends counted towards `path`.
    pub fn of_shard(env: &Env, shard: &ShardName, path: Path) -> Result<Deliveries> {
        let bound = queues::bound(|name| env.queue(name).is_ok());
        let binding = queues::for_shard(shard, bound);
        Ok(Deliveries {
            queue: env.queue(&binding)?,
            shard: shard.clone(),
            path,
        })
    }

    /// Sends one delivery message naming the event only, optionally delayed
    /// (capped at the queue's 12 h).
    pub async fn send(&self, event_id: &str, delay_s: u32) -> Result<()> {
        self.send_message(DeliveryMessage::new(event_id, &self.shard), delay_s)
            .await
    }

    async fn send_message(&self, message: DeliveryMessage, delay_s: u32) -> Result<()> {
        let mut builder = MessageBuilder::new(message);
        if delay_s > 0 {
            builder = builder.delay_seconds(delay_s.min(crate::retry::MAX_DELAY_S));
        }
        self.queue.send(builder.build()).await?;
        ledger::queue_send(self.path, 1);
        Ok(())
    }

    /// Sends delivery messages naming the events only.
    pub async fn send_many<Id: std::borrow::Borrow<str>>(&self, event_ids: &[Id]) -> Result<()> {
        let messages: Vec<DeliveryMessage> = event_ids
            .iter()
            .map(|id| DeliveryMessage::new(id.borrow(), &self.shard))
            .collect();
        self.send_all(&messages).await
    }

    /// Sends delivery messages (of this shard's events), in batches within
    /// the queue's limits ([`queues::send_batches`]).
    pub async fn send_all(&self, messages: &[DeliveryMessage]) -> Result<()> {
        if let [one] = messages {
            return self.send_message(one.clone(), 0).await;
        }
        for batch in queues::send_batches(messages) {
            self.queue
                .send_batch(BatchMessageBuilder::new().messages(batch.to_vec()).build())
                .await?;
            ledger::queue_send(self.path, batch.len() as u64);
        }
        Ok(())
    }
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
