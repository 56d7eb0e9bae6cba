//! Log lines: text (or JSON with `LOG_FORMAT=json`) on stderr, one event a line whatever its
//! fields hold. Values a client chose (a key, an ETag, a form field) can carry CR or LF; in the
//! text format they would start a line of their own and could pass for another event, so every
//! line break inside an event is written escaped (`\n`, `\r`).
//!
//! Lines are gathered in one buffer and written to stderr in blocks: when it fills, and every
//! [`FLUSH_EVERY`] by a thread of their own (under signing load a `write` per line was 9% of a
//! request's time). No line is ever dropped: the audit events are a contract (docs/audit.md);
//! a request that logs while the buffer is being written waits for it. What a crash (SIGKILL)
//! can lose is the last [`FLUSH_EVERY`]; a normal exit writes everything out, and a line logged
//! after that (a task still draining, a thread) is written at once, as is every line when the
//! flusher cannot start.

use std::borrow::Cow;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

/// Writes each event as one line: its inner CR and LF escaped, its final newline kept.
pub struct OneLine<W>(pub W);

/// `bytes` with every CR and LF but a final LF escaped.
pub fn one_line(bytes: &[u8]) -> Vec<u8> {
    let (body, end) = match bytes.strip_suffix(b"\n") {
        Some(body) => (body, &b"\n"[..]),
        None => (bytes, &b""[..]),
    };
    let mut out = Vec::with_capacity(bytes.len() + 8);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(end);
    out
}

impl<W: Write> Write for OneLine<W> {
    // The formatter hands over one whole event per write.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        if body.iter().any(|&b| b == b'\n' || b == b'\r') {
            self.0.write_all(&one_line(buf))?;
        } else {
            self.0.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// At most this many bytes of a value a client chose go into a log line.
pub const MAX_LOGGED: usize = 256;

/// `value`, cut to [`MAX_LOGGED`] bytes (on a character boundary) with how much was left out.
/// Log it with `?` (Debug): quoted, control characters escaped.
pub fn clip(value: &str) -> Cow<'_, str> {
    if value.len() <= MAX_LOGGED {
        return Cow::Borrowed(value);
    }
    let mut end = MAX_LOGGED;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...(+{} bytes)", &value[..end], value.len() - end))
}

/// How long a line may wait in the buffer: a quiet server's lines are out this soon.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The buffer every line goes through: written out when full, and by the flusher.
#[derive(Clone)]
struct Lines(Arc<Mutex<Buffer>>);

struct Buffer {
    out: BufWriter<io::Stderr>,
    /// No flusher (stopped, or never started): each line is written out as it comes.
    unbuffered: bool,
}

impl Lines {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on every line is written out at once (and what is buffered, now).
    fn unbuffer(&self) -> io::Result<()> {
        let mut buffer = self.lock();
        buffer.unbuffered = true;
        buffer.out.flush()
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut buffer = self.lock();
        // A whole event at a time: it never straddles two writes of the buffer.
        buffer.out.write_all(buf)?;
        if buffer.unbuffered {
            buffer.out.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().out.flush()
    }
}

/// The log's flusher; when dropped (at the end of `main`), what is buffered is written out.
#[must_use = "dropping it stops the log's flusher"]
pub struct Writer {
    lines: Lines,
    stop: Option<Sender<()>>,
    flusher: Option<JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        let _ = self.lines.unbuffer();
    }
}

/// Logging for the server: `RUST_LOG` (default `info`), `LOG_FORMAT=json`, stderr (so that
/// `server sign` output can be piped). Keep the returned [`Writer`] until the end.
pub fn init() -> Writer {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let out = BufWriter::with_capacity(64 * 1024, io::stderr());
    let lines = Lines(Arc::new(Mutex::new(Buffer { out, unbuffered: false })));
    let (stop, stopped) = channel::<()>();
    let (mut flushing, writer) = (lines.clone(), lines.clone());
    let flusher = std::thread::Builder::new()
        .name("log-flusher".into())
        .spawn(move || loop {
            let last =
                matches!(stopped.recv_timeout(FLUSH_EVERY), Err(RecvTimeoutError::Disconnected));
            // Nowhere to say that stderr failed.
            let _ = flushing.flush();
            if last {
                return;
            }
        })
        .ok();
    if flusher.is_none() {
        let _ = lines.unbuffer();
    }
    // Colours only on a terminal: in a file they are escape codes around every field (and
    // writing them cost 1% of the server's time under signing load).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::stderr().is_terminal())
        .with_writer(move || OneLine(lines.clone()));
    if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
    Writer { lines: writer, stop: Some(stop), flusher }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(1000);
        let clipped = clip(&long);
        assert!(clipped.len() < MAX_LOGGED + 32, "{}", clipped.len());
        assert!(clipped.ends_with("...(+1744 bytes)"), "{clipped}");
    }

    #[test]
    fn an_event_stays_on_its_line() {
        assert_eq!(one_line(b"a=1 b=\"x\"\n"), b"a=1 b=\"x\"\n");
        assert_eq!(
            one_line(b"etag=\"x\r\n2026 INFO upload_confirmed\"\n"),
            b"etag=\"x\\r\\n2026 INFO upload_confirmed\"\n"
        );
        let mut out = Vec::new();
        OneLine(&mut out).write_all(b"key=a\nforged\n").unwrap();
        assert_eq!(out, b"key=a\\nforged\n");
    }
}
