//! What the embedded uploader tells its parent page about each file, as it happens: queued,
//! progress in steps of 25%, verified (with the key and the digest the bucket checked) or
//! failed (with the code the page shows). See `docs/embed.md`.

use leptos::prelude::*;

use super::embed::{tell, Value};
use super::row::Row;
use super::status::Status;

/// What the parent was told of one row so far.
#[derive(Default)]
struct Told {
    id: usize,
    /// The last progress step told (0, 25, 50, 75, 100).
    percent: u32,
    /// Its end (verified or failed) was told.
    ended: bool,
}

/// Tells the parent of every row's changes, for as long as the page lives.
pub fn tell_rows(rows: RwSignal<Vec<Row>>) {
    // A list, not a map: a page holds a few rows, and a hash map's code would weigh on every
    // page's wasm.
    let told = StoredValue::new(Vec::<Told>::new());
    Effect::new(move |_| {
        rows.with(|rows| {
            for row in rows {
                let status = row.status.get();
                let sent = row.sent.get();
                told.update_value(|told| {
                    let at = match told.iter().position(|seen| seen.id == row.id) {
                        Some(at) => at,
                        None => {
                            let size = Value::Number(row.size as f64);
                            tell(
                                "upload:queued",
                                &[("name", Value::Text(&row.name)), ("size", size)],
                            );
                            told.push(Told { id: row.id, ..Told::default() });
                            told.len() - 1
                        }
                    };
                    tell_row(row, &status, sent, &mut told[at]);
                });
            }
        });
    });
}

fn tell_row(row: &Row, status: &Status, sent: f64, told: &mut Told) {
    let name = Value::Text(&row.name);
    if !status.is_finished() && told.ended {
        // Retried: it goes and ends again.
        *told = Told { id: told.id, ..Told::default() };
    }
    let percent = match row.size {
        0 => 0,
        size => ((sent / size as f64 * 100.0).clamp(0.0, 100.0) as u32) / 25 * 25,
    };
    if percent > told.percent && !told.ended {
        told.percent = percent;
        tell("upload:progress", &[("name", name), ("percent", Value::Number(percent.into()))]);
    }
    if told.ended {
        return;
    }
    match status {
        Status::Done(stored) => {
            told.ended = true;
            let digest = stored.checksum_sha256.as_deref().unwrap_or_default();
            let checksum = match digest {
                "" => None,
                // S3's composite of the parts' digests: `<base64>-<parts>`.
                composite if composite.contains('-') => Some(("checksum_composite", composite)),
                whole => Some(("checksum_sha256", whole)),
            };
            let mut fields = vec![
                ("name", Value::Text(&row.name)),
                ("key", Value::Text(&stored.key)),
                ("size", Value::Number(stored.size as f64)),
            ];
            fields.extend(checksum.map(|(field, value)| (field, Value::Text(value))));
            tell("upload:verified", &fields);
        }
        Status::Failed { code, .. } => {
            told.ended = true;
            let reason = Value::Text(code.as_str());
            tell("upload:failed", &[("name", Value::Text(&row.name)), ("reason", reason)]);
        }
        Status::Cancelled => {
            told.ended = true;
            let reason = Value::Text("Cancelled");
            tell("upload:failed", &[("name", Value::Text(&row.name)), ("reason", reason)]);
        }
        _ => {}
    }
}
