//! The state in Redis, shared by the fleet: a sorted set of record ids by due time and a key per
//! record, the claims (`SET NX` with a TTL, holding what their holder wrote), the verdicts in a
//! capped stream, the reconciler's lease, and the events' outbox ([`outbox`]). Each change that must be whole is one script.
//! For "nothing lost", Redis must persist (`appendonly yes`).

mod outbox;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::Script;
use tokio::sync::mpsc;

use super::types::{failed, now_ms, Claim, Conclusion, Entry, Logged, StateError, LOG_KEEPS};
use crate::shared::{SharedStore, PREFIX};

/// Records queued for the next batch, at most.
const QUEUE: usize = 65_536;
/// Records in one batch, at most.
const MOST_PER_BATCH: usize = 256;
/// How long new records gather before they are written together, at most: under load a batch
/// carries a hundred or so, and what a crash of this instance may lose is this long.
const RECORDS_GATHER: Duration = Duration::from_millis(10);
/// How long a batch may take: longer than one call may (it is no request waiting), and a slow
/// one does not make the instance skip Redis for its budgets.
const BATCH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a record is kept if nothing ever concludes it (a fleet that stopped for a week):
/// longer than any record is pending.
const RECORD_KEEPS: Duration = Duration::from_secs(8 * 24 * 3600);

/// KEYS[1] the claim; ARGV: what to write, TTL in ms. "" when taken, else what the holder wrote.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return '' end
return redis.call('GET', KEYS[1]) or ''
";

/// KEYS[1] the claim; ARGV: what it must hold, what to write instead, the TTL in ms. 1 when
/// taken over.
const STEAL: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// KEYS[1] the claim; ARGV[1] what its holder wrote: dropped only if it still holds that.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// KEYS: the record, the due set. ARGV: the body, the due time, the id, the record's TTL in s.
/// Only a record that exists: 1 when it did.
const RESCHEDULE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
";

/// KEYS: the claim, the due set, the record, the log, then for each endpoint the line also goes
/// to, its outbox and the outbox's schedule. ARGV: the claim's new state ('' to leave it), its
/// TTL in ms, the id, '1' to remove the record, the log line ('' for none), the log's length,
/// what the claim must still hold ('' for anything), now in ms. 0 when it did not (nothing
/// written), 1 when written.
const CONCLUDE: &str = r"
if ARGV[7] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[7] then return 0 end
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[3])
end
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'v', ARGV[5])
  for i = 5, #KEYS, 2 do
    local id = redis.call('XADD', KEYS[i], '*', 'v', ARGV[5])
    redis.call('ZADD', KEYS[i + 1], ARGV[8], id)
  end
end
return 1
";

/// KEYS[1] the lease; ARGV: the holder, TTL in ms. 1 while it is the holder's.
const LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// KEYS[1] the lease; ARGV[1] the holder: dropped if it is theirs.
const GIVE_UP: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

fn due_set() -> String {
    format!("{PREFIX}pending:due")
}

fn record_key(id: &str) -> String {
    format!("{PREFIX}pending:{id}")
}

fn claim_key(name: &str) -> String {
    format!("{PREFIX}claim:verdict:{name}")
}

fn log_key() -> String {
    format!("{PREFIX}verdicts")
}

