//! Transformations: what a route changes in the request it delivers.
//!
//! Declarative on purpose: Workers forbid `eval`, and a relay must not run an
//! operator's code. A transformation runs at delivery time, never on the ack
//! path, over the stored body, which it never changes: fixing a transformation
//! and replaying works. It is checked when a route is created or updated, so
//! applying it fails only on a request it cannot serve (a body that is not JSON,
//! a field to set inside a string), and then with an error, never a panic and
//! never a silently shortened body: the delivery layer sends the event to dead
//! with the reason.
//!
//! # Shape
//! ```json
//! {"headers": {"set": {"x-env": "prod"}, "remove": ["stripe-signature"]},
//!  "body": [{"op": "omit", "paths": ["/data/object/card/number"]},
//!           {"op": "pick", "paths": ["/id", "/type", "/data"]},
//!           {"op": "rename", "from": "/data", "to": "/payload"},
//!           {"op": "set", "path": "/source", "value": "stripe"},
//!           {"op": "wrap", "key": "event", "with": {"version": 1}}]}
//! ```
//! Both parts are optional. Paths are JSON Pointers (RFC 6901); in an array, `-`
//! names the place after the last element, where `set` and `rename` append.
//! Body operations run in order:
//! - `pick` keeps only the listed paths (the rest of the document goes), `omit`
//!   removes them; both read every path against the document as the operation
//!   found it, so `["/items/0", "/items/1"]` names the first two items;
//! - `rename` moves a value; `set` writes one, creating missing objects on the way
//!   and replacing an existing value or array element (index = length appends);
//! - `wrap` puts the body under `key` in a new object holding the `with` fields.
//!
//! A path that names nothing is skipped (`pick`, `omit`, `rename`), so one
//! transformation serves events of different shapes. Header names are matched
//! without regard to case; `set` replaces every value of the header, and setting
//! `content-type` changes [`Transformed::content_type`].
//!
//! # Bytes
//! Without body operations the body is passed on byte for byte. With them it is
//! parsed and written back compactly (object keys in sorted order); a body holding
//! an integer wider than 64 bits is refused rather than rounded.
//!
//! # What a transformation may not touch
//! The relay's own signature headers (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`): the destination must be able to trust them. Nor the
//! headers the runtime or the relay writes for each request (`content-length`,
//! `host`, hop-by-hop headers, `user-agent`, `x-hookrelay-*`). Such a
//! transformation is refused when it is created.

use crate::validation::ValidationError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Body operations in one transformation.
pub const MAX_BODY_OPS: usize = 50;
/// Paths in one `pick` or `omit`.
pub const MAX_PATHS: usize = 100;
/// Headers one transformation sets or removes, together.
pub const MAX_HEADER_CHANGES: usize = 50;

/// The Standard Webhooks headers the relay signs every delivery with.
const SIGNATURE_HEADERS: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];
/// Headers the runtime or the relay computes for each request: a fixed value
/// would be wrong or overwritten.
const PER_REQUEST_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
];
const RELAY_HEADER_PREFIX: &str = "x-hookrelay-";

/// A checked transformation. It is stored as the JSON the operator wrote and
/// checked again when read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Transform {
    source: Value,
    /// Lower-cased names.
    set_headers: Vec<(String, String)>,
    /// Lower-cased names.
    remove_headers: Vec<String>,
    body_ops: Vec<BodyOp>,
}

impl Transform {
    /// The transformation as the operator wrote it.
    pub fn as_json(&self) -> &Value {
        &self.source
    }

    /// True when applying it changes nothing (`{}`, `{"body": []}`).
    pub fn is_identity(&self) -> bool {
        self.set_headers.is_empty() && self.remove_headers.is_empty() && self.body_ops.is_empty()
    }
}

impl TryFrom<Value> for Transform {
    type Error = ValidationError;
    fn try_from(value: Value) -> Result<Self, ValidationError> {
        parse_transform(&value)
    }
}

impl From<Transform> for Value {
    fn from(transform: Transform) -> Value {
        transform.source
    }
}

#[derive(Debug, Clone, PartialEq)]
enum BodyOp {
    Pick(Vec<Pointer>),
    Omit(Vec<Pointer>),
    Rename {
        from: Pointer,
        to: Pointer,
    },
    Set {
        path: Pointer,
        value: Value,
    },
    Wrap {
        key: String,
        with: Map<String, Value>,
    },
}

/// A parsed JSON Pointer; `text` is kept for messages.
#[derive(Debug, Clone, PartialEq)]
struct Pointer {
    text: String,
    tokens: Vec<String>,
}

/// What to send instead of the stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformed {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// The content type the transformation sets; `None` keeps the stored one.
    pub content_type: Option<String>,
}

