//! The API's OpenAPI 3.1 document, generated.
//!
//! The schemas of the answers come from the types the Worker serializes
//! (`hookrelay_core::views` and the ids and statuses they hold), and those of
//! request bodies from the types it deserializes (`hookrelay_core::inputs`),
//! through their `schemars` JSON Schemas, so a field added to either is in
//! the document by construction. The rest (the operations, their parameters,
//! what makes an edit a valid creation, and a few small schemas) is written
//! by hand in `written.json`. The two are merged into
//! `src/api/openapi.json`, which the Worker serves as it is: a test here
//! fails when that file is not this crate's output, and `make docs` rewrites
//! it.
//!
//! Objects are closed: every generated object schema says
//! `additionalProperties: false`, as the written ones do, so the conformance
//! test (`tests/openapi.test.mjs`) catches a field the document does not name.

use hookrelay_core::{inputs, views};
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::transform::RestrictFormats;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

/// The hand-written part of the document.
pub const WRITTEN: &str = include_str!("../written.json");

/// Where the document is served from, relative to the workspace root.
pub const SERVED_PATH: &str = "src/api/openapi.json";

/// The answers whose schemas come from their types, as serialized; each pulls
/// in the types it holds (its ids, statuses and parts) under their own names.
const ANSWERS: [fn(&mut SchemaGenerator) -> Schema; 37] = [
    schema_of::<views::ErrorBody>,
    schema_of::<views::IngestAck>,
    schema_of::<views::Health>,
    schema_of::<views::Timeseries>,
    schema_of::<views::EndpointStatsList>,
    schema_of::<views::WhoAmI>,
    schema_of::<views::RouteTested>,
    schema_of::<views::ReportedAttempt>,
    schema_of::<views::Page<views::EventView>>,
    schema_of::<views::EventDetail>,
    schema_of::<views::Page<views::IngestView>>,
    schema_of::<views::IngestDetail>,
    schema_of::<views::KeyView>,
    schema_of::<views::CreatedKey>,
    schema_of::<views::AlertChannelView>,
    schema_of::<views::CreatedAlertChannel>,
    schema_of::<views::AlertRuleView>,
    schema_of::<views::LeasedEvent>,
    schema_of::<views::RefusalCounts>,
    schema_of::<views::Rejections>,
    schema_of::<hookrelay_core::verify::catalog::ProviderView>,
    schema_of::<views::EndpointView>,
    schema_of::<views::EndpointDetail>,
    schema_of::<views::Created<views::EndpointView>>,
    schema_of::<views::Drained<views::EndpointView>>,
    schema_of::<views::Rotated>,
    schema_of::<views::RouteView>,
    schema_of::<views::Created<views::RouteView>>,
    schema_of::<views::Drained<views::RouteView>>,
    schema_of::<hookrelay_core::catch_up::CatchUpOutcome>,
    schema_of::<views::Requeued>,
    schema_of::<views::Replayed>,
    schema_of::<views::RelaySecretView>,
    schema_of::<views::ChannelTested>,
    schema_of::<hookrelay_core::handshake::ZoomUrlValidation>,
    schema_of::<hookrelay_core::handshake::OktaVerification>,
    schema_of::<hookrelay_core::handshake::DiscordPong>,
];

/// The request bodies whose schemas come from their types, as deserialized.
const REQUESTS: [fn(&mut SchemaGenerator) -> Schema; 12] = [
    schema_of::<inputs::KeyInput>,
    schema_of::<inputs::ChannelInput>,
    schema_of::<inputs::RotateInput>,
    schema_of::<inputs::PauseInput>,
    schema_of::<inputs::ReplayInput>,
    schema_of::<inputs::LeaseInput>,
    schema_of::<inputs::AttemptReport>,
    schema_of::<inputs::RouteTestInput>,
    schema_of::<inputs::EndpointInput>,
    schema_of::<inputs::RouteInput>,
    schema_of::<hookrelay_core::alert_rules::RuleInput>,
    schema_of::<hookrelay_core::catch_up::RequestInput>,
];

/// Every generated schema: the answers' and the requests'. A type both read
/// and answered whose two schemas differ (defaults are optional when read,
/// always present when answered), or that holds one that does, is named
/// `{name}Input` where it is read.
fn generated_schemas() -> Map<String, Value> {
    let mut schemas = definitions(Contract::Serialize, &ANSWERS);
    let mut read = definitions(Contract::Deserialize, &REQUESTS);
    let renamed = read_differently(&schemas, &read);
    for name in &renamed {
        let schema = read.remove(name).expect("a read schema");
        read.insert(format!("{name}Input"), schema);
    }
    for (name, mut schema) in read {
        rename_refs(&mut schema, &renamed);
        schemas.insert(name, schema);
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

fn definitions(
    contract: Contract,
    types: &[fn(&mut SchemaGenerator) -> Schema],
) -> Map<String, Value> {
    let mut generator = settings(contract).into_generator();
    for add in types {
        add(&mut generator);
    }
    let mut schemas = generator.take_definitions(true);
    schemas.values_mut().for_each(close_objects);
    schemas
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// JSON Schema 2020-12 (OpenAPI 3.1's dialect) of what is serialized or
/// deserialized, with references into `components/schemas`, and only the
/// formats a validator knows (`date-time`, `uri`; Rust's integer widths are
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
    restrict.allowed_formats = ["date-time", "uri"].map(Into::into).into();
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

/// The served document: the written part with the generated schemas added.
///
/// # Panics
/// When `written.json` is not a JSON object with `components.schemas`, or
/// names a schema a type also generates (each schema has one source).
pub fn document() -> Value {
    let mut doc: Value = serde_json::from_str(WRITTEN).expect("written.json is JSON");
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("written.json has components.schemas");
    for (name, schema) in generated_schemas() {
        assert!(
            schemas.insert(name.clone(), schema).is_none(),
            "schema {name} is both written and generated: remove it from written.json"
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
}
