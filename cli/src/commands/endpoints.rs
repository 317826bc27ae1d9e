//! `hookrelay endpoints list | create`.

use super::say;
use crate::args::{CreateArgs, EndpointsCommand};
use crate::client::RelayClient;
use crate::error::CliError;
use crate::output;
use serde_json::{json, Value};

pub async fn run(
    client: &RelayClient,
    command: EndpointsCommand,
    json: bool,
) -> Result<(), CliError> {
    match command {
        EndpointsCommand::List => {
            let page = client.endpoints().await?;
            for endpoint in &page.data {
                say(&if json {
                    endpoint.to_string()
                } else {
                    output::endpoint_row(endpoint)
                });
            }
            if page.data.is_empty() && !json {
                eprintln!("no endpoints");
            }
        }
        EndpointsCommand::Create(args) => {
            let created = client.create_endpoint(&create_body(&args)).await?;
            if json {
                say(&serde_json::to_string_pretty(&created).unwrap_or_else(|_| created.to_string()));
            } else {
                let field = |key: &str| created[key].as_str().unwrap_or("-").to_string();
                say(&format!("created {} ({})", field("id"), field("name")));
                say(&format!("ingest URL:    {}", field("ingest_url")));
                say(&format!("destination:   {}", output::destination(&created)));
                say(&format!("relay secret:  {}", field("relay_secret")));
            }
        }
    }
    Ok(())
}

/// The `POST /api/v1/endpoints` body. A pull destination has no URL: the relay
/// holds its events until `hookrelay listen` leases them.
pub fn create_body(args: &CreateArgs) -> Value {
    let mut body = json!({
        "name": args.name,
        "provider": args.provider,
        "secrets": args.secrets,
    });
    if args.pull {
        body["destination_type"] = json!("pull");
    } else if let Some(url) = &args.destination {
        body["destination_url"] = json!(url);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(destination: Option<&str>, pull: bool) -> CreateArgs {
        CreateArgs {
            name: "shop".into(),
            provider: "shopify".into(),
            destination: destination.map(str::to_string),
            secrets: vec!["s1".into(), "s2".into()],
            pull,
        }
    }

    #[test]
    fn a_push_endpoint_names_its_url() {
        assert_eq!(
            create_body(&args(Some("https://app.example/in"), false)),
            json!({"name": "shop", "provider": "shopify", "secrets": ["s1", "s2"],
                   "destination_url": "https://app.example/in"})
        );
    }

    #[test]
    fn a_pull_destination_has_no_url() {
        assert_eq!(
            create_body(&args(None, true)),
            json!({"name": "shop", "provider": "shopify", "secrets": ["s1", "s2"],
                   "destination_type": "pull"})
        );
    }
}
