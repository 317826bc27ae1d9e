//! Handshakes: challenges some senders send before they will deliver anything,
//! which the relay answers itself and never stores as events.
//!
//! A sender proves the URL is alive (and sometimes that the relay holds the
//! secret) before it turns a subscription on; forwarding the challenge to the
//! destination would leave the subscription unverified, and storing it would
//! relay a message nobody asked for. Which handshake applies is named by the
//! endpoint's provider's registry row:
//!
//! | provider            | request                                              | answer                           |
//! |---------------------|------------------------------------------------------|----------------------------------|
//! | `slack`             | POST `{"type":"url_verification","challenge":C}`     | 200 text/plain `C`               |
//! | `zoom`              | POST `{"event":"endpoint.url_validation",...}`       | 200 JSON plain + encrypted token |
//! | `twitch`            | POST, `Twitch-Eventsub-Message-Type: webhook_callback_verification` | 200 text/plain `challenge` |
//! | `meta`, `whatsapp`  | GET `?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` | 200 text/plain `C`, 403 if `T` is wrong |
//! | `okta`              | GET, `X-Okta-Verification-Challenge: V`              | 200 JSON `{"verification":V}`    |
//! | `dropbox`           | GET `?challenge=C`                                   | 200 text/plain `C`               |
//! | `discord`           | POST `{"type":1}` (interactions PING)                | 200 JSON `{"type":1}`            |
//! | `discord`           | POST `{"type":0}` (webhook events PING)              | 204                              |
//!
//! Slack, Zoom, Twitch and Discord sign their challenges like any other delivery: the
//! caller must verify the signature BEFORE calling [`answer`], or anyone could make
//! the relay vouch for a URL. Meta is authenticated here by the verify token;
//! Okta by whatever `Authorization` header the endpoint was set up to expect,
//! which is the caller's to check. Dropbox's challenge proves only reachability.
//!
//! Echoed challenges are bounded by [`MAX_CHALLENGE_BYTES`]; every reply carries
//! `X-Content-Type-Options: nosniff` (Dropbox requires it; for the others it keeps
//! a browser from reading sender-chosen text as HTML).

use crate::headers::HeaderList;
use crate::model::RefusalReason;
use crate::verify::{hmac_sha256, Handshake, Provider};
use hmac::Mac;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The longest challenge the relay will echo. Real challenges are well under
/// 100 bytes; anything near this is someone using the relay as a reflector.
pub const MAX_CHALLENGE_BYTES: usize = 1024;

const TEXT: &str = "text/plain";
const JSON: &str = "application/json";

/// The parts of an inbound request a handshake can live in. `query` holds the
/// already percent-decoded pairs of the URL's query string, in order.
pub struct HandshakeRequest<'a> {
    pub method: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderList,
    pub body: &'a [u8],
}

/// What the endpoint knows that a handshake may need.
pub struct EndpointHandshake<'a> {
    pub provider: Provider,
    /// Live secrets, newest first; Zoom's answer is keyed with the first.
    pub secrets: &'a [String],
    /// The token typed into Meta's dashboard alongside the callback URL.
    pub verify_token: Option<&'a str>,
}

/// The response to send instead of ingesting. The caller must send every entry of
/// `headers` as well as `Content-Type: content_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// A request that is recognisably a handshake but must not be answered with 2xx.
/// It must not be ingested either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeRefusal {
    /// The handshake lacks its challenge, or the challenge is not text.
    Malformed(&'static str),
    ChallengeTooLarge,
    VerifyTokenMismatch,
    VerifyTokenNotConfigured,
    /// Zoom's answer needs the endpoint's secret token and there is none.
    NoSecret,
}

/// The code of [`HandshakeRefusal::NoSecret`]: the endpoint's own
/// misconfiguration, not a refusal of the sender.
const MISCONFIGURED: &str = "misconfigured_endpoint";

