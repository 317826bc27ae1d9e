//! The events list's search parameters, checked: `event_type` (exact, or a prefix
//! with a trailing `*`), `since` / `until` (RFC 3339 or unix milliseconds) and
//! `q` (an event id or a provider delivery id).
//!
//! Pure: each parser turns the raw query value into what `store::events::list`
//! binds, or a message that says what was wrong. A prefix becomes a range of
//! strings (`>= prefix AND < successor`), which an index can serve, instead of a
//! pattern whose own `*`, `?` or `[` would need escaping.
//!
//! A pull lease's `event_types` are patterns where `*` is any run of characters,
//! anywhere (the rule of a route's `event_types` and of `hookrelay listen
//! --events`); [`validate_event_types`] turns them into SQLite `GLOB` patterns
//! that match exactly the same types and that D1 will run.

use crate::dedup;
use crate::event_pattern::EventTypePattern;
use crate::model::EventId;

/// Longest `event_type` accepted; providers' names are far shorter.
const MAX_EVENT_TYPE_LEN: usize = 200;
/// Longest `q` accepted.
const MAX_LOOKUP_LEN: usize = 512;
/// Unix milliseconds beyond this are not a date (and not exact as a JS number).
const MAX_UNIX_MS: i64 = 1 << 53;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTypeFilter {
    Exact(String),
    /// Types `>= from` and, when there is a bound, `< before`: exactly the types
    /// that start with the prefix.
    Prefix {
        from: String,
        before: Option<String>,
    },
}

impl EventTypeFilter {
    /// Whether an event of type `event_type` passes, as the SQL conditions
    /// built from the filter decide it (for rows read outside D1: the archive).
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            EventTypeFilter::Exact(name) => event_type == name,
            EventTypeFilter::Prefix { from, before } => {
                event_type >= from.as_str() && before.as_deref().is_none_or(|b| event_type < b)
            }
        }
    }
}

/// `payment_intent.succeeded` matches that type only; `payment_intent.*` every type
/// starting with `payment_intent.`; a lone `*` every event that has a type. An
/// [`EventTypePattern`] like any other, limited to one `*` at the end so the
/// list can read it as a range of its index.
pub fn parse_event_type(raw: &str) -> Result<EventTypeFilter, String> {
    if raw.len() > MAX_EVENT_TYPE_LEN {
        return Err(format!(
            "event_type must be 1 to {MAX_EVENT_TYPE_LEN} characters"
        ));
    }
    let pattern = EventTypePattern::parse(raw).map_err(|e| format!("event_type: {e}"))?;
    let raw = pattern.as_str();
    let one_star_at_the_end = || "event_type may hold one `*`, at the end (a prefix)".to_string();
    match raw.strip_suffix('*') {
        Some(prefix) if prefix.contains('*') => Err(one_star_at_the_end()),
        Some(prefix) => Ok(EventTypeFilter::Prefix {
            from: prefix.to_string(),
            before: successor(prefix),
        }),
        None if raw.contains('*') => Err(one_star_at_the_end()),
        None => Ok(EventTypeFilter::Exact(raw.to_string())),
    }
}

/// The smallest string greater than every string that starts with `prefix`, in
/// code point order (SQLite's BINARY collation compares UTF-8 bytes, which is the
/// same order): the prefix with its last character stepped up. `None` when no
/// such string exists (an empty prefix, or one made only of U+10FFFF).
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 {
            0xD7FF => Some('\u{E000}'),
            c => char::from_u32(c + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A time as [`parse_instant`] reads it, for the API's schema of the events
/// list's `since` and `until`.
pub struct InstantQuery;

impl schemars::JsonSchema for InstantQuery {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "InstantQuery".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A time: RFC 3339 with an offset (`2024-05-01T12:00:00Z`), a date (`2024-05-01`, UTC midnight), or unix milliseconds",
            "anyOf": [
                { "type": "string", "format": "date-time" },
                { "type": "string", "format": "date" },
                { "type": "string", "pattern": "^[0-9]{1,16}$" },
            ],
        })
    }
}

