//! The API's OpenAPI 3.1 document, generated.
//!
//! The operations are a table (`operations`): each path and method, its
//! parameters, the type of its request body and of each answer. The role
//! each needs comes from `hookrelay_core::access::OPERATIONS`, the table the
//! router enforces, so the documented roles are the enforced ones and no
//! route goes undocumented. Schemas come from the types through `schemars`:
//! answers from the types the Worker serializes (`hookrelay_core::views`
//! and the ids and statuses they hold), request bodies from those it
//! deserializes (`hookrelay_core::inputs`), so a field added to either is in
//! the document by construction. `written.json` holds the rest: the frame
//! (info, tags, security) and the schemas no type carries yet. The result is
//! `src/api/openapi.json`, which the Worker serves as it is: a test here
//! fails when that file is not this crate's output, and `make docs` rewrites
//! it.
//!
//! Objects are closed: every generated object schema says
//! `additionalProperties: false`, as the written ones do, so the conformance
//! test (`tests/openapi.test.mjs`) catches a field the document does not name.

mod operations;

use hookrelay_core::access::{self, Need};
use hookrelay_core::views;
use operations::{Answer, Body, BodySchema, Content, Operation, Param, ParamSchema, OPERATIONS};
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::transform::RestrictFormats;
use serde_json::{json, Map, Value};

/// The hand-written part of the document: its frame (info, tags, security)
/// and the schemas no type carries yet.
pub const WRITTEN: &str = include_str!("../written.json");

/// Where the document is served from, relative to the workspace root.
pub const SERVED_PATH: &str = "src/api/openapi.json";

/// The generated part of the document: the paths, with the parameters,
/// answers and schemas they refer to.
#[derive(Default)]
struct Generated {
    paths: Map<String, Value>,
    parameters: Map<String, Value>,
    responses: Map<String, Value>,
    schemas: Map<String, Value>,
}

/// Builds every operation, answers through a generator of serialized
/// schemas and request bodies through one of deserialized schemas.
fn generate() -> Generated {
    let mut generated = Generated::default();
    let mut answered = settings(Contract::Serialize).into_generator();
    let mut read = settings(Contract::Deserialize).into_generator();
    for op in OPERATIONS {
        generated.add(op, &mut answered, &mut read);
    }
    assert_every_enforced_operation_is_documented();
    generated.schemas = schemas_of(answered, read, &mut generated.paths);
    generated
}

impl Generated {
    /// Puts the operation under its path, with the path's parameter.
    fn add(&mut self, op: &Operation, answered: &mut SchemaGenerator, read: &mut SchemaGenerator) {
        let value = self.operation(op, answered, read);
        let path_param = op.path_param.as_ref().map(|p| self.param(p, answered));
        let item = self.paths.entry(op.path).or_insert_with(|| json!({}));
        if let Some(param) = path_param {
            let same = item.get("parameters").is_none_or(|p| p == &json!([param]));
            assert!(
                same,
                "{}: its methods give different path parameters",
                op.path
            );
            item["parameters"] = json!([param]);
        }
        let previous = item
            .as_object_mut()
            .expect("a path item")
            .insert(op.method.to_ascii_lowercase(), value);
        assert!(
            previous.is_none(),
            "{} {} is listed twice",
            op.method,
            op.path
        );
    }

    fn operation(
        &mut self,
        op: &Operation,
        answered: &mut SchemaGenerator,
        read: &mut SchemaGenerator,
    ) -> Value {
        let mut value = json!({
            "operationId": op.id,
            "summary": op.summary,
            "tags": [op.tag],
        });
        if let Some(description) = op.description {
            value["description"] = description.into();
        }
        match need_of(op) {
            Some(need) => value["x-required-role"] = need.as_str().into(),
            None => value["security"] = json!([]),
        }
        if !op.query.is_empty() {
            let query: Vec<Value> = op.query.iter().map(|p| self.param(p, answered)).collect();
            value["parameters"] = query.into();
        }
        if let Some(body) = &op.body {
            value["requestBody"] = request_body(body, read);
        }
        let mut responses = Map::new();
        for answer in answers_of(op) {
            let response = self.answer(answer, answered);
            responses.insert(answer.status.to_string(), response);
        }
        value["responses"] = responses.into();
        value
    }