impl HandshakeRefusal {
    /// Why the sender's handshake is refused; `None` when the fault is the
    /// endpoint's (it has no secret to answer with).
    pub fn reason(&self) -> Option<RefusalReason> {
        match self {
            HandshakeRefusal::Malformed(_) => Some(RefusalReason::HandshakeMalformed),
            HandshakeRefusal::ChallengeTooLarge => Some(RefusalReason::ChallengeTooLarge),
            HandshakeRefusal::VerifyTokenMismatch => Some(RefusalReason::VerifyTokenMismatch),
            HandshakeRefusal::VerifyTokenNotConfigured => {
                Some(RefusalReason::VerifyTokenNotConfigured)
            }
            HandshakeRefusal::NoSecret => None,
        }
    }

    /// A refusal's status, or 500 for the endpoint's misconfiguration.
    pub fn status(&self) -> u16 {
        self.reason().map_or(500, RefusalReason::status)
    }

    /// Machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        self.reason().map_or(MISCONFIGURED, RefusalReason::as_str)
    }

    /// A message that helps the operator and reveals nothing about the token.
    pub fn message(&self) -> String {
        match self {
            HandshakeRefusal::Malformed(why) => format!("malformed handshake: {why}"),
            HandshakeRefusal::ChallengeTooLarge => {
                format!("the challenge is longer than {MAX_CHALLENGE_BYTES} bytes")
            }
            HandshakeRefusal::VerifyTokenMismatch => {
                "hub.verify_token does not match the endpoint's verify token".into()
            }
            HandshakeRefusal::VerifyTokenNotConfigured => {
                "the endpoint has no verify token; set one to answer Meta's subscription check"
                    .into()
            }
            HandshakeRefusal::NoSecret => {
                "the endpoint has no secret token to answer Zoom's URL validation".into()
            }
        }
    }
}

/// `Ok(None)`: not a handshake, handle as a normal webhook. `Ok(Some(reply))`:
/// send `reply` and store nothing. `Err(refusal)`: a handshake that must fail.
///
/// For Slack and Zoom the handshake is marked inside the JSON body, so a body
/// that is not a JSON object is simply not a handshake. Twitch marks it in a
/// header, so a verification with an unreadable body is refused instead.
pub fn answer(
    req: &HandshakeRequest<'_>,
    endpoint: &EndpointHandshake<'_>,
) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
    let Some(sender) = endpoint.provider.spec().handshake else {
        return Ok(None);
    };
    if !req.method.eq_ignore_ascii_case(sender.method()) {
        return Ok(None);
    }
    match sender {
        Handshake::Slack => slack(req.body),
        Handshake::Zoom => zoom(req.body, endpoint.secrets),
        Handshake::Twitch => twitch(req.headers, req.body),
        Handshake::Meta => meta(req.query, endpoint.verify_token),
        Handshake::Okta => okta(req.headers),
        Handshake::Dropbox => dropbox(req.query),
        Handshake::Discord => Ok(discord(req.body)),
    }
}

/// Slack documents a plain-text echo as the primary form (JSON is also accepted).
fn slack(body: &[u8]) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let is_handshake =
        json_object::<Probe>(body).is_some_and(|p| p.kind.as_deref() == Some("url_verification"));
    if !is_handshake {
        return Ok(None);
    }
    let challenge = challenge_at(body, "/challenge")?;
    Ok(Some(reply(TEXT, challenge.as_bytes().to_vec())))
}

/// Zoom's answer to its endpoint URL validation.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ZoomUrlValidation {
    #[serde(rename = "plainToken")]
    pub plain_token: String,
    /// Hex HMAC-SHA256 of `plainToken`, keyed with the secret token.
    #[serde(rename = "encryptedToken")]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub encrypted_token: String,
}

/// Okta's one-time verification, echoed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OktaVerification<'a> {
    pub verification: &'a str,
}

/// Discord's answer to an interactions PING: a PONG.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DiscordPong {
    #[serde(rename = "type")]
    #[schemars(extend("const" = 1))]
    pub kind: u8,
}

/// Discord's interaction response type PONG.
const PONG: u8 = 1;

fn json_reply<T: Serialize>(answer: &T) -> HandshakeReply {
    let body = serde_json::to_vec(answer).expect("a reply of strings serializes");
    reply(JSON, body)
}

