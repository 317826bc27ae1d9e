//! Who may call which management route.
//!
//! A caller is the bootstrap `ADMIN_TOKEN` or an API key. Keys carry a role
//! (`viewer` reads, `editor` also replays, pauses and edits endpoints, `admin` also
//! manages keys, secrets, alert channels and deletes), or are `pull` keys scoped to
//! one pull destination: they may lease and report that destination's events and
//! read its relay secret, and nothing else, so a laptop running `hookrelay listen`
//! holds no key that can touch the rest of the relay.
//!
//! [`OPERATIONS`] is the one table the router enforces. Every operation in
//! `openapi.json` names its need in `x-required-role`, and a unit test in the Worker crate (`api`) checks
//! that the document and the table list the same operations with the same
//! roles, so the documented roles are the enforced ones and no route is
//! undocumented.

/// A role of an API key. Ordered: each role can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Viewer, Role::Editor, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What a caller was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Role(Role),
    /// May only pull from this one destination (an `ep_` id).
    PullFrom(String),
}

impl Grant {
    /// The role name as the keys API and `whoami` show it.
    pub fn role_name(&self) -> &'static str {
        match self {
            Grant::Role(role) => role.as_str(),
            Grant::PullFrom(_) => "pull",
        }
    }

    /// Whether this caller may lease and report events of `endpoint_id`.
    pub fn may_pull(&self, endpoint_id: &str) -> bool {
        match self {
            Grant::Role(role) => *role >= Role::Editor,
            Grant::PullFrom(scope) => scope == endpoint_id,
        }
    }
}

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any valid key, pull keys included (`whoami`).
    Anyone,
    AtLeast(Role),
    /// An editor, or a pull key for the destination the route is about.
    Pull,
}

impl Need {
    /// The value of `x-required-role` in `openapi.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Need::Anyone => "any",
            Need::AtLeast(role) => role.as_str(),
            Need::Pull => "pull",
        }
    }
}

const VIEWER: Need = Need::AtLeast(Role::Viewer);
const EDITOR: Need = Need::AtLeast(Role::Editor);
const ADMIN: Need = Need::AtLeast(Role::Admin);

/// Every operation of the API under `/api/v1`: method, path template (a `{name}`
/// is one segment, named as in `openapi.json`) and what it needs of the caller.
/// The router answers only what is listed here (else 405 or 404), and a test
/// checks that this list and the document's operations are the same set.
pub const OPERATIONS: &[(&str, &str, Need)] = &[
    ("GET", "/whoami", Need::Anyone),
    ("GET", "/health", VIEWER),
    ("GET", "/metrics", VIEWER),
    ("GET", "/stream", VIEWER),
    ("GET", "/openapi.json", VIEWER),
    ("GET", "/providers", VIEWER),
    ("GET", "/stats/timeseries", VIEWER),
    ("GET", "/stats/endpoints", VIEWER),
    ("GET", "/rejections", VIEWER),
    ("GET", "/endpoints", VIEWER),
    ("GET", "/endpoints/{id}", VIEWER),
    ("GET", "/endpoints/{id}/rejections", VIEWER),
    ("GET", "/endpoints/{id}/routes", VIEWER),
    ("GET", "/routes/{id}", VIEWER),
    ("POST", "/routes/test", VIEWER),
    ("GET", "/events", VIEWER),
    ("GET", "/events/{id}", VIEWER),
    ("GET", "/events/{id}/body", VIEWER),
    ("GET", "/ingests", VIEWER),
    ("GET", "/ingests/{id}", VIEWER),
    ("GET", "/alert-rules", VIEWER),
    ("POST", "/endpoints", EDITOR),
    ("PATCH", "/endpoints/{id}", EDITOR),
    ("POST", "/endpoints/{id}/routes", EDITOR),
    ("PATCH", "/routes/{id}", EDITOR),
    ("POST", "/routes/{id}/circuit/reset", EDITOR),
    ("POST", "/endpoints/{id}/pause", EDITOR),
    ("POST", "/endpoints/{id}/resume", EDITOR),
    ("POST", "/endpoints/{id}/catch-up", EDITOR),
    ("POST", "/alert-rules", EDITOR),
    ("DELETE", "/alert-rules/{id}", EDITOR),
    ("POST", "/events/{id}/replay", EDITOR),
    ("POST", "/replay", EDITOR),
    ("POST", "/pull/{endpoint_id}", Need::Pull),
    ("POST", "/events/{id}/attempts", Need::Pull),
    ("GET", "/endpoints/{id}/secret", Need::Pull),
    ("DELETE", "/endpoints/{id}", ADMIN),
    ("DELETE", "/routes/{id}", ADMIN),
    ("POST", "/endpoints/{id}/secrets/rotate", ADMIN),
    ("POST", "/alerts", ADMIN),
    ("GET", "/alerts", ADMIN),
    ("DELETE", "/alerts/{id}", ADMIN),
    ("POST", "/alerts/{id}/test", ADMIN),
    ("POST", "/keys", ADMIN),
    ("GET", "/keys", ADMIN),
    ("DELETE", "/keys/{id}", ADMIN),
];