    /// A parameter, or a reference to it when it is shared.
    fn param(&mut self, param: &Param, answered: &mut SchemaGenerator) -> Value {
        let mut value = json!({
            "name": param.name,
            "in": if param.in_path { "path" } else { "query" },
            "required": param.in_path,
            "schema": param_schema(&param.schema, answered),
        });
        if let Some(description) = param.description {
            value["description"] = description.into();
        }
        match param.shared_as {
            Some(name) => shared(&mut self.parameters, name, value, "parameters"),
            None => value,
        }
    }

    /// An answer, or a reference to it when it is shared.
    fn answer(&mut self, answer: &Answer, answered: &mut SchemaGenerator) -> Value {
        let mut value = json!({ "description": answer.description });
        let json_content = |schema: Value| json!({ "application/json": { "schema": schema } });
        let content = match &answer.content {
            Content::None => None,
            Content::Json(schema) => Some(json_content(schema(answered).to_value())),
            Content::List(items, max) => {
                let mut data = json!({ "type": "array", "items": items(answered).to_value() });
                if let Some(max) = max {
                    data["maxItems"] = (*max).into();
                }
                Some(json_content(json!({
                    "type": "object",
                    "required": ["data"],
                    "additionalProperties": false,
                    "properties": { "data": data },
                })))
            }
            Content::Refused(codes) => Some(json_content(refusal(codes, answered))),
            Content::Custom(content) => Some(content(answered)),
        };
        if let Some(content) = content {
            value["content"] = content;
        }
        match answer.shared_as {
            Some(name) => shared(&mut self.responses, name, value, "responses"),
            None => value,
        }
    }
}

/// A request body, its JSON schema as deserialized.
fn request_body(body: &Body, read: &mut SchemaGenerator) -> Value {
    let (media_type, schema) = match body.schema {
        BodySchema::Type(schema) => ("application/json", schema(read).to_value()),
        BodySchema::Written(name) => ("application/json", written_ref(name)),
        BodySchema::Raw => ("*/*", json!({})),
    };
    let mut request = json!({
        "required": body.required,
        "content": { media_type: { "schema": schema } },
    });
    if let Some(description) = body.description {
        request["description"] = description.into();
    }
    request
}

/// Records a shared component under `name` (each name one value) and gives
/// the reference to it.
fn shared(components: &mut Map<String, Value>, name: &str, value: Value, kind: &str) -> Value {
    let previous = components.insert(name.to_string(), value.clone());
    assert!(
        previous.is_none_or(|p| p == value),
        "two different {kind} are named {name}"
    );
    json!({ "$ref": format!("#/components/{kind}/{name}") })
}

/// The error body with one of `codes`.
fn refusal(codes: &[&str], answered: &mut SchemaGenerator) -> Value {
    json!({
        "type": "object",
        "allOf": [operations::schema_of::<views::ErrorBody>(answered).to_value()],
        "properties": { "error": {
            "type": "object",
            "properties": { "code": { "type": "string", "enum": codes } },
        } },
    })
}

fn param_schema(schema: &ParamSchema, answered: &mut SchemaGenerator) -> Value {
    match schema {
        ParamSchema::Text {
            min_len,
            max_len,
            pattern,
        } => {
            let mut value = json!({ "type": "string" });
            if let Some(min) = min_len {
                value["minLength"] = (*min).into();
            }
            if let Some(max) = max_len {
                value["maxLength"] = (*max).into();
            }
            if let Some(pattern) = pattern {
                value["pattern"] = (*pattern).into();
            }
            value
        }
        ParamSchema::Const(value) => json!({ "const": value }),
        ParamSchema::Integer { min, max, default } => {
            json!({ "type": "integer", "minimum": min, "maximum": max, "default": default })
        }
        ParamSchema::Type(schema) => schema(answered).to_value(),
    }
}

fn written_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// What `access::OPERATIONS` says the operation needs; `None` for ingest.
///
/// # Panics
/// When a keyed operation is not in that table.
fn need_of(op: &Operation) -> Option<Need> {
    let path = op.keyed_path()?;
    let need = access::OPERATIONS
        .iter()
        .find(|(method, template, _)| *method == op.method && *template == path)
        .map(|(_, _, need)| *need);
    Some(need.unwrap_or_else(|| panic!("{} {} is not in access::OPERATIONS", op.method, op.path)))
}