/// Checks a transformation as given to the API.
pub fn parse_transform(value: &Value) -> Result<Transform, ValidationError> {
    let object = expect_object(value, "", "a transformation is a JSON object")?;
    check_keys(object, &["headers", "body"], "")?;
    let (set_headers, remove_headers) = match object.get("headers") {
        Some(headers) => parse_headers(headers)?,
        None => (Vec::new(), Vec::new()),
    };
    let body_ops = match object.get("body") {
        Some(body) => parse_body_ops(body)?,
        None => Vec::new(),
    };
    Ok(Transform {
        source: value.clone(),
        set_headers,
        remove_headers,
        body_ops,
    })
}

type HeaderChanges = (Vec<(String, String)>, Vec<String>);

fn parse_headers(value: &Value) -> Result<HeaderChanges, ValidationError> {
    let object = expect_object(value, "headers", "expected an object with set and remove")?;
    check_keys(object, &["set", "remove"], "headers")?;
    let mut set = Vec::new();
    if let Some(value) = object.get("set") {
        for (name, value) in
            expect_object(value, "headers.set", "expected an object of header names")?
        {
            let path = format!("headers.set.{name}");
            let value = value
                .as_str()
                .ok_or_else(|| ValidationError::new(&path, "expected a string"))?;
            check_header_value(value, &path)?;
            set.push((header_name(name, &path)?, value.to_string()));
        }
    }
    let mut remove = Vec::new();
    if let Some(value) = object.get("remove") {
        let names = value.as_array().ok_or_else(|| {
            ValidationError::new("headers.remove", "expected an array of header names")
        })?;
        for (i, name) in names.iter().enumerate() {
            let path = format!("headers.remove[{i}]");
            let name = name
                .as_str()
                .ok_or_else(|| ValidationError::new(&path, "expected a string"))?;
            let name = header_name(name, &path)?;
            if name == "content-type" {
                return Err(ValidationError::new(
                    &path,
                    "content-type can be set, not removed",
                ));
            }
            if set.iter().any(|(set_name, _)| *set_name == name) {
                return Err(ValidationError::new(&path, format!("{name} is also set")));
            }
            remove.push(name);
        }
    }
    if set.len() + remove.len() > MAX_HEADER_CHANGES {
        return Err(ValidationError::new(
            "headers",
            format!("at most {MAX_HEADER_CHANGES} headers set or removed"),
        ));
    }
    Ok((set, remove))
}

/// A header name that is a valid token (RFC 9110) and not the relay's, lower-cased.
fn header_name(name: &str, path: &str) -> Result<String, ValidationError> {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token_char) {
        return Err(ValidationError::new(path, "not a valid header name"));
    }
    let name = name.to_ascii_lowercase();
    if SIGNATURE_HEADERS.contains(&name.as_str()) {
        return Err(ValidationError::new(
            path,
            format!(
                "{name} carries the relay's signature; a transformation cannot set or remove it"
            ),
        ));
    }
    if PER_REQUEST_HEADERS.contains(&name.as_str()) || name.starts_with(RELAY_HEADER_PREFIX) {
        return Err(ValidationError::new(
            path,
            format!("{name} is written by the relay for each request"),
        ));
    }
    Ok(name)
}

fn check_header_value(value: &str, path: &str) -> Result<(), ValidationError> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ValidationError::new(
            path,
            "a header value cannot hold control characters (CR, LF, NUL...)",
        ));
    }
    Ok(())
}

