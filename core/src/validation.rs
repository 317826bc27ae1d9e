//! The one error type for an operator's JSON that does not hold up: a route's
//! filter or `event_types`, or a transformation, refused when it is saved (or
//! a transformation that cannot serve a request), with the JSON path of the
//! problem (`body.amount.$gt`, `body[1].paths[0]`); fit for a 400 answer.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where in the operator's JSON; empty for the whole of it.
    pub path: String,
    pub message: String,
}

impl ValidationError {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ValidationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_leads_the_message_when_there_is_one() {
        assert_eq!(
            ValidationError::new("body.amount.$gt", "expected a number").to_string(),
            "body.amount.$gt: expected a number"
        );
        assert_eq!(
            ValidationError::new("", "expected an object").to_string(),
            "expected an object"
        );
    }
}
