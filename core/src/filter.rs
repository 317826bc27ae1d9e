//! Route filters: which ingests a route accepts.
//!
//! One ingest fans out to every route whose filter accepts it, so the filter is
//! checked on the ack path and again when an operator replays a `filtered` ingest
//! after changing a route. It is pure and total: a filter that was accepted at
//! create/update time never fails or panics on a request, it answers yes or no.
//!
//! # What a filter sees
//! The request as one JSON document:
//! `{"body": <parsed JSON>, "headers": {name: value}, "query": {name: value}, "path": "/ep_…"}`.
//! Header names are lower-cased (and so are the header names a filter names). A
//! header or query parameter given more than once becomes an array of its values,
//! in order. Header and query values are always strings: `{"$gt": 5}` never
//! matches them. A body that is empty or not JSON is absent, and a filter that
//! looks into `body` anywhere (even under `$or` or `$not`) accepts no such request.
//!
//! # Syntax (the one event gateways use)
//! A filter is an object whose keys are `body`, `headers`, `query`, `path` or a
//! logical operator. Below them:
//! - an object matches an object field by field; keys starting with `$` are
//!   operators that test the value itself, and they may sit beside field keys;
//! - a scalar means equality; numbers compare by value (`1` equals `1.0`),
//!   `null` matches an explicit `null` only (use `$exist` for absence);
//! - `$eq`/`$neq` (any value, deep equality), `$in`/`$nin` (an array),
//!   `$gt`/`$gte`/`$lt`/`$lte` (a number; data that is not a number never
//!   matches), `$exist` (true or false), `$startsWith`/`$endsWith` (a string),
//!   `$contains` (a substring of a string, or an element of an array),
//!   `$and`/`$or` (non-empty arrays of filters), `$not` (a filter).
//!
//! # Arrays in the data
//! When the data is an array, a scalar, an object of fields, or a value test
//! (`$eq`, `$in`, the comparisons, `$startsWith`, `$endsWith`) matches when the
//! array as a whole or ANY element matches: `{"tags": "gift"}` accepts
//! `{"tags": ["gift", "sale"]}`, and an object of fields must hold for one and the
//! same element. `$neq` and `$nin` are the exact negations of `$eq` and `$in`
//! (no element may match). An array in the filter matches an array in the data
//! that contains all its entries, in any order (`{"tags": ["a", "b"]}` accepts
//! `["b", "x", "a"]`); `{"$eq": [...]}` asks for the exact array.
//!
//! # Missing fields
//! A missing field fails every test except `$neq`, `$nin`, `{"$exist": false}`
//! and a `$not` around a failing test.
//!
//! # Event types
//! A route may also name `event_types` (`["payment_intent.*", "charge.refunded"]`),
//! matched with `*` wildcards against the provider's own name for the event; see
//! [`event_type`]. A route with both a filter and event types needs both to match.

use crate::event_pattern::EventTypePattern;
use crate::headers::HeaderList;
use crate::validation::ValidationError;
use crate::verify::{EventType, Provider};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// How deep a filter may nest; deeper ones are refused rather than risk the stack.
pub const MAX_DEPTH: usize = 32;
/// How many patterns `event_types` may list.
pub const MAX_EVENT_TYPES: usize = 100;

/// The parts of the request a filter looks into, the keys of its top level.
const REQUEST_PARTS: [&str; 4] = ["body", "headers", "query", "path"];

/// A checked filter. It is stored as the JSON the operator wrote and checked
/// again when read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct RouteFilter {
    source: Value,
    root: Node,
    reads_body: bool,
}

impl RouteFilter {
    /// The filter as the operator wrote it.
    pub fn as_json(&self) -> &Value {
        &self.source
    }
}

impl TryFrom<Value> for RouteFilter {
    type Error = ValidationError;
    fn try_from(value: Value) -> Result<Self, ValidationError> {
        parse_filter(&value)
    }
}

