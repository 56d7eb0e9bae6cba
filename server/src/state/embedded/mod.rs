//! The embedded store (redb): one file, `state.redb`, in `UPLOAD_STATE_DIR`, written by one
//! thread that commits writes together (a group commit: one sync to disk for however many
//! signatures came in meanwhile): new grants' records every [`RECORDS_GATHER`], with any write
//! someone waits for (a claim, a verdict), which wakes it at once. Reads run beside it. One
//! instance at a time: the file is locked while open.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, Table, TableDefinition,
    WriteTransaction,
};
use tokio::sync::oneshot;

mod outbox;

use super::types::{
    failed, now_ms, Claim, Conclusion, Entry, Listed, Logged, OutboxStats, Outgoing, Settle,
    StateError, LOG_KEEPS,
};

/// [`record_key`] of the id -> (due, body).
const RECORDS: TableDefinition<&str, (i64, &str)> = TableDefinition::new("records");
/// (due, id): the records in the order they fall due.
const DUE: TableDefinition<(i64, &str), ()> = TableDefinition::new("due");
/// name -> (expires, in Unix milliseconds; what the holder wrote).
const CLAIMS: TableDefinition<&str, (i64, &str)> = TableDefinition::new("claims");
/// (expires, name): the claims in the order they expire, to drop them.
const CLAIM_EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("claim_expiry");
/// position -> verdict.
const VERDICTS: TableDefinition<u64, &str> = TableDefinition::new("verdicts");

/// Writes waiting for the writer, at most: past that the store is not keeping up, and signing
/// says so rather than holding records it may lose.
const QUEUE: usize = 65_536;
/// How long new records gather before they are committed together: what a crash may lose is
/// this long (Redis's `appendfsync everysec`: a second). Measured beside the commit before the
/// record: records taken as they came, one wake-up of the writer each, signing ran at 0.74x;
/// taken every 10 ms without a wake-up each, 0.89x; every 50 ms, 0.94x (0.92x in
/// scripts/bench-record.sh). See docs/benchmarks.md.
const RECORDS_GATHER: Duration = Duration::from_millis(50);
/// Expired claims dropped per commit, at most (they are dropped a few at a time, as they come).
const PRUNE_PER_COMMIT: usize = 256;

type Reply<T> = oneshot::Sender<Result<T, String>>;

enum Op {
    Put(Vec<Entry>, Option<Reply<()>>),
    /// Only the records that exist.
    Reschedule(Vec<Entry>, Reply<()>),
    Claim {
        name: String,
        state: String,
        ttl: Duration,
        reply: Reply<Claim>,
    },
    /// Only while the claim holds `from`.
    Steal {
        name: String,
        from: String,
        to: String,
        ttl: Duration,
        reply: Reply<bool>,
    },
    Release {
        name: String,
        holding: String,
        reply: Reply<()>,
    },
    Conclude(OwnedConclusion, Reply<bool>),
    Outbox(outbox::Op, Reply<outbox::Answer>),
}

struct OwnedConclusion {
    id: String,
    holding: Option<String>,
    claim: Option<(String, Duration)>,
    log: Option<String>,
    remove: bool,
    outbox: Vec<String>,
}

/// What one write answered.
enum Answer {
    Done,
    Claimed(Claim),
    Concluded(bool),
    Stolen(bool),
    Outbox(outbox::Answer),
}

pub struct Embedded {
    db: Arc<Database>,
    /// Writes someone waits for: the writer wakes for each.
    writes: Option<SyncSender<Op>>,
    /// New grants' records: the writer takes them every [`RECORDS_GATHER`], waking for none
    /// (a wake-up per signature cost more than the writing).
    records: Option<SyncSender<Entry>>,
    writer: Option<JoinHandle<()>>,
    in_memory: bool,
}