/// # Panics
/// When the router enforces an operation the document does not have.
fn assert_every_enforced_operation_is_documented() {
    for (method, path, _) in access::OPERATIONS {
        let documented = OPERATIONS
            .iter()
            .any(|op| op.method == *method && op.keyed_path() == Some(*path));
        assert!(documented, "{method} {path} is routed but not documented");
    }
}

/// The operation's own answers, and those every keyed operation gives
/// (`401`, `403` unless any key may call it, `500`) where it has none of
/// its own for that status.
fn answers_of(op: &Operation) -> Vec<&Answer> {
    let mut answers: Vec<&Answer> = op.answers.iter().collect();
    let Some(need) = need_of(op) else {
        return answers;
    };
    let mut common = vec![&operations::UNAUTHORIZED, &operations::INTERNAL];
    if need != Need::Anyone {
        common.push(&operations::FORBIDDEN);
    }
    for answer in common {
        if !answers.iter().any(|a| a.status == answer.status) {
            answers.push(answer);
        }
    }
    answers
}

/// The generators' schemas, closed. A type both read and answered whose two
/// schemas differ (defaults are optional when read, always present when
/// answered), or that holds one that does, is named `{name}Input` where it
/// is read, request bodies included.
fn schemas_of(
    answered: SchemaGenerator,
    read: SchemaGenerator,
    paths: &mut Map<String, Value>,
) -> Map<String, Value> {
    let mut schemas = definitions(answered);
    let mut read = definitions(read);
    let renamed = read_differently(&schemas, &read);
    for name in &renamed {
        let schema = read.remove(name).expect("a read schema");
        read.insert(format!("{name}Input"), schema);
    }
    for (name, mut schema) in read {
        rename_refs(&mut schema, &renamed);
        schemas.insert(name, schema);
    }
    for request in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("requestBody"))
    {
        rename_refs(request, &renamed);
    }
    schemas
}

/// The names of `read` schemas that differ from the `answered` schema of the
/// same name, or hold one that does.
fn read_differently(answered: &Map<String, Value>, read: &Map<String, Value>) -> Vec<String> {
    let mut differ: Vec<String> = read
        .iter()
        .filter(|(name, schema)| answered.get(*name).is_some_and(|a| a != *schema))
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let holders: Vec<String> = read
            .iter()
            .filter(|(name, schema)| {
                answered.contains_key(*name)
                    && !differ.contains(name)
                    && refers_to_any(schema, &differ)
            })
            .map(|(name, _)| name.clone())
            .collect();
        if holders.is_empty() {
            return differ;
        }
        differ.extend(holders);
    }
}

/// Whether `schema` refers to a schema named in `names`.
fn refers_to_any(schema: &Value, names: &[String]) -> bool {
    match schema {
        Value::Object(map) => {
            let refers = map
                .get("$ref")
                .and_then(Value::as_str)
                .is_some_and(|target| {
                    let name = target.trim_start_matches("#/components/schemas/");
                    names.iter().any(|n| n == name)
                });
            refers || map.values().any(|v| refers_to_any(v, names))
        }
        Value::Array(items) => items.iter().any(|v| refers_to_any(v, names)),
        _ => false,
    }
}

/// Points the references to `renamed` schemas at their `{name}Input`.
fn rename_refs(schema: &mut Value, renamed: &[String]) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref") {
                let name = target.trim_start_matches("#/components/schemas/");
                if renamed.iter().any(|r| r == name) {
                    target.push_str("Input");
                }
            }
            map.values_mut().for_each(|v| rename_refs(v, renamed));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renamed)),
        _ => {}
    }
}

fn definitions(mut generator: SchemaGenerator) -> Map<String, Value> {
    let mut schemas = generator.take_definitions(true);
    schemas.values_mut().for_each(close_objects);
    schemas
}

/// JSON Schema 2020-12 (OpenAPI 3.1's dialect) of what is serialized or
/// deserialized, with references into `components/schemas`, and only the
/// formats a validator knows (`date-time`, `date`, `uri`; Rust's integer widths are
/// dropped, their `minimum` stays).
fn settings(contract: Contract) -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
        s.contract = contract;
        s.transforms.push(Box::new(known_formats()));
    })
}

/// The formats the document uses that every validator knows.
fn known_formats() -> RestrictFormats {
    let mut restrict = RestrictFormats::default();
    restrict.infer_from_meta_schema = false;
    restrict.allowed_formats = ["date-time", "date", "uri"].map(Into::into).into();
    restrict
}

