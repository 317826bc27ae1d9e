//! `--events charge.*,invoice.paid`: event type patterns where `*` stands for
//! any run of characters. `listen` hands them to the relay, which leases only
//! matching events; `tail` and `events list` match them here, since the events
//! list has no such filter. The rules are the relay's own (`src/filter.rs`):
//! a pattern is non-empty and has no control characters, and an event without
//! a type matches no pattern.

use crate::error::CliError;

/// A checked, non-empty list of patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(Vec<String>);

impl EventTypes {
    /// Parses a comma-separated list; blanks around commas are ignored.
    pub fn parse(raw: &str) -> Result<EventTypes, CliError> {
        let patterns: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        if patterns.is_empty() {
            return Err(CliError::Usage(
                "--events needs at least one event type pattern".into(),
            ));
        }
        if let Some(bad) = patterns.iter().find(|p| p.chars().any(char::is_control)) {
            return Err(CliError::Usage(format!(
                "--events pattern {bad:?} has a control character"
            )));
        }
        Ok(EventTypes(patterns))
    }

    pub fn patterns(&self) -> &[String] {
        &self.0
    }

    pub fn matches(&self, event_type: Option<&str>) -> bool {
        event_type.is_some_and(|name| {
            self.0
                .iter()
                .any(|p| wildcard_match(p.as_bytes(), name.as_bytes()))
        })
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
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                wildcard_match(pattern.as_bytes(), text.as_bytes()),
                want,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn a_list_matches_when_any_pattern_does() {
        let types = EventTypes::parse("charge.*, invoice.paid").unwrap();
        assert_eq!(types.patterns(), ["charge.*", "invoice.paid"]);
        assert!(types.matches(Some("charge.refunded")));
        assert!(types.matches(Some("invoice.paid")));
        assert!(!types.matches(Some("invoice.created")));
    }

    #[test]
    fn an_event_without_a_type_matches_nothing() {
        assert!(!EventTypes::parse("*").unwrap().matches(None));
    }

    #[test]
    fn empty_or_control_character_patterns_are_usage_errors() {
        for raw in ["", " , ,", "charge.\n*"] {
            let err = EventTypes::parse(raw).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{raw:?}");
        }
    }
}
