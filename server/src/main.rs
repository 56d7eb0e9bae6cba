//! Starts the uploader: `server` serves the app where cargo-leptos says (`LEPTOS_SITE_ADDR`);
//! `server sign` prints a signed form. Both stop with a clear message if the configuration
//! is incomplete.

use std::{process::ExitCode, sync::Arc};

use clap::Parser;
use leptos::config::get_configuration;
use server::cli::{Cli, Command};
use server::{config::Config, signer::S3Signer};
use tracing_subscriber::EnvFilter;

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr, so `server sign` output can be piped.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|err| {
        eprintln!("error: {err}");
        eprintln!("The server signs uploads for one bucket; see README.md, \"Configuration\".");
        ExitCode::from(2)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let config = match config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    match cli.command {
        Some(Command::Sign(args)) => match server::cli::sign(config, args) {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::from(2)
            }
        },
        None | Some(Command::Serve) => serve(config).await,
    }
}

async fn serve(config: Config) -> ExitCode {
    let leptos = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(err) => {
            eprintln!("error: Leptos configuration: {err}");
            return ExitCode::from(2);
        }
    };
    let addr = leptos.site_addr;
    tracing::info!(
        bucket = %config.bucket,
        region = %config.region,
        post_url = %config.post_url(),
        access_key_id = %config.credentials.access_key_id(),
        "signing uploads"
    );
    let app = server::app(leptos, Arc::new(S3Signer::new(config)));

    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {addr}: {err}");
            return ExitCode::from(1);
        }
    };
    tracing::info!("listening on http://{addr}");
    if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(shutdown()).await {
        eprintln!("error: {err}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut sig) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            sig.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
