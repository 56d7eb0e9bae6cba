//! `server webhooks [--endpoint NAME]`: an endpoint's outbox from a shell, in the store the
//! server uses (Redis with `UPLOAD_REDIS_URL`, else `UPLOAD_STATE_DIR`, which a running server
//! holds: stop it first, or use Redis). Lists what waits or was given up, sends events again
//! (each with its own `webhook-id`, so a receiver that saw one before knows it), and enables
//! the endpoint again.

use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli::WebhooksAction;
use crate::config::limits::Limits;
use crate::config::{Profiles, Setting, Settings};
use crate::events::deliver::disabled_flag;
use crate::events::event::{event_type, webhook_id};
use crate::events::route::Routes;
use crate::shared::SharedStore;
use crate::state::State;
use crate::uploads::pending::VerdictLine;

/// The verdicts' log is read this many lines at a time.
const PAGE: usize = 1000;

fn open(settings: &Settings) -> Result<State, String> {
    match settings.get(Setting::RedisUrl) {
        Some(url) => Ok(State::redis(Arc::new(SharedStore::new(&url)?))),
        None => {
            let dir = settings.get(Setting::StateDir).unwrap_or_else(|| "data/state".into());
            State::embedded(std::path::Path::new(&dir)).map_err(|err| {
                format!("UPLOAD_STATE_DIR: {err} (a running server holds its store: stop it first)")
            })
        }
    }
}

fn at(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Whether the events of `line`'s profile go to `endpoint`, as `UPLOAD_PROFILES` says.
fn routed(settings: &Settings, endpoint: &str) -> Result<impl Fn(&VerdictLine) -> bool, String> {
    let get = |setting: Setting| settings.get(setting);
    let limits = Limits::from_lookup(&get).map_err(|e| e.to_string())?;
    let profiles = Profiles::from_lookup(&get, &limits).map_err(|e| e.to_string())?;
    let endpoint = endpoint.to_owned();
    Ok(move |line: &VerdictLine| {
        let own = profiles.get(line.profile()).and_then(|p| p.webhooks.as_deref());
        Routes::goes_to(own, &endpoint)
    })
}

pub async fn run(
    action: WebhooksAction,
    endpoint: &str,
    settings: &Settings,
) -> Result<String, String> {
    let state = open(settings)?;
    let failed = |err: crate::state::StateError| err.to_string();
    match action {
        WebhooksAction::List { dead, max } => {
            let listed = state.outbox(endpoint, dead, max).await.map_err(failed)?;
            let lines: Vec<String> = listed
                .iter()
                .map(|event| {
                    let line = serde_json::from_str::<VerdictLine>(&event.line).ok();
                    serde_json::json!({
                        "id": line.as_ref().map(webhook_id),
                        "type": line.as_ref().map(|l| event_type(l.verdict)),
                        "key": line.as_ref().map(|l| l.key.as_str()),
                        "attempts": event.attempts,
                        "queued_at": at(event.queued_ms),
                    })
                    .to_string()
                })
                .collect();
            Ok(if lines.is_empty() { "(none)".into() } else { lines.join("\n") })
        }
        WebhooksAction::Replay { id: Some(id), .. } => {
            for dead in state.outbox(endpoint, true, 1_000_000).await.map_err(failed)? {
                let line = serde_json::from_str::<VerdictLine>(&dead.line).ok();
                if line.as_ref().map(webhook_id).as_deref() == Some(id.as_str()) {
                    state.revive(endpoint, &dead.position).await.map_err(failed)?;
                    return Ok(format!("{id}: queued again (it was a dead letter)"));
                }
            }
            let found = find_in_log(&state, |line| webhook_id(line) == id).await?;
            match found.into_iter().last() {
                Some(line) => {
                    state.enqueue(endpoint, vec![line]).await.map_err(failed)?;
                    Ok(format!("{id}: queued again"))
                }
                None => Err(format!(
                    "no event {id} among the dead letters or in the verdicts' log (it keeps the \
                     last {} verdicts)",
                    crate::state::LOG_KEEPS
                )),
            }
        }
        WebhooksAction::Replay { since, .. } => {
            let since = since.map_or(0, OffsetDateTime::unix_timestamp);
            let routed = routed(settings, endpoint)?;
            let lines = find_in_log(&state, |line| line.at >= since && routed(line)).await?;
            let count = lines.len();
            for chunk in lines.chunks(100) {
                state.enqueue(endpoint, chunk.to_vec()).await.map_err(failed)?;
            }
            Ok(format!("{count} events queued again"))
        }
        WebhooksAction::Enable => {
            state.set_flag(&disabled_flag(endpoint), None).await.map_err(failed)?;
            Ok(format!("the endpoint {endpoint:?} is enabled: the events that waited go now"))
        }
    }
}

/// Every line of the verdicts' log that `wanted` picks, oldest first.
async fn find_in_log(
    state: &State,
    wanted: impl Fn(&VerdictLine) -> bool,
) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state.verdicts(after.as_deref(), PAGE).await.map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { return Ok(found) };
        after = Some(last.position.clone());
        for logged in page {
            if serde_json::from_str::<VerdictLine>(&logged.line).is_ok_and(|line| wanted(&line)) {
                found.push(logged.line);
            }
        }
    }
}
