//! Every way a command can fail, and the exit code each one maps to, so scripts
//! can tell "fix your key" from "the relay is down" without parsing messages.
//!
//! | code | meaning |
//! |---|---|
//! | 1 | anything else (a refusal by the relay, a local I/O error) |
//! | 2 | usage (clap's own errors exit with 2 as well) |
//! | 3 | no credentials, the relay refused the key (401), or the key's role does not allow it (403) |
//! | 4 | the relay does not know the destination, endpoint or event (404) |
//! | 5 | the relay could not be reached (the message names the URL tried) |

use std::fmt;

#[derive(Debug)]
pub enum CliError {
    Usage(String),
    NoCredentials(String),
    BadKey {
        url: String,
        message: String,
    },
    /// The key is valid but its role does not allow this (403).
    Forbidden {
        url: String,
        message: String,
    },
    NotFound(String),
    Unreachable {
        url: String,
        reason: String,
    },
    /// The relay answered with an error other than 401, 403 or 404.
    Relay {
        status: u16,
        code: String,
        message: String,
    },
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Other(_) | CliError::Relay { .. } => 1,
            CliError::Usage(_) => 2,
            CliError::NoCredentials(_) | CliError::BadKey { .. } | CliError::Forbidden { .. } => 3,
            CliError::NotFound(_) => 4,
            CliError::Unreachable { .. } => 5,
        }
    }

    /// Whether waiting and trying again may help: the relay was unreachable or
    /// answered 5xx. `listen` and `tail` ride these out instead of exiting.
    pub fn is_transient(&self) -> bool {
        match self {
            CliError::Unreachable { .. } => true,
            CliError::Relay { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The relay's error code, when it answered with one.
    pub fn relay_code(&self) -> Option<&str> {
        match self {
            CliError::Relay { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::NoCredentials(m) | CliError::Other(m) => f.write_str(m),
            CliError::BadKey { url, message } => write!(
                f,
                "the relay at {url} refused the key (401: {message}); \
                 run `hookrelay login --url URL --key KEY` or set HOOKRELAY_KEY"
            ),
            CliError::Forbidden { url, message } => write!(
                f,
                "the relay at {url} does not let this key do that (403: {message}); \
                 use a key with the editor role, or a pull key for this destination"
            ),
            CliError::NotFound(m) => f.write_str(m),
            CliError::Unreachable { url, reason } => {
                write!(f, "could not reach the relay at {url}: {reason}")
            }
            CliError::Relay {
                status,
                code,
                message,
            } => write!(f, "the relay answered {status} {code}: {message}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Other(e.to_string())
    }
}

/// A network error in a few words: the innermost cause, with the common socket
/// errors named plainly ("connection refused" rather than "tcp connect error").
/// The outer layers of an HTTP client's error mostly repeat the URL.
pub fn describe_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = err;
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return match io.kind() {
                ConnectionRefused => "connection refused".into(),
                ConnectionReset => "connection reset".into(),
                ConnectionAborted => "connection aborted".into(),
                TimedOut => "timed out".into(),
                _ => io.to_string(),
            };
        }
        innermost = e;
        cause = e.source();
    }
    innermost.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error wrapping another, the way HTTP clients layer theirs.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<dyn std::error::Error + 'static>>);
    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref()
        }
    }

    #[test]
    fn a_refused_connection_is_called_that() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = Layer(
            "error sending request for url (http://127.0.0.1:9/)",
            Some(Box::new(Layer("tcp connect error", Some(Box::new(io))))),
        );
        assert_eq!(describe_cause(&err), "connection refused");
    }

    #[test]
    fn other_causes_are_the_innermost_message() {
        let dns = std::io::Error::other("failed to lookup address information");
        let err = Layer("error sending request", Some(Box::new(dns)));
        assert_eq!(describe_cause(&err), "failed to lookup address information");
        let tls = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "invalid peer certificate: UnknownIssuer",
                None,
            ))),
        );
        assert_eq!(
            describe_cause(&tls),
            "invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(describe_cause(&Layer("alone", None)), "alone");
    }

    #[test]
    fn each_failure_has_its_exit_code() {
        let relay = |status: u16| CliError::Relay {
            status,
            code: "x".into(),
            message: "y".into(),
        };
        let cases = [
            (CliError::Other("disk full".into()), 1),
            (relay(409), 1),
            (relay(500), 1),
            (CliError::Usage("--limit".into()), 2),
            (CliError::NoCredentials("none".into()), 3),
            (
                CliError::BadKey {
                    url: "u".into(),
                    message: "m".into(),
                },
                3,
            ),
            (CliError::NotFound("ep_x".into()), 4),
            (
                CliError::Unreachable {
                    url: "u".into(),
                    reason: "r".into(),
                },
                5,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), code, "{err:?}");
        }
    }

    #[test]
    fn only_unreachable_and_server_errors_are_worth_waiting_for() {
        let relay = |status: u16| CliError::Relay {
            status,
            code: "x".into(),
            message: "y".into(),
        };
        assert!(CliError::Unreachable {
            url: "u".into(),
            reason: "r".into()
        }
        .is_transient());
        assert!(relay(503).is_transient());
        assert!(!relay(409).is_transient());
        assert!(!CliError::NotFound("x".into()).is_transient());
        assert!(!CliError::BadKey {
            url: "u".into(),
            message: "m".into()
        }
        .is_transient());
    }

    #[test]
    fn unreachable_names_the_url_it_tried() {
        let err = CliError::Unreachable {
            url: "http://127.0.0.1:9/api/v1/events".into(),
            reason: "connection refused".into(),
        };
        assert!(err.to_string().contains("http://127.0.0.1:9/api/v1/events"));
    }

    #[test]
    fn a_bad_key_says_how_to_fix_it() {
        let err = CliError::BadKey {
            url: "https://relay.example".into(),
            message: "invalid bearer token".into(),
        };
        let text = err.to_string();
        assert!(text.contains("refused the key"), "{text}");
        assert!(text.contains("hookrelay login"), "{text}");
    }
}
