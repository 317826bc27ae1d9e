//! Lints `wrangler.toml` against the config mistakes that lose events silently:
//! a missing cron (no sweeper, no heartbeat), a missing delivery consumer, a
//! consumer without a dead-letter queue (or a DLQ nobody consumes), one queue
//! consumed by more than one environment (two Workers splitting the messages),
//! and a missing live hub (the Durable Object `GET /api/v1/stream` needs: its
//! binding in every environment and the migration that creates its class).
//!
//! Every environment is checked as wrangler resolves it: `triggers` is inherited
//! from the top level, bindings and `vars` are not.

use std::collections::HashMap;
use toml::Value;

const DELIVERY_BINDING: &str = "DELIVERIES";
const HUB_BINDING: &str = "LIVE";
const HUB_CLASS: &str = "LiveHub";

fn environments(config: &Value) -> Vec<(String, &Value)> {
    let mut envs = vec![("(top level)".to_string(), config)];
    if let Some(Value::Table(named)) = config.get("env") {
        envs.extend(named.iter().map(|(name, v)| (format!("env.{name}"), v)));
    }
    envs
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Every problem found; empty means the config is safe to deploy.
fn lint(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut consumers_of: HashMap<String, Vec<String>> = HashMap::new();
    let created = array(config.get("migrations")).iter().any(|m| {
        ["new_sqlite_classes", "new_classes"].iter().any(|k| {
            array(m.get(*k))
                .iter()
                .any(|c| c.as_str() == Some(HUB_CLASS))
        })
    });
    if !created {
        problems.push(format!("no migration creates the {HUB_CLASS} class"));
    }
    for (name, env) in environments(config) {
        let hub = array(env.get("durable_objects").and_then(|d| d.get("bindings")))
            .iter()
            .any(|b| {
                str_of(b, "name") == Some(HUB_BINDING) && str_of(b, "class_name") == Some(HUB_CLASS)
            });
        if !hub {
            problems.push(format!(
                "{name}: no {HUB_BINDING} Durable Object binding ({HUB_CLASS}), so no live stream"
            ));
        }
        let triggers = env.get("triggers").or_else(|| config.get("triggers"));
        if array(triggers.and_then(|t| t.get("crons"))).is_empty() {
            problems.push(format!(
                "{name}: no cron trigger, so no sweeper and no heartbeat"
            ));
        }
        let queues = env.get("queues");
        let consumers = array(queues.and_then(|q| q.get("consumers")));
        for c in consumers {
            if let Some(q) = str_of(c, "queue") {
                consumers_of
                    .entry(q.to_string())
                    .or_default()
                    .push(name.clone());
            }
        }
        let producer = array(queues.and_then(|q| q.get("producers")))
            .iter()
            .find(|p| str_of(p, "binding") == Some(DELIVERY_BINDING));
        let Some(queue) = producer.and_then(|p| str_of(p, "queue")) else {
            problems.push(format!("{name}: no {DELIVERY_BINDING} queue producer"));
            continue;
        };
        let Some(consumer) = consumers.iter().find(|c| str_of(c, "queue") == Some(queue)) else {
            problems.push(format!("{name}: queue {queue} has no consumer"));
            continue;
        };
        let Some(dlq) = str_of(consumer, "dead_letter_queue") else {
            problems.push(format!(
                "{name}: consumer of {queue} has no dead_letter_queue"
            ));
            continue;
        };
        if !consumers.iter().any(|c| str_of(c, "queue") == Some(dlq)) {
            problems.push(format!("{name}: dead-letter queue {dlq} has no consumer"));
        }
        let dlq_var = env.get("vars").and_then(|v| str_of(v, "DEAD_LETTER_QUEUE"));
        if dlq_var != Some(dlq) {
            problems.push(format!(
                "{name}: vars.DEAD_LETTER_QUEUE must name {dlq} so its consumer marks events dead"
            ));
        }
    }
    for (queue, envs) in consumers_of {
        if envs.len() > 1 {
            problems.push(format!(
                "queue {queue} is consumed more than once ({}); messages would be split",
                envs.join(", ")
            ));
        }
    }
    problems.sort();
    problems
}

fn parse(text: &str) -> Value {
    text.parse::<Value>().expect("valid TOML")
}

#[test]
fn the_shipped_wrangler_toml_is_safe_in_every_environment() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml");
    let config = parse(&std::fs::read_to_string(path).expect("wrangler.toml exists"));
    assert_eq!(lint(&config), Vec::<String>::new());
}