impl From<RouteFilter> for Value {
    fn from(filter: RouteFilter) -> Value {
        filter.source
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A plain scalar: equal to the data or to one of its elements.
    Equals(Value),
    /// A plain array: every entry matches some element of the data array.
    ContainsAll(Vec<Node>),
    /// An object: every operator holds for the value, and every field for the
    /// value (or for one of its elements).
    Object {
        ops: Vec<Op>,
        fields: Vec<(String, Node)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(Value),
    Neq(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Compare(Comparison, Number),
    Exist(bool),
    StartsWith(String),
    EndsWith(String),
    Contains(Value),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    fn holds(self, order: Ordering) -> bool {
        match self {
            Comparison::Gt => order == Ordering::Greater,
            Comparison::Gte => order != Ordering::Less,
            Comparison::Lt => order == Ordering::Less,
            Comparison::Lte => order != Ordering::Greater,
        }
    }
}

/// Where in the request a part of the filter stands; it decides which keys are fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The top level: `body`, `headers`, `query`, `path`.
    Request,
    /// Directly under `headers`: header names, lower-cased.
    HeaderNames,
    /// Anywhere in the data.
    Data,
}

/// Checks a filter as given to the API and prepares it for matching.
pub fn parse_filter(value: &Value) -> Result<RouteFilter, ValidationError> {
    if !value.is_object() {
        return Err(ValidationError::new(
            "",
            "a filter is a JSON object with body, headers, query or path",
        ));
    }
    let mut parser = Parser { reads_body: false };
    let root = parser.node(value, Scope::Request, "", 0)?;
    Ok(RouteFilter {
        source: value.clone(),
        root,
        reads_body: parser.reads_body,
    })
}

struct Parser {
    reads_body: bool,
}

impl Parser {
    fn node(
        &mut self,
        value: &Value,
        scope: Scope,
        path: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        if depth > MAX_DEPTH {
            return Err(ValidationError::new(
                path,
                format!("a filter nests at most {MAX_DEPTH} levels"),
            ));
        }
        match (value, scope) {
            (Value::Object(map), _) => self.object(map, scope, path, depth),
            (_, Scope::Request) => Err(ValidationError::new(path, "expected an object")),
            (_, Scope::HeaderNames) => Err(ValidationError::new(
                path,
                "expected an object of header names",
            )),
            (Value::Array(items), Scope::Data) => self.array(items, path, depth),
            (scalar, Scope::Data) => Ok(Node::Equals(scalar.clone())),
        }
    }

    fn array(
        &mut self,
        items: &[Value],
        path: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        if items.is_empty() {
            return Err(ValidationError::new(
                path,
                "an empty array would match any array; use {\"$eq\": []} for an empty one",
            ));
        }
        let entries = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.node(item, Scope::Data, &index_path(path, i), depth + 1))
            .collect::<Result<_, _>>()?;
        Ok(Node::ContainsAll(entries))
    }

    fn object(
        &mut self,
        map: &Map<String, Value>,
        scope: Scope,
        path: &str,
        depth: usize,
    ) -> Result<Node, ValidationError> {
        if map.is_empty() && scope != Scope::Request {
            return Err(ValidationError::new(
                path,
                "an empty object would match anything; use {\"$exist\": true}",
            ));
        }
        let mut ops = Vec::new();
        let mut fields = Vec::new();
        for (key, value) in map {
            let child = key_path(path, key);
            if key.starts_with('$') {
                ops.push(self.operator(key, value, scope, &child, depth)?);
            } else {
                let (name, child_scope) = self.field(key, scope, &child)?;
                fields.push((name, self.node(value, child_scope, &child, depth + 1)?));
            }
        }
        Ok(Node::Object { ops, fields })
    }

    /// The field's name as matched, and the scope of what lies under it.
    fn field(
        &mut self,
        key: &str,
        scope: Scope,
        path: &str,
    ) -> Result<(String, Scope), ValidationError> {
        match scope {
            Scope::Request => match key {
                "body" => {
                    self.reads_body = true;
                    Ok((key.to_string(), Scope::Data))
                }
                "headers" => Ok((key.to_string(), Scope::HeaderNames)),
                "query" | "path" => Ok((key.to_string(), Scope::Data)),
                _ => Err(ValidationError::new(
                    path,
                    format!(
                        "unknown part of the request; a filter starts with {}",
                        REQUEST_PARTS.join(", ")
                    ),
                )),
            },
            Scope::HeaderNames => Ok((key.to_ascii_lowercase(), Scope::Data)),
            Scope::Data => Ok((key.to_string(), Scope::Data)),
        }
    }

    fn operator(
        &mut self,
        name: &str,
        value: &Value,
        scope: Scope,
        path: &str,
        depth: usize,
    ) -> Result<Op, ValidationError> {
        let op = match name {
            "$eq" => Ok(Op::Eq(value.clone())),
            "$neq" => Ok(Op::Neq(value.clone())),
            "$in" => Ok(Op::In(expect_array(value, path)?.to_vec())),
            "$nin" => Ok(Op::Nin(expect_array(value, path)?.to_vec())),
            "$gt" => comparison(Comparison::Gt, value, path),
            "$gte" => comparison(Comparison::Gte, value, path),
            "$lt" => comparison(Comparison::Lt, value, path),
            "$lte" => comparison(Comparison::Lte, value, path),
            "$exist" => value
                .as_bool()
                .map(Op::Exist)
                .ok_or_else(|| ValidationError::new(path, "expected true or false")),
            "$startsWith" => Ok(Op::StartsWith(expect_string(value, path)?)),
            "$endsWith" => Ok(Op::EndsWith(expect_string(value, path)?)),
            "$contains" if value.is_array() => Err(ValidationError::new(
                path,
                "expected a substring or one element, not an array; \
                 a plain array matches arrays that contain all its entries",
            )),
            "$contains" => Ok(Op::Contains(value.clone())),
            "$and" => Ok(Op::And(self.filters(value, scope, path, depth)?)),
            "$or" => Ok(Op::Or(self.filters(value, scope, path, depth)?)),
            "$not" => {
                let inner = self.node(value, scope, path, depth + 1)?;
                Ok(Op::Not(Box::new(inner)))
            }
            _ => Err(ValidationError::new(
                path,
                "unknown operator; expected one of $eq, $neq, $in, $nin, $gt, $gte, $lt, \
                 $lte, $exist, $startsWith, $endsWith, $contains, $and, $or, $not",
            )),
        }?;
        let logical = matches!(op, Op::And(_) | Op::Or(_) | Op::Not(_));
        if scope != Scope::Data && !logical {
            return Err(ValidationError::new(
                path,
                "this operator tests a value; put it under body, headers, query or path",
            ));
        }
        Ok(op)
    }

    /// The operand of `$and` and `$or`: filters in the scope of the operator.
    fn filters(
        &mut self,
        value: &Value,
        scope: Scope,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Node>, ValidationError> {
        let items = expect_array(value, path)?;
        if items.is_empty() {
            return Err(ValidationError::new(path, "expected at least one filter"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.node(item, scope, &index_path(path, i), depth + 1))
            .collect()
    }
}

fn comparison(cmp: Comparison, value: &Value, path: &str) -> Result<Op, ValidationError> {
    match value {
        Value::Number(n) => Ok(Op::Compare(cmp, n.clone())),
        _ => Err(ValidationError::new(path, "expected a number")),
    }
}

fn expect_array<'v>(value: &'v Value, path: &str) -> Result<&'v [Value], ValidationError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| ValidationError::new(path, "expected an array"))
}

fn expect_string(value: &Value, path: &str) -> Result<String, ValidationError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ValidationError::new(path, "expected a string"))
}