fn template_matches(template: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(part, seg)| part.starts_with('{') || part == seg)
}

/// The need of `method` on `/api/v1/<segments>`, or `None` when the API has no such
/// operation.
pub fn need(method: &str, segments: &[&str]) -> Option<Need> {
    OPERATIONS
        .iter()
        .find(|(m, template, _)| *m == method && template_matches(template, segments))
        .map(|(_, _, need)| *need)
}

/// Whether any method is routed at this path (so another method gets 405, not 404).
pub fn is_known_path(segments: &[&str]) -> bool {
    ["GET", "POST", "PATCH", "DELETE"]
        .iter()
        .any(|m| need(m, segments).is_some())
}

/// Whether `grant` satisfies `need` for a request to `segments`. For pull routes
/// whose path names the destination, a pull key must be scoped to it; the attempt
/// report names only the event, so its handler checks the event's destination.
pub fn permits(grant: &Grant, need: Need, segments: &[&str]) -> bool {
    match (need, grant) {
        (Need::Anyone, _) => true,
        (Need::AtLeast(needed), Grant::Role(role)) => role >= &needed,
        (Need::AtLeast(_), Grant::PullFrom(_)) => false,
        (Need::Pull, Grant::Role(role)) => *role >= Role::Editor,
        (Need::Pull, Grant::PullFrom(scope)) => match segments {
            ["pull", id] | ["endpoints", id, "secret"] => scope == id,
            // The attempt report names only the event; its handler checks the destination.
            _ => true,
        },
    }
}

/// The refusal's wording: which role the route needs and what the caller has.
pub fn refusal_message(grant: &Grant, need: Need) -> String {
    match need {
        Need::Pull => format!(
            "this route needs an editor key or a pull key for this destination; this key is {}",
            describe(grant)
        ),
        _ => format!(
            "this route needs the {} role; this key is {}",
            need.as_str(),
            describe(grant)
        ),
    }
}

fn describe(grant: &Grant) -> String {
    match grant {
        Grant::Role(role) => role.as_str().to_string(),
        Grant::PullFrom(ep) => format!("a pull key for {ep}"),
    }
}

/// How stale `last_used_at` may get before a request writes it again.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// Whether this use of a key should be written down: the first use, and then at
/// most once per [`LAST_USED_RESOLUTION_MS`].
pub fn use_is_worth_recording(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS)
}

/// A new API key's secret: a prefix that names it in logs and secret scanners,
/// then 32 random bytes in hex.
pub fn format_key(random: &[u8; 32]) -> String {
    format!("{KEY_PREFIX}{}", hex::encode(random))
}

pub const KEY_PREFIX: &str = "hrk_";