const SAFE: &str = r#"
[[durable_objects.bindings]]
name = "LIVE"
class_name = "LiveHub"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["LiveHub"]
[triggers]
crons = ["*/1 * * * *"]
[vars]
DEAD_LETTER_QUEUE = "dlq"
[[queues.producers]]
binding = "DELIVERIES"
queue = "q"
[[queues.consumers]]
queue = "q"
dead_letter_queue = "dlq"
[[queues.consumers]]
queue = "dlq"
"#;

#[test]
fn a_safe_fixture_passes() {
    assert_eq!(lint(&parse(SAFE)), Vec::<String>::new());
}

#[test]
fn each_trap_is_caught() {
    let cases = [
        (
            "no cron",
            SAFE.replace(r#"crons = ["*/1 * * * *"]"#, "crons = []"),
            "no cron trigger",
        ),
        (
            "no consumer",
            SAFE.replace(
                "[[queues.consumers]]\nqueue = \"q\"\n",
                "[[queues.consumers]]\nqueue = \"other\"\n",
            ),
            "has no consumer",
        ),
        (
            "no dlq",
            SAFE.replace("dead_letter_queue = \"dlq\"\n", ""),
            "no dead_letter_queue",
        ),
        (
            "dlq unconsumed",
            SAFE.replace("[[queues.consumers]]\nqueue = \"dlq\"\n", ""),
            "dead-letter queue dlq has no consumer",
        ),
        (
            "dlq var",
            SAFE.replace("DEAD_LETTER_QUEUE = \"dlq\"", "DEAD_LETTER_QUEUE = \"x\""),
            "vars.DEAD_LETTER_QUEUE",
        ),
        (
            "no hub binding",
            SAFE.replace("name = \"LIVE\"", "name = \"HUB\""),
            "no LIVE Durable Object binding",
        ),
        (
            "no hub migration",
            SAFE.replace(
                "new_sqlite_classes = [\"LiveHub\"]",
                "new_sqlite_classes = []",
            ),
            "no migration creates the LiveHub class",
        ),
        (
            "no producer",
            SAFE.replace("binding = \"DELIVERIES\"", "binding = \"OTHER\""),
            "no DELIVERIES queue producer",
        ),
    ];
    for (what, text, expected) in cases {
        let problems = lint(&parse(&text));
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{what}: expected a problem containing {expected:?}, got {problems:?}"
        );
    }
}

#[test]
fn a_queue_consumed_in_two_environments_is_caught() {
    let staging = r#"
[env.staging.vars]
DEAD_LETTER_QUEUE = "dlq"
[[env.staging.queues.producers]]
binding = "DELIVERIES"
queue = "q"
[[env.staging.queues.consumers]]
queue = "q"
dead_letter_queue = "dlq"
[[env.staging.queues.consumers]]
queue = "dlq-staging"
"#;
    let problems = lint(&parse(&format!("{SAFE}{staging}")));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("queue q is consumed more than once")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("env.staging: dead-letter queue dlq has no consumer")),
        "{problems:?}"
    );
}

#[test]
fn environments_inherit_the_cron_but_not_the_queues() {
    let bare_env = "[env.production]\nname = \"hookrelay\"\n";
    let problems = lint(&parse(&format!("{SAFE}{bare_env}")));
    assert_eq!(
        problems,
        [
            "env.production: no DELIVERIES queue producer",
            "env.production: no LIVE Durable Object binding (LiveHub), so no live stream"
        ]
    );
}