/// An instant given as RFC 3339 (`2024-05-01T12:00:00Z`, any offset, fractions
/// allowed), a date (`2024-05-01`, UTC midnight) or unix milliseconds. Returns
/// unix milliseconds.
pub fn parse_instant(raw: &str) -> Option<i64> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse::<i64>().ok().filter(|ms| *ms <= MAX_UNIX_MS);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(t.timestamp_millis()).filter(|ms| (0..=MAX_UNIX_MS).contains(ms));
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let ms = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    (raw.len() == 10 && (0..=MAX_UNIX_MS).contains(&ms)).then_some(ms)
}

pub use crate::event_pattern::MAX_GLOB_PATTERN_BYTES;
/// How many `event_types` patterns one pull lease may name.
pub const MAX_PULL_EVENT_TYPES: usize = 20;

/// An event-type pattern as a SQLite `GLOB` pattern that matches the same
/// types ([`EventTypePattern::to_glob`]); `Err` names why the pattern is
/// refused.
pub fn glob_pattern(event_type_pattern: &str) -> Result<String, String> {
    EventTypePattern::parse(event_type_pattern)
        .and_then(|p| p.to_glob())
        .map_err(|e| e.0)
}

/// A pull lease's `event_types`, checked: at most [`MAX_PULL_EVENT_TYPES`]
/// patterns, each accepted by [`glob_pattern`]. Returns their `GLOB` forms in
/// the given order; a message names the first bad pattern by its index
/// (`event_types[2]: ...`). An empty list gives an empty list: no patterns, no
/// filter, as the lease treats it.
pub fn validate_event_types(patterns: &[String]) -> Result<Vec<String>, String> {
    if patterns.len() > MAX_PULL_EVENT_TYPES {
        return Err(format!(
            "event_types may hold at most {MAX_PULL_EVENT_TYPES} patterns; it has {}",
            patterns.len()
        ));
    }
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| glob_pattern(p).map_err(|e| format!("event_types[{i}]: {e}")))
        .collect()
}

/// What `q` can name: an event by its id, the events of an ingest by its
/// provider delivery id, or the events whose body holds it at one of their
/// endpoint's search fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// `q` as given: a search field value is matched exactly.
    pub value: String,
    /// Set when `q` has the shape of an event id.
    pub event_id: Option<String>,
    /// The stored dedup keys `q` may be: the key as the API shows it
    /// (`id:…`, `sha256:…`) and the key the relay makes of a raw provider id.
    pub dedup_keys: Vec<String>,
}

