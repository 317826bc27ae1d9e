//! `hookrelay`: the relay's command line. `listen` forwards the events of a pull
//! destination to an app on this machine; the other commands wrap the management
//! API. Exit codes are listed in `error.rs`.

mod args;
mod backoff;
mod client;
mod commands;
mod config;
mod error;
mod event_types;
mod forward;
mod model;
mod output;
mod reconnect;
mod sse;
mod stop;

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = args::Cli::parse();
    if let Err(err) = commands::run(cli).await {
        eprintln!("hookrelay: {err}");
        std::process::exit(err.exit_code());
    }
}
