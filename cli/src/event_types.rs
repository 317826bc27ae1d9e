//! `--events charge.*,invoice.paid`: event type patterns where `*` stands for
//! any run of characters. `listen` hands them to the relay, which leases only
//! matching events; `tail` and `events list` match them here, since the events
//! list has no such filter. Each pattern is the relay's own
//! [`EventTypePattern`], so it is checked and matched as routes and pull
//! leases check and match it.

use crate::error::CliError;
use hookrelay_core::event_pattern::EventTypePattern;

/// A checked, non-empty list of patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(Vec<EventTypePattern>);

impl EventTypes {
    /// Parses a comma-separated list; blanks around commas are ignored.
    pub fn parse(raw: &str) -> Result<EventTypes, CliError> {
        let patterns = raw
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                EventTypePattern::parse(p)
                    .map_err(|e| CliError::Usage(format!("--events pattern {p:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.is_empty() {
            return Err(CliError::Usage(
                "--events needs at least one event type pattern".into(),
            ));
        }
        Ok(EventTypes(patterns))
    }

    /// The patterns as given, for the relay's `event_types`.
    pub fn patterns(&self) -> Vec<&str> {
        self.0.iter().map(EventTypePattern::as_str).collect()
    }

    pub fn matches(&self, event_type: Option<&str>) -> bool {
        event_type.is_some_and(|name| self.0.iter().any(|p| p.matches(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
