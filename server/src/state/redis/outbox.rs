//! The events' outboxes in Redis, shared by the fleet, one per endpoint: the events in a stream
//! (`s3up:outbox`, appended by the same script that writes their verdict), their schedule in a
//! sorted set by the time each is next due (`s3up:outbox:due`), how often each was taken
//! (`s3up:outbox:tries`), and the dead letters in a stream of their own (`s3up:outbox:dead`).
//! Those are `UPLOAD_WEBHOOK_URL`'s (the names they had before there were others); a profile's
//! endpoint `NAME` has `s3up:outbox@NAME`, `s3up:outbox@NAME:due` and so on.
//!
//! Any instance takes what is due: taking moves an event's time to the end of a lease, so an
//! instance that dies mid-delivery leaves it to whichever instance looks after the lease ends.
//! A consumer group's pending list would measure a retry's wait from the last claim and could not
//! tell a slow delivery from a dead deliverer; a schedule tells both.

use std::time::Duration;

use redis::Script;

use crate::events::endpoint::CONFIGURED;
use crate::shared::{SharedStore, PREFIX};
use crate::state::types::{failed, now_ms, Listed, OutboxStats, Outgoing, Settle, StateError};

/// One endpoint's keys.
pub(super) struct Keys {
    pub(super) events: String,
    pub(super) schedule: String,
    tries: String,
    dead: String,
}

impl Keys {
    pub(super) fn of(endpoint: &str) -> Self {
        let at = if endpoint == CONFIGURED { String::new() } else { format!("@{endpoint}") };
        Self {
            events: format!("{PREFIX}outbox{at}"),
            schedule: format!("{PREFIX}outbox{at}:due"),
            tries: format!("{PREFIX}outbox{at}:tries"),
            dead: format!("{PREFIX}outbox{at}:dead"),
        }
    }
}

fn flag_key(name: &str) -> String {
    format!("{PREFIX}flag:{name}")
}

/// How long one call may take: the deliverer is no request waiting, and a slow call does not
/// mark Redis down for the instance's budgets and claims (as a request's bounded call does).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// KEYS: for each endpoint, its events and its schedule. ARGV: now in ms, then the lines.
/// Appends each line to each endpoint's outbox, due now.
const ENQUEUE: &str = r"
for k = 1, #KEYS, 2 do
  for i = 2, #ARGV do
    local id = redis.call('XADD', KEYS[k], '*', 'v', ARGV[i])
    redis.call('ZADD', KEYS[k + 1], ARGV[1], id)
  end
end
return #ARGV - 1
";

/// KEYS: the schedule, the events, the tries. ARGV: now in ms, the lease's end in ms, how many
/// at most. Each event due is leased (due again at the lease's end) and counted as tried:
/// {position, tries, line} each. One whose line is gone (settled meanwhile) leaves the schedule.
const TAKE: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local taken = {}
for _, id in ipairs(ids) do
  local rows = redis.call('XRANGE', KEYS[2], id, id)
  if #rows == 0 then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  else
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    local tries = redis.call('HINCRBY', KEYS[3], id, 1)
    local fields = rows[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 'v' then table.insert(taken, {id, tostring(tries), fields[i + 1]}) end
    end
  end
end
return taken
";

/// KEYS: the schedule, the events, the tries, the dead letters. ARGV: the position, the
/// settlement ('done', 'retry' or 'dead'), the retry's time in ms. A retry only reschedules
/// an event still there; the others take it out, 'dead' keeping its line (and its first
/// position, `q`: when it was appended) among the dead.
const SETTLE: &str = r"
if ARGV[2] == 'retry' then
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
  return 1
end
if ARGV[2] == 'dead' then
  local rows = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
  if #rows > 0 then
    local fields = rows[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 'v' then redis.call('XADD', KEYS[4], '*', 'v', fields[i + 1], 'q', ARGV[1]) end
    end
  end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('XDEL', KEYS[2], ARGV[1])
return 1
";

/// KEYS: the dead letters, the events, the schedule. ARGV: the dead letter's position, now in
/// ms. Appends its line to the outbox again, due now: 1 when there was one.
const REVIVE: &str = r"
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #rows == 0 then return 0 end
local fields = rows[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'v' then
    local id = redis.call('XADD', KEYS[2], '*', 'v', fields[i + 1])
    redis.call('ZADD', KEYS[3], ARGV[2], id)
  end
end
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
";

pub(super) struct Scripts {
    enqueue: Script,
    take: Script,
    settle: Script,
    revive: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            enqueue: Script::new(ENQUEUE),
            take: Script::new(TAKE),
            settle: Script::new(SETTLE),
            revive: Script::new(REVIVE),
        }
    }
}

/// When a stream entry was appended: its id's first half, in ms.
fn appended_ms(position: &str) -> i64 {
    position.split('-').next().and_then(|ms| ms.parse().ok()).unwrap_or(0)
}

/// The `v` field of a stream entry's fields.
fn line_of(fields: &[String]) -> Option<String> {
    fields.chunks(2).find(|f| f[0] == "v").and_then(|f| f.get(1)).cloned()
}

/// One endpoint's outbox in the store `store`, with its scripts.
pub struct Outbox<'a> {
    pub(super) store: &'a SharedStore,
    pub(super) scripts: &'a Scripts,
    pub(super) keys: Keys,
}

