//! One file per command; this one picks the command and finds the credentials.

mod endpoints;
mod events;
mod listen;
mod login;
mod tail;

use crate::args::{Cli, Command};
use crate::client::RelayClient;
use crate::config::{self, Credentials, Flags};
use crate::error::CliError;
use std::io::Write;

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let flags = Flags {
        url: cli.url,
        key: cli.key,
    };
    let json = cli.json;
    match cli.command {
        Command::Login(args) => login::run(&flags, &args).await,
        Command::Listen(args) => listen::run(client(&flags)?, &args, json).await,
        Command::Events { command } => events::run(&client(&flags)?, command, json).await,
        Command::Endpoints { command } => endpoints::run(&client(&flags)?, command, json).await,
        Command::Tail(args) => tail::run(&client(&flags)?, &args, json).await,
    }
}

/// A client for the relay the flags, the environment or the config file name.
fn client(flags: &Flags) -> Result<RelayClient, CliError> {
    RelayClient::new(credentials(flags)?)
}

fn credentials(flags: &Flags) -> Result<Credentials, CliError> {
    let both_flags = flags.url.is_some() && flags.key.is_some();
    // With both on the command line the file is not needed, nor read; without
    // a config directory only the flags and the environment remain.
    let stored = match config::default_path() {
        Ok(path) if !both_flags => config::load(&path)?,
        _ => config::ConfigFile::default(),
    };
    config::resolve(flags, |name| std::env::var(name).ok(), &stored)
}

/// One line on stdout. A closed pipe (`| head`) is not an error worth a panic.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}