/// Both readings are kept: a Stripe delivery id (`evt_…`) has the shape of an
/// event id too.
pub fn parse_lookup(raw: &str) -> Result<Lookup, String> {
    if raw.is_empty() || raw.len() > MAX_LOOKUP_LEN {
        return Err(format!("q must be 1 to {MAX_LOOKUP_LEN} characters"));
    }
    if raw.chars().any(char::is_control) {
        return Err("q must not contain control characters".into());
    }
    let mut dedup_keys = vec![raw.to_string()];
    let made = dedup::key_for_delivery_id(raw);
    if made != raw {
        dedup_keys.push(made);
    }
    Ok(Lookup {
        value: raw.to_string(),
        event_id: EventId::parse(raw).map(|id| id.as_str().to_string()),
        dedup_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_matches_as_its_sql_does() {
        let exact = parse_event_type("push").unwrap();
        assert!(exact.matches("push") && !exact.matches("push.x") && !exact.matches("pus"));
        let prefix = parse_event_type("payment_intent.*").unwrap();
        assert!(prefix.matches("payment_intent.succeeded"));
        assert!(prefix.matches("payment_intent."));
        assert!(!prefix.matches("payment_intent") && !prefix.matches("payment_intent/x"));
        let any = parse_event_type("*").unwrap();
        assert!(any.matches("") && any.matches("anything"));
    }

    fn prefix(from: &str, before: Option<&str>) -> EventTypeFilter {
        EventTypeFilter::Prefix {
            from: from.into(),
            before: before.map(Into::into),
        }
    }

    #[test]
    fn event_type_exact_or_trailing_star_prefix() {
        assert_eq!(
            parse_event_type("payment_intent.succeeded"),
            Ok(EventTypeFilter::Exact("payment_intent.succeeded".into()))
        );
        assert_eq!(
            parse_event_type("payment_intent.*"),
            Ok(prefix("payment_intent.", Some("payment_intent/")))
        );
        assert_eq!(
            parse_event_type("orders/*"),
            Ok(prefix("orders/", Some("orders0")))
        );
        assert_eq!(parse_event_type("*"), Ok(prefix("", None)));
    }

    #[test]
    fn event_type_refusals() {
        for bad in ["", "a*b", "*.created", "a**", "pay\nment", &"x".repeat(201)] {
            assert!(parse_event_type(bad).is_err(), "{bad:?}");
        }
        assert!(parse_event_type(&"x".repeat(200)).is_ok());
    }

    #[test]
    fn a_prefix_range_holds_exactly_the_types_that_start_with_it() {
        let types = [
            "payment_intent",
            "payment_intent.",
            "payment_intent.created",
            "payment_intent.succeeded",
            "payment_intent/x",
            "payment_intents.x",
            "payment_intent-x",
            "payment_intent.\u{10FFFF}",
            "charge.refunded",
            "Payment_intent.created",
            "payment_intent.é",
        ];
        for pattern in ["payment_intent.*", "payment_*", "p*", "é*", "a\u{D7FF}*"] {
            let EventTypeFilter::Prefix { from, before } = parse_event_type(pattern).unwrap()
            else {
                panic!("{pattern} is a prefix");
            };
            for t in types.iter().copied().chain([
                "a\u{D7FF}",
                "a\u{D7FF}z",
                "a\u{E000}",
                "é",
                "éa",
                "ê",
            ]) {
                let in_range = t >= from.as_str() && before.as_deref().is_none_or(|b| t < b);
                assert_eq!(in_range, t.starts_with(from.as_str()), "{pattern} vs {t:?}");
                // SQLite compares the UTF-8 bytes; the order must agree.
                let bytes_in_range = t.as_bytes() >= from.as_bytes()
                    && before
                        .as_deref()
                        .is_none_or(|b| t.as_bytes() < b.as_bytes());
                assert_eq!(bytes_in_range, in_range, "{pattern} vs {t:?} in byte order");
            }
        }
    }

    #[test]
    fn successor_steps_over_surrogates_and_the_last_code_point() {
        assert_eq!(successor("a"), Some("b".into()));
        assert_eq!(successor("a\u{D7FF}"), Some("a\u{E000}".into()));
        assert_eq!(successor("a\u{10FFFF}"), Some("b".into()));
        assert_eq!(successor("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(successor(""), None);
    }

    #[test]
    fn instants_as_rfc3339_dates_or_unix_milliseconds() {
        let cases = [
            ("2023-11-14T22:13:20.123Z", 1_700_000_000_123),
            ("2023-11-14T22:13:20Z", 1_700_000_000_000),
            ("2023-11-14T23:13:20+01:00", 1_700_000_000_000),
            ("2023-11-14t22:13:20z", 1_700_000_000_000),
            ("2023-11-14", 1_699_920_000_000),
            ("1700000000123", 1_700_000_000_123),
            ("0", 0),
        ];
        for (raw, ms) in cases {
            assert_eq!(parse_instant(raw), Some(ms), "{raw}");
        }
    }

    #[test]
    fn instants_refused() {
        for bad in [
            "",
            "yesterday",
            "2023-11-14T22:13:20",
            "2023-11-14 22:13",
            "2023-13-01",
            "2023-11-14Z",
            "-5",
            "1.5",
            "17e11",
            "99999999999999999999",
            "9007199254740993",
            "1969-12-31T23:59:59Z",
            "+2023-11-14",
            " 2023-11-14",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad:?}");
        }
    }

    /// SQLite's `GLOB` (func.c `patternCompare`): `*`, `?`, and `[...]` classes
    /// with `^` negation, `a-z` ranges and a leading `]` taken literally; any
    /// other character, `]` included, stands for itself.
    fn sqlite_glob(pattern: &[char], text: &[char]) -> bool {
        match pattern.first() {
            None => text.is_empty(),
            Some('*') => (0..=text.len()).any(|i| sqlite_glob(&pattern[1..], &text[i..])),
            Some('?') => !text.is_empty() && sqlite_glob(&pattern[1..], &text[1..]),
            Some('[') => {
                let Some(&c) = text.first() else {
                    return false;
                };
                let mut i = 1;
                let invert = pattern.get(i) == Some(&'^');
                if invert {
                    i += 1;
                }
                let mut seen = false;
                if pattern.get(i) == Some(&']') {
                    seen = c == ']';
                    i += 1;
                }
                let mut prior: Option<char> = None;
                while i < pattern.len() && pattern[i] != ']' {
                    let range_end = pattern.get(i + 1).filter(|&&e| e != ']');
                    match (pattern[i], prior, range_end) {
                        ('-', Some(lo), Some(&hi)) => {
                            seen |= (lo..=hi).contains(&c);
                            prior = None;
                            i += 2;
                        }
                        (p, _, _) => {
                            seen |= c == p;
                            prior = Some(p);
                            i += 1;
                        }
                    }
                }
                i < pattern.len() && seen != invert && sqlite_glob(&pattern[i + 1..], &text[1..])
            }
            Some(&p) => text.first() == Some(&p) && sqlite_glob(&pattern[1..], &text[1..]),
        }
    }

    /// The event-type rule the patterns come with: `*` any run, all else literal.
    fn wildcard(pattern: &[char], text: &[char]) -> bool {
        match pattern.first() {
            None => text.is_empty(),
            Some('*') => (0..=text.len()).any(|i| wildcard(&pattern[1..], &text[i..])),
            Some(&p) => text.first() == Some(&p) && wildcard(&pattern[1..], &text[1..]),
        }
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn glob_patterns_escape_every_metacharacter_but_the_star() {
        let cases = [
            ("charge.succeeded", "charge.succeeded"),
            ("charge.*", "charge.*"),
            ("*", "*"),
            ("*.paid", "*.paid"),
            ("a?b", "a[?]b"),
            ("?", "[?]"),
            ("a[b]c", "a[[]b]c"),
            ("[", "[[]"),
            ("]", "]"),
            ("[]", "[[]]"),
            ("[^a]", "[[]^a]"),
            ("[a-z]", "[[]a-z]"),
            ("*?", "*[?]"),
            ("a**b***", "a*b*"),
            ("orders/*", "orders/*"),
            ("é.*", "é.*"),
            ("Charge.*", "Charge.*"),
        ];
        for (pattern, glob) in cases {
            assert_eq!(glob_pattern(pattern).as_deref(), Ok(glob), "{pattern}");
        }
    }

    #[test]
    fn glob_patterns_match_exactly_what_the_event_type_pattern_matches() {
        let patterns = [
            "a?b", "?", "a[b]c", "[x", "x]", "[]", "[^a]", "[a-z]", "a-z", "*?*", "a*?",
            "charge.*", "*", "*.paid", "a**b", "é*", "*[*", "?*]", "exact",
        ];
        let texts = [
            "",
            "a?b",
            "aXb",
            "ab",
            "a??b",
            "?",
            "x",
            "a[b]c",
            "abc",
            "a]c",
            "[x",
            "x]",
            "[]",
            "]",
            "[",
            "[^a]",
            "b",
            "^",
            "[a-z]",
            "m",
            "a-z",
            "a",
            "a?",
            "aa?",
            "?b",
            "charge.",
            "charge.x",
            "charge",
            "invoice.paid",
            "é",
            "éa",
            "e",
            "a*b",
            "aXYb",
            "x[y",
            "x[",
            "?]",
            "y?z]",
            "exact",
            "exactly",
        ];
        for pattern in patterns {
            let glob = chars(&glob_pattern(pattern).unwrap());
            for text in texts {
                assert_eq!(
                    sqlite_glob(&glob, &chars(text)),
                    wildcard(&chars(pattern), &chars(text)),
                    "{pattern:?} as {:?} against {text:?}",
                    String::from_iter(&glob)
                );
            }
        }
        // The two readings really differ for unescaped patterns.
        assert!(sqlite_glob(&chars("a?b"), &chars("aXb")));
        assert!(!sqlite_glob(&chars("a[?]b"), &chars("aXb")));
        assert!(sqlite_glob(&chars("a[?]b"), &chars("a?b")));
    }

    #[test]
    fn glob_patterns_fit_d1s_50_byte_limit() {
        let at_limit = "x".repeat(MAX_GLOB_PATTERN_BYTES);
        assert_eq!(glob_pattern(&at_limit), Ok(at_limit.clone()));
        let err = glob_pattern(&"x".repeat(MAX_GLOB_PATTERN_BYTES + 1)).unwrap_err();
        assert!(
            err.contains("at most 50 bytes") && err.contains("takes 51"),
            "{err}"
        );
        // Escapes count: 16 `?` are 48 bytes, 17 are 51.
        assert_eq!(glob_pattern(&"?".repeat(16)).unwrap().len(), 48);
        assert!(glob_pattern(&"?".repeat(17)).is_err());
        assert!(glob_pattern(&format!("{}[", "x".repeat(48))).is_err());
        assert!(glob_pattern(&format!("{}]", "x".repeat(49))).is_ok());
        // Bytes, not characters: `é` is two.
        assert!(glob_pattern(&"é".repeat(25)).is_ok());
        assert!(glob_pattern(&format!("{}x", "é".repeat(25))).is_err());
        // A run of stars is one star.
        assert_eq!(
            glob_pattern(&format!("a{}", "*".repeat(100))),
            Ok("a*".into())
        );
    }

    #[test]
    fn glob_pattern_refusals() {
        for bad in ["", "a\nb", "\0", "charge.\t*"] {
            assert!(glob_pattern(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn event_types_become_glob_patterns_in_order() {
        let given: Vec<String> = ["charge.*", "a?b", "invoice.paid"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            validate_event_types(&given),
            Ok(vec![
                "charge.*".into(),
                "a[?]b".into(),
                "invoice.paid".into()
            ])
        );
        assert_eq!(validate_event_types(&[]), Ok(vec![]));
    }

    #[test]
    fn event_types_refusals_name_the_pattern() {
        let twenty: Vec<String> = (0..MAX_PULL_EVENT_TYPES).map(|i| format!("t{i}")).collect();
        assert_eq!(validate_event_types(&twenty).unwrap().len(), 20);
        let mut twenty_one = twenty.clone();
        twenty_one.push("t20".into());
        let err = validate_event_types(&twenty_one).unwrap_err();
        assert!(err.contains("at most 20 patterns"), "{err}");

        let with_empty = ["charge.*".to_string(), String::new()];
        let err = validate_event_types(&with_empty).unwrap_err();
        assert!(err.starts_with("event_types[1]: "), "{err}");
        let with_long = ["ok".to_string(), "?".repeat(20), String::new()];
        let err = validate_event_types(&with_long).unwrap_err();
        assert!(
            err.starts_with("event_types[1]: ") && err.contains("50 bytes"),
            "{err}"
        );
    }

    #[test]
    fn q_is_an_event_id_and_a_delivery_id() {
        let github = parse_lookup("72d3162e-cc78-11e3-81ab-4c9367dc0958").unwrap();
        assert_eq!(github.event_id, None);
        assert_eq!(
            github.dedup_keys,
            [
                "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                "id:72d3162e-cc78-11e3-81ab-4c9367dc0958"
            ]
        );
        // A Stripe event id looks like one of ours: both readings are searched.
        let stripe = parse_lookup("evt_1NG8Du2eZvKYlo2CUI4xkKzE").unwrap();
        assert_eq!(
            stripe.event_id.as_deref(),
            Some("evt_1NG8Du2eZvKYlo2CUI4xkKzE")
        );
        assert_eq!(stripe.dedup_keys[1], "id:evt_1NG8Du2eZvKYlo2CUI4xkKzE");
        let shown = parse_lookup("sha256:abc").unwrap();
        assert_eq!(shown.dedup_keys[0], "sha256:abc");
        let long = "d".repeat(201);
        let hashed = parse_lookup(&long).unwrap();
        assert_eq!(
            hashed.dedup_keys[1],
            format!("id-sha256:{}", dedup::sha256_hex(long.as_bytes()))
        );
    }

    #[test]
    fn q_refusals() {
        assert!(parse_lookup("").is_err());
        assert!(parse_lookup("a\tb").is_err());
        assert!(parse_lookup(&"x".repeat(513)).is_err());
        assert!(parse_lookup(&"x".repeat(512)).is_ok());
    }
}
