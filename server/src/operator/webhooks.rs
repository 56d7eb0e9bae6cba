//! `server webhooks [--webhook NAME]`: an endpoint's outbox from a shell, in the store the
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
use crate::events::endpoint::CONFIGURED;
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

/// The profiles as the server has them (`UPLOAD_PROFILES`): which endpoints there are, and
/// which profile's events go where.
fn profiles(settings: &Settings) -> Result<Profiles, String> {
    let get = |setting: Setting| settings.get(setting);
    let limits = Limits::from_lookup(&get).map_err(|e| e.to_string())?;
    Profiles::from_lookup(&get, &limits).map_err(|e| e.to_string())
}

/// `endpoint`, if the server has it: `default` (`UPLOAD_WEBHOOK_URL`) or one a profile
/// declares. A name mistyped would enable nothing and fill an outbox no deliverer reads.
fn known(profiles: &Profiles, endpoint: &str) -> Result<(), String> {
    if endpoint == CONFIGURED || profiles.endpoints().contains_key(endpoint) {
        return Ok(());
    }
    let names: Vec<&str> =
        [CONFIGURED].into_iter().chain(profiles.endpoints().keys().map(String::as_str)).collect();
    Err(format!(
        "there is no endpoint {endpoint:?} (there are: {}); run this with the server's \
         UPLOAD_PROFILES",
        names.join(", ")
    ))
}

/// Whether `line`'s event goes to `endpoint`: an error when its profile is not in the file (the
/// command was run without the server's `UPLOAD_PROFILES`, most likely).
fn goes_to(profiles: &Profiles, line: &VerdictLine, endpoint: &str) -> Result<bool, String> {
    let profile = line.profile();
    let config = profiles.get(profile).ok_or_else(|| {
        format!(
            "the event for {} is of the upload profile {profile:?}, which UPLOAD_PROFILES does \
             not declare here: run this with the server's UPLOAD_PROFILES",
            line.key
        )
    })?;
    Ok(Routes::goes_to(config.webhooks.as_deref(), endpoint))
}

pub async fn run(
    action: WebhooksAction,
    endpoint: &str,
    settings: &Settings,
) -> Result<String, String> {
    let profiles = profiles(settings)?;
    known(&profiles, endpoint)?;
    let state = open(settings)?;
    let failed = |err: crate::state::StateError| err.to_string();
    let to = [endpoint.to_owned()];
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
            // A dead letter of this endpoint's was bound for it.
            for dead in state.outbox(endpoint, true, 1_000_000).await.map_err(failed)? {
                let line = serde_json::from_str::<VerdictLine>(&dead.line).ok();
                if line.as_ref().map(webhook_id).as_deref() == Some(id.as_str()) {
                    state.revive(endpoint, &dead.position).await.map_err(failed)?;
                    return Ok(format!("{id}: queued again (it was a dead letter)"));
                }
            }
            let found = find_in_log(&state, |line| webhook_id(line) == id).await?;
            let Some((line, raw)) = found.into_iter().last() else {
                return Err(format!(
                    "no event {id} among the dead letters or in the verdicts' log (it keeps the \
                     last {} verdicts)",
                    crate::state::LOG_KEEPS
                ));
            };
            if !goes_to(&profiles, &line, endpoint)? {
                return Err(format!(
                    "{id} is an event of the upload profile {:?}, whose events do not go to the \
                     endpoint {endpoint:?}: name its own with --webhook",
                    line.profile()
                ));
            }
            state.enqueue(&to, vec![raw]).await.map_err(failed)?;
            Ok(format!("{id}: queued again"))
        }
        WebhooksAction::Replay { since, .. } => {
            let since = since.map_or(0, OffsetDateTime::unix_timestamp);
            let mut lines = Vec::new();
            for (line, raw) in find_in_log(&state, |line| line.at >= since).await? {
                if goes_to(&profiles, &line, endpoint)? {
                    lines.push(raw);
                }
            }
            let count = lines.len();
            for chunk in lines.chunks(100) {
                state.enqueue(&to, chunk.to_vec()).await.map_err(failed)?;
            }
            Ok(format!("{count} events queued again"))
        }
        WebhooksAction::Enable => {
            state.set_flag(&disabled_flag(endpoint), None).await.map_err(failed)?;
            Ok(format!("the endpoint {endpoint:?} is enabled: the events that waited go now"))
        }
    }
}

/// Every line of the verdicts' log that `wanted` picks, oldest first, read and as it is.
async fn find_in_log(
    state: &State,
    wanted: impl Fn(&VerdictLine) -> bool,
) -> Result<Vec<(VerdictLine, String)>, String> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state.verdicts(after.as_deref(), PAGE).await.map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { return Ok(found) };
        after = Some(last.position.clone());
        for logged in page {
            if let Ok(line) = serde_json::from_str::<VerdictLine>(&logged.line) {
                if wanted(&line) {
                    found.push((line, logged.line));
                }
            }
        }
    }
}