fn parse_body_ops(value: &Value) -> Result<Vec<BodyOp>, ValidationError> {
    let ops = value
        .as_array()
        .ok_or_else(|| ValidationError::new("body", "expected an array of operations"))?;
    if ops.len() > MAX_BODY_OPS {
        return Err(ValidationError::new(
            "body",
            format!("at most {MAX_BODY_OPS} operations"),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_body_op(op, &format!("body[{i}]")))
        .collect()
}

fn parse_body_op(value: &Value, path: &str) -> Result<BodyOp, ValidationError> {
    let object = expect_object(value, path, "expected an object with an op")?;
    let field = |key: &str| {
        object
            .get(key)
            .ok_or_else(|| ValidationError::new(&format!("{path}.{key}"), "missing"))
    };
    let op = field("op")?
        .as_str()
        .ok_or_else(|| ValidationError::new(&format!("{path}.op"), "expected a string"))?;
    match op {
        "pick" | "omit" => {
            check_keys(object, &["op", "paths"], path)?;
            let paths = pointer_list(field("paths")?, &format!("{path}.paths"))?;
            Ok(if op == "pick" {
                BodyOp::Pick(paths)
            } else {
                BodyOp::Omit(paths)
            })
        }
        "rename" => {
            check_keys(object, &["op", "from", "to"], path)?;
            let from = parse_pointer(field("from")?, &format!("{path}.from"))?;
            let to = parse_pointer(field("to")?, &format!("{path}.to"))?;
            if from.tokens.is_empty() || to.tokens.is_empty() {
                return Err(ValidationError::new(
                    path,
                    "the whole body cannot be renamed; use wrap or set",
                ));
            }
            if to.tokens.starts_with(&from.tokens) {
                return Err(ValidationError::new(
                    &format!("{path}.to"),
                    "cannot move a value inside itself",
                ));
            }
            Ok(BodyOp::Rename { from, to })
        }
        "set" => {
            check_keys(object, &["op", "path", "value"], path)?;
            let target = parse_pointer(field("path")?, &format!("{path}.path"))?;
            Ok(BodyOp::Set {
                path: target,
                value: field("value")?.clone(),
            })
        }
        "wrap" => {
            check_keys(object, &["op", "key", "with"], path)?;
            let key_path = format!("{path}.key");
            let key = field("key")?
                .as_str()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| ValidationError::new(&key_path, "expected a non-empty string"))?;
            let with = match object.get("with") {
                Some(with) => {
                    expect_object(with, &format!("{path}.with"), "expected an object")?.clone()
                }
                None => Map::new(),
            };
            if with.contains_key(key) {
                return Err(ValidationError::new(
                    &format!("{path}.with.{key}"),
                    "would be overwritten by the wrapped body",
                ));
            }
            Ok(BodyOp::Wrap {
                key: key.to_string(),
                with,
            })
        }
        _ => Err(ValidationError::new(
            &format!("{path}.op"),
            "unknown operation; expected pick, omit, rename, set or wrap",
        )),
    }
}

/// The `paths` of `pick` and `omit`: a non-empty list of pointers below the root.
fn pointer_list(value: &Value, path: &str) -> Result<Vec<Pointer>, ValidationError> {
    let items = value
        .as_array()
        .filter(|items| !items.is_empty())
        .ok_or_else(|| ValidationError::new(path, "expected a non-empty array of JSON Pointers"))?;
    if items.len() > MAX_PATHS {
        return Err(ValidationError::new(
            path,
            format!("at most {MAX_PATHS} paths"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let item_path = format!("{path}[{i}]");
            let pointer = parse_pointer(item, &item_path)?;
            if pointer.tokens.is_empty() {
                return Err(ValidationError::new(
                    &item_path,
                    "the empty pointer names the whole body; name the fields inside it",
                ));
            }
            Ok(pointer)
        })
        .collect()
}

/// RFC 6901: `""`, or `/`-separated tokens where `~1` is `/` and `~0` is `~`.
fn parse_pointer(value: &Value, path: &str) -> Result<Pointer, ValidationError> {
    let text = value
        .as_str()
        .ok_or_else(|| ValidationError::new(path, "expected a JSON Pointer string"))?;
    if text.is_empty() {
        return Ok(Pointer {
            text: String::new(),
            tokens: Vec::new(),
        });
    }
    let Some(rest) = text.strip_prefix('/') else {
        return Err(ValidationError::new(
            path,
            format!("{text:?}: a JSON Pointer is empty or starts with '/'"),
        ));
    };
    let tokens = rest
        .split('/')
        .map(unescape_token)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            ValidationError::new(
                path,
                format!("{text:?}: in a JSON Pointer, '~' is followed by 0 or 1"),
            )
        })?;
    Ok(Pointer {
        text: text.to_string(),
        tokens,
    })
}

fn unescape_token(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next()? {
                '0' => out.push('~'),
                '1' => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

fn expect_object<'v>(
    value: &'v Value,
    path: &str,
    message: &str,
) -> Result<&'v Map<String, Value>, ValidationError> {
    value
        .as_object()
        .ok_or_else(|| ValidationError::new(path, message))
}

/// Refuses keys outside `allowed`: a typo (`path` for `paths`) must not pass as a no-op.
fn check_keys(
    object: &Map<String, Value>,
    allowed: &[&str],
    path: &str,
) -> Result<(), ValidationError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ValidationError::new(
            &if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            },
            format!("unknown key; expected {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The request to send: `body` and `headers` are the stored ones.
pub fn apply(
    transform: &Transform,
    body: &[u8],
    headers: &[(String, String)],
) -> Result<Transformed, ValidationError> {
    let body = if transform.body_ops.is_empty() {
        body.to_vec()
    } else {
        transform_body(&transform.body_ops, body)?
    };
    let touched = |name: &str| {
        transform
            .remove_headers
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r))
            || transform
                .set_headers
                .iter()
                .any(|(s, _)| name.eq_ignore_ascii_case(s))
    };
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !touched(name))
        .cloned()
        .collect();
    let mut content_type = None;
    for (name, value) in &transform.set_headers {
        if name == "content-type" {
            content_type = Some(value.clone());
        } else {
            out.push((name.clone(), value.clone()));
        }
    }
    Ok(Transformed {
        body,
        headers: out,
        content_type,
    })
}

