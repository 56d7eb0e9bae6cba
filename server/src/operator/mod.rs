//! The operator commands, run from a shell against the configured bucket: `server sign` prints
//! a signed form ([`sign`]), `server cors` writes the CORS rule browser uploads need ([`cors`]), `server lifecycle` the
//! rule that aborts unfinished multipart uploads ([`lifecycle`]),
//! `server doctor` checks the set-up and says what to fix ([`doctor`]), `server iam-policy`
//! prints the IAM policies it needs ([`iam`]), `server webhooks` lists and replays the events'
//! outbox ([`webhooks`]).

pub mod cors;
pub mod doctor;
pub mod iam;
pub mod lifecycle;
pub mod post_probe;
pub mod sign;
pub mod webhooks;

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{Command, IamPolicyArgs};
use crate::config::{Config, Settings};
use crate::metrics::Metrics;

/// Runs one operator command; `Serve` is not one (the binary's `main` serves).
pub async fn run(command: Command, settings: &Settings) -> ExitCode {
    // The outbox needs the store, not the bucket.
    if let Command::Webhooks(args) = command {
        return finish(webhooks::run(args.action, &args.endpoint, settings).await);
    }
    let config = match Config::from_settings(settings) {
        Ok(config) => config,
        Err(err) => return crate::config_error(err),
    };
    // Printed from the configuration alone: no credentials needed.
    if let Command::IamPolicy(args) = &command {
        return finish(iam_policy(&config, args));
    }
    let (uploads, client) = match crate::aws::bucket_uploads(config, Arc::new(Metrics::new())).await
    {
        Ok(configured) => configured,
        Err(err) => return crate::config_error(err),
    };
    match command {
        Command::Serve | Command::IamPolicy(_) | Command::Webhooks(_) => {
            unreachable!("served or done above")
        }
        Command::Sign(args) => finish(sign::sign(&uploads, args).await),
        Command::Cors(args) => {
            let config = uploads.config();
            let headers = cors::request_headers(&config.profiles);
            finish(cors::cors(&client, &config.bucket.name, &args.origins, &headers).await)
        }
        Command::Lifecycle(args) => {
            finish(lifecycle::lifecycle(&client, &uploads.config().bucket.name, args.days).await)
        }
        Command::Doctor(args) => {
            let origin = args.origin.unwrap_or_else(default_origin);
            if doctor::print(&doctor::checks(&uploads, &client, &origin).await) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// The app's own origin, where Leptos serves it (`LEPTOS_SITE_ADDR`, default 127.0.0.1:3000).
fn default_origin() -> String {
    let addr = leptos::config::get_configuration(None)
        .map(|conf| conf.leptos_options.site_addr.to_string());
    format!("http://{}", addr.unwrap_or_else(|_| "127.0.0.1:3000".into()))
}

fn iam_policy(config: &Config, args: &IamPolicyArgs) -> Result<String, String> {
    let policies = iam::policies(config, args.principal.as_deref(), args.account_id.as_deref());
    let json = match args.document.as_deref() {
        None => policies.to_json(),
        Some(name) => policies.document(name).cloned().ok_or_else(|| {
            format!(
                "no document {name:?} in this mode; it has: {}",
                policies
                    .to_json()
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            )
        })?,
    };
    Ok(serde_json::to_string_pretty(&json).expect("JSON values serialize"))
}

fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
