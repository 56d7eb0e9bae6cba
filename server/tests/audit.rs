//! The audit events are a contract with whoever reads the logs: `docs/audit.md` lists each one
//! with its level and fields. This reads every `tracing` call with `target: "audit"` in the
//! server's source and compares it with that table, so an event added, removed or changed
//! without the table fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An event as logged: its level and its field names, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    level: String,
    fields: Vec<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The macro call's arguments, split at top-level commas (strings and brackets respected).
fn arguments(call: &str) -> Vec<String> {
    let (mut args, mut current, mut depth, mut in_string) =
        (Vec::new(), String::new(), 0i32, false);
    let mut chars = call.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => {
                current.push(c);
                if let Some(escaped) = chars.next() {
                    current.push(escaped);
                }
                continue;
            }
            '(' | '[' | '{' if !in_string => depth += 1,
            ')' | ']' | '}' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                args.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        args.push(current.trim().to_owned());
    }
    args
}

/// Every audit event in the server's source: name -> (where, event).
fn events_in_source() -> Vec<(String, String, Event)> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("target: \"audit\"") {
            // Back to the macro's name (`tracing::info!(`), forward to its closing parenthesis.
            let start = text[..at].rfind("tracing::").expect("audit events are tracing macros");
            let (level, rest) = text[start + "tracing::".len()..].split_once("!(").unwrap();
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let mut name = None;
            let mut fields = Vec::new();
            for arg in arguments(&rest[..end]) {
                let field = arg.split(['=', ':']).next().unwrap().trim().to_owned();
                match field.as_str() {
                    "target" => {}
                    "event" => name = Some(arg.split('"').nth(1).unwrap().to_owned()),
                    // A message string, if any, is not a field.
                    _ if field.starts_with('"') => {}
                    _ => fields.push(field),
                }
            }
            let place =
                format!("{}", file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display());
            found.push((
                name.unwrap_or_else(|| panic!("an audit event without a name in {place}")),
                place,
                Event { level: level.to_owned(), fields },
            ));
        }
    }
    found
}

/// The table in docs/audit.md: name -> event.
fn events_in_table() -> BTreeMap<String, Event> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/audit.md");
    let text = std::fs::read_to_string(doc).unwrap();
    let mut table = BTreeMap::new();
    for row in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let fields = cells[3]
            .split(',')
            .map(|f| f.trim().trim_matches('`').to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        assert!(
            table.insert(name.clone(), Event { level: cells[2].to_owned(), fields }).is_none(),
            "{name} is listed twice"
        );
    }
    table
}

#[test]
fn every_audit_event_is_in_the_table_as_it_is_logged() {
    let table = events_in_table();
    let source = events_in_source();
    assert!(source.len() >= 10, "found only {} audit events: the scan is broken", source.len());
    for (name, place, event) in &source {
        let listed = table.get(name).unwrap_or_else(|| {
            panic!("{place} logs the audit event {name:?}, which docs/audit.md does not list")
        });
        assert_eq!(
            event, listed,
            "{place}: the audit event {name:?} differs from its row in docs/audit.md"
        );
    }
    for name in table.keys() {
        assert!(
            source.iter().any(|(n, _, _)| n == name),
            "docs/audit.md lists {name:?}, which nothing logs"
        );
    }
}

#[test]
fn the_argument_splitter_respects_strings_and_brackets() {
    assert_eq!(
        arguments(r#"target: "audit", event = "x", key = %f(a, b), why = "a, \"b\"", size"#),
        ["target: \"audit\"", "event = \"x\"", "key = %f(a, b)", "why = \"a, \\\"b\\\"\"", "size"]
    );
}