fn transform_body(ops: &[BodyOp], body: &[u8]) -> Result<Vec<u8>, ValidationError> {
    let mut document: Value = serde_json::from_slice(body).map_err(|e| {
        ValidationError::new(
            "body",
            format!("the body is not JSON ({e}), and this transformation rewrites JSON bodies"),
        )
    })?;
    if has_wide_integer(body) {
        return Err(ValidationError::new(
            "body",
            "the body holds an integer wider than 64 bits, which rewriting it would round",
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        document = apply_op(op, document)
            .map_err(|message| ValidationError::new(&format!("body[{i}]"), message))?;
    }
    serde_json::to_vec(&document).map_err(|e| ValidationError::new("body", e.to_string()))
}

fn apply_op(op: &BodyOp, mut document: Value) -> Result<Value, String> {
    match op {
        BodyOp::Pick(paths) => {
            let empty = empty_like(&document).ok_or_else(|| not_a_container("pick", &document))?;
            Ok(pick(document, &token_lists(paths)).unwrap_or(empty))
        }
        BodyOp::Omit(paths) => {
            if !matches!(document, Value::Object(_) | Value::Array(_)) {
                return Err(not_a_container("omit", &document));
            }
            omit(&mut document, &token_lists(paths));
            Ok(document)
        }
        BodyOp::Rename { from, to } => {
            if let Some(value) = take_at(&mut document, &from.tokens) {
                set_at(&mut document, to, value)?;
            }
            Ok(document)
        }
        BodyOp::Set { path, value } => {
            set_at(&mut document, path, value.clone())?;
            Ok(document)
        }
        BodyOp::Wrap { key, with } => {
            let mut envelope = with.clone();
            envelope.insert(key.clone(), document);
            Ok(Value::Object(envelope))
        }
    }
}

fn token_lists(pointers: &[Pointer]) -> Vec<&[String]> {
    pointers.iter().map(|p| p.tokens.as_slice()).collect()
}

fn empty_like(value: &Value) -> Option<Value> {
    match value {
        Value::Object(_) => Some(Value::Object(Map::new())),
        Value::Array(_) => Some(Value::Array(Vec::new())),
        _ => None,
    }
}

fn not_a_container(op: &str, document: &Value) -> String {
    format!("{op} needs an object or array body, not {}", kind(document))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The index an array token names: digits without a leading zero (RFC 6901).
fn array_index(token: &str) -> Option<usize> {
    let canonical =
        token == "0" || (!token.starts_with('0') && token.bytes().all(|b| b.is_ascii_digit()));
    if canonical {
        token.parse().ok()
    } else {
        None
    }
}

/// The remainders of the paths whose first token names this child.
fn under<'p>(paths: &[&'p [String]], names_child: impl Fn(&str) -> bool) -> Vec<&'p [String]> {
    paths
        .iter()
        .filter(|p| p.first().is_some_and(|t| names_child(t)))
        .map(|p| &p[1..])
        .collect()
}

