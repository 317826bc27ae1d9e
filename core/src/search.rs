//! Search fields: the few places in a body an operator wants to find events
//! by ("the order for bob@example.com"). An endpoint names up to
//! [`MAX_SEARCH_FIELDS`] dotted paths into its JSON bodies; at receipt the
//! relay stores the strings and numbers found there (each at most
//! [`MAX_VALUE_CHARS`] characters) with the ingest, in an indexed table, and
//! the events list's `q` matches them exactly.
//!
//! A path's segments are object keys, or array indexes when a segment is a
//! number (`items.0.sku`). A key that itself holds a dot cannot be named.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many search fields an endpoint may declare.
pub const MAX_SEARCH_FIELDS: usize = 5;
/// Longer values are not stored (nobody types them into a search box).
pub const MAX_VALUE_CHARS: usize = 200;
/// The longest path accepted.
const MAX_PATH_CHARS: usize = 200;

/// A checked list of paths; stored and shown as a JSON array of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct SearchFields(Vec<String>);

impl TryFrom<Vec<String>> for SearchFields {
    type Error = String;
    fn try_from(paths: Vec<String>) -> Result<Self, String> {
        SearchFields::parse(&paths)
    }
}

impl From<SearchFields> for Vec<String> {
    fn from(fields: SearchFields) -> Vec<String> {
        fields.0
    }
}

impl SearchFields {
    /// Checks the paths given to the API; the message is fit for a 400 answer.
    pub fn parse(paths: &[String]) -> Result<SearchFields, String> {
        if paths.len() > MAX_SEARCH_FIELDS {
            return Err(format!(
                "search_fields may name at most {MAX_SEARCH_FIELDS} paths; it names {}",
                paths.len()
            ));
        }
        for (i, path) in paths.iter().enumerate() {
            check_path(path).map_err(|why| format!("search_fields[{i}]: {why}"))?;
        }
        let mut unique = paths.to_vec();
        unique.dedup();
        Ok(SearchFields(unique))
    }

    pub fn paths(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values a body holds at the paths: strings as they are, numbers as
    /// JSON writes them; each once, in path order. Anything else (objects,
    /// arrays, booleans, null, a missing path, a value over
    /// [`MAX_VALUE_CHARS`]) gives nothing.
    pub fn values(&self, body: &Value) -> Vec<String> {
        let mut values: Vec<String> = Vec::new();
        for path in &self.0 {
            let Some(value) = lookup(body, path).and_then(searchable) else {
                continue;
            };
            if !values.contains(&value) {
                values.push(value);
            }
        }
        values
    }
}

fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.chars().count() > MAX_PATH_CHARS {
        return Err("a path is 1 to 200 characters");
    }
    if path.chars().any(char::is_control) {
        return Err("a path must not contain control characters");
    }
    if path.split('.').any(str::is_empty) {
        return Err("a path is keys joined by dots, none of them empty (data.object.email)");
    }
    Ok(())
}

fn lookup<'v>(body: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(body, |node, segment| match node {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    })
}

fn searchable(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.chars().count() <= MAX_VALUE_CHARS).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(paths: &[&str]) -> SearchFields {
        SearchFields::parse(&paths.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn values_are_read_at_dotted_paths_through_objects_and_arrays() {
        let body = json!({
            "data": {"object": {"customer_email": "bob@example.com", "amount": 4200,
                                "items": [{"sku": "A-1"}, {"sku": "B-2"}]}},
            "type": "charge.succeeded"
        });
        let f = fields(&[
            "data.object.customer_email",
            "data.object.amount",
            "data.object.items.1.sku",
            "type",
        ]);
        assert_eq!(
            f.values(&body),
            ["bob@example.com", "4200", "B-2", "charge.succeeded"]
        );
    }

    #[test]
    fn only_short_strings_and_numbers_are_values() {
        let body = json!({"o": {}, "a": [1], "b": true, "n": null, "e": "",
                          "long": "x".repeat(201), "edge": "y".repeat(200), "f": 1.5});
        assert!(fields(&["o", "a", "b", "n", "e"]).values(&body).is_empty());
        let f = fields(&["long", "missing.path", "edge", "f"]);
        assert_eq!(f.values(&body), ["y".repeat(200), "1.5".to_string()]);
        assert!(fields(&["a.x"]).values(&json!({"a": [1]})).is_empty());
        assert!(fields(&["a.0.b"]).values(&json!("text")).is_empty());
    }

    #[test]
    fn a_value_found_twice_is_stored_once() {
        let body = json!({"from": "a@b.c", "reply_to": "a@b.c"});
        assert_eq!(fields(&["from", "reply_to"]).values(&body), ["a@b.c"]);
    }

    #[test]
    fn paths_are_checked() {
        let parse = |paths: &[&str]| {
            SearchFields::parse(&paths.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        };
        assert!(parse(&[]).unwrap().is_empty());
        assert!(parse(&["a", "b", "c", "d", "e"]).is_ok());
        assert!(parse(&["a", "b", "c", "d", "e", "f"])
            .unwrap_err()
            .contains("at most 5"));
        for bad in ["", "a..b", ".a", "a.", "a\nb"] {
            let err = parse(&["ok", bad]).unwrap_err();
            assert!(err.starts_with("search_fields[1]"), "{bad:?}: {err}");
        }
        assert!(parse(&[&"k".repeat(201)]).is_err());
    }
}