/// Where a record is kept: its id's last segment first. An upload's directory ends in a name
/// that sorts by the time it was signed, so records signed together are kept together, and a
/// commit writes a few pages of the table rather than one per record (keyed by the id as it is,
/// the uploader's random id first, each record landed on a page of its own: measured, the
/// writer then took a fifth of the server's time under signing load).
fn record_key(id: &str) -> String {
    let last = id.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    format!("{last}\u{0}{id}")
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl Embedded {
    /// The store in `dir`/state.redb, made if missing.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let shown = dir.display();
        std::fs::create_dir_all(dir).map_err(|err| format!("cannot make {shown}: {err}"))?;
        let db = match Database::create(dir.join("state.redb")) {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(format!(
                    "{shown} is in use by another instance: give each its own directory, or \
                     have a fleet share UPLOAD_REDIS_URL"
                ))
            }
            Err(err) => return Err(format!("cannot open {shown}/state.redb: {err}")),
        };
        Self::start(db, false)
    }

    /// A store in memory only.
    pub fn in_memory() -> Self {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database opens");
        Self::start(db, true).expect("an in-memory database has its tables")
    }

    fn start(db: Database, in_memory: bool) -> Result<Self, String> {
        // Every table exists from the start: a read never finds one missing.
        let made = (|| -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            Tables::open(&txn)?;
            txn.commit()?;
            Ok(())
        })();
        made.map_err(|err| format!("cannot write the state store: {err}"))?;
        let db = Arc::new(db);
        let (writes, queue) = sync_channel(QUEUE);
        let (records, new_records) = sync_channel(QUEUE);
        let writer = {
            let db = db.clone();
            std::thread::Builder::new()
                .name("state-writer".into())
                .spawn(move || write_loop(&db, &queue, &new_records))
                .map_err(|err| format!("cannot start the state writer: {err}"))?
        };
        Ok(Self {
            db,
            writes: Some(writes),
            records: Some(records),
            writer: Some(writer),
            in_memory,
        })
    }

    pub fn is_in_memory(&self) -> bool {
        self.in_memory
    }

    fn send(&self, op: Op) -> Result<(), StateError> {
        let writes = self.writes.as_ref().expect("open until dropped");
        writes.try_send(op).map_err(|err| match err {
            TrySendError::Full(_) => StateError("the state writer is behind".into()),
            TrySendError::Disconnected(_) => StateError("the state writer stopped".into()),
        })
    }

    async fn ask<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, StateError> {
        let (reply, answer) = oneshot::channel();
        self.send(op(reply))?;
        answer.await.map_err(failed)?.map_err(StateError)
    }

    pub fn record_later(&self, entry: Entry) -> Result<(), StateError> {
        let records = self.records.as_ref().expect("open until dropped");
        records.try_send(entry).map_err(|err| match err {
            TrySendError::Full(_) => StateError("the state writer is behind".into()),
            TrySendError::Disconnected(_) => StateError("the state writer stopped".into()),
        })
    }

    pub async fn record(&self, entries: Vec<Entry>) -> Result<(), StateError> {
        self.ask(|reply| Op::Put(entries, Some(reply))).await
    }

    /// Waits until every write queued before is committed (they are taken in order).
    pub async fn flush(&self) -> Result<(), StateError> {
        self.record(Vec::new()).await
    }

    pub async fn claim(&self, name: &str, state: &str, ttl: Duration) -> Result<Claim, StateError> {
        let (name, state) = (name.to_owned(), state.to_owned());
        self.ask(|reply| Op::Claim { name, state, ttl, reply }).await
    }

    pub async fn steal(
        &self,
        name: &str,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        let (name, from, to) = (name.to_owned(), from.to_owned(), to.to_owned());
        self.ask(|reply| Op::Steal { name, from, to, ttl, reply }).await
    }

    pub async fn release(&self, name: &str, holding: &str) -> Result<(), StateError> {
        let (name, holding) = (name.to_owned(), holding.to_owned());
        self.ask(|reply| Op::Release { name, holding, reply }).await
    }

    pub async fn reschedule(&self, entries: Vec<Entry>) -> Result<(), StateError> {
        self.ask(|reply| Op::Reschedule(entries, reply)).await
    }

    pub async fn conclude(&self, c: Conclusion<'_>) -> Result<bool, StateError> {
        let owned = OwnedConclusion {
            id: c.id.to_owned(),
            holding: c.holding.map(str::to_owned),
            claim: c.claim.map(|(state, ttl)| (state.to_owned(), ttl)),
            log: c.log.map(str::to_owned),
            remove: c.remove,
            outbox: c.outbox.to_vec(),
        };
        self.ask(|reply| Op::Conclude(owned, reply)).await
    }

    /// Runs `read` in a read transaction, off the async threads.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, StateError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || read(&db.begin_read()?))
            .await
            .map_err(failed)?
            .map_err(failed)
    }

    pub async fn get(&self, id: &str) -> Result<Option<Entry>, StateError> {
        let id = id.to_owned();
        self.read(move |txn| {
            let records = txn.open_table(RECORDS)?;
            let found = records.get(record_key(&id).as_str())?.map(|g| {
                let (due, body) = g.value();
                Entry { id: id.clone(), due, body: body.to_owned() }
            });
            Ok(found)
        })
        .await
    }

    pub async fn due(&self, now: i64, max: usize) -> Result<Vec<Entry>, StateError> {
        self.read(move |txn| {
            let (due, records) = (txn.open_table(DUE)?, txn.open_table(RECORDS)?);
            let mut found = Vec::new();
            for row in due.range(..(now.saturating_add(1), ""))?.take(max) {
                let (key, _) = row?;
                let (_, id) = key.value();
                if let Some(record) = records.get(record_key(id).as_str())? {
                    let (due, body) = record.value();
                    found.push(Entry { id: id.to_owned(), due, body: body.to_owned() });
                }
            }
            Ok(found)
        })
        .await
    }

    pub async fn backlog(&self, now: i64) -> Result<(Option<i64>, u64), StateError> {
        self.read(move |txn| {
            let due = txn.open_table(DUE)?;
            let first = due.first()?.map(|(key, _)| key.value().0);
            let count = due.range(..(now.saturating_add(1), ""))?.count() as u64;
            Ok((first, count))
        })
        .await
    }

    pub async fn verdicts(
        &self,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<Logged>, StateError> {
        let from = match after {
            None => 0,
            Some(p) => p.parse::<u64>().map_err(|_| StateError(format!("no position {p:?}")))? + 1,
        };
        self.read(move |txn| {
            let verdicts = txn.open_table(VERDICTS)?;
            let mut found = Vec::new();
            for row in verdicts.range(from..)?.take(max) {
                let (position, line) = row?;
                found.push(Logged {
                    position: position.value().to_string(),
                    line: line.value().to_owned(),
                });
            }
            Ok(found)
        })
        .await
    }
}

