//! The events' outboxes in the embedded store, one per endpoint (each with tables of its own,
//! so a disabled endpoint's events wait without being looked at): the events by the order they
//! were appended (with when, how often taken, and when next due), their schedule by due time,
//! the dead letters; and named flags (an endpoint disabled). Written in the writer's
//! transactions, so an event is appended in the same commit as its verdict, and a restart finds
//! every event not yet delivered: taken and not settled, it is due again when its lease ends.

use std::collections::BTreeMap;

use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition, TableError,
    WriteTransaction,
};

use crate::events::endpoint::CONFIGURED;
use crate::state::types::{Listed, OutboxStats, Outgoing, Settle};

/// position -> (appended, next due, in Unix ms; times taken; line).
type Events = (i64, i64, u32, &'static str);
/// (next due in Unix ms, position): the schedule.
type Due = (i64, u64);
/// position -> (appended in Unix ms, line): what failed for good.
type Dead = (i64, &'static str);

/// An endpoint's tables' names: `UPLOAD_WEBHOOK_URL`'s keep the names they had before there
/// were others; a profile's endpoint `NAME` has `outbox@NAME` and so on.
struct Names {
    events: String,
    schedule: String,
    dead: String,
}

impl Names {
    fn of(endpoint: &str) -> Self {
        let at = if endpoint == CONFIGURED { String::new() } else { format!("@{endpoint}") };
        Self {
            events: format!("outbox{at}"),
            schedule: format!("outbox_due{at}"),
            dead: format!("outbox_dead{at}"),
        }
    }
}

/// name -> value.
const FLAGS: TableDefinition<&str, &str> = TableDefinition::new("flags");
/// The flag that holds the next position (no flag set by name starts with NUL).
const NEXT: &str = "\u{0}next-position";

/// A write to an endpoint's outbox.
pub(super) enum Op {
    /// The lines, to each endpoint's outbox.
    Enqueue(Vec<String>, Vec<String>),
    Take {
        endpoint: String,
        lease_ms: i64,
        max: usize,
    },
    Settle(String, u64, Settle),
    Revive(String, u64),
    Flag(String, Option<String>),
}

pub(super) enum Answer {
    Done,
    Taken(Vec<Outgoing>),
    Revived(bool),
}

/// One endpoint's tables, open in a write transaction.
struct Queue<'t> {
    events: Table<'t, u64, Events>,
    schedule: Table<'t, Due, ()>,
    dead: Table<'t, u64, Dead>,
}

impl<'t> Queue<'t> {
    fn open(txn: &'t WriteTransaction, endpoint: &str) -> Result<Self, redb::Error> {
        let names = Names::of(endpoint);
        Ok(Self {
            events: txn.open_table(TableDefinition::new(&names.events))?,
            schedule: txn.open_table(TableDefinition::new(&names.schedule))?,
            dead: txn.open_table(TableDefinition::new(&names.dead))?,
        })
    }
}

pub(super) struct Tables<'t> {
    txn: &'t WriteTransaction,
    /// The endpoints' tables, each opened when first written (a table opens once per
    /// transaction).
    queues: BTreeMap<String, Queue<'t>>,
    flags: Table<'t, &'static str, &'static str>,
}

impl<'t> Tables<'t> {
    pub(super) fn open(txn: &'t WriteTransaction) -> Result<Self, redb::Error> {
        let mut tables = Self { txn, queues: BTreeMap::new(), flags: txn.open_table(FLAGS)? };
        // `UPLOAD_WEBHOOK_URL`'s tables exist from the start; the others when first written.
        tables.queue(CONFIGURED)?;
        Ok(tables)
    }

    fn queue(&mut self, endpoint: &str) -> Result<&mut Queue<'t>, redb::Error> {
        if !self.queues.contains_key(endpoint) {
            let queue = Queue::open(self.txn, endpoint)?;
            self.queues.insert(endpoint.to_owned(), queue);
        }
        Ok(self.queues.get_mut(endpoint).expect("just opened"))
    }

    /// The next position, never one given before (an emptied table does not start again at 0:
    /// a late settle for an old position must not name a new event). One sequence for every
    /// endpoint.
    fn next_position(&mut self) -> Result<u64, redb::Error> {
        let next = self.flags.get(NEXT)?.and_then(|g| g.value().parse().ok()).unwrap_or(0u64);
        self.flags.insert(NEXT, (next + 1).to_string().as_str())?;
        Ok(next)
    }

    /// Appends `line` to `endpoint`'s outbox, due at `now`.
    pub(super) fn enqueue(
        &mut self,
        endpoint: &str,
        line: &str,
        now: i64,
    ) -> Result<(), redb::Error> {
        let position = self.next_position()?;
        let queue = self.queue(endpoint)?;
        queue.events.insert(position, (now, now, 0, line))?;
        queue.schedule.insert((now, position), ())?;
        Ok(())
    }

    pub(super) fn apply(&mut self, op: &Op, now: i64) -> Result<Answer, redb::Error> {
        match op {
            Op::Enqueue(endpoints, lines) => {
                for endpoint in endpoints {
                    for line in lines {
                        self.enqueue(endpoint, line, now)?;
                    }
                }
            }
            Op::Take { endpoint, lease_ms, max } => {
                return self.queue(endpoint)?.take(now, *lease_ms, *max).map(Answer::Taken);
            }
            Op::Settle(endpoint, position, Settle::RetryAt(at)) => {
                self.queue(endpoint)?.reschedule(*position, *at, false)?;
            }
            Op::Settle(endpoint, position, Settle::Delivered) => {
                self.queue(endpoint)?.take_out(*position)?;
            }
            Op::Settle(endpoint, position, Settle::Dead) => {
                if let Some((queued, line)) = self.queue(endpoint)?.take_out(*position)? {
                    let next = self.next_position()?;
                    self.queue(endpoint)?.dead.insert(next, (queued, line.as_str()))?;
                }
            }
            Op::Revive(endpoint, position) => {
                let dead = &mut self.queue(endpoint)?.dead;
                let Some(line) = dead.remove(*position)?.map(|g| g.value().1.to_owned()) else {
                    return Ok(Answer::Revived(false));
                };
                self.enqueue(endpoint, &line, now)?;
                return Ok(Answer::Revived(true));
            }
            Op::Flag(name, Some(value)) => {
                self.flags.insert(name.as_str(), value.as_str())?;
            }
            Op::Flag(name, None) => {
                self.flags.remove(name.as_str())?;
            }
        }
        Ok(Answer::Done)
    }
}

