//! The archive's shapes: where an object lives, how it is encoded, and how D1
//! tells which objects may hold an event without storing every id.
//!
//! Compaction writes the delivered events of one route received in one UTC
//! hour, from one batch, as one object: gzip NDJSON, one event per line, under
//! `archive/<endpoint>/<yyyy-mm-ddThh>/<route>/<first event id>.<batch>.ndjson.gz`. So
//! an endpoint's events of an hour are one prefix, and retention removes whole
//! objects. D1 keeps one `archives` row per object with a Bloom filter of its
//! ids ([`IdFilter`]): finding an archived event by id reads the rows of the
//! hour its id was minted in and fetches only the objects whose filter may hold
//! it (about 1 % false positives at 10 bits per id). The filter also holds each
//! event's dedup key, so a catch-up recognises an event the relay received
//! long ago (objects written before that hold ids only).
//!
//! The filter is written here rather than taken from a crate because it is
//! stored: its bit layout and hashing must never change under the relay, and
//! it is a dozen lines over the SHA-256 the relay already has.

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

pub const PREFIX: &str = "archive/";
/// The most an archive object may hold once decompressed: `COMPACT_BATCH`
/// (at most 5,000) records of at most a few KB each.
pub const MAX_OBJECT_BYTES: u64 = 64 * 1024 * 1024;
/// What an archive object is, as R2 stores it.
pub const CONTENT_TYPE: &str = "application/gzip";

/// Bits per id in the filter: about 1 % false positives with [`HASHES`].
const BITS_PER_ID: usize = 10;
const HASHES: u64 = 7;
/// The smallest filter (bits), so a handful of ids does not give a useless one.
const MIN_BITS: usize = 64;

/// The R2 key of an archive object. `batch` is unique to the compaction batch
/// that writes it: an event replayed after compaction is compacted again, and
/// may then be the first id of a second object of the same hour, which must
/// never overwrite the first.
pub fn object_key(
    endpoint_id: &str,
    route_id: &str,
    hour_ms: i64,
    first_id: &str,
    batch: &str,
) -> String {
    let hour = chrono::DateTime::from_timestamp_millis(hour_ms)
        .map(|t| t.format("%Y-%m-%dT%H").to_string())
        .unwrap_or_else(|| "unknown-hour".into());
    format!("{PREFIX}{endpoint_id}/{hour}/{route_id}/{first_id}.{batch}.ndjson.gz")
}

/// One object's bytes: the lines, newline-terminated, gzip-compressed.
pub fn encode<'a>(lines: impl IntoIterator<Item = &'a str>) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for line in lines {
        gz.write_all(line.as_bytes())?;
        gz.write_all(b"\n")?;
    }
    gz.finish()
}

/// The lines of an object written by [`encode`]; an error when it holds more
/// than `max_bytes` once decompressed (an object is a few hundred events; a
/// larger one is not ours, and is not read into memory).
pub fn decode(bytes: &[u8], max_bytes: u64) -> std::io::Result<Vec<String>> {
    let mut text = String::new();
    GzDecoder::new(bytes)
        .take(max_bytes.saturating_add(1))
        .read_to_string(&mut text)?;
    if text.len() as u64 > max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("archive object larger than {max_bytes} bytes"),
        ));
    }
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// A Bloom filter of event ids, stored as hex in the `archives` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFilter {
    bits: Vec<u8>,
}

impl IdFilter {
    /// A filter sized for `ids`, holding them.
    pub fn of<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> IdFilter {
        let bits = (ids.len() * BITS_PER_ID).max(MIN_BITS).div_ceil(8);
        let mut filter = IdFilter {
            bits: vec![0; bits],
        };
        for id in ids {
            for bit in filter.positions(id) {
                filter.bits[bit / 8] |= 1 << (bit % 8);
            }
        }
        filter
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.bits)
    }

    pub fn from_hex(s: &str) -> Option<IdFilter> {
        let bits = hex::decode(s).ok().filter(|b| !b.is_empty())?;
        Some(IdFilter { bits })
    }

    /// `false`: the id is certainly not inside; `true`: it may be.
    pub fn may_contain(&self, id: &str) -> bool {
        self.positions(id)
            .all(|bit| self.bits[bit / 8] & (1 << (bit % 8)) != 0)
    }

    /// The id's bits, by double hashing over SHA-256 (Kirsch-Mitzenmacher).
    fn positions(&self, id: &str) -> impl Iterator<Item = usize> {
        let digest = Sha256::digest(id.as_bytes());
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&digest[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let (h1, h2) = (word(0), word(8) | 1);
        let m = (self.bits.len() * 8) as u64;
        (0..HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_put_an_endpoints_hour_under_one_prefix() {
        // 2023-11-14T22:00:00Z
        let key = object_key("ep_1", "rt_2", 1_699_999_200_000, "evt_01h", "b1");
        assert_eq!(key, "archive/ep_1/2023-11-14T22/rt_2/evt_01h.b1.ndjson.gz");
    }

    #[test]
    fn objects_round_trip_line_by_line() {
        let lines = vec![
            r#"{"id":"evt_1"}"#.to_string(),
            r#"{"id":"evt_2"}"#.to_string(),
        ];
        let bytes = encode(lines.iter().map(String::as_str)).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip");
        assert_eq!(decode(&bytes, 1 << 20).unwrap(), lines);
        assert!(decode(b"not gzip", 1 << 20).is_err());
        // Decompression stops past the cap.
        assert!(decode(&bytes, 10).is_err());
    }

    #[test]
    fn the_filter_holds_every_id_and_few_others() {
        let ids: Vec<String> = (0..500).map(|i| format!("evt_{i:026}")).collect();
        let filter = IdFilter::of(ids.iter().map(String::as_str));
        assert!(ids.iter().all(|id| filter.may_contain(id)));
        let others = (500..10_500)
            .filter(|i| filter.may_contain(&format!("evt_{i:026}")))
            .count();
        assert!(others < 300, "{others} false positives in 10,000");
        let stored = IdFilter::from_hex(&filter.to_hex()).unwrap();
        assert_eq!(stored, filter);
        assert_eq!(stored.to_hex().len(), 500 * BITS_PER_ID / 4);
        assert!(IdFilter::from_hex("").is_none());
        assert!(IdFilter::from_hex("zz").is_none());
    }

    #[test]
    fn a_small_filter_still_says_no() {
        let filter = IdFilter::of(["evt_a"].into_iter());
        assert!(filter.may_contain("evt_a"));
        assert!(!(0..100).all(|i| filter.may_contain(&format!("evt_{i}"))));
    }
}
