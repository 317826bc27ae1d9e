//! Lints `wrangler.toml` against the config mistakes that lose events silently:
//! a missing cron (no sweeper, no heartbeat), a delivery queue without a
//! consumer, delivery queues numbered with a gap, a consumer without a
//! dead-letter queue (or a DLQ nobody consumes, or one `DEAD_LETTER_QUEUE`
//! does not list, or a delivery queue it lists), one queue
//! consumed by more than one environment (two Workers splitting the messages),
//! a missing live hub (the Durable Object `GET /api/v1/stream` needs: its
//! binding in every environment and the migration that creates its class),
//! and shards the Worker would not find or that would miss migrations: the
//! control database `DB` and every `DB_SHARD_<n>` (numbered without gaps,
//! since the Worker stops at the first missing number), each a database of
//! its own with the relay's migrations, bound in every environment.
//!
//! Every environment is checked as wrangler resolves it: `triggers` is inherited
//! from the top level, bindings and `vars` are not.

use hookrelay::queues;
use hookrelay::shards::{self, ShardName};
use std::collections::HashMap;
use toml::Value;

const DELIVERY_BINDING: &str = "DELIVERIES";
const HUB_BINDING: &str = "LIVE";
const HUB_CLASS: &str = "LiveHub";
const MIGRATIONS_DIR: &str = "migrations";

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

/// The shards an environment binds, and what is wrong with them.
fn shard_problems(name: &str, env: &Value) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut bound = Vec::new();
    let mut databases: HashMap<String, String> = HashMap::new();
    for db in array(env.get("d1_databases")) {
        let binding = str_of(db, "binding").unwrap_or_default();
        if ShardName::parse(binding).is_none() {
            problems.push(format!(
                "{name}: D1 binding {binding:?} is neither DB nor DB_SHARD_<n>"
            ));
            continue;
        }
        bound.push(binding.to_string());
        if str_of(db, "migrations_dir") != Some(MIGRATIONS_DIR) {
            problems.push(format!(
                "{name}: shard {binding} needs migrations_dir = \"{MIGRATIONS_DIR}\" (every shard has every table)"
            ));
        }
        let database = str_of(db, "database_name").unwrap_or_default().to_string();
        if let Some(other) = databases.insert(database.clone(), binding.to_string()) {
            problems.push(format!(
                "{name}: shards {other} and {binding} are the same database {database:?}"
            ));
        }
    }
    if !bound.iter().any(|b| b == shards::CONTROL) {
        problems.push(format!("{name}: no DB D1 binding (the control database)"));
    }
    let found = shards::bound(|n| bound.iter().any(|b| b == n)).len();
    if found != bound.len().max(1) {
        problems.push(format!(
            "{name}: shards must be numbered DB_SHARD_1, DB_SHARD_2, ... without gaps; the Worker finds only the first {found}"
        ));
    }
    bound.sort();
    (bound, problems)
}

/// What is wrong with an environment's delivery queues: the producers
/// `DELIVERIES`, `DELIVERIES_<n>` (numbered without gaps), each consumed with
/// a dead-letter queue that is consumed too and listed in
/// `vars.DEAD_LETTER_QUEUE`, which lists nothing else (a delivery queue
/// listed there would have its events marked dead).
fn queue_problems(name: &str, env: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let queues = env.get("queues");
    let consumers = array(queues.and_then(|q| q.get("consumers")));
    let mut numbers = Vec::new();
    let mut dead_letter_queues = Vec::new();
    for producer in array(queues.and_then(|q| q.get("producers"))) {
        let binding = str_of(producer, "binding").unwrap_or_default();
        let Some(number) = queues::parse_binding(binding) else {
            continue;
        };
        numbers.push(number);
        let Some(queue) = str_of(producer, "queue") else {
            problems.push(format!("{name}: producer {binding} names no queue"));
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
        dead_letter_queues.push(dlq);
    }
    if !numbers.contains(&0) {
        problems.push(format!("{name}: no {DELIVERY_BINDING} queue producer"));
    }
    let found = queues::bound(|n| numbers.iter().any(|&k| queues::binding(k) == n));
    if found != numbers.len().max(1) {
        problems.push(format!(
            "{name}: delivery queues must be numbered DELIVERIES_1, DELIVERIES_2, ... without gaps; the Worker finds only the first {found}"
        ));
    }
    let listed = env
        .get("vars")
        .and_then(|v| str_of(v, "DEAD_LETTER_QUEUE"))
        .unwrap_or_default();
    for dlq in &dead_letter_queues {
        if !queues::is_dead_letter_queue(dlq, listed) {
            problems.push(format!(
                "{name}: vars.DEAD_LETTER_QUEUE must list {dlq} so its consumer marks events dead"
            ));
        }
    }
    for other in listed.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !dead_letter_queues.contains(&other) {
            problems.push(format!(
                "{name}: vars.DEAD_LETTER_QUEUE lists {other}, no delivery queue's dead-letter queue; its messages' events would be marked dead"
            ));
        }
    }
    problems
}