/// `encryptedToken` is hex HMAC-SHA256 of `plainToken`, keyed with the secret token.
fn zoom(body: &[u8], secrets: &[String]) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
    #[derive(Deserialize)]
    struct Probe {
        event: Option<String>,
    }
    let is_handshake = json_object::<Probe>(body)
        .is_some_and(|p| p.event.as_deref() == Some("endpoint.url_validation"));
    if !is_handshake {
        return Ok(None);
    }
    let plain_token = challenge_at(body, "/payload/plainToken")?;
    let secret = secrets
        .first()
        .filter(|s| !s.is_empty())
        .ok_or(HandshakeRefusal::NoSecret)?;
    let encrypted_token = zoom_encrypted_token(secret, &plain_token);
    let answer = ZoomUrlValidation {
        plain_token,
        encrypted_token,
    };
    Ok(Some(json_reply(&answer)))
}

fn zoom_encrypted_token(secret: &str, plain_token: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), &[plain_token.as_bytes()]);
    hex::encode(mac.finalize().into_bytes())
}

fn twitch(headers: &HeaderList, body: &[u8]) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
    let kind = headers.get("twitch-eventsub-message-type").map(str::trim);
    if kind != Some("webhook_callback_verification") {
        return Ok(None);
    }
    let challenge = challenge_at(body, "/challenge")?;
    Ok(Some(reply(TEXT, challenge.into_bytes())))
}

/// The token is checked before the challenge is looked at, so a caller without
/// the token learns nothing else about what the relay accepts.
fn meta(
    query: &[(String, String)],
    verify_token: Option<&str>,
) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
    let Some(mode) = query_value(query, "hub.mode") else {
        return Ok(None);
    };
    if mode != "subscribe" {
        return Err(HandshakeRefusal::Malformed("hub.mode must be subscribe"));
    }
    let expected = verify_token
        .filter(|t| !t.is_empty())
        .ok_or(HandshakeRefusal::VerifyTokenNotConfigured)?;
    let given = query_value(query, "hub.verify_token").unwrap_or("");
    if !tokens_match(given, expected) {
        return Err(HandshakeRefusal::VerifyTokenMismatch);
    }
    let challenge = bounded(query_value(query, "hub.challenge"))?;
    Ok(Some(reply(TEXT, challenge.as_bytes().to_vec())))
}

fn okta(headers: &HeaderList) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
    let Some(value) = headers.get("x-okta-verification-challenge") else {
        return Ok(None);
    };
    let challenge = bounded(Some(value))?;
    Ok(Some(json_reply(&OktaVerification {
        verification: challenge,
    })))
}

fn dropbox(query: &[(String, String)]) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
    let Some(challenge) = query_value(query, "challenge") else {
        return Ok(None);
    };
    let challenge = bounded(Some(challenge))?;
    Ok(Some(reply(TEXT, challenge.as_bytes().to_vec())))
}

/// Discord checks a URL with a signed PING: interactions (`type` 1) expect a PONG
/// (`{"type":1}`), webhook events (`type` 0) expect an empty 204. A webhook event
/// proper is `type` 1 *with* an `event` object: that one is relayed.
fn discord(body: &[u8]) -> Option<HandshakeReply> {
    #[derive(Deserialize)]
    struct Ping {
        #[serde(rename = "type")]
        kind: Option<i64>,
        event: Option<Value>,
    }
    let ping = json_object::<Ping>(body)?;
    match (ping.kind, ping.event) {
        (Some(1), None) => Some(json_reply(&DiscordPong { kind: PONG })),
        (Some(0), None) => Some(HandshakeReply {
            status: 204,
            ..reply(TEXT, Vec::new())
        }),
        _ => None,
    }
}

fn reply(content_type: &'static str, body: Vec<u8>) -> HandshakeReply {
    HandshakeReply {
        status: 200,
        content_type,
        headers: vec![("X-Content-Type-Options", "nosniff".to_string())],
        body,
    }
}

