//! Where the relay URL and key come from: `--url`/`--key` flags first, then
//! `HOOKRELAY_URL`/`HOOKRELAY_KEY`, then `<config dir>/hookrelay/config.json`
//! written by `hookrelay login`. Each value is resolved on its own, so a flag can
//! override the stored URL while the stored key still applies.
//!
//! The file holds a bearer key: it is written with mode 0600 (its directory 0700)
//! through a temporary file and a rename, so no reader ever sees it half written
//! or readable by others.

use crate::error::CliError;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const URL_VAR: &str = "HOOKRELAY_URL";
pub const KEY_VAR: &str = "HOOKRELAY_KEY";

/// A relay and the key to its management API, both checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The relay's base URL without a trailing slash.
    pub url: String,
    pub key: String,
}

/// The config file as stored: `{"url", "key"}`; either may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `<config dir>/hookrelay/config.json`.
pub fn default_path() -> Result<PathBuf, CliError> {
    dirs::config_dir()
        .map(|dir| dir.join("hookrelay").join("config.json"))
        .ok_or_else(|| CliError::Other("no config directory for this user (is HOME set?)".into()))
}

/// The stored config; a missing file is an empty config, not an error.
pub fn load(path: &Path) -> Result<ConfigFile, CliError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => return Err(CliError::Other(format!("{}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::Other(format!(
            "{} is not valid config JSON ({e}); run `hookrelay login` again",
            path.display()
        ))
    })
}

/// Writes `{url, key}` readable by the owner only, creating the directories.
pub fn save(path: &Path, creds: &Credentials) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Other(format!("{}: {e}", path.display()));
    let file = ConfigFile {
        url: Some(creds.url.clone()),
        key: Some(creds.key.clone()),
    };
    let mut text =
        serde_json::to_string_pretty(&file).map_err(|e| CliError::Other(e.to_string()))?;
    text.push('\n');
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut out = private_file(&tmp).map_err(io)?;
    out.write_all(text.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    fs::rename(&tmp, path).map_err(io)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// A fresh file with mode 0600 (a leftover temporary file is replaced, and its
/// mode corrected, since `mode` applies only when the file is created).
#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::File::create(path)
}

/// Values given on the command line, which win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub url: Option<String>,
    pub key: Option<String>,
}

/// Flags, then the environment (`env` looks a variable up), then the file. A
/// variable set to an empty string counts as unset.
pub fn resolve(
    flags: &Flags,
    env: impl Fn(&str) -> Option<String>,
    file: &ConfigFile,
) -> Result<Credentials, CliError> {
    let pick = |flag: &Option<String>, var: &str, stored: &Option<String>| {
        [flag.clone(), env(var), stored.clone()]
            .into_iter()
            .flatten()
            .map(|v| v.trim().to_string())
            .find(|v| !v.is_empty())
    };
    let url = pick(&flags.url, URL_VAR, &file.url);
    let key = pick(&flags.key, KEY_VAR, &file.key);
    match (url, key) {
        (Some(url), Some(key)) => Ok(Credentials {
            url: normalize_url(&url)?,
            key,
        }),
        (url, key) => {
            let missing: Vec<&str> = [("relay URL", url.is_none()), ("key", key.is_none())]
                .into_iter()
                .filter_map(|(name, absent)| absent.then_some(name))
                .collect();
            Err(CliError::NoCredentials(format!(
                "no {} configured: run `hookrelay login --url URL --key KEY`, \
                 set {URL_VAR} and {KEY_VAR}, or pass --url and --key",
                missing.join(" and ")
            )))
        }
    }
}

