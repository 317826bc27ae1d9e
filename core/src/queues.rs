//! Delivery queues: which queue carries the delivery messages of a shard.
//!
//! One Cloudflare queue takes 5,000 messages a second, which binds at about
//! 4,000 webhooks/s (`docs/capacity.md`). Past that, deliveries spread over
//! several queues: the producer bindings `DELIVERIES`, `DELIVERIES_1`,
//! `DELIVERIES_2`, ... (numbered without gaps, as shards are), each consumed
//! by this Worker with its own dead-letter queue. A shard's messages all go to
//! one queue, the shard's number modulo the number of queues, so one
//! endpoint's deliveries keep one queue's order of arrival.
//!
//! Nothing else depends on which queue a message came by: a message names its
//! shard, so any consumer delivers any message. Adding a queue only moves
//! where new messages go; those already sent are consumed where they are.

use crate::model::DeliveryMessage;
use crate::shards::{ShardName, CONTROL, MAX_SHARDS, SHARD_PREFIX};

/// The first delivery queue's producer binding.
pub const DELIVERIES: &str = "DELIVERIES";
/// Further delivery queues are bound as `DELIVERIES_1`, `DELIVERIES_2`, ...
pub const DELIVERIES_PREFIX: &str = "DELIVERIES_";
/// The most delivery queues a relay looks for (one per shard at most is
/// ever useful).
pub const MAX_QUEUES: usize = MAX_SHARDS;

/// The producer binding of the `n`th delivery queue (`0` is `DELIVERIES`).
pub fn binding(n: usize) -> String {
    match n {
        0 => DELIVERIES.to_string(),
        n => format!("{DELIVERIES_PREFIX}{n}"),
    }
}

/// The number a delivery-queue binding name has (`DELIVERIES` is 0), or
/// `None` for any other name.
pub fn parse_binding(name: &str) -> Option<usize> {
    if name == DELIVERIES {
        return Some(0);
    }
    name.strip_prefix(DELIVERIES_PREFIX)
        .filter(|n| !n.starts_with('0'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=MAX_QUEUES).contains(n))
}

/// How many delivery queues are bound: `DELIVERIES`, then `DELIVERIES_1`, ...
/// up to the first number with no binding (`is_bound` says whether one
/// exists). At least one: without `DELIVERIES` the sends fail and the
/// sweeper delivers, as with any failed send.
pub fn bound(is_bound: impl Fn(&str) -> bool) -> usize {
    1 + (1..=MAX_QUEUES)
        .take_while(|&n| is_bound(&binding(n)))
        .count()
}

/// The shard's number: `DB` is 0, `DB_SHARD_<n>` is `n`.
fn shard_number(shard: &ShardName) -> usize {
    match shard.as_str() {
        CONTROL => 0,
        name => name
            .strip_prefix(SHARD_PREFIX)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    }
}

/// The producer binding that carries `shard`'s delivery messages, of
/// `queues` bound.
pub fn for_shard(shard: &ShardName, queues: usize) -> String {
    binding(shard_number(shard) % queues.max(1))
}

/// Whether `queue` (a consumed batch's queue name) is one of the dead-letter
/// queues listed in `dead_letter_queues` (the `DEAD_LETTER_QUEUE` variable:
/// names separated by commas).
pub fn is_dead_letter_queue(queue: &str, dead_letter_queues: &str) -> bool {
    dead_letter_queues
        .split(',')
        .map(str::trim)
        .any(|name| !name.is_empty() && name == queue)
}

/// The most messages one `sendBatch` takes.
pub const BATCH_MESSAGES_MAX: usize = 100;
/// What the relay puts in one `sendBatch` at most, by the messages' JSON
/// size: below the queue's 256 KB per batch, with room for what the queue adds.
pub const BATCH_BYTES_MAX: usize = 192 * 1024;