/// Every problem found; empty means the config is safe to deploy.
fn lint(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut shards_of: Vec<(String, Vec<String>)> = Vec::new();
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
        let (bound, shard_problems) = shard_problems(&name, env);
        problems.extend(shard_problems);
        if let Some((first, theirs)) = shards_of.first() {
            if *theirs != bound {
                problems.push(format!(
                    "{name}: binds shards {bound:?} but {first} binds {theirs:?}; every environment binds every shard"
                ));
            }
        }
        shards_of.push((name.clone(), bound));
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
        for c in array(queues.and_then(|q| q.get("consumers"))) {
            if let Some(q) = str_of(c, "queue") {
                consumers_of
                    .entry(q.to_string())
                    .or_default()
                    .push(name.clone());
            }
        }
        problems.extend(queue_problems(&name, env));
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
[[d1_databases]]
binding = "DB"
database_name = "control"
migrations_dir = "migrations"
[[d1_databases]]
binding = "DB_SHARD_1"
database_name = "shard-1"
migrations_dir = "migrations"
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
            "a delivery queue as dead-letter queue",
            SAFE.replace(
                "DEAD_LETTER_QUEUE = \"dlq\"",
                "DEAD_LETTER_QUEUE = \"dlq, q\"",
            ),
            "vars.DEAD_LETTER_QUEUE lists q, no delivery queue's dead-letter queue",
        ),
        (
            "a gap in the delivery queues",
            format!("{SAFE}[[queues.producers]]\nbinding = \"DELIVERIES_2\"\nqueue = \"q2\"\n"),
            "without gaps; the Worker finds only the first 1",
        ),
        (
            "a second queue with no consumer",
            format!("{SAFE}[[queues.producers]]\nbinding = \"DELIVERIES_1\"\nqueue = \"q1\"\n"),
            "queue q1 has no consumer",
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
        (
            "no control database",
            SAFE.replace("binding = \"DB\"", "binding = \"DB_SHARD_2\""),
            "no DB D1 binding",
        ),
        (
            "a gap in the shards",
            SAFE.replace("DB_SHARD_1", "DB_SHARD_2"),
            "without gaps; the Worker finds only the first 1",
        ),
        (
            "a shard without migrations",
            SAFE.replace(
                "database_name = \"shard-1\"\nmigrations_dir = \"migrations\"",
                "database_name = \"shard-1\"",
            ),
            "shard DB_SHARD_1 needs migrations_dir",
        ),
        (
            "two bindings, one database",
            SAFE.replace("database_name = \"shard-1\"", "database_name = \"control\""),
            "shards DB and DB_SHARD_1 are the same database",
        ),
        (
            "a binding that is no shard",
            SAFE.replace("DB_SHARD_1", "EVENTS"),
            "D1 binding \"EVENTS\" is neither DB nor DB_SHARD_<n>",
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
            "env.production: binds shards [] but (top level) binds [\"DB\", \"DB_SHARD_1\"]; every environment binds every shard",
            "env.production: no DB D1 binding (the control database)",
            "env.production: no DELIVERIES queue producer",
            "env.production: no LIVE Durable Object binding (LiveHub), so no live stream"
        ]
    );
}
