//! `hookrelay login --url URL --key KEY`: checks the key against the relay
//! (`GET /api/v1/whoami`, which every key may call, pull keys included) unless
//! `--no-verify`, then stores both, owner-only.

use super::say;
use crate::args::LoginArgs;
use crate::client::RelayClient;
use crate::config::{self, Credentials, Flags};
use crate::error::CliError;

pub async fn run(flags: &Flags, args: &LoginArgs) -> Result<(), CliError> {
    let (Some(url), Some(key)) = (given(&flags.url), given(&flags.key)) else {
        return Err(CliError::Usage(
            "login needs both --url URL and --key KEY".into(),
        ));
    };
    let creds = Credentials {
        url: config::normalize_url(url)?,
        key: key.to_string(),
    };
    let role = if args.no_verify {
        None
    } else {
        let me = RelayClient::new(creds.clone())?.whoami().await?;
        me["role"].as_str().map(str::to_string)
    };
    let path = config::default_path()?;
    config::save(&path, &creds)?;
    let as_role = role.map(|r| format!(" as {r}")).unwrap_or_default();
    say(&format!(
        "logged in to {}{as_role}; saved to {}",
        creds.url,
        path.display()
    ));
    Ok(())
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