/// Deserializes `body` only if it is a JSON object; serde would otherwise accept
/// an array as a struct (`["url_verification"]`).
fn json_object<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Option<T> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// The string at a JSON pointer of a body already known to be a handshake.
fn challenge_at(body: &[u8], pointer: &str) -> Result<String, HandshakeRefusal> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| HandshakeRefusal::Malformed("the body is not JSON"))?;
    let challenge = value.pointer(pointer).and_then(Value::as_str);
    bounded(challenge).map(str::to_string)
}

fn bounded(challenge: Option<&str>) -> Result<&str, HandshakeRefusal> {
    let challenge = challenge
        .filter(|c| !c.is_empty())
        .ok_or(HandshakeRefusal::Malformed(
            "the challenge is missing or not text",
        ))?;
    if challenge.len() > MAX_CHALLENGE_BYTES {
        return Err(HandshakeRefusal::ChallengeTooLarge);
    }
    Ok(challenge)
}

fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Compares the SHA-256 digests of both tokens in constant time: the digests
/// always have the same length, so neither the token's bytes nor its length
/// show in how long a wrong guess takes.
fn tokens_match(given: &str, expected: &str) -> bool {
    token_digest(given).ct_eq(&token_digest(expected)).into()
}

/// What [`tokens_match`] compares: 32 bytes, whatever the token's length.
fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn discord_pings_are_answered_and_events_are_not() {
        let headers = HeaderList::default();
        let ask = |body: &[u8]| {
            let req = HandshakeRequest {
                method: "POST",
                query: &[],
                headers: &headers,
                body,
            };
            let ep = EndpointHandshake {
                provider: Provider::named("discord"),
                secrets: &[],
                verify_token: None,
            };
            answer(&req, &ep).unwrap()
        };
        let pong = ask(br#"{"type":1,"id":"1","application_id":"2"}"#).unwrap();
        assert_eq!(
            (pong.status, pong.body.as_slice()),
            (200, &br#"{"type":1}"#[..])
        );
        let webhook_ping = ask(br#"{"version":1,"application_id":"2","type":0}"#).unwrap();
        assert_eq!((webhook_ping.status, webhook_ping.body.len()), (204, 0));
        assert!(
            ask(br#"{"version":1,"type":1,"event":{"type":"APPLICATION_AUTHORIZED"}}"#).is_none()
        );
        assert_eq!(
            ask(br#"{"version":1,"type":1}"#).map(|r| r.status),
            Some(200)
        );
        assert!(ask(br#"{"version":1,"type":0,"event":{"type":"ENTITLEMENT_CREATE"}}"#).is_none());
        assert!(ask(br#"{"type":2}"#).is_none());
        assert!(ask(b"not json").is_none());
    }

    /// One request, described the way a test reads best.
    struct Case<'a> {
        provider: &'a str,
        method: &'a str,
        query: &'a [(&'a str, &'a str)],
        headers: &'a [(&'a str, &'a str)],
        body: &'a str,
    }

    const SLACK_BODY: &str = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    const ZOOM_BODY: &str = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    const TWITCH_BODY: &str = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow"}}"#;
    const ZOOM_SECRET: &str = "pqAx1EtfS3ua2JKxTuGkPQ";
    // Computed independently:
    // python3 -c "import hmac,hashlib; print(hmac.new(b'pqAx1EtfS3ua2JKxTuGkPQ',
    //   b'qgg8vlvZRS6UYooatFL8Aw', hashlib.sha256).hexdigest())"
    const ZOOM_ENCRYPTED: &str = "61ab256336b5adf82ca845b95a697e284d77b1197c735b2b4dd75a1bf2c54b61";
    const META_TOKEN: &str = "meta-verify-token";

    fn run(case: &Case<'_>) -> Result<Option<HandshakeReply>, HandshakeRefusal> {
        let query: Vec<(String, String)> = case
            .query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let headers = HeaderList::new(case.headers.iter().copied());
        let secrets = [ZOOM_SECRET.to_string(), "old-secret-token".to_string()];
        let req = HandshakeRequest {
            method: case.method,
            query: &query,
            headers: &headers,
            body: case.body.as_bytes(),
        };
        let endpoint = EndpointHandshake {
            provider: Provider::named(case.provider),
            secrets: &secrets,
            verify_token: Some(META_TOKEN),
        };
        answer(&req, &endpoint)
    }

    fn post<'a>(provider: &'a str, headers: &'a [(&'a str, &'a str)], body: &'a str) -> Case<'a> {
        Case {
            provider,
            method: "POST",
            query: &[],
            headers,
            body,
        }
    }

    fn get<'a>(
        provider: &'a str,
        query: &'a [(&'a str, &'a str)],
        headers: &'a [(&'a str, &'a str)],
    ) -> Case<'a> {
        Case {
            provider,
            method: "GET",
            query,
            headers,
            body: "",
        }
    }

    fn text(reply: &HandshakeReply) -> &str {
        std::str::from_utf8(&reply.body).unwrap()
    }

    fn json_body(reply: &HandshakeReply) -> Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    const TWITCH_VERIFY: &[(&str, &str)] = &[(
        "Twitch-Eventsub-Message-Type",
        "webhook_callback_verification",
    )];
    const META_OK: &[(&str, &str)] = &[
        ("hub.mode", "subscribe"),
        ("hub.verify_token", META_TOKEN),
        ("hub.challenge", "1158201444"),
    ];

    #[test]
    fn each_text_handshake_is_echoed_as_plain_text() {
        let cases = [
            (
                post("slack", &[], SLACK_BODY),
                "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            ),
            (
                post("twitch", TWITCH_VERIFY, TWITCH_BODY),
                "pogchamp-kappa-360noscope-vohiyo",
            ),
            (get("meta", META_OK, &[]), "1158201444"),
            (get("whatsapp", META_OK, &[]), "1158201444"),
            (get("dropbox", &[("challenge", "dbx-42")], &[]), "dbx-42"),
        ];
        for (case, expected) in cases {
            let reply = run(&case)
                .unwrap()
                .unwrap_or_else(|| panic!("{}", case.provider));
            assert_eq!(reply.status, 200, "{}", case.provider);
            assert_eq!(reply.content_type, "text/plain", "{}", case.provider);
            assert_eq!(text(&reply), expected, "{}", case.provider);
        }
    }

    #[test]
    fn zoom_answers_with_the_hmac_of_the_plain_token_under_the_first_secret() {
        let reply = run(&post("zoom", &[], ZOOM_BODY)).unwrap().unwrap();
        assert_eq!(
            (reply.status, reply.content_type),
            (200, "application/json")
        );
        assert_eq!(
            json_body(&reply),
            json!({"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": ZOOM_ENCRYPTED})
        );
    }

    #[test]
    fn okta_answers_with_a_verification_object() {
        let headers = [("X-Okta-Verification-Challenge", "Qc1kRbS7bnV5iZ4Vw")];
        let reply = run(&get("okta", &[], &headers)).unwrap().unwrap();
        assert_eq!(
            (reply.status, reply.content_type),
            (200, "application/json")
        );
        assert_eq!(
            json_body(&reply),
            json!({"verification": "Qc1kRbS7bnV5iZ4Vw"})
        );
    }

    #[test]
    fn every_reply_forbids_content_sniffing() {
        let reply = run(&get("dropbox", &[("challenge", "x")], &[]))
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.headers,
            [("X-Content-Type-Options", "nosniff".to_string())]
        );
    }

    #[test]
    fn requests_that_are_not_handshakes_pass_through() {
        let slack_event = r#"{"type":"event_callback","event":{"type":"message"}}"#;
        let zoom_event = r#"{"event":"meeting.started","payload":{"plainToken":"x"}}"#;
        let twitch_notification = [("Twitch-Eventsub-Message-Type", "notification")];
        let cases = [
            // A handshake sent to an endpoint of another provider.
            post("github", &[], SLACK_BODY),
            post("stripe", &[], ZOOM_BODY),
            post("slack", &[], ZOOM_BODY),
            post("zoom", &[], SLACK_BODY),
            post("twitch", &[], TWITCH_BODY),
            get("github", META_OK, &[]),
            get("none", &[("challenge", "c")], &[]),
            get("dropbox", META_OK, &[]),
            get("slack", &[], &[("X-Okta-Verification-Challenge", "v")]),
            // The right provider, but an ordinary delivery.
            post("slack", &[], slack_event),
            post("zoom", &[], zoom_event),
            post("twitch", &twitch_notification, TWITCH_BODY),
            get("meta", &[], &[]),
            get("okta", &[], &[]),
            get("dropbox", &[("other", "c")], &[]),
            // The wrong method for the provider's handshake.
            Case {
                method: "GET",
                ..post("slack", &[], SLACK_BODY)
            },
            Case {
                method: "POST",
                ..get("meta", META_OK, &[])
            },
            // Bodies that are not JSON objects.
            post("slack", &[], "{not json"),
            post("slack", &[], r#"["url_verification","abc"]"#),
            post("zoom", &[], "type=url_verification&challenge=abc"),
            post("zoom", &[], ""),
        ];
        for case in cases {
            assert_eq!(
                run(&case),
                Ok(None),
                "{} {} {:?} {}",
                case.provider,
                case.method,
                case.query,
                case.body
            );
        }
    }

    #[test]
    fn oversize_challenges_are_refused() {
        let big = "c".repeat(MAX_CHALLENGE_BYTES + 1);
        let slack = format!(r#"{{"type":"url_verification","challenge":"{big}"}}"#);
        let zoom =
            format!(r#"{{"event":"endpoint.url_validation","payload":{{"plainToken":"{big}"}}}}"#);
        let twitch = format!(r#"{{"challenge":"{big}"}}"#);
        let meta = [
            ("hub.mode", "subscribe"),
            ("hub.verify_token", META_TOKEN),
            ("hub.challenge", big.as_str()),
        ];
        let okta = [("X-Okta-Verification-Challenge", big.as_str())];
        let dropbox = [("challenge", big.as_str())];
        let cases = [
            post("slack", &[], &slack),
            post("zoom", &[], &zoom),
            post("twitch", TWITCH_VERIFY, &twitch),
            get("meta", &meta, &[]),
            get("okta", &[], &okta),
            get("dropbox", &dropbox, &[]),
        ];
        for case in cases {
            assert_eq!(
                run(&case),
                Err(HandshakeRefusal::ChallengeTooLarge),
                "{}",
                case.provider
            );
        }
    }

    #[test]
    fn a_challenge_at_the_limit_is_answered() {
        let limit = "c".repeat(MAX_CHALLENGE_BYTES);
        let reply = run(&get("dropbox", &[("challenge", limit.as_str())], &[]))
            .unwrap()
            .unwrap();
        assert_eq!(reply.body.len(), MAX_CHALLENGE_BYTES);
    }

    #[test]
    fn meta_refuses_a_wrong_missing_or_unconfigured_token() {
        let with_token = |token: &'static str| {
            [
                ("hub.mode", "subscribe"),
                ("hub.verify_token", token),
                ("hub.challenge", "1158201444"),
            ]
        };
        let wrong = with_token("meta-verify-tokeN");
        let longer = with_token("meta-verify-token-and-more");
        let empty = with_token("");
        let missing = [("hub.mode", "subscribe"), ("hub.challenge", "1")];
        for query in [&wrong[..], &longer[..], &empty[..], &missing[..]] {
            let refusal = run(&get("meta", query, &[])).unwrap_err();
            assert_eq!(refusal, HandshakeRefusal::VerifyTokenMismatch, "{query:?}");
            assert_eq!(refusal.status(), 403);
        }

        let headers = HeaderList::default();
        let query = vec![
            ("hub.mode".to_string(), "subscribe".to_string()),
            ("hub.verify_token".to_string(), String::new()),
            ("hub.challenge".to_string(), "1".to_string()),
        ];
        let req = HandshakeRequest {
            method: "GET",
            query: &query,
            headers: &headers,
            body: b"",
        };
        for verify_token in [None, Some("")] {
            let endpoint = EndpointHandshake {
                provider: Provider::named("meta"),
                secrets: &[],
                verify_token,
            };
            assert_eq!(
                answer(&req, &endpoint),
                Err(HandshakeRefusal::VerifyTokenNotConfigured)
            );
        }
    }

    #[test]
    fn verify_tokens_are_compared_as_fixed_length_digests() {
        // The compared values are SHA-256 digests, one width for every token, so
        // a guess of the wrong length costs the same as one of the right length.
        // echo -n meta-verify-token | sha256sum
        assert_eq!(
            hex::encode(token_digest(META_TOKEN)),
            "9f27ea7db11f88dfa8b23793907b882c46c8bfe5fff01f0c5d50ed362310378b"
        );
        for token in ["", "m", META_TOKEN, &"x".repeat(4096)] {
            assert_eq!(token_digest(token).len(), 32);
        }
        assert!(tokens_match(META_TOKEN, META_TOKEN));
        for wrong in [
            "",
            "m",
            "meta-verify-toke",
            "meta-verify-tokeN",
            "meta-verify-token ",
            "meta-verify-token-and-more",
        ] {
            assert!(!tokens_match(wrong, META_TOKEN), "{wrong:?}");
        }
    }

    #[test]
    fn recognised_handshakes_without_a_usable_challenge_are_refused() {
        let cases = [
            post("slack", &[], r#"{"type":"url_verification"}"#),
            post(
                "slack",
                &[],
                r#"{"type":"url_verification","challenge":42}"#,
            ),
            post(
                "slack",
                &[],
                r#"{"type":"url_verification","challenge":""}"#,
            ),
            post("zoom", &[], r#"{"event":"endpoint.url_validation"}"#),
            post(
                "zoom",
                &[],
                r#"{"event":"endpoint.url_validation","payload":"x"}"#,
            ),
            post("twitch", TWITCH_VERIFY, "not json"),
            post("twitch", TWITCH_VERIFY, r#"{"subscription":{}}"#),
            get(
                "meta",
                &[("hub.mode", "subscribe"), ("hub.verify_token", META_TOKEN)],
                &[],
            ),
            get("meta", &[("hub.mode", "unsubscribe")], &[]),
            get("okta", &[], &[("X-Okta-Verification-Challenge", "")]),
            get("dropbox", &[("challenge", "")], &[]),
        ];
        for case in cases {
            let refusal = run(&case).unwrap_err();
            assert!(
                matches!(refusal, HandshakeRefusal::Malformed(_)),
                "{} {:?} {}: {refusal:?}",
                case.provider,
                case.query,
                case.body
            );
            assert_eq!(refusal.status(), 400);
        }
    }

    #[test]
    fn zoom_without_a_secret_is_a_configuration_error() {
        let headers = HeaderList::default();
        let req = HandshakeRequest {
            method: "POST",
            query: &[],
            headers: &headers,
            body: ZOOM_BODY.as_bytes(),
        };
        for secrets in [vec![], vec![String::new()]] {
            let endpoint = EndpointHandshake {
                provider: Provider::named("zoom"),
                secrets: &secrets,
                verify_token: None,
            };
            let refusal = answer(&req, &endpoint).unwrap_err();
            assert_eq!(refusal, HandshakeRefusal::NoSecret);
            assert_eq!(
                (refusal.status(), refusal.code()),
                (500, "misconfigured_endpoint")
            );
        }
    }

    #[test]
    fn refusal_messages_never_quote_the_token() {
        let all = [
            HandshakeRefusal::Malformed("x"),
            HandshakeRefusal::ChallengeTooLarge,
            HandshakeRefusal::VerifyTokenMismatch,
            HandshakeRefusal::VerifyTokenNotConfigured,
            HandshakeRefusal::NoSecret,
        ];
        for refusal in all {
            assert!(!refusal.message().contains(META_TOKEN));
            assert!(!refusal.code().is_empty());
        }
    }
}