/// Appends `lines` to the outboxes of `endpoints` in `store`, in one script: all or none.
pub(super) async fn enqueue(
    store: &SharedStore,
    scripts: &Scripts,
    endpoints: &[String],
    lines: Vec<String>,
) -> Result<(), StateError> {
    if lines.is_empty() || endpoints.is_empty() {
        return Ok(());
    }
    let mut connection = store.connection().await.map_err(failed)?;
    let mut call = scripts.enqueue.prepare_invoke();
    for endpoint in endpoints {
        let keys = Keys::of(endpoint);
        call.key(keys.events).key(keys.schedule);
    }
    call.arg(now_ms());
    for line in &lines {
        call.arg(line);
    }
    store
        .bounded_quietly(call.invoke_async::<i64>(&mut connection), CALL_TIMEOUT)
        .await
        .map_err(failed)?;
    Ok(())
}

impl Outbox<'_> {
    pub async fn take(&self, lease: Duration, max: usize) -> Result<Vec<Outgoing>, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let mut call = self.scripts.take.prepare_invoke();
        call.key(&self.keys.schedule).key(&self.keys.events).key(&self.keys.tries);
        call.arg(now).arg(until).arg(max);
        let rows: Vec<(String, String, String)> = self
            .store
            .bounded_quietly(call.invoke_async(&mut connection), CALL_TIMEOUT)
            .await
            .map_err(failed)?;
        Ok(rows
            .into_iter()
            .map(|(position, tries, line)| Outgoing {
                queued_ms: appended_ms(&position),
                attempt: tries.parse().unwrap_or(1),
                position,
                line,
            })
            .collect())
    }

    pub async fn settle(&self, position: &str, settle: Settle) -> Result<(), StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.scripts.settle.prepare_invoke();
        let keys = &self.keys;
        call.key(&keys.schedule).key(&keys.events).key(&keys.tries).key(&keys.dead);
        let (how, at) = match settle {
            Settle::Delivered => ("done", 0),
            Settle::RetryAt(at) => ("retry", at),
            Settle::Dead => ("dead", 0),
        };
        call.arg(position).arg(how).arg(at);
        self.store
            .bounded_quietly(call.invoke_async::<i64>(&mut connection), CALL_TIMEOUT)
            .await
            .map_err(failed)?;
        Ok(())
    }

    pub async fn outbox(&self, dead: bool, max: usize) -> Result<Vec<Listed>, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let key = if dead { &self.keys.dead } else { &self.keys.events };
        let max = max.min(1 << 40);
        let range =
            redis::cmd("XRANGE").arg(key).arg("-").arg("+").arg("COUNT").arg(max).to_owned();
        let rows: Vec<(String, Vec<String>)> = self
            .store
            .bounded_quietly(range.query_async(&mut connection), CALL_TIMEOUT)
            .await
            .map_err(failed)?;
        let tries: Vec<Option<u32>> = if dead || rows.is_empty() {
            vec![None; rows.len()]
        } else {
            let ask = redis::cmd("HMGET")
                .arg(&self.keys.tries)
                .arg(rows.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>())
                .to_owned();
            self.store
                .bounded_quietly(ask.query_async(&mut connection), CALL_TIMEOUT)
                .await
                .map_err(failed)?
        };
        Ok(rows
            .into_iter()
            .zip(tries)
            .filter_map(|((position, fields), tries)| {
                // A dead letter was appended when its first position says.
                let first = fields.chunks(2).find(|f| f[0] == "q").and_then(|f| f.get(1));
                Some(Listed {
                    queued_ms: appended_ms(first.unwrap_or(&position)),
                    attempts: tries.unwrap_or(0),
                    line: line_of(&fields)?,
                    position,
                })
            })
            .collect())
    }

    pub async fn revive(&self, position: &str) -> Result<bool, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.scripts.revive.prepare_invoke();
        let keys = &self.keys;
        call.key(&keys.dead).key(&keys.events).key(&keys.schedule).arg(position).arg(now_ms());
        let revived: i64 = self
            .store
            .bounded_quietly(call.invoke_async(&mut connection), CALL_TIMEOUT)
            .await
            .map_err(failed)?;
        Ok(revived == 1)
    }

    pub async fn outbox_stats(&self) -> Result<OutboxStats, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let ask = redis::pipe()
            .cmd("XLEN")
            .arg(&self.keys.events)
            .cmd("XRANGE")
            .arg(&self.keys.events)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .cmd("XLEN")
            .arg(&self.keys.dead)
            .to_owned();
        let (pending, first, dead): (u64, Vec<(String, Vec<String>)>, u64) = self
            .store
            .bounded_quietly(ask.query_async(&mut connection), CALL_TIMEOUT)
            .await
            .map_err(failed)?;
        Ok(OutboxStats {
            pending,
            oldest_ms: first.first().map(|(position, _)| appended_ms(position)),
            dead,
        })
    }
}

/// Named flags (an endpoint disabled), the fleet's.
pub struct Flags<'a> {
    pub(super) store: &'a SharedStore,
}

impl Flags<'_> {
    pub async fn flag(&self, name: &str) -> Result<Option<String>, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let ask = redis::cmd("GET").arg(flag_key(name)).to_owned();
        self.store
            .bounded_quietly(ask.query_async(&mut connection), CALL_TIMEOUT)
            .await
            .map_err(failed)
    }

    pub async fn set_flag(&self, name: &str, value: Option<&str>) -> Result<(), StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let ask = match value {
            Some(value) => redis::cmd("SET").arg(flag_key(name)).arg(value).to_owned(),
            None => redis::cmd("DEL").arg(flag_key(name)).to_owned(),
        };
        self.store
            .bounded_quietly(ask.query_async::<()>(&mut connection), CALL_TIMEOUT)
            .await
            .map_err(failed)
    }
}