/// The outbox ([`outbox`]).
impl Embedded {
    async fn outbox_write(&self, op: outbox::Op) -> Result<outbox::Answer, StateError> {
        self.ask(|reply| Op::Outbox(op, reply)).await
    }

    pub async fn enqueue(
        &self,
        endpoints: &[String],
        lines: Vec<String>,
    ) -> Result<(), StateError> {
        self.outbox_write(outbox::Op::Enqueue(endpoints.to_vec(), lines)).await.map(drop)
    }

    pub async fn take(
        &self,
        endpoint: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Outgoing>, StateError> {
        // Looked at several times a second: a commit (a sync to disk) only when one is due.
        let endpoint = endpoint.to_owned();
        let first = {
            let endpoint = endpoint.clone();
            self.read(move |txn| outbox::first_due(txn, &endpoint)).await?
        };
        if first.is_none_or(|due| due > now_ms()) {
            return Ok(Vec::new());
        }
        let op = outbox::Op::Take { endpoint, lease_ms: ms(lease), max };
        match self.outbox_write(op).await? {
            outbox::Answer::Taken(taken) => Ok(taken),
            _ => Ok(Vec::new()),
        }
    }

    pub async fn settle(
        &self,
        endpoint: &str,
        position: &str,
        settle: Settle,
    ) -> Result<(), StateError> {
        let position = parse_position(position)?;
        let op = outbox::Op::Settle(endpoint.to_owned(), position, settle);
        self.outbox_write(op).await.map(drop)
    }

    pub async fn revive(&self, endpoint: &str, position: &str) -> Result<bool, StateError> {
        let position = parse_position(position)?;
        let revived = self.outbox_write(outbox::Op::Revive(endpoint.to_owned(), position)).await?;
        Ok(matches!(revived, outbox::Answer::Revived(true)))
    }

    pub async fn set_flag(&self, name: &str, value: Option<&str>) -> Result<(), StateError> {
        let op = outbox::Op::Flag(name.to_owned(), value.map(str::to_owned));
        self.outbox_write(op).await.map(drop)
    }

    pub async fn outbox(
        &self,
        endpoint: &str,
        dead: bool,
        max: usize,
    ) -> Result<Vec<Listed>, StateError> {
        let endpoint = endpoint.to_owned();
        self.read(move |txn| outbox::list(txn, &endpoint, dead, max)).await
    }

    pub async fn outbox_stats(&self, endpoint: &str) -> Result<OutboxStats, StateError> {
        let endpoint = endpoint.to_owned();
        self.read(move |txn| outbox::stats(txn, &endpoint)).await
    }

    pub async fn flag(&self, name: &str) -> Result<Option<String>, StateError> {
        let name = name.to_owned();
        self.read(move |txn| outbox::flag(txn, &name)).await
    }
}

fn parse_position(position: &str) -> Result<u64, StateError> {
    position.parse().map_err(|_| StateError(format!("no outbox position {position:?}")))
}

impl Drop for Embedded {
    /// Stops the writer after the writes already queued, and waits for it: the file is unlocked
    /// when this returns (a restart in the same process opens it again).
    fn drop(&mut self) {
        drop(self.records.take());
        drop(self.writes.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The tables, open in one write transaction.
struct Tables<'t> {
    records: Table<'t, &'static str, (i64, &'static str)>,
    due: Table<'t, (i64, &'static str), ()>,
    claims: Table<'t, &'static str, (i64, &'static str)>,
    claim_expiry: Table<'t, (i64, &'static str), ()>,
    verdicts: Table<'t, u64, &'static str>,
    outbox: outbox::Tables<'t>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Self {
            records: txn.open_table(RECORDS)?,
            due: txn.open_table(DUE)?,
            claims: txn.open_table(CLAIMS)?,
            claim_expiry: txn.open_table(CLAIM_EXPIRY)?,
            verdicts: txn.open_table(VERDICTS)?,
            outbox: outbox::Tables::open(txn)?,
        })
    }

