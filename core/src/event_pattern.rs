//! One event-type pattern, the same everywhere an operator names event types:
//! a route's `event_types`, a pull lease's `event_types` (run in SQL as a
//! `GLOB`), and the command line's `--events`. `*` stands for any run of
//! characters, anywhere; every other character stands for itself, case and
//! all. A pattern is non-empty and has no control characters; an event without
//! a type matches no pattern.

use std::fmt;

/// A checked pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypePattern(String);

/// The longest `LIKE` / `GLOB` pattern D1 runs, in bytes (its
/// `SQLITE_MAX_LIKE_PATTERN_LENGTH`); a longer one fails the whole statement
/// with "LIKE or GLOB pattern too complex".
pub const MAX_GLOB_PATTERN_BYTES: usize = 50;

/// Why a pattern was refused, in words fit for a 400 answer or a usage error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl EventTypePattern {
    pub fn parse(text: &str) -> Result<EventTypePattern, PatternError> {
        if text.is_empty() {
            return Err(PatternError(
                "an event type pattern must not be empty".into(),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(PatternError(
                "an event type pattern must not contain control characters".into(),
            ));
        }
        Ok(EventTypePattern(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the pattern matches an event's type.
    pub fn matches(&self, event_type: &str) -> bool {
        wildcard_match(self.0.as_bytes(), event_type.as_bytes())
    }

    /// The pattern as a SQLite `GLOB` pattern that matches the same types.
    ///
    /// `*` stays `*` (a run of them becomes one, which matches the same).
    /// `GLOB`'s other metacharacters are escaped as one-character classes: `?`
    /// becomes `[?]` and `[` becomes `[[]`. A `]` outside a class is already
    /// literal in `GLOB`, so it is kept as it is (no `*` needs escaping: every
    /// `*` is a wildcard). `GLOB` is case-sensitive, as the patterns are.
    ///
    /// `Err` when the `GLOB` form is longer than [`MAX_GLOB_PATTERN_BYTES`]
    /// (each `?` or `[` takes 3 bytes there), which D1 would refuse.
    pub fn to_glob(&self) -> Result<String, PatternError> {
        let mut glob = String::with_capacity(self.0.len());
        for c in self.0.chars() {
            match c {
                // No `*` is ever literal here, so a `*` at the end is a wildcard.
                '*' if glob.ends_with('*') => {}
                '*' => glob.push('*'),
                '?' => glob.push_str("[?]"),
                '[' => glob.push_str("[[]"),
                c => glob.push(c),
            }
        }
        if glob.len() > MAX_GLOB_PATTERN_BYTES {
            return Err(PatternError(format!(
                "an event type pattern may take at most {MAX_GLOB_PATTERN_BYTES} bytes as a \
                 match pattern (each `?` or `[` takes 3); this one takes {}",
                glob.len()
            )));
        }
        Ok(glob)
    }
}

/// `*` matches any run of bytes, everything else itself. Only the last `*` is
/// ever backtracked to, so a match takes at most pattern × text steps.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            last_star = Some((p, t));
            p += 1;
        } else if pattern.get(p) == Some(&text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star, from)) = last_star {
            p = star + 1;
            t = from + 1;
            last_star = Some((star, from + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        EventTypePattern::parse(pattern).unwrap().matches(text)
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("charge.*", "charge.succeeded", true),
            ("charge.*", "charge.", true),
            ("charge.*", "charge", false),
            ("charge.*", "invoice.paid", false),
            ("*", "anything", true),
            ("*", "", true),
            ("*.paid", "invoice.paid", true),
            ("*.paid", "invoice.paid.late", false),
            ("orders/*", "orders/create", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a*a*a", "aaaa", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("Charge.*", "charge.succeeded", false),
            ("a**b", "ab", true),
            ("*.*.*", "a.b.c", true),
            ("*.*.*", "a.b", false),
            ("é*", "été", true),
            ("*é", "été", true),
            ("x", "", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(matches(pattern, text), want, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn empty_and_control_character_patterns_are_refused() {
        assert!(EventTypePattern::parse("").is_err());
        assert!(EventTypePattern::parse("charge.\n*").is_err());
        assert_eq!(EventTypePattern::parse("a*").unwrap().as_str(), "a*");
    }
}