/// An http(s) URL without query, fragment or trailing slash, so API paths can
/// be appended to it.
pub fn normalize_url(raw: &str) -> Result<String, CliError> {
    let invalid = |why: &str| CliError::Usage(format!("relay URL {raw:?} {why}"));
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&format!("is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn stored(url: &str, key: &str) -> ConfigFile {
        ConfigFile {
            url: Some(url.into()),
            key: Some(key.into()),
        }
    }

    #[test]
    fn the_file_alone_is_enough() {
        let creds = resolve(
            &Flags::default(),
            env(&[]),
            &stored("https://r.example/", "k1"),
        )
        .unwrap();
        assert_eq!(creds.url, "https://r.example");
        assert_eq!(creds.key, "k1");
    }

    #[test]
    fn environment_overrides_the_file_and_flags_override_both() {
        let file = stored("https://file.example", "file-key");
        let vars = [(URL_VAR, "https://env.example"), (KEY_VAR, "env-key")];
        let from_env = resolve(&Flags::default(), env(&vars), &file).unwrap();
        assert_eq!(from_env.url, "https://env.example");
        assert_eq!(from_env.key, "env-key");

        let flags = Flags {
            url: Some("http://127.0.0.1:8787".into()),
            key: Some("flag-key".into()),
        };
        let from_flags = resolve(&flags, env(&vars), &file).unwrap();
        assert_eq!(from_flags.url, "http://127.0.0.1:8787");
        assert_eq!(from_flags.key, "flag-key");
    }

    #[test]
    fn each_value_is_resolved_on_its_own() {
        let flags = Flags {
            url: Some("https://other.example".into()),
            key: None,
        };
        let creds = resolve(&flags, env(&[]), &stored("https://r.example", "k1")).unwrap();
        assert_eq!(creds.url, "https://other.example");
        assert_eq!(creds.key, "k1");
    }

    #[test]
    fn an_empty_variable_does_not_hide_the_file() {
        let creds = resolve(
            &Flags::default(),
            env(&[(KEY_VAR, ""), (URL_VAR, "  ")]),
            &stored("https://r.example", "k1"),
        )
        .unwrap();
        assert_eq!(creds.key, "k1");
        assert_eq!(creds.url, "https://r.example");
    }

    #[test]
    fn missing_credentials_say_what_is_missing_and_exit_3() {
        let err = resolve(&Flags::default(), env(&[]), &ConfigFile::default()).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("relay URL and key"), "{err}");

        let only_url = ConfigFile {
            url: Some("https://r.example".into()),
            key: None,
        };
        let err = resolve(&Flags::default(), env(&[]), &only_url).unwrap_err();
        assert!(err.to_string().starts_with("no key configured"), "{err}");
        assert!(err.to_string().contains("hookrelay login"), "{err}");
    }

    #[test]
    fn urls_are_normalised_or_refused() {
        let cases = [
            ("https://relay.example", Some("https://relay.example")),
            ("https://relay.example/", Some("https://relay.example")),
            ("http://127.0.0.1:8787/", Some("http://127.0.0.1:8787")),
            ("https://x.example/relay/", Some("https://x.example/relay")),
            (" https://relay.example ", Some("https://relay.example")),
            ("relay.example", None),
            ("ftp://relay.example", None),
            ("https://relay.example/?a=1", None),
            ("https://relay.example/#top", None),
        ];
        for (raw, want) in cases {
            match (normalize_url(raw), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{raw}"),
                (Err(e), None) => assert_eq!(e.exit_code(), 2, "{raw}"),
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("nested")
            .join("hookrelay")
            .join("config.json");
        let creds = Credentials {
            url: "https://r.example".into(),
            key: "secret-key".into(),
        };
        save(&path, &creds).unwrap();
        assert_eq!(
            load(&path).unwrap(),
            stored("https://r.example", "secret-key")
        );
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[cfg(unix)]
    #[test]
    fn the_saved_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookrelay").join("config.json");
        // An older file with a loose mode is replaced by a private one.
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "{}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let creds = Credentials {
            url: "https://r.example".into(),
            key: "k".into(),
        };
        save(&path, &creds).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_created_config_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookrelay").join("config.json");
        let creds = Credentials {
            url: "https://r.example".into(),
            key: "k".into(),
        };
        save(&path, &creds).unwrap();
        let mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_missing_file_is_an_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load(&dir.path().join("absent.json")).unwrap(),
            ConfigFile::default()
        );
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, "not json").unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("config.json"), "{err}");
    }
}