    fn put(&mut self, entry: &Entry) -> Result<(), redb::Error> {
        let id = entry.id.as_str();
        let key = record_key(id);
        let before = self.records.get(key.as_str())?.map(|g| g.value().0);
        if let Some(due) = before {
            self.due.remove((due, id))?;
        }
        self.records.insert(key.as_str(), (entry.due, entry.body.as_str()))?;
        self.due.insert((entry.due, id), ())?;
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<(), redb::Error> {
        let before = self.records.remove(record_key(id).as_str())?.map(|g| g.value().0);
        if let Some(due) = before {
            self.due.remove((due, id))?;
        }
        Ok(())
    }

    /// The live claim on `name` at `now`: its expiry and state.
    fn held(&self, name: &str, now: i64) -> Result<Option<(i64, String)>, redb::Error> {
        let held = self.claims.get(name)?.map(|g| {
            let (expires, state) = g.value();
            (expires, state.to_owned())
        });
        Ok(held.filter(|(expires, _)| *expires > now))
    }

    fn set_claim(&mut self, name: &str, state: &str, expires: i64) -> Result<(), redb::Error> {
        self.drop_claim(name)?;
        self.claims.insert(name, (expires, state))?;
        self.claim_expiry.insert((expires, name), ())?;
        Ok(())
    }

    fn drop_claim(&mut self, name: &str) -> Result<(), redb::Error> {
        let before = self.claims.remove(name)?.map(|g| g.value().0);
        if let Some(expires) = before {
            self.claim_expiry.remove((expires, name))?;
        }
        Ok(())
    }

    fn log(&mut self, line: &str) -> Result<(), redb::Error> {
        let next = self.verdicts.last()?.map_or(0, |(k, _)| k.value() + 1);
        self.verdicts.insert(next, line)?;
        if next >= LOG_KEEPS {
            self.verdicts.remove(next - LOG_KEEPS)?;
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op, now: i64) -> Result<Answer, redb::Error> {
        match op {
            Op::Put(entries, _) => {
                for entry in entries {
                    self.put(entry)?;
                }
            }
            Op::Reschedule(entries, _) => {
                for entry in entries {
                    if self.records.get(record_key(&entry.id).as_str())?.is_some() {
                        self.put(entry)?;
                    }
                }
            }
            Op::Claim { name, state, ttl, .. } => {
                if let Some((_, held)) = self.held(name, now)? {
                    return Ok(Answer::Claimed(Claim::Held(held)));
                }
                self.set_claim(name, state, now.saturating_add(ms(*ttl)))?;
                return Ok(Answer::Claimed(Claim::Taken));
            }
            Op::Steal { name, from, to, ttl, .. } => {
                if self.held(name, now)?.is_none_or(|(_, held)| held != *from) {
                    return Ok(Answer::Stolen(false));
                }
                self.set_claim(name, to, now.saturating_add(ms(*ttl)))?;
                return Ok(Answer::Stolen(true));
            }
            Op::Release { name, holding, .. } => {
                if self.held(name, now)?.is_some_and(|(_, held)| held == *holding) {
                    self.drop_claim(name)?;
                }
            }
            Op::Conclude(c, _) => {
                if let Some(holding) = &c.holding {
                    if self.held(&c.id, now)?.is_none_or(|(_, held)| held != *holding) {
                        return Ok(Answer::Concluded(false));
                    }
                }
                if let Some((state, ttl)) = &c.claim {
                    self.set_claim(&c.id, state, now.saturating_add(ms(*ttl)))?;
                }
                if c.remove {
                    self.remove(&c.id)?;
                }
                if let Some(line) = &c.log {
                    self.log(line)?;
                    for endpoint in &c.outbox {
                        self.outbox.enqueue(endpoint, line, now)?;
                    }
                }
                return Ok(Answer::Concluded(true));
            }
            Op::Outbox(op, _) => return self.outbox.apply(op, now).map(Answer::Outbox),
        }
        Ok(Answer::Done)
    }

    /// Drops a few claims that have expired.
    fn prune(&mut self, now: i64) -> Result<(), redb::Error> {
        let mut expired = Vec::new();
        for row in self.claim_expiry.range(..(now, ""))?.take(PRUNE_PER_COMMIT) {
            let (key, _) = row?;
            let (expires, name) = key.value();
            expired.push((expires, name.to_owned()));
        }
        for (expires, name) in expired {
            self.claim_expiry.remove((expires, name.as_str()))?;
            let current = self.claims.get(name.as_str())?.map(|g| g.value().0);
            if current == Some(expires) {
                self.claims.remove(name.as_str())?;
            }
        }
        Ok(())
    }
}

/// The writer: every write waiting, in one transaction, then each one's answer.
fn write_loop(db: &Database, queue: &Receiver<Op>, new_records: &Receiver<Entry>) {
    let mut next_gather = Instant::now() + RECORDS_GATHER;
    loop {
        // Woken by a write someone waits for, or when the records have gathered.
        let wait = next_gather.saturating_duration_since(Instant::now());
        let mut waited_for = Vec::new();
        let stopping = match queue.recv_timeout(wait) {
            Ok(op) => {
                waited_for.push(op);
                while let Ok(op) = queue.try_recv() {
                    waited_for.push(op);
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if Instant::now() >= next_gather {
            next_gather = Instant::now() + RECORDS_GATHER;
        }
        // Every record queued so far, first: a write queued after a record sees it.
        let records: Vec<Entry> = new_records.try_iter().collect();
        let mut batch = Vec::with_capacity(waited_for.len() + 1);
        if !records.is_empty() {
            batch.push(Op::Put(records, None));
        }
        batch.extend(waited_for);
        if batch.is_empty() {
            if stopping {
                return;
            }
            continue;
        }
        // A commit that fails (the disk, for a moment) is tried again before anything is lost.
        let mut written = commit(db, &batch);
        for pause in [10, 100, 1000] {
            if written.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(pause));
            written = commit(db, &batch);
        }
        match written {
            Ok(answers) => {
                for (op, answer) in batch.into_iter().zip(answers) {
                    reply(op, Ok(answer));
                }
            }
            Err(err) => {
                tracing::error!(event = "state_write_failed", error = %err, writes = batch.len());
                for op in batch {
                    reply(op, Err(err.to_string()));
                }
            }
        }
    }
}

/// Applies `batch` in one write transaction and commits it: each write's answer.
fn commit(db: &Database, batch: &[Op]) -> Result<Vec<Answer>, redb::Error> {
    let now = now_ms();
    let txn = db.begin_write()?;
    let answers = {
        let mut tables = Tables::open(&txn)?;
        let answers =
            batch.iter().map(|op| tables.apply(op, now)).collect::<Result<Vec<_>, _>>()?;
        tables.prune(now)?;
        answers
    };
    txn.commit()?;
    Ok(answers)
}

fn reply(op: Op, answer: Result<Answer, String>) {
    let done = |a: Result<Answer, String>| a.map(drop);
    match op {
        Op::Put(_, Some(r)) | Op::Reschedule(_, r) | Op::Release { reply: r, .. } => {
            let _ = r.send(done(answer));
        }
        Op::Conclude(_, reply) => {
            let _ = reply.send(answer.map(|a| matches!(a, Answer::Concluded(true))));
        }
        Op::Outbox(_, reply) => {
            let _ = reply.send(answer.map(|a| match a {
                Answer::Outbox(answer) => answer,
                _ => outbox::Answer::Done,
            }));
        }
        Op::Steal { reply, .. } => {
            let _ = reply.send(answer.map(|a| matches!(a, Answer::Stolen(true))));
        }
        Op::Put(_, None) => {
            if let Err(err) = answer {
                tracing::error!(event = "records_lost", error = %err, "records of signed uploads could not be stored");
            }
        }
        Op::Claim { reply, .. } => {
            let claimed = answer.map(|a| match a {
                Answer::Claimed(claim) => claim,
                Answer::Done | Answer::Concluded(_) | Answer::Stolen(_) | Answer::Outbox(_) => {
                    Claim::Taken
                }
            });
            let _ = reply.send(claimed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, due: i64) -> Entry {
        Entry { id: id.into(), due, body: format!("{{\"id\":\"{id}\"}}") }
    }

    #[tokio::test]
    async fn records_fall_due_in_order_and_are_replaced_by_id() {
        let store = Embedded::in_memory();
        store.record(vec![entry("b", 20), entry("a", 10), entry("c", 30)]).await.unwrap();
        let ids = |v: Vec<Entry>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(store.due(20, 10).await.unwrap()), ["a", "b"]);
        // Rescheduled: one record, due later.
        store.record(vec![entry("a", 40)]).await.unwrap();
        assert_eq!(ids(store.due(30, 10).await.unwrap()), ["b", "c"]);
        assert_eq!(store.backlog(30).await.unwrap(), (Some(20), 2));
        assert_eq!(store.get("a").await.unwrap().map(|e| e.due), Some(40));
        store.record_later(entry("d", 5)).unwrap();
        // A write queued after it is committed after it (or with it).
        store.record(vec![]).await.unwrap();
        assert_eq!(ids(store.due(5, 1).await.unwrap()), ["d"]);
    }

    #[tokio::test]
    async fn a_claim_is_held_until_released_or_expired_and_a_conclusion_is_whole() {
        let store = Embedded::in_memory();
        let minute = Duration::from_secs(60);
        assert_eq!(store.claim("x", "checking", minute).await.unwrap(), Claim::Taken);
        assert_eq!(
            store.claim("x", "checking", minute).await.unwrap(),
            Claim::Held("checking".into())
        );
        store.release("x", "someone else's").await.unwrap();
        assert_eq!(
            store.claim("x", "checking", minute).await.unwrap(),
            Claim::Held("checking".into()),
            "only its holder releases a claim"
        );
        assert!(!store.steal("x", "checking:gone", "checking:me", minute).await.unwrap());
        assert!(store.steal("x", "checking", "checking:me", minute).await.unwrap());
        store.release("x", "checking:me").await.unwrap();
        assert_eq!(
            store.claim("x", "checking", Duration::from_millis(1)).await.unwrap(),
            Claim::Taken
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(store.claim("x", "checking", minute).await.unwrap(), Claim::Taken, "expired");
        store.record(vec![entry("x", 1)]).await.unwrap();
        let done = Conclusion {
            id: "x",
            holding: Some("checking"),
            claim: Some(("verified", minute)),
            log: Some("v1"),
            remove: true,
            outbox: &[],
        };
        let stale = Conclusion { holding: Some("checking:expired"), ..done };
        assert!(!store.conclude(stale).await.unwrap(), "a claim lost is no verdict");
        assert!(store.get("x").await.unwrap().is_some());
        assert!(store.conclude(done).await.unwrap());
        // Ended: a reschedule does not bring it back.
        store.reschedule(vec![entry("x", 2)]).await.unwrap();
        assert_eq!(
            store.claim("x", "checking", minute).await.unwrap(),
            Claim::Held("verified".into())
        );
        assert!(store.get("x").await.unwrap().is_none());
        let log = store.verdicts(None, 10).await.unwrap();
        assert_eq!(log.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["v1"]);
        assert!(store.verdicts(Some(&log[0].position), 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_outbox_leases_what_it_hands_out_and_keeps_what_is_not_delivered() {
        let store = Embedded::in_memory();
        let minute = Duration::from_secs(60);
        store.record(vec![entry("x", 1)]).await.unwrap();
        assert_eq!(store.claim("x", "checking", minute).await.unwrap(), Claim::Taken);
        let (d, b) = ("default", "billing");
        let both = [d.to_owned(), b.to_owned()];
        let verdict = Conclusion {
            id: "x",
            holding: Some("checking"),
            claim: Some(("verified", minute)),
            log: Some("event-x"),
            remove: true,
            outbox: &both,
        };
        assert!(store.conclude(verdict).await.unwrap(), "appended with its verdict");
        store.enqueue(&[d.to_owned()], vec!["event-y".into()]).await.unwrap();
        let taken = store.take(d, minute, 10).await.unwrap();
        let lines: Vec<&str> = taken.iter().map(|t| t.line.as_str()).collect();
        assert_eq!(lines, ["event-x", "event-y"]);
        assert!(taken.iter().all(|t| t.attempt == 1));
        assert!(
            store.take(d, minute, 10).await.unwrap().is_empty(),
            "leased: nobody else takes it"
        );
        assert_eq!(store.outbox_stats(d).await.unwrap().pending, 2);
        // Each endpoint has its own: billing's copy is untouched by default's taking.
        let billing = store.take(b, minute, 10).await.unwrap();
        assert_eq!(
            (billing.len(), billing[0].line.as_str(), billing[0].attempt),
            (1, "event-x", 1)
        );
        store.settle(b, &billing[0].position, Settle::Delivered).await.unwrap();
        assert_eq!(store.outbox_stats(b).await.unwrap(), OutboxStats::default());
        assert_eq!(store.outbox_stats("never-written").await.unwrap(), OutboxStats::default());
        assert!(store.outbox("never-written", false, 10).await.unwrap().is_empty());
        // Delivered, it goes; failed, it comes back when due, counted; given up, it is dead.
        store.settle(d, &taken[0].position, Settle::Delivered).await.unwrap();
        store.settle(d, &taken[1].position, Settle::RetryAt(0)).await.unwrap();
        let again = store.take(d, minute, 10).await.unwrap();
        assert_eq!((again.len(), again[0].attempt), (1, 2));
        store.settle(d, &again[0].position, Settle::Dead).await.unwrap();
        let stats = store.outbox_stats(d).await.unwrap();
        assert_eq!((stats.pending, stats.dead, stats.oldest_ms), (0, 1, None));
        let dead = store.outbox(d, true, 10).await.unwrap();
        assert_eq!(dead[0].line, "event-y");
        assert!(!store.revive(b, &dead[0].position).await.unwrap(), "not billing's");
        assert!(store.revive(d, &dead[0].position).await.unwrap());
        assert!(!store.revive(d, &dead[0].position).await.unwrap(), "once");
        assert_eq!(store.take(d, minute, 10).await.unwrap()[0].line, "event-y");
        // A lease that ends (its taker died) hands the event out again.
        store.enqueue(&[d.to_owned()], vec!["event-z".into()]).await.unwrap();
        let first = store.take(d, Duration::from_millis(1), 10).await.unwrap();
        assert_eq!(first.len(), 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(store.take(d, minute, 10).await.unwrap()[0].line, "event-z");
        assert_eq!(store.flag("f").await.unwrap(), None);
        store.set_flag("f", Some("why")).await.unwrap();
        assert_eq!(store.flag("f").await.unwrap().as_deref(), Some("why"));
        store.set_flag("f", None).await.unwrap();
        assert_eq!(store.flag("f").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_store_on_disk_keeps_its_records_and_is_one_instances() {
        let dir =
            std::env::temp_dir().join(format!("state-test-{}", uuid::Uuid::new_v4().simple()));
        let store = Embedded::open(&dir).unwrap();
        store.record(vec![entry("kept", 1)]).await.unwrap();
        let err = Embedded::open(&dir).err().unwrap();
        assert!(err.contains("in use by another instance"), "{err}");
        drop(store);
        let again = Embedded::open(&dir).unwrap();
        assert_eq!(again.due(1, 10).await.unwrap(), [entry("kept", 1)]);
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