/// Splits messages into `sendBatch` calls within the queue's limits: at most
/// [`BATCH_MESSAGES_MAX`] messages and [`BATCH_BYTES_MAX`] bytes each (a
/// message alone is always within the bytes, see
/// [`crate::model::CARRIED_BODY_MAX`]), in their order.
pub fn send_batches(messages: &[DeliveryMessage]) -> Vec<&[DeliveryMessage]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, message) in messages.iter().enumerate() {
        let size = message.approximate_size();
        let full = i - start == BATCH_MESSAGES_MAX || bytes + size > BATCH_BYTES_MAX;
        if full && i > start {
            batches.push(&messages[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < messages.len() {
        batches.push(&messages[start..]);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CarriedBody, CARRIED_BODY_MAX};

    fn carrying(n: usize, body_len: usize) -> Vec<DeliveryMessage> {
        let body = CarriedBody::of(&vec![b'x'; body_len], Some(r#"[["x-a","1"]]"#));
        assert!(body.is_some(), "{body_len} bytes are carried");
        (0..n)
            .map(|i| {
                DeliveryMessage::carrying(&format!("evt_{i}"), &ShardName::control(), body.clone())
            })
            .collect()
    }

    #[test]
    fn id_only_messages_go_a_hundred_to_a_batch() {
        let messages: Vec<_> = (0..250)
            .map(|i| DeliveryMessage::new(&format!("evt_{i}"), &ShardName::numbered(1)))
            .collect();
        let sizes: Vec<usize> = send_batches(&messages).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(send_batches(&[]).is_empty());
    }

    #[test]
    fn batches_of_carried_bodies_stay_within_the_queues_bytes_in_order() {
        let messages = carrying(40, CARRIED_BODY_MAX);
        let batches = send_batches(&messages);
        assert!(batches.len() > 1, "40 bodies of 16 KB do not fit one batch");
        for batch in &batches {
            let json: usize = batch
                .iter()
                .map(|m| serde_json::to_string(m).unwrap().len())
                .sum();
            assert!(json <= BATCH_BYTES_MAX, "{json} bytes of JSON in one batch");
            let estimated: usize = batch.iter().map(DeliveryMessage::approximate_size).sum();
            assert!(
                estimated >= json,
                "the estimate ({estimated}) never undercounts ({json})"
            );
        }
        let resent: Vec<&DeliveryMessage> = batches.iter().flat_map(|b| b.iter()).collect();
        assert_eq!(
            resent,
            messages.iter().collect::<Vec<_>>(),
            "every message once, in order"
        );
    }

    #[test]
    fn a_carried_body_round_trips_through_the_message_json_and_a_large_one_is_not_carried() {
        let bytes: Vec<u8> = (0..=255).collect();
        let message = DeliveryMessage::carrying(
            "evt_1",
            &ShardName::control(),
            CarriedBody::of(&bytes, None),
        );
        let json = serde_json::to_string(&message).unwrap();
        assert!(
            json.contains(r#""body":{"bytes":"AAECAw"#),
            "base64 in the JSON: {json}"
        );
        let read: DeliveryMessage = serde_json::from_str(&json).unwrap();
        assert_eq!(read, message);
        assert_eq!(read.body.unwrap().bytes, bytes);
        assert_eq!(CarriedBody::of(&vec![0; CARRIED_BODY_MAX + 1], None), None);
        let bad = r#"{"event_id":"evt_1","body":{"bytes":"not base64!"}}"#;
        assert!(serde_json::from_str::<DeliveryMessage>(bad).is_err());
    }

    #[test]
    fn bindings_are_numbered_from_the_unnumbered_first() {
        assert_eq!(binding(0), "DELIVERIES");
        assert_eq!(binding(2), "DELIVERIES_2");
        assert_eq!(parse_binding("DELIVERIES"), Some(0));
        assert_eq!(parse_binding("DELIVERIES_7"), Some(7));
        for bad in [
            "",
            "DELIVERIES_",
            "DELIVERIES_0",
            "DELIVERIES_01",
            "DELIVERIES_x",
            "deliveries",
            "DB",
        ] {
            assert_eq!(parse_binding(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_queues_bound_stop_at_the_first_gap() {
        let names = ["DELIVERIES", "DELIVERIES_1", "DELIVERIES_3"];
        assert_eq!(bound(|name| names.contains(&name)), 2);
        assert_eq!(bound(|_| false), 1);
    }

    #[test]
    fn a_shard_always_goes_to_the_same_queue_and_the_shards_spread_over_them() {
        let shards: Vec<ShardName> = std::iter::once(ShardName::control())
            .chain((1..=5).map(ShardName::numbered))
            .collect();
        let on_two: Vec<String> = shards.iter().map(|s| for_shard(s, 2)).collect();
        assert_eq!(
            on_two,
            [
                "DELIVERIES",
                "DELIVERIES_1",
                "DELIVERIES",
                "DELIVERIES_1",
                "DELIVERIES",
                "DELIVERIES_1"
            ]
        );
        assert!(shards.iter().all(|s| for_shard(s, 1) == "DELIVERIES"));
        assert_eq!(for_shard(&ShardName::numbered(4), 3), "DELIVERIES_1");
        assert_eq!(for_shard(&ShardName::numbered(4), 0), "DELIVERIES");
    }

    #[test]
    fn dead_letter_queues_are_a_list_of_whole_names() {
        let listed = "hookrelay-deliveries-dlq, hookrelay-deliveries-1-dlq";
        assert!(is_dead_letter_queue("hookrelay-deliveries-dlq", listed));
        assert!(is_dead_letter_queue("hookrelay-deliveries-1-dlq", listed));
        assert!(!is_dead_letter_queue("hookrelay-deliveries", listed));
        assert!(!is_dead_letter_queue("hookrelay-deliveries-1", listed));
        assert!(!is_dead_letter_queue("", "a,,b"));
    }
}