/// An object schema that lists its properties admits no others, and so do
/// the objects it holds. Conditions (`if`, `then`, `else`, `not`) only
/// constrain the object they sit in, and stay open.
fn close_objects(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if map.get("type") == Some(&Value::from("object"))
        && map.contains_key("properties")
        && !map.contains_key("additionalProperties")
    {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(close_objects);
    }
    for key in ["items", "additionalProperties"] {
        map.get_mut(key).into_iter().for_each(close_objects);
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(subschemas)) = map.get_mut(key) {
            subschemas.iter_mut().for_each(close_objects);
        }
    }
}

/// The served document: the written frame with the generated paths,
/// parameters, answers and schemas added.
///
/// # Panics
/// When `written.json` is not a JSON object with `components.schemas`, names
/// a schema a type also generates (each schema has one source), or the
/// operations and `access::OPERATIONS` differ.
pub fn document() -> Value {
    let mut doc: Value = serde_json::from_str(WRITTEN).expect("written.json is JSON");
    let generated = generate();
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("written.json has components.schemas");
    for (name, schema) in generated.schemas {
        assert!(
            schemas.insert(name.clone(), schema).is_none(),
            "schema {name} is both written and generated: remove it from written.json"
        );
    }
    doc["paths"] = generated.paths.into();
    doc["components"]["parameters"] = generated.parameters.into();
    doc["components"]["responses"] = generated.responses.into();
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .expect("written.json lists tags")
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    for op in OPERATIONS {
        assert!(
            tags.contains(&op.tag),
            "{}: tag {} is not listed",
            op.id,
            op.tag
        );
    }
    doc
}

