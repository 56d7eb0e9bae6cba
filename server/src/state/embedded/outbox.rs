//! The events' outbox in the embedded store: the events by the order they were appended (with
//! when, how often taken, and when next due), their schedule by due time, the dead letters, and
//! named flags (an endpoint disabled). Written in the writer's transactions, so an event is
//! appended in the same commit as its verdict, and a restart finds every event not yet
//! delivered: taken and not settled, it is due again when its lease ends.

use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction,
};

use crate::state::types::{Listed, OutboxStats, Outgoing, Settle};

/// position -> (appended, next due, in Unix ms; times taken; line).
const EVENTS: TableDefinition<u64, (i64, i64, u32, &str)> = TableDefinition::new("outbox");
/// (next due in Unix ms, position): the schedule.
const SCHEDULE: TableDefinition<(i64, u64), ()> = TableDefinition::new("outbox_due");
/// position -> (appended in Unix ms, line): what failed for good.
const DEAD: TableDefinition<u64, (i64, &str)> = TableDefinition::new("outbox_dead");
/// name -> value.
const FLAGS: TableDefinition<&str, &str> = TableDefinition::new("flags");
/// The flag that holds the next position (no flag set by name starts with NUL).
const NEXT: &str = "\u{0}next-position";

/// A write to the outbox.
pub(super) enum Op {
    Enqueue(Vec<String>),
    Take { lease_ms: i64, max: usize },
    Settle(u64, Settle),
    Revive(u64),
    Flag(String, Option<String>),
}

pub(super) enum Answer {
    Done,
    Taken(Vec<Outgoing>),
    Revived(bool),
}

pub(super) struct Tables<'t> {
    events: Table<'t, u64, (i64, i64, u32, &'static str)>,
    schedule: Table<'t, (i64, u64), ()>,
    dead: Table<'t, u64, (i64, &'static str)>,
    flags: Table<'t, &'static str, &'static str>,
}

impl<'t> Tables<'t> {
    pub(super) fn open(txn: &'t WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Self {
            events: txn.open_table(EVENTS)?,
            schedule: txn.open_table(SCHEDULE)?,
            dead: txn.open_table(DEAD)?,
            flags: txn.open_table(FLAGS)?,
        })
    }

    /// The next position, never one given before (an emptied table does not start again at 0:
    /// a late settle for an old position must not name a new event).
    fn next_position(&mut self) -> Result<u64, redb::Error> {
        let next = self.flags.get(NEXT)?.and_then(|g| g.value().parse().ok()).unwrap_or(0u64);
        self.flags.insert(NEXT, (next + 1).to_string().as_str())?;
        Ok(next)
    }

    /// Appends `line`, due at `now`.
    pub(super) fn enqueue(&mut self, line: &str, now: i64) -> Result<(), redb::Error> {
        let position = self.next_position()?;
        self.events.insert(position, (now, now, 0, line))?;
        self.schedule.insert((now, position), ())?;
        Ok(())
    }

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

    pub(super) fn apply(&mut self, op: &Op, now: i64) -> Result<Answer, redb::Error> {
        match op {
            Op::Enqueue(lines) => {
                for line in lines {
                    self.enqueue(line, now)?;
                }
            }
            Op::Take { lease_ms, max } => {
                let mut due = Vec::new();
                for row in self.schedule.range(..=(now, u64::MAX))?.take(*max) {
                    due.push(row?.0.value());
                }
                let mut taken = Vec::with_capacity(due.len());
                for (at, position) in due {
                    if !self.reschedule(position, now.saturating_add(*lease_ms), true)? {
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
                return Ok(Answer::Taken(taken));
            }
            Op::Settle(position, Settle::RetryAt(at)) => {
                self.reschedule(*position, *at, false)?;
            }
            Op::Settle(position, Settle::Delivered) => {
                self.take_out(*position)?;
            }
            Op::Settle(position, Settle::Dead) => {
                if let Some((queued, line)) = self.take_out(*position)? {
                    let next = self.next_position()?;
                    self.dead.insert(next, (queued, line.as_str()))?;
                }
            }
            Op::Revive(position) => {
                let Some(line) = self.dead.remove(*position)?.map(|g| g.value().1.to_owned())
                else {
                    return Ok(Answer::Revived(false));
                };
                self.enqueue(&line, now)?;
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

/// Up to `max` events, pending or `dead`, oldest first.
pub(super) fn list(
    txn: &ReadTransaction,
    dead: bool,
    max: usize,
) -> Result<Vec<Listed>, redb::Error> {
    let mut found = Vec::new();
    if dead {
        for row in txn.open_table(DEAD)?.iter()?.take(max) {
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
        for row in txn.open_table(EVENTS)?.iter()?.take(max) {
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

/// When the event due first is due (Unix ms): a look that finds none due writes nothing.
pub(super) fn first_due(txn: &ReadTransaction) -> Result<Option<i64>, redb::Error> {
    Ok(txn.open_table(SCHEDULE)?.first()?.map(|(key, _)| key.value().0))
}

pub(super) fn stats(txn: &ReadTransaction) -> Result<OutboxStats, redb::Error> {
    let events = txn.open_table(EVENTS)?;
    let oldest_ms = events.first()?.map(|(_, v)| v.value().0);
    Ok(OutboxStats { pending: events.len()?, oldest_ms, dead: txn.open_table(DEAD)?.len()? })
}

pub(super) fn flag(txn: &ReadTransaction, name: &str) -> Result<Option<String>, redb::Error> {
    Ok(txn.open_table(FLAGS)?.get(name)?.map(|g| g.value().to_owned()))
}