impl Queue<'_> {
    fn reschedule(&mut self, position: u64, due: i64, taken: bool) -> Result<bool, redb::Error> {
        let Some((queued, before, tries, line)) = self.events.get(position)?.map(|g| {
            let (queued, due, tries, line) = g.value();
            (queued, due, tries, line.to_owned())
        }) else {
            return Ok(false);
        };
        self.schedule.remove((before, position))?;
        let tries = if taken { tries + 1 } else { tries };
        self.events.insert(position, (queued, due, tries, line.as_str()))?;
        self.schedule.insert((due, position), ())?;
        Ok(true)
    }

    fn take_out(&mut self, position: u64) -> Result<Option<(i64, String)>, redb::Error> {
        let Some((queued, due, line)) = self.events.remove(position)?.map(|g| {
            let (queued, due, _, line) = g.value();
            (queued, due, line.to_owned())
        }) else {
            return Ok(None);
        };
        self.schedule.remove((due, position))?;
        Ok(Some((queued, line)))
    }

    /// Up to `max` events due at `now`, each leased until `lease_ms` from now.
    fn take(&mut self, now: i64, lease_ms: i64, max: usize) -> Result<Vec<Outgoing>, redb::Error> {
        let mut due = Vec::new();
        for row in self.schedule.range(..=(now, u64::MAX))?.take(max) {
            due.push(row?.0.value());
        }
        let mut taken = Vec::with_capacity(due.len());
        for (at, position) in due {
            if !self.reschedule(position, now.saturating_add(lease_ms), true)? {
                // Its event is gone: the schedule forgets it too.
                self.schedule.remove((at, position))?;
                continue;
            }
            if let Some(event) = self.events.get(position)? {
                let (queued_ms, _, attempt, line) = event.value();
                taken.push(Outgoing {
                    position: position.to_string(),
                    attempt,
                    queued_ms,
                    line: line.to_owned(),
                });
            }
        }
        Ok(taken)
    }
}

/// A table read in `txn`: `None` when it was never written (an endpoint with no events yet).
fn opened<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    name: &str,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, redb::Error> {
    match txn.open_table(TableDefinition::<K, V>::new(name)) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Up to `max` of `endpoint`'s events, pending or `dead`, oldest first.
pub(super) fn list(
    txn: &ReadTransaction,
    endpoint: &str,
    dead: bool,
    max: usize,
) -> Result<Vec<Listed>, redb::Error> {
    let names = Names::of(endpoint);
    let mut found = Vec::new();
    if dead {
        let Some(table) = opened::<u64, Dead>(txn, &names.dead)? else { return Ok(found) };
        for row in table.iter()?.take(max) {
            let (position, value) = row?;
            let (queued_ms, line) = value.value();
            found.push(Listed {
                position: position.value().to_string(),
                attempts: 0,
                queued_ms,
                line: line.to_owned(),
            });
        }
    } else {
        let Some(table) = opened::<u64, Events>(txn, &names.events)? else { return Ok(found) };
        for row in table.iter()?.take(max) {
            let (position, value) = row?;
            let (queued_ms, _, attempts, line) = value.value();
            found.push(Listed {
                position: position.value().to_string(),
                attempts,
                queued_ms,
                line: line.to_owned(),
            });
        }
    }
    Ok(found)
}

/// When `endpoint`'s event due first is due (Unix ms): a look that finds none due writes
/// nothing.
pub(super) fn first_due(txn: &ReadTransaction, endpoint: &str) -> Result<Option<i64>, redb::Error> {
    let Some(schedule) = opened::<Due, ()>(txn, &Names::of(endpoint).schedule)? else {
        return Ok(None);
    };
    let first = schedule.first()?.map(|(key, _)| key.value().0);
    Ok(first)
}

pub(super) fn stats(txn: &ReadTransaction, endpoint: &str) -> Result<OutboxStats, redb::Error> {
    let names = Names::of(endpoint);
    let mut stats = OutboxStats::default();
    if let Some(events) = opened::<u64, Events>(txn, &names.events)? {
        stats.oldest_ms = events.first()?.map(|(_, v)| v.value().0);
        stats.pending = events.len()?;
    }
    if let Some(dead) = opened::<u64, Dead>(txn, &names.dead)? {
        stats.dead = dead.len()?;
    }
    Ok(stats)
}

pub(super) fn flag(txn: &ReadTransaction, name: &str) -> Result<Option<String>, redb::Error> {
    Ok(txn.open_table(FLAGS)?.get(name)?.map(|g| g.value().to_owned()))
}