/// The part of a key shown in lists, enough to tell keys apart and nothing more.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    fn allowed(grant: &Grant, method: &str, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let need = need(method, &segments).expect("a routed operation");
        permits(grant, need, &segments)
    }

    #[test]
    fn roles_are_ordered_and_round_trip_through_their_names() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        for role in ROLES {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("pull"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn each_role_gets_exactly_its_tier() {
        let table: &[(&str, &str, [bool; 3])] = &[
            ("GET", "/events", [true, true, true]),
            ("GET", "/endpoints/ep_1", [true, true, true]),
            ("GET", "/stats/timeseries", [true, true, true]),
            ("GET", "/ingests", [true, true, true]),
            ("GET", "/ingests/ing_1", [true, true, true]),
            ("POST", "/events/evt_1/replay", [false, true, true]),
            ("POST", "/replay", [false, true, true]),
            ("PATCH", "/endpoints/ep_1", [false, true, true]),
            ("POST", "/endpoints/ep_1/pause", [false, true, true]),
            ("POST", "/pull/ep_1", [false, true, true]),
            ("GET", "/endpoints/ep_1/secret", [false, true, true]),
            (
                "POST",
                "/endpoints/ep_1/secrets/rotate",
                [false, false, true],
            ),
            ("DELETE", "/endpoints/ep_1", [false, false, true]),
            ("GET", "/alerts", [false, false, true]),
            ("POST", "/keys", [false, false, true]),
            ("DELETE", "/keys/key_1", [false, false, true]),
            ("GET", "/whoami", [true, true, true]),
        ];
        for (method, path, expected) in table {
            for (role, want) in ROLES.iter().zip(expected) {
                assert_eq!(
                    allowed(&Grant::Role(*role), method, path),
                    *want,
                    "{method} {path} as {role:?}"
                );
            }
        }
    }

    #[test]
    fn a_pull_key_reaches_only_its_own_destination() {
        let key = Grant::PullFrom("ep_mine".into());
        assert!(allowed(&key, "POST", "/pull/ep_mine"));
        assert!(!allowed(&key, "POST", "/pull/ep_other"));
        assert!(allowed(&key, "GET", "/endpoints/ep_mine/secret"));
        assert!(!allowed(&key, "GET", "/endpoints/ep_other/secret"));
        assert!(allowed(&key, "GET", "/whoami"));
        // The report route is let through; its handler checks the event's destination.
        assert!(allowed(&key, "POST", "/events/evt_1/attempts"));
        assert!(key.may_pull("ep_mine") && !key.may_pull("ep_other"));
        for (method, path) in [
            ("GET", "/events"),
            ("GET", "/endpoints/ep_mine"),
            ("GET", "/events/evt_1/body"),
            ("GET", "/ingests"),
            ("POST", "/events/evt_1/replay"),
            ("GET", "/health"),
        ] {
            assert!(!allowed(&key, method, path), "{method} {path}");
        }
    }

    #[test]
    fn a_viewer_cannot_pull_or_report() {
        let viewer = Grant::Role(Role::Viewer);
        assert!(!allowed(&viewer, "POST", "/pull/ep_1"));
        assert!(!allowed(&viewer, "POST", "/events/evt_1/attempts"));
        assert!(!viewer.may_pull("ep_1"));
    }

    #[test]
    fn unknown_operations_have_no_need_and_known_paths_are_told_apart() {
        assert_eq!(need("PUT", &["events"]), None);
        assert_eq!(need("GET", &["nope"]), None);
        assert!(is_known_path(&["events", "evt_1", "replay"]));
        assert!(!is_known_path(&["events", "evt_1", "nope"]));
    }

    #[test]
    fn a_keys_use_is_written_first_and_then_at_most_once_a_minute() {
        assert!(use_is_worth_recording(None, 5));
        assert!(!use_is_worth_recording(Some(1_000), 1_000 + 59_999));
        assert!(use_is_worth_recording(Some(1_000), 1_000 + 60_000));
    }

    #[test]
    fn keys_are_long_random_and_shown_by_a_short_prefix() {
        let key = format_key(&[0xab; 32]);
        assert_eq!(key.len(), KEY_PREFIX.len() + 64);
        assert!(key.starts_with("hrk_abab"));
        assert_eq!(display_prefix(&key), "hrk_ababab");
    }

    #[test]
    fn refusals_name_the_needed_role_and_the_callers() {
        let msg = refusal_message(&Grant::Role(Role::Viewer), Need::AtLeast(Role::Editor));
        assert!(msg.contains("editor") && msg.contains("viewer"), "{msg}");
        let msg = refusal_message(&Grant::PullFrom("ep_1".into()), Need::Pull);
        assert!(msg.contains("ep_1"), "{msg}");
    }
}