fn lease_key() -> String {
    format!("{PREFIX}reconciler")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

pub struct RedisState {
    store: Arc<SharedStore>,
    claim: Script,
    steal: Script,
    release: Script,
    reschedule: Script,
    conclude: Script,
    lease: Script,
    give_up: Script,
    outbox: outbox::Scripts,
    /// The batches' queue, and the task writing them: started with the first record.
    queue: OnceLock<mpsc::Sender<Queued>>,
}

/// What the batches' queue carries: a record, or a caller waiting for every record before it.
enum Queued {
    Record(Entry),
    Flush(tokio::sync::oneshot::Sender<()>),
}

impl RedisState {
    pub fn new(store: Arc<SharedStore>) -> Self {
        Self {
            store,
            claim: Script::new(CLAIM),
            steal: Script::new(STEAL),
            release: Script::new(RELEASE),
            reschedule: Script::new(RESCHEDULE),
            conclude: Script::new(CONCLUDE),
            lease: Script::new(LEASE),
            give_up: Script::new(GIVE_UP),
            outbox: outbox::Scripts::new(),
            queue: OnceLock::new(),
        }
    }

    fn queue(&self) -> &mpsc::Sender<Queued> {
        self.queue.get_or_init(|| {
            let (queue, batches) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(self.store.clone(), batches));
            queue
        })
    }

    pub fn record_later(&self, entry: Entry) -> Result<(), StateError> {
        self.queue().try_send(Queued::Record(entry)).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => {
                StateError("Redis has not taken records for a while".into())
            }
            mpsc::error::TrySendError::Closed(_) => StateError("the record writer stopped".into()),
        })
    }

    pub async fn record(&self, entries: Vec<Entry>) -> Result<(), StateError> {
        write(&self.store, &entries, Write::Replace).await
    }

    pub async fn flush(&self) -> Result<(), StateError> {
        let (done, written) = tokio::sync::oneshot::channel();
        self.queue().send(Queued::Flush(done)).await.map_err(failed)?;
        written.await.map_err(failed)
    }

    pub async fn get(&self, id: &str) -> Result<Option<Entry>, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let ask = redis::pipe().get(record_key(id)).zscore(due_set(), id).to_owned();
        let (body, due): (Option<String>, Option<f64>) =
            self.store.bounded(ask.query_async(&mut connection)).await.map_err(failed)?;
        Ok(body.zip(due).map(|(body, due)| Entry { id: id.to_owned(), due: due as i64, body }))
    }

    pub async fn due(&self, now: i64, max: usize) -> Result<Vec<Entry>, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let range = redis::cmd("ZRANGEBYSCORE")
            .arg(due_set())
            .arg("-inf")
            .arg(now)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(max)
            .to_owned();
        let due: Vec<(String, f64)> =
            self.store.bounded(range.query_async(&mut connection)).await.map_err(failed)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = due.iter().map(|(id, _)| record_key(id)).collect();
        let bodies: Vec<Option<String>> = self
            .store
            .bounded(redis::cmd("MGET").arg(keys).query_async(&mut connection))
            .await
            .map_err(failed)?;
        let mut found = Vec::with_capacity(due.len());
        for ((id, due), body) in due.into_iter().zip(bodies) {
            match body {
                Some(body) => found.push(Entry { id, due: due as i64, body }),
                // A record whose key expired (RECORD_KEEPS): nothing left to check.
                None => {
                    let zrem = redis::cmd("ZREM").arg(due_set()).arg(&id).to_owned();
                    self.store
                        .bounded(zrem.query_async::<i64>(&mut connection))
                        .await
                        .map_err(failed)?;
                }
            }
        }
        Ok(found)
    }

    pub async fn backlog(&self, now: i64) -> Result<(Option<i64>, u64), StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let ask = redis::pipe()
            .cmd("ZRANGE")
            .arg(due_set())
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .cmd("ZCOUNT")
            .arg(due_set())
            .arg("-inf")
            .arg(now)
            .to_owned();
        let (first, count): (Vec<(String, f64)>, u64) =
            self.store.bounded(ask.query_async(&mut connection)).await.map_err(failed)?;
        Ok((first.first().map(|(_, due)| *due as i64), count))
    }

    pub async fn claim(&self, name: &str, state: &str, ttl: Duration) -> Result<Claim, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.claim.prepare_invoke();
        call.key(claim_key(name)).arg(state).arg(ms(ttl));
        let held: String =
            self.store.bounded(call.invoke_async(&mut connection)).await.map_err(failed)?;
        Ok(if held.is_empty() { Claim::Taken } else { Claim::Held(held) })
    }

    pub async fn steal(
        &self,
        name: &str,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.steal.prepare_invoke();
        call.key(claim_key(name)).arg(from).arg(to).arg(ms(ttl));
        let taken: i64 =
            self.store.bounded(call.invoke_async(&mut connection)).await.map_err(failed)?;
        Ok(taken == 1)
    }

    pub async fn release(&self, name: &str, holding: &str) -> Result<(), StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.release.prepare_invoke();
        call.key(claim_key(name)).arg(holding);
        self.store
            .bounded(call.invoke_async::<i64>(&mut connection))
            .await
            .map(drop)
            .map_err(failed)
    }

    pub async fn reschedule(&self, entries: Vec<Entry>) -> Result<(), StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        for entry in entries {
            let mut call = self.reschedule.prepare_invoke();
            call.key(record_key(&entry.id)).key(due_set());
            call.arg(&entry.body).arg(entry.due).arg(&entry.id).arg(RECORD_KEEPS.as_secs());
            self.store.bounded(call.invoke_async::<i64>(&mut connection)).await.map_err(failed)?;
        }
        Ok(())
    }

    pub async fn conclude(&self, c: Conclusion<'_>) -> Result<bool, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.conclude.prepare_invoke();
        call.key(claim_key(c.id)).key(due_set()).key(record_key(c.id)).key(log_key());
        for endpoint in c.outbox {
            let keys = outbox::Keys::of(endpoint);
            call.key(keys.events).key(keys.schedule);
        }
        let (state, ttl) = c.claim.unwrap_or(("", Duration::ZERO));
        call.arg(state).arg(ms(ttl)).arg(c.id).arg(if c.remove { "1" } else { "0" });
        call.arg(c.log.unwrap_or_default()).arg(LOG_KEEPS).arg(c.holding.unwrap_or_default());
        call.arg(now_ms());
        let written: i64 =
            self.store.bounded(call.invoke_async(&mut connection)).await.map_err(failed)?;
        Ok(written == 1)
    }

    /// `endpoint`'s outbox ([`outbox`]).
    pub fn outbox(&self, endpoint: &str) -> outbox::Outbox<'_> {
        outbox::Outbox {
            store: &self.store,
            scripts: &self.outbox,
            keys: outbox::Keys::of(endpoint),
        }
    }

    /// Appends `lines` to the outboxes of `endpoints`, all or none.
    pub async fn enqueue(
        &self,
        endpoints: &[String],
        lines: Vec<String>,
    ) -> Result<(), StateError> {
        outbox::enqueue(&self.store, &self.outbox, endpoints, lines).await
    }

    /// The named flags.
    pub fn flags(&self) -> outbox::Flags<'_> {
        outbox::Flags { store: &self.store }
    }

    pub async fn lease(&self, holder: &str, ttl: Duration) -> Result<bool, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.lease.prepare_invoke();
        call.key(lease_key()).arg(holder).arg(ms(ttl));
        let held: i64 =
            self.store.bounded(call.invoke_async(&mut connection)).await.map_err(failed)?;
        Ok(held == 1)
    }

    pub async fn give_up_lease(&self, holder: &str) -> Result<(), StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let mut call = self.give_up.prepare_invoke();
        call.key(lease_key()).arg(holder);
        self.store
            .bounded(call.invoke_async::<i64>(&mut connection))
            .await
            .map(drop)
            .map_err(failed)
    }

    pub async fn verdicts(
        &self,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<Logged>, StateError> {
        let mut connection = self.store.connection().await.map_err(failed)?;
        let start = after.map_or_else(|| "-".to_owned(), |p| format!("({p}"));
        let range = redis::cmd("XRANGE")
            .arg(log_key())
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(max)
            .to_owned();
        let rows: Vec<(String, Vec<String>)> =
            self.store.bounded(range.query_async(&mut connection)).await.map_err(failed)?;
        Ok(rows
            .into_iter()
            .filter_map(|(position, fields)| {
                let line = fields.chunks(2).find(|f| f[0] == "v").and_then(|f| f.get(1))?.clone();
                Some(Logged { position, line })
            })
            .collect())
    }
}