/// The document as the Worker serves it: compact (it is embedded in the
/// Worker, and people read `written.json` and the types), keys sorted, one
/// final newline.
pub fn served_text() -> String {
    let mut text = serde_json::to_string(&document()).expect("a Value serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated_schemas() -> Map<String, Value> {
        generate().schemas
    }

    fn served_file() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SERVED_PATH)
    }

    /// `src/api/openapi.json` is this crate's output. Run with
    /// `HOOKRELAY_WRITE_DOCS=1` (`make docs`) to rewrite it.
    #[test]
    fn the_served_document_is_generated() {
        let expected = served_text();
        if std::env::var_os("HOOKRELAY_WRITE_DOCS").is_some() {
            std::fs::write(served_file(), &expected).unwrap();
            return;
        }
        let served = std::fs::read_to_string(served_file()).unwrap();
        assert!(
            served == expected,
            "{SERVED_PATH} is out of date: run `make docs`"
        );
    }

    /// Every `$ref` in the document names a schema it has, written or generated.
    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let Some(name) = r.strip_prefix("#/components/schemas/") else {
                continue; // parameters and responses are written
            };
            assert!(schemas.contains_key(name), "{r} resolves to nothing");
        }
    }

    fn collect_refs(value: &Value, refs: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    refs.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
            _ => {}
        }
    }

    /// Prints the generated schemas' names: `cargo test -p hookrelay-openapi
    /// -- --ignored --nocapture generated_names`.
    #[test]
    #[ignore]
    fn generated_names() {
        println!("{:?}", generated_schemas().keys().collect::<Vec<_>>());
    }

    /// Scheme settings are answered with their defaults filled in and read
    /// with them optional: two schemas, and each side refers to its own.
    #[test]
    fn a_type_read_and_answered_differently_has_an_input_schema() {
        let schemas = generated_schemas();
        let reference = |name: &str, field: &str| {
            schemas[name]["properties"][field]["anyOf"][0]["$ref"].clone()
        };
        assert_eq!(
            reference("SchemeConfig", "hmac"),
            "#/components/schemas/HmacConfig"
        );
        assert_eq!(
            reference("SchemeConfigInput", "hmac"),
            "#/components/schemas/HmacConfigInput"
        );
        assert_eq!(
            reference("EndpointPatch", "scheme_config"),
            "#/components/schemas/SchemeConfigInput"
        );
        let answered = schemas["HmacConfig"]["required"].as_array().unwrap();
        let read = schemas["HmacConfigInput"]["required"].as_array().unwrap();
        assert!(answered.contains(&"tolerance_s".into()));
        assert!(!read.contains(&"tolerance_s".into()));
        assert!(
            !schemas.contains_key("HmacAlgorithmInput"),
            "the same either way"
        );
    }

    /// An edit may leave out any field: a field whose schema is given by a
    /// function still reads as optional.
    #[test]
    fn edits_require_no_field() {
        let schemas = generated_schemas();
        for name in [
            "EndpointPatch",
            "RoutePatch",
            "RetryInput",
            "CircuitInput",
            "LeaseRequest",
        ] {
            assert!(
                schemas[name].get("required").is_none(),
                "{name} requires a field"
            );
        }
    }

    #[test]
    fn generated_objects_are_closed_and_say_what_they_require() {
        let schemas = generated_schemas();
        let health = &schemas["Health"];
        assert_eq!(health["additionalProperties"], false);
        let required: Vec<&str> = health["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for field in ["status", "sweeper", "counts", "requests", "endpoint_id"] {
            assert!(required.contains(&field), "{field} is always present");
        }
        let ack = &schemas["IngestAck"];
        let required = ack["required"].as_array().unwrap();
        assert!(
            !required.contains(&"status".into()),
            "absent on a duplicate"
        );
        assert_eq!(schemas["EventId"]["pattern"], "^evt_[0-9a-z]{26}$");
        assert!(schemas.contains_key("Error"), "ErrorBody is named Error");
    }

    /// Roles come from the router's table; ingest needs no key.
    #[test]
    fn roles_are_the_enforced_ones() {
        let doc = document();
        let role = |path: &str, method: &str| doc["paths"][path][method]["x-required-role"].clone();
        assert_eq!(role("/api/v1/endpoints/{id}", "delete"), "admin");
        assert_eq!(role("/api/v1/endpoints/{id}", "patch"), "editor");
        assert_eq!(role("/api/v1/pull/{endpoint_id}", "post"), "pull");
        assert_eq!(role("/api/v1/whoami", "get"), "any");
        assert_eq!(
            doc["paths"]["/{endpoint_id}"]["post"]["security"],
            json!([])
        );
        assert!(role("/{endpoint_id}", "post").is_null());
    }

    #[test]
    #[should_panic(expected = "is not in access::OPERATIONS")]
    fn an_operation_the_router_does_not_know_is_refused() {
        let unrouted = Operation::get("/api/v1/nowhere", "nowhere", "meta", "Nothing");
        need_of(&unrouted);
    }

    /// `401` and `500` on every keyed operation; `403` unless any key may
    /// call it; an operation's own answer for one of these statuses wins.
    #[test]
    fn keyed_operations_share_their_common_answers() {
        let doc = document();
        let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
        let whoami = responses("/api/v1/whoami", "get");
        assert_eq!(whoami["401"]["$ref"], "#/components/responses/Unauthorized");
        assert!(whoami.get("403").is_none(), "any key may ask who it is");
        let rotate = responses("/api/v1/endpoints/{id}/secrets/rotate", "post");
        assert_eq!(rotate["403"]["$ref"], "#/components/responses/Forbidden");
        assert!(rotate["500"].get("$ref").is_none(), "its own 500");
        let ingest = responses("/{endpoint_id}", "post");
        assert!(
            ingest["401"].get("$ref").is_none(),
            "a signature, not a key"
        );
    }

    /// Key roles, channel kinds and refusal reasons are strings in the API;
    /// their schemas list what the code's own enums name.
    #[test]
    fn enumerated_strings_are_the_codes_own_names() {
        use hookrelay_core::alerts::ChannelKind;
        use hookrelay_core::model::RefusalReason;
        let schemas = generated_schemas();
        let strings = |values: &Value| -> Vec<String> {
            values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            strings(&schemas["KeyRole"]["enum"]),
            ["viewer", "editor", "admin", "pull"]
        );
        let reasons: Vec<&str> = RefusalReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(strings(&schemas["RefusalReason"]["enum"]), reasons);
        let kinds: Vec<Value> = schemas["AlertChannelKind"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kind| kind["const"].clone())
            .collect();
        let named: Vec<Option<ChannelKind>> = kinds
            .iter()
            .map(|kind| ChannelKind::parse(kind.as_str().unwrap()))
            .collect();
        assert_eq!(
            named,
            [
                Some(ChannelKind::Slack),
                Some(ChannelKind::Webhook),
                Some(ChannelKind::PagerDuty)
            ]
        );
    }
}