fn key_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn index_path(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The request as a filter sees it, built once per ingest and shared by all routes.
#[derive(Debug, Clone)]
pub struct FilterInput {
    request: Value,
    body_is_json: bool,
    /// The provider's names for the event, most specific first (see [`event_type`]).
    event_types: Vec<String>,
}

impl FilterInput {
    pub fn new(
        body: &[u8],
        headers: &HeaderList,
        query: &[(String, String)],
        path: &str,
        provider: Provider,
    ) -> FilterInput {
        let json = serde_json::from_slice::<Value>(body).ok();
        FilterInput::from_json(json, headers, query, path, provider)
    }

    /// As [`FilterInput::new`], for a body the caller has already parsed (`None`
    /// when it is not JSON).
    pub fn from_json(
        body: Option<Value>,
        headers: &HeaderList,
        query: &[(String, String)],
        path: &str,
        provider: Provider,
    ) -> FilterInput {
        let event_types = event_type_names(provider, headers, body.as_ref());
        let mut request = Map::new();
        let body_is_json = body.is_some();
        if let Some(body) = body {
            request.insert("body".into(), body);
        }
        request.insert("headers".into(), pairs_object(headers.iter()));
        request.insert(
            "query".into(),
            pairs_object(query.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        request.insert("path".into(), Value::String(path.to_string()));
        FilterInput {
            request: Value::Object(request),
            body_is_json,
            event_types,
        }
    }

    /// The document filters are matched against (the route tester shows it).
    pub fn request(&self) -> &Value {
        &self.request
    }

    /// The provider's own name for the event, when it has one.
    pub fn event_type(&self) -> Option<&str> {
        self.event_types.first().map(String::as_str)
    }
}

/// Name/value pairs as an object; a repeated name holds an array of its values.
fn pairs_object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut object = Map::new();
    for (name, value) in pairs {
        let value = Value::String(value.to_string());
        match object.get_mut(name) {
            None => {
                object.insert(name.to_string(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    Value::Object(object)
}

/// Whether `filter` accepts the request.
pub fn matches(filter: &RouteFilter, req: &FilterInput) -> bool {
    if filter.reads_body && !req.body_is_json {
        return false;
    }
    node_matches(&filter.root, Some(&req.request))
}

fn node_matches(node: &Node, data: Option<&Value>) -> bool {
    match node {
        Node::Equals(expected) => data.is_some_and(|d| equals_or_has_element(d, expected)),
        Node::ContainsAll(entries) => match data {
            Some(Value::Array(elements)) => entries
                .iter()
                .all(|entry| elements.iter().any(|e| node_matches(entry, Some(e)))),
            _ => false,
        },
        Node::Object { ops, fields } => {
            ops.iter().all(|op| op_matches(op, data)) && fields_match(fields, data)
        }
    }
}

/// Every field condition holds for the object, or for one element of the array.
fn fields_match(fields: &[(String, Node)], data: Option<&Value>) -> bool {
    let on_object = |object: &Map<String, Value>| {
        fields
            .iter()
            .all(|(name, node)| node_matches(node, object.get(name)))
    };
    if fields.is_empty() {
        return true;
    }
    match data {
        Some(Value::Object(object)) => on_object(object),
        Some(Value::Array(elements)) => elements
            .iter()
            .any(|e| e.as_object().is_some_and(on_object)),
        _ => false,
    }
}

fn op_matches(op: &Op, data: Option<&Value>) -> bool {
    let is_in = |candidates: &[Value]| {
        data.is_some_and(|d| candidates.iter().any(|c| equals_or_has_element(d, c)))
    };
    match op {
        Op::Eq(expected) => data.is_some_and(|d| equals_or_has_element(d, expected)),
        Op::Neq(expected) => !data.is_some_and(|d| equals_or_has_element(d, expected)),
        Op::In(candidates) => is_in(candidates),
        Op::Nin(candidates) => !is_in(candidates),
        Op::Compare(cmp, bound) => any_scalar(data, |v| {
            v.as_number()
                .and_then(|n| compare_numbers(n, bound))
                .is_some_and(|order| cmp.holds(order))
        }),
        Op::Exist(wanted) => data.is_some() == *wanted,
        Op::StartsWith(prefix) => any_scalar(data, |v| {
            v.as_str().is_some_and(|s| s.starts_with(prefix.as_str()))
        }),
        Op::EndsWith(suffix) => any_scalar(data, |v| {
            v.as_str().is_some_and(|s| s.ends_with(suffix.as_str()))
        }),
        Op::Contains(needle) => match (data, needle) {
            (Some(Value::String(s)), Value::String(part)) => s.contains(part.as_str()),
            (Some(Value::Array(elements)), _) => elements.iter().any(|e| values_equal(e, needle)),
            _ => false,
        },
        Op::And(nodes) => nodes.iter().all(|n| node_matches(n, data)),
        Op::Or(nodes) => nodes.iter().any(|n| node_matches(n, data)),
        Op::Not(node) => !node_matches(node, data),
    }
}

/// `test` holds for the value or for one element of it.
fn any_scalar(data: Option<&Value>, test: impl Fn(&Value) -> bool) -> bool {
    match data {
        Some(Value::Array(elements)) => elements.iter().any(&test),
        Some(value) => test(value),
        None => false,
    }
}

fn equals_or_has_element(data: &Value, expected: &Value) -> bool {
    values_equal(data, expected)
        || data
            .as_array()
            .is_some_and(|elements| elements.iter().any(|e| values_equal(e, expected)))
}

/// Deep equality where numbers compare by value (`1` equals `1.0`).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| values_equal(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| values_equal(x, y)))
        }
        _ => a == b,
    }
}

/// Integers compare exactly, anything else as f64.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// The provider's own name for the event, where its registry row says it is
/// (for most, the body's `type` when it is a string). GitHub's form is the
/// `X-GitHub-Event` header, plus `.` and the body's `action` when there is one
/// (`pull_request.opened`); `event_types` also matches the bare event name.
pub fn event_type(
    provider: Provider,
    headers: &HeaderList,
    body: Option<&Value>,
) -> Option<String> {
    event_type_names(provider, headers, body).into_iter().next()
}

/// Every name `event_types` is matched against, most specific first.
fn event_type_names(provider: Provider, headers: &HeaderList, body: Option<&Value>) -> Vec<String> {
    let header = |name: &str| headers.non_blank(name).map(str::to_string);
    let body_string = |key: &str| body.and_then(|b| b.get(key)).and_then(Value::as_str);
    match provider.spec().event_type {
        EventType::None => Vec::new(),
        EventType::Header(name) => header(name).into_iter().collect(),
        EventType::BodyField(field) => body_string(field).map(str::to_string).into_iter().collect(),
        EventType::HeaderWithAction(name) => {
            let Some(event) = header(name) else {
                return Vec::new();
            };
            match body_string("action").filter(|a| !a.is_empty()) {
                Some(action) => vec![format!("{event}.{action}"), event],
                None => vec![event],
            }
        }
    }
}

/// A checked `event_types` list of [`EventTypePattern`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct EventTypes(Vec<EventTypePattern>);

impl EventTypes {
    pub fn patterns(&self) -> &[EventTypePattern] {
        &self.0
    }

    /// Whether any pattern matches any of the request's names for its event.
    pub fn accept(&self, req: &FilterInput) -> bool {
        req.event_types
            .iter()
            .any(|name| self.0.iter().any(|pattern| pattern.matches(name)))
    }
}

impl TryFrom<Value> for EventTypes {
    type Error = ValidationError;
    fn try_from(value: Value) -> Result<Self, ValidationError> {
        parse_event_types(&value)
    }
}

impl From<EventTypes> for Value {
    fn from(types: EventTypes) -> Value {
        types.0.iter().map(|p| Value::from(p.as_str())).collect()
    }
}

/// Checks an `event_types` list as given to the API.
pub fn parse_event_types(value: &Value) -> Result<EventTypes, ValidationError> {
    const PATH: &str = "event_types";
    let items = expect_array(value, PATH)?;
    if items.is_empty() {
        return Err(ValidationError::new(
            PATH,
            "expected at least one pattern; leave event_types out to accept every type",
        ));
    }
    if items.len() > MAX_EVENT_TYPES {
        return Err(ValidationError::new(
            PATH,
            format!("at most {MAX_EVENT_TYPES} patterns"),
        ));
    }
    let patterns = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = index_path(PATH, i);
            let pattern = expect_string(item, &path)?;
            EventTypePattern::parse(&pattern).map_err(|_| {
                ValidationError::new(
                    &path,
                    "expected a non-empty pattern without control characters",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(EventTypes(patterns))
}

/// What a route selects: its filter and its event types, both optional; a route
/// with neither accepts every request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<RouteFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<EventTypes>,
}

impl RouteSelector {
    /// Checks a route's `filter` and `event_types` as given to the API; `null`
    /// counts as absent.
    pub fn parse(
        filter: Option<&Value>,
        event_types: Option<&Value>,
    ) -> Result<Self, ValidationError> {
        Ok(RouteSelector {
            filter: present(filter).map(parse_filter).transpose()?,
            event_types: present(event_types).map(parse_event_types).transpose()?,
        })
    }

    pub fn accepts(&self, req: &FilterInput) -> bool {
        self.filter.as_ref().is_none_or(|f| matches(f, req))
            && self.event_types.as_ref().is_none_or(|t| t.accept(req))
    }
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(body: &str, headers: &[(&str, &str)], query: &[(&str, &str)]) -> FilterInput {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let headers = HeaderList::new(headers.iter().copied());
        FilterInput::new(body.as_bytes(), &headers, &query, "/ep_1", Provider::none())
    }

    fn provider_input(provider: Provider, headers: &[(&str, &str)], body: &str) -> FilterInput {
        let headers = HeaderList::new(headers.iter().copied());
        FilterInput::new(body.as_bytes(), &headers, &[], "/ep_1", provider)
    }

    fn filter(text: &str) -> RouteFilter {
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        parse_filter(&value).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Each filter, written as JSON, against `req`.
    fn check(req: &FilterInput, cases: &[(&str, bool)]) {
        for &(text, expected) in cases {
            assert_eq!(matches(&filter(text), req), expected, "{text}");
        }
    }

    const CHARGE: &str = r#"{
        "type": "charge.refunded", "livemode": false, "amount": 2500, "currency": "eur",
        "customer": null, "description": "Order #1234 (gift)",
        "data": {"object": {"metadata": {"tier": "gold"}}},
        "tags": ["gift", "sale", "eu"], "scores": [3, 17, 42],
        "items": [{"sku": "A1", "qty": 1}, {"sku": "B2", "qty": 5}]
    }"#;

    #[test]
    fn plain_values_and_nested_objects() {
        check(
            &input(CHARGE, &[], &[]),
            &[
                (r#"{}"#, true),
                (r#"{"body": {"type": "charge.refunded"}}"#, true),
                (r#"{"body": {"type": "charge.failed"}}"#, false),
                (r#"{"body": {"livemode": false}}"#, true),
                (r#"{"body": {"amount": 2500.0}}"#, true),
                (r#"{"body": {"amount": "2500"}}"#, false),
                (r#"{"body": {"customer": null}}"#, true),
                (r#"{"body": {"email": null}}"#, false),
                (
                    r#"{"body": {"data": {"object": {"metadata": {"tier": "gold"}}}}}"#,
                    true,
                ),
                (
                    r#"{"body": {"data": {"object": {"metadata": {"tier": "iron"}}}}}"#,
                    false,
                ),
                (
                    r#"{"body": {"type": "charge.refunded", "currency": "usd"}}"#,
                    false,
                ),
            ],
        );
    }

    #[test]
    fn every_operator() {
        check(
            &input(CHARGE, &[], &[]),
            &[
                (r#"{"body": {"type": {"$eq": "charge.refunded"}}}"#, true),
                (
                    r#"{"body": {"data": {"$eq": {"object": {"metadata": {"tier": "gold"}}}}}}"#,
                    true,
                ),
                (r#"{"body": {"data": {"$eq": {"object": {}}}}}"#, false),
                (r#"{"body": {"type": {"$neq": "charge.failed"}}}"#, true),
                (r#"{"body": {"type": {"$neq": "charge.refunded"}}}"#, false),
                (
                    r#"{"body": {"type": {"$in": ["charge.failed", "charge.refunded"]}}}"#,
                    true,
                ),
                (r#"{"body": {"type": {"$in": ["a", "b"]}}}"#, false),
                (r#"{"body": {"type": {"$nin": ["a", "b"]}}}"#, true),
                (
                    r#"{"body": {"type": {"$nin": ["charge.refunded"]}}}"#,
                    false,
                ),
                (r#"{"body": {"amount": {"$gt": 2000}}}"#, true),
                (r#"{"body": {"amount": {"$gt": 2500}}}"#, false),
                (r#"{"body": {"amount": {"$gte": 2500}}}"#, true),
                (r#"{"body": {"amount": {"$lt": 2500.5}}}"#, true),
                (r#"{"body": {"amount": {"$lte": 2499}}}"#, false),
                (r#"{"body": {"amount": {"$gte": 1000, "$lt": 5000}}}"#, true),
                (r#"{"body": {"amount": {"$exist": true}}}"#, true),
                (r#"{"body": {"customer": {"$exist": true}}}"#, true),
                (r#"{"body": {"dispute": {"$exist": false}}}"#, true),
                (r#"{"body": {"type": {"$exist": false}}}"#, false),
                (r#"{"body": {"type": {"$startsWith": "charge."}}}"#, true),
                (
                    r#"{"body": {"type": {"$startsWith": "payment_intent."}}}"#,
                    false,
                ),
                (r#"{"body": {"type": {"$endsWith": ".refunded"}}}"#, true),
                (r#"{"body": {"type": {"$endsWith": ".failed"}}}"#, false),
                (r#"{"body": {"description": {"$contains": "gift"}}}"#, true),
                (r#"{"body": {"description": {"$contains": "Gift"}}}"#, false),
                (r#"{"body": {"tags": {"$contains": "sale"}}}"#, true),
                (r#"{"body": {"tags": {"$contains": "sal"}}}"#, false),
                (r#"{"body": {"scores": {"$contains": 17}}}"#, true),
                (
                    r#"{"body": {"$and": [{"type": "charge.refunded"}, {"livemode": false}]}}"#,
                    true,
                ),
                (
                    r#"{"body": {"$and": [{"type": "charge.refunded"}, {"livemode": true}]}}"#,
                    false,
                ),
                (
                    r#"{"body": {"$or": [{"type": "x"}, {"currency": "eur"}]}}"#,
                    true,
                ),
                (
                    r#"{"body": {"$or": [{"type": "x"}, {"livemode": true}]}}"#,
                    false,
                ),
                (
                    r#"{"body": {"type": {"$or": ["a", {"$startsWith": "charge"}]}}}"#,
                    true,
                ),
                (
                    r#"{"body": {"type": {"$not": {"$startsWith": "payment_intent."}}}}"#,
                    true,
                ),
                (r#"{"body": {"$not": {"type": "charge.refunded"}}}"#, false),
                (
                    r#"{"body": {"$or": [{"livemode": true}, {"amount": 2500}], "tags": "eu"}}"#,
                    true,
                ),
                (
                    r#"{"$or": [{"path": "/other"}, {"body": {"livemode": false}}]}"#,
                    true,
                ),
                (
                    r#"{"$and": [{"path": "/ep_1"}, {"$not": {"body": {"livemode": false}}}]}"#,
                    false,
                ),
            ],
        );
    }

    #[test]
    fn type_mismatches_never_match() {
        check(
            &input(CHARGE, &[], &[]),
            &[
                (r#"{"body": {"type": {"$gt": 0}}}"#, false),
                (r#"{"body": {"livemode": {"$lt": 1}}}"#, false),
                (r#"{"body": {"customer": {"$gte": 0}}}"#, false),
                (r#"{"body": {"amount": {"$startsWith": "25"}}}"#, false),
                (r#"{"body": {"amount": {"$contains": 25}}}"#, false),
                (r#"{"body": {"description": {"$contains": 1234}}}"#, false),
                (r#"{"body": {"data": {"$endsWith": "x"}}}"#, false),
                (r#"{"body": {"type": {"sub": "field"}}}"#, false),
                (r#"{"body": {"amount": ["2500"]}}"#, false),
            ],
        );
    }

    #[test]
    fn arrays_match_any_element_or_contain_all() {
        check(
            &input(CHARGE, &[], &[]),
            &[
                (r#"{"body": {"tags": "gift"}}"#, true),
                (r#"{"body": {"tags": "us"}}"#, false),
                (r#"{"body": {"tags": ["eu", "gift"]}}"#, true),
                (r#"{"body": {"tags": ["eu", "us"]}}"#, false),
                (r#"{"body": {"type": ["charge.refunded"]}}"#, false),
                (
                    r#"{"body": {"tags": {"$eq": ["gift", "sale", "eu"]}}}"#,
                    true,
                ),
                (
                    r#"{"body": {"tags": {"$eq": ["eu", "gift", "sale"]}}}"#,
                    false,
                ),
                (r#"{"body": {"tags": {"$eq": "sale"}}}"#, true),
                (r#"{"body": {"tags": {"$neq": "sale"}}}"#, false),
                (r#"{"body": {"tags": {"$in": ["us", "eu"]}}}"#, true),
                (r#"{"body": {"tags": {"$nin": ["us", "eu"]}}}"#, false),
                (r#"{"body": {"scores": {"$gt": 40}}}"#, true),
                (r#"{"body": {"scores": {"$gt": 42}}}"#, false),
                (r#"{"body": {"tags": {"$startsWith": "sa"}}}"#, true),
                (r#"{"body": {"items": {"sku": "B2", "qty": 5}}}"#, true),
                // The fields of one object must hold for one and the same element.
                (r#"{"body": {"items": {"sku": "A1", "qty": 5}}}"#, false),
                (r#"{"body": {"items": {"qty": {"$gte": 5}}}}"#, true),
                (
                    r#"{"body": {"items": [{"sku": "A1"}, {"sku": "B2"}]}}"#,
                    true,
                ),
                (r#"{"body": {"tags": {"$not": {"$contains": "us"}}}}"#, true),
            ],
        );
    }

    #[test]
    fn missing_fields_fail_every_test_but_the_negative_ones() {
        check(
            &input(r#"{"type": "ping"}"#, &[], &[]),
            &[
                (r#"{"body": {"amount": 1}}"#, false),
                (r#"{"body": {"data": {"object": {"id": "x"}}}}"#, false),
                (r#"{"body": {"amount": {"$eq": 1}}}"#, false),
                (r#"{"body": {"amount": {"$gt": 0}}}"#, false),
                (r#"{"body": {"amount": {"$in": [1]}}}"#, false),
                (r#"{"body": {"tags": {"$contains": "a"}}}"#, false),
                (r#"{"body": {"name": {"$startsWith": ""}}}"#, false),
                (r#"{"body": {"amount": {"$neq": 1}}}"#, true),
                (r#"{"body": {"amount": {"$nin": [1]}}}"#, true),
                (r#"{"body": {"amount": {"$exist": false}}}"#, true),
                (r#"{"body": {"amount": {"$not": {"$gt": 10}}}}"#, true),
            ],
        );
    }

    #[test]
    fn headers_query_and_path() {
        let headers = [
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/json"),
            ("X-Tag", "a"),
            ("X-Tag", "b"),
            ("X-Count", "10"),
        ];
        let query = [("env", "prod"), ("team", "x"), ("team", "y")];
        check(
            &input(r#"{"ok": true}"#, &headers, &query),
            &[
                (r#"{"headers": {"x-github-event": "push"}}"#, true),
                (r#"{"headers": {"X-GitHub-Event": "push"}}"#, true),
                (r#"{"headers": {"x-github-event": "Push"}}"#, false),
                (
                    r#"{"headers": {"content-type": {"$startsWith": "application/json"}}}"#,
                    true,
                ),
                (r#"{"headers": {"x-tag": "b"}}"#, true),
                (r#"{"headers": {"x-count": {"$gt": 5}}}"#, false),
                (r#"{"headers": {"x-count": "10"}}"#, true),
                (r#"{"headers": {"x-missing": {"$exist": false}}}"#, true),
                (r#"{"query": {"env": "prod"}}"#, true),
                (r#"{"query": {"env": "staging"}}"#, false),
                (r#"{"query": {"team": ["y", "x"]}}"#, true),
                (r#"{"path": "/ep_1"}"#, true),
                (r#"{"path": {"$startsWith": "/ep_"}}"#, true),
                (r#"{"path": "/ep_9"}"#, false),
                (
                    r#"{"body": {"ok": true}, "headers": {"x-tag": "a"}, "path": "/ep_1"}"#,
                    true,
                ),
            ],
        );
    }

    #[test]
    fn a_body_that_is_not_json_matches_only_filters_that_do_not_read_it() {
        let form_type = [("content-type", "application/x-www-form-urlencoded")];
        let not_json = [
            &input("payload=%7B%7D", &form_type, &[]),
            &input("", &[], &[]),
            &input("{\"truncated\": ", &[], &[]),
        ];
        let cases = [
            (r#"{}"#, true),
            (r#"{"path": "/ep_1"}"#, true),
            (
                r#"{"headers": {"content-type": {"$neq": "application/json"}}}"#,
                true,
            ),
            (r#"{"body": {"payload": {"$exist": true}}}"#, false),
            (r#"{"body": {"payload": {"$exist": false}}}"#, false),
            (r#"{"body": {"$exist": false}}"#, false),
            (r#"{"$not": {"body": {"type": "x"}}}"#, false),
            (r#"{"$or": [{"body": {"a": 1}}, {"path": "/ep_1"}]}"#, false),
        ];
        for req in not_json {
            check(req, &cases);
        }
    }

    #[test]
    fn scalar_and_array_bodies() {
        check(&input("false", &[], &[]), &[(r#"{"body": false}"#, true)]);
        check(
            &input(r#""hello""#, &[], &[]),
            &[(r#"{"body": {"$startsWith": "he"}}"#, true)],
        );
        check(
            &input(r#"[{"id": 1}, {"id": 2}]"#, &[], &[]),
            &[
                (r#"{"body": {"id": 2}}"#, true),
                (r#"{"body": {"id": 3}}"#, false),
            ],
        );
    }

    #[test]
    fn large_integers_compare_exactly() {
        let body = r#"{"id": 9007199254740993, "neg": -5, "big": 18446744073709551615}"#;
        check(
            &input(body, &[], &[]),
            &[
                (r#"{"body": {"id": 9007199254740993}}"#, true),
                (r#"{"body": {"id": 9007199254740992}}"#, false),
                (r#"{"body": {"neg": {"$lt": 18446744073709551615}}}"#, true),
                (r#"{"body": {"big": {"$gte": 18446744073709551615}}}"#, true),
                (r#"{"body": {"big": {"$gt": 1.0e3}}}"#, true),
            ],
        );
    }

    #[test]
    fn malformed_filters_are_refused_with_their_path() {
        let not_an_object = "a filter is a JSON object with body, headers, query or path";
        let cases = [
            (r#"[]"#, not_an_object),
            (r#""type""#, not_an_object),
            (
                r#"{"type": "x"}"#,
                "type: unknown part of the request; \
                 a filter starts with body, headers, query, path",
            ),
            (
                r#"{"body": {"amount": {"$gt": "100"}}}"#,
                "body.amount.$gt: expected a number",
            ),
            (
                r#"{"body": {"amount": {"$lte": null}}}"#,
                "body.amount.$lte: expected a number",
            ),
            (
                r#"{"body": {"type": {"$in": "a"}}}"#,
                "body.type.$in: expected an array",
            ),
            (
                r#"{"body": {"type": {"$nin": {}}}}"#,
                "body.type.$nin: expected an array",
            ),
            (
                r#"{"body": {"type": {"$exist": 1}}}"#,
                "body.type.$exist: expected true or false",
            ),
            (
                r#"{"body": {"type": {"$startsWith": 1}}}"#,
                "body.type.$startsWith: expected a string",
            ),
            (
                r#"{"body": {"type": {"$endsWith": ["a"]}}}"#,
                "body.type.$endsWith: expected a string",
            ),
            (
                r#"{"body": {"tags": {"$contains": ["a"]}}}"#,
                "body.tags.$contains: expected a substring or one element, not an array; \
                 a plain array matches arrays that contain all its entries",
            ),
            (
                r#"{"body": {"$or": []}}"#,
                "body.$or: expected at least one filter",
            ),
            (
                r#"{"body": {"$and": {"a": 1}}}"#,
                "body.$and: expected an array",
            ),
            (
                r#"{"body": {"$or": [{"a": 1}, {"b": {"$gt": "x"}}]}}"#,
                "body.$or[1].b.$gt: expected a number",
            ),
            (
                r#"{"body": {"type": {"$regex": "^a"}}}"#,
                "body.type.$regex: unknown operator; expected one of $eq, $neq, $in, $nin, $gt, \
                 $gte, $lt, $lte, $exist, $startsWith, $endsWith, $contains, $and, $or, $not",
            ),
            (
                r#"{"$gt": 1}"#,
                "$gt: this operator tests a value; put it under body, headers, query or path",
            ),
            (
                r#"{"headers": {"$exist": true}}"#,
                "headers.$exist: this operator tests a value; \
                 put it under body, headers, query or path",
            ),
            (
                r#"{"headers": "push"}"#,
                "headers: expected an object of header names",
            ),
            (r#"{"$or": ["x"]}"#, "$or[0]: expected an object"),
            (
                r#"{"body": {"data": {}}}"#,
                "body.data: an empty object would match anything; use {\"$exist\": true}",
            ),
            (
                r#"{"body": {"tags": []}}"#,
                "body.tags: an empty array would match any array; \
                 use {\"$eq\": []} for an empty one",
            ),
            (
                r#"{"body": {"tags": [{"$gt": true}]}}"#,
                "body.tags[0].$gt: expected a number",
            ),
            (
                r#"{"$not": {"query": {"a": {"$in": 3}}}}"#,
                "$not.query.a.$in: expected an array",
            ),
        ];
        for (text, expected) in cases {
            let value: Value = serde_json::from_str(text).unwrap();
            let err = parse_filter(&value).expect_err(text);
            assert_eq!(err.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn deep_filters_are_refused_not_recursed() {
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH + 5 {
            deep = json!({ "a": deep });
        }
        let err = parse_filter(&json!({ "body": deep })).unwrap_err();
        assert!(err.message.contains("nests at most"), "{err}");
        assert!(err.path.starts_with("body.a.a."), "{err}");
    }

    #[test]
    fn a_filter_is_stored_as_written_and_checked_when_read_back() {
        let written = json!({"headers": {"X-Shop": "a"}, "body": {"n": {"$gt": 1}}});
        let filter = parse_filter(&written).unwrap();
        assert_eq!(filter.as_json(), &written);
        let stored = serde_json::to_string(&filter).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&stored).unwrap(), written);
        assert_eq!(
            serde_json::from_str::<RouteFilter>(&stored).unwrap(),
            filter
        );
        let refused = serde_json::from_str::<RouteFilter>(r#"{"body":{"n":{"$gt":"1"}}}"#);
        let message = refused.unwrap_err().to_string();
        assert!(
            message.contains("body.n.$gt: expected a number"),
            "{message}"
        );
    }

    #[test]
    fn event_type_per_provider() {
        let pr = r#"{"action": "opened", "number": 1}"#;
        let github = |event| vec![("X-GitHub-Event", event)];
        let cases = [
            (
                Provider::named("stripe"),
                vec![],
                r#"{"type": "payment_intent.succeeded"}"#,
                Some("payment_intent.succeeded"),
            ),
            (Provider::named("stripe"), vec![], "not json", None),
            (
                Provider::named("github"),
                github("pull_request"),
                pr,
                Some("pull_request.opened"),
            ),
            (
                Provider::named("github"),
                github("push"),
                r#"{"ref": "refs/heads/main"}"#,
                Some("push"),
            ),
            (
                Provider::named("github"),
                github("push"),
                "payload=%7B%7D",
                Some("push"),
            ),
            (Provider::named("github"), vec![], pr, None),
            (
                Provider::named("shopify"),
                vec![("X-Shopify-Topic", "orders/create")],
                r#"{"type": "x"}"#,
                Some("orders/create"),
            ),
            (Provider::named("shopify"), vec![], r#"{"type": "x"}"#, None),
            (
                Provider::named("standard"),
                vec![],
                r#"{"type": "user.created"}"#,
                Some("user.created"),
            ),
            (
                Provider::named("linear"),
                vec![],
                r#"{"type": "Issue", "action": "create"}"#,
                Some("Issue"),
            ),
            (Provider::named("none"), vec![], r#"{"type": 3}"#, None),
        ];
        for (provider, headers, body, expected) in cases {
            let headers = HeaderList::new(headers);
            let parsed = serde_json::from_str::<Value>(body).ok();
            let got = event_type(provider, &headers, parsed.as_ref());
            assert_eq!(got.as_deref(), expected, "{provider:?} {body}");
        }
    }

    #[test]
    fn event_types_shortcut_per_provider() {
        let stripe = |body| provider_input(Provider::named("stripe"), &[], body);
        let payment = stripe(r#"{"type": "payment_intent.succeeded"}"#);
        let refund = stripe(r#"{"type": "charge.refunded"}"#);
        let form = stripe("type=charge.refunded");
        let pr = provider_input(
            Provider::named("github"),
            &[("X-GitHub-Event", "pull_request")],
            r#"{"action": "opened"}"#,
        );
        let push = provider_input(
            Provider::named("github"),
            &[("X-GitHub-Event", "push")],
            "{}",
        );
        let shopify = provider_input(
            Provider::named("shopify"),
            &[("X-Shopify-Topic", "orders/create")],
            "{}",
        );
        let standard = provider_input(
            Provider::named("standard"),
            &[],
            r#"{"type": "invoice.paid"}"#,
        );
        let paddle = provider_input(Provider::named("paddle"), &[], r#"{"event_type": "x.y"}"#);
        let untyped = provider_input(Provider::named("dropbox"), &[], r#"{"type": "x"}"#);
        let cases: &[(&[&str], &FilterInput, bool)] = &[
            (&["payment_intent.*", "charge.refunded"], &payment, true),
            (&["payment_intent.*", "charge.refunded"], &refund, true),
            (&["payment_intent.*"], &refund, false),
            (&["*"], &payment, true),
            (&["payment_intent"], &payment, false),
            (&["*.succeeded"], &payment, true),
            (&["pay*ent*.suc*"], &payment, true),
            (&["charge.refunded"], &form, false),
            (&["pull_request.opened"], &pr, true),
            (&["pull_request"], &pr, true),
            (&["pull_request.*"], &pr, true),
            (&["pull_request.closed"], &pr, false),
            (&["push"], &push, true),
            (&["push.*"], &push, false),
            (&["orders/*"], &shopify, true),
            (&["products/*"], &shopify, false),
            (&["invoice.*"], &standard, true),
            (&["Invoice.*"], &standard, false),
            (&["x.*"], &paddle, true),
            (&["*"], &untyped, false),
        ];
        for &(patterns, req, expected) in cases {
            let types = parse_event_types(&json!(patterns)).unwrap();
            let got = types.accept(req);
            assert_eq!(got, expected, "{patterns:?} {:?}", req.event_type());
        }
    }

    #[test]
    fn malformed_event_types_are_refused_with_their_path() {
        let bad_pattern = "expected a non-empty pattern without control characters";
        let cases = [
            (
                json!("charge.*"),
                "event_types: expected an array".to_string(),
            ),
            (
                json!([]),
                "event_types: expected at least one pattern; leave event_types out to accept \
                 every type"
                    .to_string(),
            ),
            (
                json!(["a", 3]),
                "event_types[1]: expected a string".to_string(),
            ),
            (json!(["a", ""]), format!("event_types[1]: {bad_pattern}")),
            (json!(["a\nb"]), format!("event_types[0]: {bad_pattern}")),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_event_types(&value).unwrap_err().to_string(), expected);
        }
        let too_many: Vec<String> = (0..=MAX_EVENT_TYPES).map(|i| format!("t{i}")).collect();
        assert!(parse_event_types(&json!(too_many)).is_err());
    }

    #[test]
    fn a_route_needs_both_its_filter_and_its_event_types() {
        let stripe = |body| provider_input(Provider::named("stripe"), &[], body);
        let big_refund = stripe(r#"{"type": "charge.refunded", "amount": 9000}"#);
        let small_refund = stripe(r#"{"type": "charge.refunded", "amount": 100}"#);
        let big_payment = stripe(r#"{"type": "payment_intent.succeeded", "amount": 9000}"#);
        let filter = json!({"body": {"amount": {"$gte": 5000}}});
        let types = json!(["charge.*"]);
        let both = RouteSelector::parse(Some(&filter), Some(&types)).unwrap();
        let only_types = RouteSelector::parse(None, Some(&types)).unwrap();
        let only_filter = RouteSelector::parse(Some(&filter), Some(&Value::Null)).unwrap();
        let neither = RouteSelector::parse(Some(&Value::Null), None).unwrap();
        let cases = [
            (&both, &big_refund, true),
            (&both, &small_refund, false),
            (&both, &big_payment, false),
            (&only_types, &small_refund, true),
            (&only_types, &big_payment, false),
            (&only_filter, &big_payment, true),
            (&only_filter, &small_refund, false),
            (&neither, &small_refund, true),
        ];
        for (i, (selector, req, expected)) in cases.into_iter().enumerate() {
            assert_eq!(selector.accepts(req), expected, "case {i}");
        }
        let stored = serde_json::to_value(&both).unwrap();
        assert_eq!(stored, json!({"filter": filter, "event_types": types}));
        assert_eq!(
            serde_json::from_value::<RouteSelector>(stored).unwrap(),
            both
        );
        assert_eq!(serde_json::to_value(&neither).unwrap(), json!({}));
    }

    #[test]
    fn a_malformed_route_selector_names_the_part() {
        let bad_filter = json!({"body": {"a": {"$gt": "1"}}});
        let err = RouteSelector::parse(Some(&bad_filter), None).unwrap_err();
        assert_eq!(err.to_string(), "body.a.$gt: expected a number");
        let err = RouteSelector::parse(None, Some(&json!(["ok", 1]))).unwrap_err();
        assert_eq!(err.path, "event_types[1]");
    }

    #[test]
    fn the_request_document_shows_what_filters_see() {
        let headers = [("X-One", "1"), ("x-two", "2"), ("X-Two", "3")];
        let req = input(r#"{"a": 1}"#, &headers, &[("q", "v")]);
        let expected = json!({
            "body": {"a": 1},
            "headers": {"x-one": "1", "x-two": ["2", "3"]},
            "query": {"q": "v"},
            "path": "/ep_1",
        });
        assert_eq!(req.request(), &expected);
        assert_eq!(input("nope", &[], &[]).request().get("body"), None);
    }
}