/// How a batch writes its records.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Over whatever is there.
    Replace,
    /// New grants' records: never over one written since (a completion's, from another
    /// instance, may have been written while this batch waited).
    New,
}

/// Writes `entries` in one round trip, whole.
async fn write(store: &SharedStore, entries: &[Entry], how: Write) -> Result<(), StateError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut connection = store.connection().await.map_err(failed)?;
    let mut pipe = redis::pipe();
    pipe.atomic();
    let only_new = how == Write::New;
    for entry in entries {
        pipe.cmd("SET").arg(record_key(&entry.id)).arg(&entry.body);
        pipe.arg("EX").arg(RECORD_KEEPS.as_secs());
        if only_new {
            pipe.arg("NX");
        }
        pipe.ignore();
        pipe.cmd("ZADD").arg(due_set());
        if only_new {
            pipe.arg("NX");
        }
        pipe.arg(entry.due).arg(&entry.id).ignore();
    }
    match how {
        Write::Replace => {
            store.bounded(pipe.query_async::<()>(&mut connection)).await.map_err(failed)
        }
        Write::New => store
            .bounded_quietly(pipe.query_async::<()>(&mut connection), BATCH_TIMEOUT)
            .await
            .map_err(failed),
    }
}

/// Takes every record waiting and writes them together, again and again; a batch Redis does not
/// take is tried again (each failure logged) until it does, while new records wait behind it.
async fn write_batches(store: Arc<SharedStore>, mut queue: mpsc::Receiver<Queued>) {
    let mut taken = Vec::with_capacity(MOST_PER_BATCH);
    let mut last_write = tokio::time::Instant::now();
    while queue.recv_many(&mut taken, MOST_PER_BATCH).await > 0 {
        // Records gather for up to RECORDS_GATHER after the last write (a round trip's cost is
        // mostly its own); a flush someone waits for goes at once.
        let gather_until = last_write + RECORDS_GATHER;
        while taken.len() < MOST_PER_BATCH
            && !taken.iter().any(|q| matches!(q, Queued::Flush(_)))
            && tokio::time::Instant::now() < gather_until
        {
            let room = MOST_PER_BATCH - taken.len();
            match tokio::time::timeout_at(gather_until, queue.recv_many(&mut taken, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        last_write = tokio::time::Instant::now();
        let mut batch = Vec::with_capacity(taken.len());
        let mut waiting = Vec::new();
        for queued in taken.drain(..) {
            match queued {
                Queued::Record(entry) => batch.push(entry),
                Queued::Flush(done) => waiting.push(done),
            }
        }
        let mut tries = 0u32;
        while let Err(err) = write(&store, &batch, Write::New).await {
            tries += 1;
            tracing::error!(event = "records_not_written", error = %err, records = batch.len(), tries, "Redis did not take the records of signed uploads; trying again");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}
