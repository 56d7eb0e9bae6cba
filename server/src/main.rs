//! Starts the uploader: `server` serves the app where cargo-leptos says (`LEPTOS_SITE_ADDR`);
//! `server sign`, `server cors`, `server lifecycle`, `server doctor` and `server iam-policy` are
//! the operator commands. Every command stops with a clear message if the configuration is
//! incomplete. This file only wires.

use std::{net::SocketAddr, process::ExitCode, sync::Arc};

use clap::Parser;
use leptos::config::get_configuration;
use server::cli::{Cli, Command};
use server::config::{ServeConfig, Settings, Target};
use server::edge::host::SiteHosts;
use server::edge::identity::Sessions;
use server::edge::ready::{operable, Readiness};
use server::events::deliver::Deliverer;
use server::events::route::Routes;
use server::metrics::Metrics;
use server::state::State;
use server::uploads::reconcile::reconcile_forever;
use server::uploads::Uploads;

// Every request allocates a few dozen small strings and buffers: mimalloc serves them from
// per-thread pages (measured with perf: glibc's malloc and free were 20% of the time spent
// signing).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = server::logging::init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.settings).await,
        command => server::operator::run(command, &cli.settings).await,
    }
}

async fn serve(settings: &Settings) -> ExitCode {
    let leptos = match get_configuration(None) {
        Ok(conf) => server::edge::site_options(conf.leptos_options),
        Err(err) => {
            eprintln!("error: Leptos configuration: {err}");
            return ExitCode::from(2);
        }
    };
    let addr = leptos.site_addr;
    let config = match ServeConfig::from_settings(settings) {
        Ok(config) => config,
        Err(err) => return server::config_error(err),
    };
    let metrics = Arc::new(Metrics::new());
    let uploads = match config.target {
        Target::Bucket(bucket) => {
            match server::aws::bucket_uploads(bucket, metrics.clone()).await {
                Ok((uploads, _)) => uploads,
                Err(err) => return server::config_error(err),
            }
        }
        Target::Dev(dev) => {
            match server::devbucket::start(dev, addr, &config.hosts, metrics.clone()).await {
                Ok(running) => Uploads::for_dev_bucket(running).with_metrics(metrics.clone()),
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    // The record of pending uploads: the fleet's in Redis, or this instance's own on disk.
    let state = match &config.shared {
        Some(shared) => State::redis(shared.clone()),
        None => match State::embedded(&config.state_dir) {
            Ok(state) => state,
            Err(err) => {
                eprintln!("error: UPLOAD_STATE_DIR: {err}");
                return ExitCode::from(1);
            }
        },
    };
    let state = Arc::new(state);
    let uploads = uploads
        .with_session_key(config.session_key.clone())
        .with_shared_store(config.shared.clone())
        .with_state(state.clone())
        .with_reconcile_grace(config.reconcile_grace);
    // Events, when an endpoint is configured: verdicts go to their endpoints' outboxes too, and
    // this instance delivers from each (the fleet's, with Redis).
    let webhooks = &config.webhooks;
    let uploads = Arc::new(if webhooks.endpoints.is_empty() {
        uploads
    } else {
        let routes = Arc::new(Routes::new(webhooks.endpoints.iter().map(Arc::as_ref)));
        for endpoint in &webhooks.endpoints {
            tracing::info!(endpoint = %endpoint.name, url = %endpoint.shown(), retry_secs = webhooks.window.as_secs(), "sending events");
            tokio::spawn(
                Deliverer {
                    state: state.clone(),
                    endpoint: endpoint.clone(),
                    metrics: metrics.clone(),
                    window: webhooks.window,
                    wake: routes.wake(&endpoint.name),
                }
                .run(),
            );
        }
        uploads.with_events(routes)
    });
    let target = uploads.upload_target(None, "").expect("the default profile is always there");
    tracing::info!(
        bucket = %target.bucket,
        post_url = %target.url,
        profiles = ?uploads.config().profiles.iter().map(|p| p.rules.name.as_str()).collect::<Vec<_>>(),
        credentials = uploads.credential_kind(),
        instance = %config.instance,
        shared_store = config.shared.as_ref().map_or("none (limits per instance)", |s| s.address()),
        state = state.kind(),
        "signing uploads"
    );
    // Every grant gets a verdict: the reconciler looks at what no browser came back for. Its
    // lease is held under this instance's name and a random suffix (two instances given one
    // name still hold it one at a time).
    let holder = format!("{}-{}", config.instance, &uuid::Uuid::new_v4().simple().to_string()[..8]);
    tokio::spawn(reconcile_forever(uploads.clone(), holder.clone(), config.reconcile_every));
    let readiness = Arc::new(Readiness::new(uploads.objects().cloned(), config.shared.clone()));
    let sessions = Arc::new(Sessions {
        key: config.session_key.clone(),
        proxies: config.proxies.clone(),
        auth: config.auth.clone(),
    });
    let hosts = if config.hosts.is_empty() { SiteHosts::listening_on(addr) } else { config.hosts };
    tracing::info!(hosts = ?hosts.names(), "serving these host names only (UPLOAD_PUBLIC_ORIGIN)");
    let app = operable(
        server::app(leptos, uploads, sessions, hosts, metrics.clone()),
        readiness.clone(),
        &config.instance,
    );

    // The counters on an address of their own: the public never reads them.
    let metrics_listener = match tokio::net::TcpListener::bind(config.metrics_addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "error: cannot serve metrics on {} (UPLOAD_METRICS_ADDR): {err}",
                config.metrics_addr
            );
            return ExitCode::from(1);
        }
    };
    tracing::info!("metrics on http://{}/metrics", config.metrics_addr);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(metrics_listener, server::edge::metrics(metrics)).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    });

    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {addr}: {err}");
            return ExitCode::from(1);
        }
    };
    tracing::info!("listening on http://{addr}");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signalled = {
        let stopping = stopping.clone();
        async move {
            shutdown().await;
            // Stop accepting (axum), say so to the balancer, and let requests in flight finish.
            readiness.drain();
            tracing::info!(event = "draining", "stopping: finishing the requests in flight");
            stopping.notify_one();
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signalled);
    let drained = config.drain;
    tokio::select! {
        served = server => {
            if let Err(err) = served {
                eprintln!("error: {err}");
                return ExitCode::from(1);
            }
        }
        () = async { stopping.notified().await; tokio::time::sleep(drained).await } => {
            tracing::warn!(event = "drain_timeout", secs = drained.as_secs(), "requests still in flight at the drain deadline; exiting");
        }
    }
    // Every grant signed is recorded before the process ends; another instance takes the
    // reconciler over at once, not when the lease expires.
    match tokio::time::timeout(drained, state.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(event = "records_not_flushed", error = %err),
        Err(_) => {
            tracing::error!(
                event = "records_not_flushed",
                error = "the store did not take them in time"
            )
        }
    }
    if let Err(err) = state.give_up_lease(&holder).await {
        tracing::warn!(event = "lease_not_given_up", error = %err);
    }
    tracing::info!(event = "stopped", "stopped");
    ExitCode::SUCCESS
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight, exit.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
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
