//! Starts the uploader: `server` serves the app where cargo-leptos says (`LEPTOS_SITE_ADDR`);
//! `server sign` prints a signed form; `server cors` and `server doctor` help operators. Both stop with a clear message if the configuration
//! is incomplete.

use std::{net::SocketAddr, process::ExitCode, sync::Arc};

use axum::http::HeaderValue;
use clap::Parser;
use leptos::config::get_configuration;
use server::cli::{Cli, Command};
use server::devbucket::{self, DevBucket, Store};
use server::metrics::Metrics;
use server::settings::Settings;
use server::objects::Objects;
use app::signing::UploadSigner;
use server::uploader::SessionKey;
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

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn config_error(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {err}");
    eprintln!("The server signs uploads for one bucket; see README.md, \"Configuration\".");
    ExitCode::from(2)
}

/// A signer for the configured bucket, with the credentials and S3 client it is set up for.
async fn configured(settings: &Settings, metrics: Arc<Metrics>) -> Result<(S3Signer, aws_sdk_s3::Client), ExitCode> {
    let config = Config::from_settings(settings).map_err(config_error)?;
    let sdk = server::aws::sdk_config(&config).await;
    let source = server::aws::credential_source(&config, &sdk, metrics.clone()).map_err(config_error)?;
    let client = server::aws::s3_client(&sdk, &config);
    let objects = Objects::S3 { client: client.clone(), bucket: config.bucket.clone() };
    Ok((S3Signer::with_source(config, source).with_objects(objects).with_metrics(metrics), client))
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::Serve) {
        return serve(&cli.settings).await;
    }
    let (signer, client) = match configured(&cli.settings, Arc::new(Metrics::new())).await {
        Ok(configured) => configured,
        Err(code) => return code,
    };
    match command {
        Command::Serve => unreachable!("served above"),
        Command::Sign(args) => finish(server::cli::sign(&signer, args).await),
        Command::Cors(args) => finish(server::operator::cors(&client, &signer.target().bucket, &args.origins).await),
        Command::Doctor(args) => {
            let origin = args.origin.unwrap_or_else(|| format!("http://{}", env("LEPTOS_SITE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into())));
            let checks = server::operator::doctor(&signer, &client, &origin).await;
            for check in &checks {
                println!("{} {}", if check.ok { "ok  " } else { "FAIL" }, check.what);
                if let Some(fix) = &check.fix {
                    println!("     fix: {fix}");
                }
            }
            let failed = checks.iter().filter(|c| !c.ok).count();
            if failed == 0 {
                println!("everything checked is in order");
                ExitCode::SUCCESS
            } else {
                println!("{failed} problem(s) to fix");
                ExitCode::from(1)
            }
        }
    }
}

/// The app's own origins, which the dev bucket's CORS rule allows.
fn app_origins(addr: SocketAddr) -> Vec<HeaderValue> {
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", addr.port()));
    }
    origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect()
}

/// Starts the embedded dev bucket on its own port and returns the signer for it.
async fn start_dev_bucket(settings: &Settings, app_addr: SocketAddr, metrics: Arc<Metrics>) -> Result<S3Signer, ExitCode> {
    let addr = settings.get("UPLOAD_DEV_BUCKET_ADDR").unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|err| {
        eprintln!("error: the dev bucket cannot listen on {addr} (UPLOAD_DEV_BUCKET_ADDR): {err}");
        ExitCode::from(1)
    })?;
    let endpoint = format!("http://{}", listener.local_addr().map_err(|_| ExitCode::from(1))?);
    let config = Config::dev_bucket(|name| settings.get(name), endpoint.clone()).map_err(config_error)?;
    let data_dir = settings.get("UPLOAD_DEV_DATA_DIR").unwrap_or_else(|| "data".into());
    let dev = Arc::new(DevBucket {
        bucket: config.bucket.clone(),
        region: config.region.clone(),
        credentials: config.credentials.clone().expect("the dev bucket has its own keys"),
        store: Store::new(&data_dir),
        endpoint: endpoint.clone(),
        metrics,
    });
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, devbucket::router(dev, app_origins(app_addr))).await {
            tracing::error!(error = %err, "the dev bucket stopped");
        }
    });
    let files = format!("{data_dir}/{}", config.bucket);
    tracing::info!(post_url = %config.post_url(), files = %files, "no UPLOAD_BUCKET set: uploads go to the embedded dev bucket");
    let objects = Objects::Dev { store: Store::new(&data_dir), bucket: config.bucket.clone(), endpoint };
    Ok(S3Signer::new(config).with_objects(objects).for_dev_bucket(files))
}

async fn serve(settings: &Settings) -> ExitCode {
    let leptos = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(err) => {
            eprintln!("error: Leptos configuration: {err}");
            return ExitCode::from(2);
        }
    };
    let addr = leptos.site_addr;
    let metrics = Arc::new(Metrics::new());
    let signer = if Config::wants_dev_bucket(|name| settings.get(name)) {
        start_dev_bucket(settings, addr, metrics.clone()).await
    } else {
        configured(settings, metrics.clone()).await.map(|(signer, _)| signer)
    };
    let signer = match signer {
        Ok(signer) => signer,
        Err(code) => return code,
    };
    let target = signer.target();
    tracing::info!(bucket = %target.bucket, post_url = %target.url, credentials = signer.credential_kind(), "signing uploads");
    let sessions = match settings.get("UPLOAD_SESSION_SECRET") {
        None => SessionKey::random(),
        Some(hex) => match SessionKey::from_hex(&hex) {
            Some(key) => key,
            None => return config_error("UPLOAD_SESSION_SECRET is invalid: expected 64 hex digits (32 random bytes)"),
        },
    };
    let signer = signer.with_metrics(metrics.clone());
    let app = server::app(leptos, Arc::new(signer), Arc::new(sessions), metrics);

    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {addr}: {err}");
            return ExitCode::from(1);
        }
    };
    tracing::info!("listening on http://{addr}");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
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
