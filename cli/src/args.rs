//! The command line, declared with clap's derive attributes. Usage errors exit
//! with 2 before any command runs.

use clap::{ArgGroup, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hookrelay",
    version,
    about = "Talk to a hookrelay relay: forward its events to a local app, inspect and replay them, manage endpoints"
)]
pub struct Cli {
    /// The relay's base URL (overrides HOOKRELAY_URL and the stored config)
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,

    /// The relay's admin key (overrides HOOKRELAY_KEY and the stored config)
    #[arg(long, global = true, value_name = "KEY")]
    pub key: Option<String>,

    /// Print JSON (one object per line for lists and `listen`) instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store the relay URL and key (given with --url and --key) in the config file
    Login(LoginArgs),
    /// Lease the events of a pull destination and forward them to a local app
    Listen(ListenArgs),
    /// List, show and replay events
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// List and create endpoints
    Endpoints {
        #[command(subcommand)]
        command: EndpointsCommand,
    },
    /// Print each status change of an endpoint's events as it happens (the live stream)
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Save without checking the key against the relay
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// The pull destination: an endpoint id (ep_...) created with --pull
    #[arg(value_name = "DEST")]
    pub dest: String,

    /// Where to POST each event: a URL, or host:port[/path] (http)
    #[arg(long, value_name = "URL")]
    pub forward_to: String,

    /// Only these event types; `*` matches any run of characters (charge.*,invoice.paid)
    #[arg(long, value_name = "TYPE,...")]
    pub events: Option<String>,

    /// Print the endpoint's relay secret first, for the app to verify signatures
    #[arg(long)]
    pub print_secret: bool,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Events, newest first
    List(EventsListArgs),
    /// One event with its headers and attempts
    Show {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Deliver a dead or delivered event again
    Replay {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct EventsListArgs {
    /// Only this endpoint's events
    #[arg(long, value_name = "ID")]
    pub endpoint: Option<String>,

    /// Only events in this status (received, delivering, retrying, delivered, dead)
    #[arg(long, value_name = "S")]
    pub status: Option<String>,

    /// How many events (1 to 200; the relay's default is 50)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,

    /// Continue after this event id (the `next_cursor` of an earlier page)
    #[arg(long, value_name = "ID")]
    pub cursor: Option<String>,

    /// Only these event types, matched here on the page the relay returns
    #[arg(long, value_name = "TYPE,...")]
    pub events: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EndpointsCommand {
    /// Every endpoint
    List,
    /// A new endpoint that pushes to a URL, or a pull destination for `listen`
    Create(CreateArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["destination", "pull"])))]
pub struct CreateArgs {
    #[arg(long)]
    pub name: String,

    /// The sender's signature scheme (stripe, github, shopify, standard, none, ...)
    #[arg(long)]
    pub provider: String,

    /// The URL the relay delivers to
    #[arg(long, value_name = "URL")]
    pub destination: Option<String>,

    /// The provider's signing secret; repeat for several
    #[arg(long = "secret", value_name = "S")]
    pub secrets: Vec<String>,

    /// Hold events for `hookrelay listen` instead of pushing them
    #[arg(long)]
    pub pull: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[arg(value_name = "ENDPOINT")]
    pub endpoint: String,

    /// Only these event types
    #[arg(long, value_name = "TYPE,...")]
    pub events: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_follow_the_subcommand() {
        let cli = Cli::try_parse_from([
            "hookrelay",
            "login",
            "--url",
            "https://r.example",
            "--key",
            "k",
        ])
        .unwrap();
        assert_eq!(cli.url.as_deref(), Some("https://r.example"));
        assert_eq!(cli.key.as_deref(), Some("k"));
    }

    #[test]
    fn create_needs_exactly_one_of_destination_and_pull() {
        let base = [
            "hookrelay",
            "endpoints",
            "create",
            "--name",
            "n",
            "--provider",
            "stripe",
        ];
        let parse = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra));
        assert!(parse(&["--pull"]).is_ok());
        assert!(parse(&["--destination", "https://a.example"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--pull", "--destination", "https://a.example"]).is_err());
    }

    #[test]
    fn usage_errors_exit_2() {
        let err = Cli::try_parse_from(["hookrelay", "events", "list", "--limit", "0"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["hookrelay", "listen", "ep_1"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