/// `value` reduced to the paths; `None` when none of them is in it.
fn pick(value: Value, paths: &[&[String]]) -> Option<Value> {
    if paths.iter().any(|p| p.is_empty()) {
        return Some(value);
    }
    match value {
        Value::Object(object) => {
            let kept: Map<String, Value> = object
                .into_iter()
                .filter_map(|(key, child)| {
                    let rest = under(paths, |t| t == key.as_str());
                    if rest.is_empty() {
                        return None;
                    }
                    pick(child, &rest).map(|child| (key, child))
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .into_iter()
                .enumerate()
                .filter_map(|(i, child)| {
                    let rest = under(paths, |t| array_index(t) == Some(i));
                    if rest.is_empty() {
                        return None;
                    }
                    pick(child, &rest)
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

/// Removes the paths from `value`, each read against `value` as it was.
fn omit(value: &mut Value, paths: &[&[String]]) {
    let keep = |child: &mut Value, rest: Vec<&[String]>| {
        if rest.iter().any(|p| p.is_empty()) {
            return false;
        }
        if !rest.is_empty() {
            omit(child, &rest);
        }
        true
    };
    match value {
        Value::Object(object) => {
            object.retain(|key, child| keep(child, under(paths, |t| t == key.as_str())))
        }
        Value::Array(items) => {
            let mut index = 0;
            items.retain_mut(|child| {
                let i = index;
                index += 1;
                keep(child, under(paths, |t| array_index(t) == Some(i)))
            });
        }
        _ => {}
    }
}

fn child_mut<'v>(value: &'v mut Value, token: &str) -> Option<&'v mut Value> {
    match value {
        Value::Object(object) => object.get_mut(token),
        Value::Array(items) => array_index(token).and_then(|i| items.get_mut(i)),
        _ => None,
    }
}

/// Removes and returns the value at `tokens`, if there is one.
fn take_at(document: &mut Value, tokens: &[String]) -> Option<Value> {
    let (last, parents) = tokens.split_last()?;
    let mut current = document;
    for token in parents {
        current = child_mut(current, token)?;
    }
    match current {
        Value::Object(object) => object.remove(last),
        Value::Array(items) => array_index(last)
            .filter(|&i| i < items.len())
            .map(|i| items.remove(i)),
        _ => None,
    }
}

/// Writes `new` at `pointer`, creating missing objects on the way.
fn set_at(document: &mut Value, pointer: &Pointer, new: Value) -> Result<(), String> {
    let Some((last, parents)) = pointer.tokens.split_last() else {
        *document = new;
        return Ok(());
    };
    let cannot = |why: String| format!("cannot write {}: {why}", pointer.text);
    let mut current = document;
    for (depth, token) in parents.iter().enumerate() {
        current = match current {
            Value::Object(object) => object
                .entry(token.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => {
                let len = items.len();
                match array_index(token).and_then(|i| items.get_mut(i)) {
                    Some(item) => item,
                    None => {
                        return Err(cannot(format!(
                            "{} is not an index of an array of {len}",
                            escape_pointer(&pointer.tokens[..=depth])
                        )))
                    }
                }
            }
            other => {
                return Err(cannot(format!(
                    "{} is {}",
                    escape_pointer(&pointer.tokens[..depth]),
                    kind(other)
                )))
            }
        };
    }
    match current {
        Value::Object(object) => {
            object.insert(last.clone(), new);
        }
        Value::Array(items) => match (last.as_str(), array_index(last)) {
            ("-", _) => items.push(new),
            (_, Some(i)) if i < items.len() => items[i] = new,
            (_, Some(i)) if i == items.len() => items.push(new),
            _ => {
                return Err(cannot(format!(
                    "{last} is not an index of an array of {}",
                    items.len()
                )))
            }
        },
        other => {
            return Err(cannot(format!(
                "{} is {}",
                escape_pointer(parents),
                kind(other)
            )))
        }
    }
    Ok(())
}

/// Tokens back to pointer text, for messages.
fn escape_pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Whether `json` (valid JSON) has an integer literal that fits neither i64 nor
/// u64. serde_json reads those as f64, so writing the body back would round them.
fn has_wide_integer(json: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < json.len() {
        let c = json[i];
        i += 1;
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b'-' || c.is_ascii_digit() {
            let start = i - 1;
            while i < json.len()
                && matches!(json[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                i += 1;
            }
            let literal = std::str::from_utf8(&json[start..i]).unwrap_or_default();
            let is_integer = !literal.contains(['.', 'e', 'E']);
            if is_integer && literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err() {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn transform_of(text: &str) -> Transform {
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        parse_transform(&value).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// The body operations `ops` (JSON text) applied to `body`.
    fn body_ops(body: &str, ops: &str) -> Result<Vec<u8>, ValidationError> {
        let transform = transform_of(&format!(r#"{{"body": {ops}}}"#));
        apply(&transform, body.as_bytes(), &[]).map(|out| out.body)
    }

    #[test]
    fn body_operations() {
        let items = r#"{"id": 1, "items": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}"#;
        let cases = [
            (
                r#"{"id": 1, "card": {"number": "4242", "exp": "12/30"}}"#,
                r#"[{"op": "omit", "paths": ["/card/number", "/not/there"]}]"#,
                r#"{"id": 1, "card": {"exp": "12/30"}}"#,
            ),
            // Every path names an element of the array as the operation found it.
            (
                items,
                r#"[{"op": "omit", "paths": ["/items/0", "/items/1"]}]"#,
                r#"{"id": 1, "items": [{"sku": "c"}]}"#,
            ),
            (
                r#"{"id": 1, "type": "t", "data": {"a": 1, "b": 2}}"#,
                r#"[{"op": "pick", "paths": ["/id", "/data/b", "/missing"]}]"#,
                r#"{"id": 1, "data": {"b": 2}}"#,
            ),
            (
                items,
                r#"[{"op": "pick", "paths": ["/items/2/sku", "/items/0"]}]"#,
                r#"{"items": [{"sku": "a"}, {"sku": "c"}]}"#,
            ),
            (
                r#"{"id": 1}"#,
                r#"[{"op": "pick", "paths": ["/nothing/here"]}]"#,
                r#"{}"#,
            ),
            (
                r#"[{"id": 1, "x": 2}, {"id": 2}]"#,
                r#"[{"op": "pick", "paths": ["/1"]}]"#,
                r#"[{"id": 2}]"#,
            ),
            (
                r#"{"data": {"object": {"id": 1}}, "type": "t"}"#,
                r#"[{"op": "rename", "from": "/data/object", "to": "/payload"}]"#,
                r#"{"data": {}, "payload": {"id": 1}, "type": "t"}"#,
            ),
            (
                r#"{"id": 1}"#,
                r#"[{"op": "rename", "from": "/nope", "to": "/x"}]"#,
                r#"{"id": 1}"#,
            ),
            (
                r#"{"id": 1}"#,
                r#"[{"op": "set", "path": "/meta/source", "value": "stripe"}]"#,
                r#"{"id": 1, "meta": {"source": "stripe"}}"#,
            ),
            (
                items,
                r#"[{"op": "set", "path": "/items/0", "value": null},
                    {"op": "set", "path": "/items/-", "value": "d"},
                    {"op": "set", "path": "/items/4", "value": 5},
                    {"op": "omit", "paths": ["/id"]}]"#,
                r#"{"items": [null, {"sku": "b"}, {"sku": "c"}, "d", 5]}"#,
            ),
            (
                r#"{"id": 1}"#,
                r#"[{"op": "set", "path": "", "value": {"replaced": true}}]"#,
                r#"{"replaced": true}"#,
            ),
            // `-` is the end of an array, where nothing is yet, and an ordinary object key.
            (
                r#"{"items": [1], "-": {"a": 1, "b": 2}}"#,
                r#"[{"op": "omit", "paths": ["/items/-", "/-/a"]},
                    {"op": "set", "path": "/-/-", "value": 3}]"#,
                r#"{"items": [1], "-": {"b": 2, "-": 3}}"#,
            ),
            (
                r#"{"a/b": {"c~d": 1, "e": 2}}"#,
                r#"[{"op": "omit", "paths": ["/a~1b/c~0d"]}]"#,
                r#"{"a/b": {"e": 2}}"#,
            ),
            (
                r#"{"id": 1}"#,
                r#"[{"op": "wrap", "key": "data", "with": {"source": "stripe", "v": 1}}]"#,
                r#"{"data": {"id": 1}, "source": "stripe", "v": 1}"#,
            ),
            (
                r#""just a string""#,
                r#"[{"op": "wrap", "key": "data"}]"#,
                r#"{"data": "just a string"}"#,
            ),
            // Operations run in order, each on the result of the one before.
            (
                r#"{"id": 1, "type": "t", "data": {"secret": "s"}}"#,
                r#"[{"op": "wrap", "key": "event"},
                    {"op": "rename", "from": "/event/id", "to": "/id"},
                    {"op": "omit", "paths": ["/event/data"]}]"#,
                r#"{"id": 1, "event": {"type": "t"}}"#,
            ),
        ];
        for (body, ops, expected) in cases {
            let got = body_ops(body, ops).unwrap_or_else(|e| panic!("{ops}: {e}"));
            let got: Value = serde_json::from_slice(&got).unwrap();
            let expected: Value = serde_json::from_str(expected).unwrap();
            assert_eq!(got, expected, "{ops}");
        }
    }

    #[test]
    fn a_rewritten_body_is_compact_json() {
        let got = body_ops(
            "{ \"z\": 1,\n \"a\": {\"n\": 2, \"x\": 3} }",
            r#"[{"op": "omit", "paths": ["/a/x"]}]"#,
        );
        assert_eq!(got.unwrap(), br#"{"a":{"n":2},"z":1}"#);
    }

    #[test]
    fn an_identity_transformation_keeps_the_bytes() {
        let body = b"{ \"b\": 1,  \"a\": 1.50, \"n\": 123456789012345678901234567890 }\n";
        let stored = headers(&[("Content-Type", "application/json"), ("X-A", "1")]);
        for transform in [json!({}), json!({"body": []}), json!({"headers": {}})] {
            let transform = parse_transform(&transform).unwrap();
            assert!(transform.is_identity());
            let out = apply(&transform, body, &stored).unwrap();
            assert_eq!(out.body, body);
            assert_eq!(out.headers, stored);
            assert_eq!(out.content_type, None);
        }
        let headers_only = parse_transform(&json!({"headers": {"set": {"x-b": "2"}}})).unwrap();
        assert!(!headers_only.is_identity());
        assert_eq!(
            apply(&headers_only, body, &stored).unwrap().body,
            body,
            "no body op, same bytes"
        );
    }

    #[test]
    fn header_changes() {
        let stored = headers(&[
            ("Content-Type", "application/json"),
            ("Stripe-Signature", "t=1,v1=aa"),
            ("X-Tag", "a"),
            ("x-tag", "b"),
            ("X-Keep", "k"),
        ]);
        let cases = [
            (
                json!({"headers": {"remove": ["stripe-signature"]}}),
                vec![
                    ("Content-Type", "application/json"),
                    ("X-Tag", "a"),
                    ("x-tag", "b"),
                    ("X-Keep", "k"),
                ],
                None,
            ),
            (
                json!({"headers": {"set": {"X-Tag": "c", "authorization": "Bearer t"}}}),
                vec![
                    ("Content-Type", "application/json"),
                    ("Stripe-Signature", "t=1,v1=aa"),
                    ("X-Keep", "k"),
                    ("x-tag", "c"),
                    ("authorization", "Bearer t"),
                ],
                None,
            ),
            (
                json!({"headers": {
                    "set": {"Content-Type": "application/vnd.acme+json"},
                    "remove": ["X-TAG"],
                }}),
                vec![("Stripe-Signature", "t=1,v1=aa"), ("X-Keep", "k")],
                Some("application/vnd.acme+json"),
            ),
        ];
        for (transform, expected_headers, expected_type) in cases {
            let parsed = parse_transform(&transform).unwrap();
            let out = apply(&parsed, b"raw", &stored).unwrap();
            let expected: Vec<(String, String)> = headers(&expected_headers);
            assert_eq!(out.headers, expected, "{transform}");
            assert_eq!(out.content_type.as_deref(), expected_type, "{transform}");
            assert_eq!(out.body, b"raw");
        }
    }

    #[test]
    fn a_body_it_cannot_serve_is_an_error_not_a_loss() {
        let cases = [
            (
                "not json",
                r#"[{"op": "omit", "paths": ["/a"]}]"#,
                "body: the body is not JSON",
            ),
            (
                "",
                r#"[{"op": "wrap", "key": "data"}]"#,
                "body: the body is not JSON",
            ),
            (
                r#""text""#,
                r#"[{"op": "pick", "paths": ["/a"]}]"#,
                "body[0]: pick needs an object or array body, not a string",
            ),
            (
                "42",
                r#"[{"op": "omit", "paths": ["/a"]}]"#,
                "body[0]: omit needs an object or array body, not a number",
            ),
            (
                r#"{"id": "evt_1"}"#,
                r#"[{"op": "set", "path": "/id/x", "value": 1}]"#,
                "body[0]: cannot write /id/x: /id is a string",
            ),
            (
                r#"{"items": [1]}"#,
                r#"[{"op": "set", "path": "/items/5", "value": 1}]"#,
                "body[0]: cannot write /items/5: 5 is not an index of an array of 1",
            ),
            (
                r#"{"items": [1]}"#,
                r#"[{"op": "set", "path": "/items/-/x", "value": 1}]"#,
                "body[0]: cannot write /items/-/x: /items/- is not an index of an array of 1",
            ),
            (
                r#"{"items": [1]}"#,
                r#"[{"op": "set", "path": "/items/3/x", "value": 1}]"#,
                "body[0]: cannot write /items/3/x: /items/3 is not an index of an array of 1",
            ),
            (
                r#"{"a": 1, "b": true}"#,
                r#"[{"op": "omit", "paths": ["/x"]},
                    {"op": "rename", "from": "/a", "to": "/b/c"}]"#,
                "body[1]: cannot write /b/c: /b is a boolean",
            ),
            (
                r#"{"a": 1, "id": 123456789012345678901234567890}"#,
                r#"[{"op": "omit", "paths": ["/a"]}]"#,
                "body: the body holds an integer wider than 64 bits, \
                 which rewriting it would round",
            ),
        ];
        for (body, ops, expected) in cases {
            let err = body_ops(body, ops).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err} / {expected}");
        }
    }

    #[test]
    fn numbers_that_fit_64_bits_survive_a_rewrite() {
        let body = r#"{"max": 18446744073709551615, "min": -9223372036854775808, "f": 1.5e300,
            "s": "123456789012345678901234567890", "esc": "\"1234567890123456789012\""}"#;
        let got = body_ops(body, r#"[{"op": "omit", "paths": ["/none"]}]"#).unwrap();
        let got: Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(got, serde_json::from_str::<Value>(body).unwrap());
        assert_eq!(got["max"], json!(u64::MAX));
        assert_eq!(got["min"], json!(i64::MIN));
    }

    #[test]
    fn the_relay_signature_headers_are_out_of_reach() {
        for name in ["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE"] {
            let set = parse_transform(&json!({"headers": {"set": {name: "x"}}})).unwrap_err();
            assert_eq!(set.path, format!("headers.set.{name}"));
            assert!(set.message.contains("relay's signature"), "{set}");
            let remove = parse_transform(&json!({"headers": {"remove": [name]}})).unwrap_err();
            assert_eq!(remove.path, "headers.remove[0]");
            assert!(remove.message.contains("relay's signature"), "{remove}");
        }
    }

    #[test]
    fn malformed_transformations_are_refused_with_their_path() {
        let per_request = "is written by the relay for each request";
        let cases = [
            (r#"[]"#, "a transformation is a JSON object".to_string()),
            (
                r#"{"bodies": []}"#,
                "bodies: unknown key; expected headers, body".into(),
            ),
            (
                r#"{"headers": []}"#,
                "headers: expected an object with set and remove".into(),
            ),
            (
                r#"{"headers": {"add": {}}}"#,
                "headers.add: unknown key; expected set, remove".into(),
            ),
            (
                r#"{"headers": {"set": {"x-a": 1}}}"#,
                "headers.set.x-a: expected a string".into(),
            ),
            (
                r#"{"headers": {"set": {"x a": "1"}}}"#,
                "headers.set.x a: not a valid header name".into(),
            ),
            (
                r#"{"headers": {"set": {"x-a": "1\r\nx-b: 2"}}}"#,
                "headers.set.x-a: a header value cannot hold control characters (CR, LF, NUL...)"
                    .into(),
            ),
            (
                r#"{"headers": {"set": {"Host": "evil"}}}"#,
                format!("headers.set.Host: host {per_request}"),
            ),
            (
                r#"{"headers": {"set": {"x-hookrelay-attempt": "1"}}}"#,
                format!("headers.set.x-hookrelay-attempt: x-hookrelay-attempt {per_request}"),
            ),
            (
                r#"{"headers": {"remove": ["Content-Length"]}}"#,
                format!("headers.remove[0]: content-length {per_request}"),
            ),
            (
                r#"{"headers": {"remove": "x-a"}}"#,
                "headers.remove: expected an array of header names".into(),
            ),
            (
                r#"{"headers": {"remove": ["content-type"]}}"#,
                "headers.remove[0]: content-type can be set, not removed".into(),
            ),
            (
                r#"{"headers": {"set": {"x-a": "1"}, "remove": ["X-A"]}}"#,
                "headers.remove[0]: x-a is also set".into(),
            ),
            (
                r#"{"body": {"op": "omit"}}"#,
                "body: expected an array of operations".into(),
            ),
            (
                r#"{"body": ["omit"]}"#,
                "body[0]: expected an object with an op".into(),
            ),
            (
                r#"{"body": [{"paths": ["/a"]}]}"#,
                "body[0].op: missing".into(),
            ),
            (
                r#"{"body": [{"op": "delete", "paths": ["/a"]}]}"#,
                "body[0].op: unknown operation; expected pick, omit, rename, set or wrap".into(),
            ),
            (
                r#"{"body": [{"op": "omit", "path": ["/a"]}]}"#,
                "body[0].path: unknown key; expected op, paths".into(),
            ),
            (
                r#"{"body": [{"op": "omit", "paths": []}]}"#,
                "body[0].paths: expected a non-empty array of JSON Pointers".into(),
            ),
            (
                r#"{"body": [{"op": "pick", "paths": ["/a", "b"]}]}"#,
                r#"body[0].paths[1]: "b": a JSON Pointer is empty or starts with '/'"#.into(),
            ),
            (
                r#"{"body": [{"op": "pick", "paths": ["/a~2"]}]}"#,
                r#"body[0].paths[0]: "/a~2": in a JSON Pointer, '~' is followed by 0 or 1"#.into(),
            ),
            (
                r#"{"body": [{"op": "omit", "paths": [""]}]}"#,
                "body[0].paths[0]: the empty pointer names the whole body; \
                 name the fields inside it"
                    .into(),
            ),
            (
                r#"{"body": [{"op": "set", "path": "/a"}]}"#,
                "body[0].value: missing".into(),
            ),
            (
                r#"{"body": [{"op": "rename", "from": "/a", "to": "/a/b"}]}"#,
                "body[0].to: cannot move a value inside itself".into(),
            ),
            (
                r#"{"body": [{"op": "rename", "from": "", "to": "/a"}]}"#,
                "body[0]: the whole body cannot be renamed; use wrap or set".into(),
            ),
            (
                r#"{"body": [{"op": "wrap", "key": ""}]}"#,
                "body[0].key: expected a non-empty string".into(),
            ),
            (
                r#"{"body": [{"op": "wrap", "key": "data", "with": {"data": 1}}]}"#,
                "body[0].with.data: would be overwritten by the wrapped body".into(),
            ),
            (
                r#"{"body": [{"op": "wrap", "key": "data", "with": [1]}]}"#,
                "body[0].with: expected an object".into(),
            ),
        ];
        for (text, expected) in cases {
            let value: Value = serde_json::from_str(text).unwrap();
            let err = parse_transform(&value).expect_err(text);
            assert_eq!(err.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let ops: Vec<Value> = (0..=MAX_BODY_OPS)
            .map(|_| json!({"op": "omit", "paths": ["/a"]}))
            .collect();
        assert_eq!(
            parse_transform(&json!({"body": ops})).unwrap_err().path,
            "body"
        );
        let paths: Vec<String> = (0..=MAX_PATHS).map(|i| format!("/f{i}")).collect();
        let err = parse_transform(&json!({"body": [{"op": "pick", "paths": paths}]})).unwrap_err();
        assert_eq!(err.path, "body[0].paths");
        let names: Vec<String> = (0..=MAX_HEADER_CHANGES).map(|i| format!("x-{i}")).collect();
        let err = parse_transform(&json!({"headers": {"remove": names}})).unwrap_err();
        assert_eq!(err.path, "headers");
    }

    #[test]
    fn a_transformation_is_stored_as_written_and_checked_when_read_back() {
        let written =
            json!({"headers": {"set": {"X-Env": "prod"}}, "body": [{"op": "wrap", "key": "data"}]});
        let transform = parse_transform(&written).unwrap();
        let stored = serde_json::to_string(&transform).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&stored).unwrap(), written);
        assert_eq!(
            serde_json::from_str::<Transform>(&stored).unwrap(),
            transform
        );
        let refused = serde_json::from_str::<Transform>(r#"{"headers":{"remove":["webhook-id"]}}"#);
        assert!(refused
            .unwrap_err()
            .to_string()
            .contains("headers.remove[0]"));
    }

    #[test]
    fn array_indices_follow_rfc_6901() {
        let cases = [
            ("0", Some(0)),
            ("7", Some(7)),
            ("10", Some(10)),
            ("01", None),
            ("-", None),
            ("", None),
            ("+1", None),
            ("1e2", None),
        ];
        for (token, expected) in cases {
            assert_eq!(array_index(token), expected, "{token}");
        }
    }
}
