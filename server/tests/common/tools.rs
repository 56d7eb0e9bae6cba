//! Tools some tests need that a machine may lack: the project's `.venv` (boto3, moto; made by
//! `scripts/setup.sh test`) and Debian's `redis-server`. Under plain `cargo test` a test whose
//! tool is missing says so on one line (on stderr, past the test harness's capture) and passes
//! without running; `scripts/test.sh`, which installs every tool, sets
//! `UPLOAD_TESTS_REQUIRE_TOOLS=1`, and there a missing tool fails the test.

use std::io::Write;
use std::path::PathBuf;

/// Set by `scripts/test.sh`: no test may skip.
const REQUIRE: &str = "UPLOAD_TESTS_REQUIRE_TOOLS";

fn venv(program: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin").join(program)
}

/// `tool` at `path`, if it is there; otherwise the test skips (or, under `scripts/test.sh`,
/// fails) with a line naming it.
fn found(tool: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    if path.is_some() {
        return path;
    }
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    let hint = "scripts/setup.sh test installs it";
    if std::env::var_os(REQUIRE).is_some() {
        panic!("{test} needs {tool}, which is missing: {hint}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: needs {tool} ({hint}; scripts/test.sh runs it)"
    );
    None
}

/// The project's Python, with boto3.
pub fn python() -> Option<PathBuf> {
    let path = venv("python");
    found("boto3 (.venv/bin/python)", path.exists().then_some(path))
}

/// moto's server, which speaks STS on loopback.
pub fn moto_server() -> Option<PathBuf> {
    let path = venv("moto_server");
    found("moto (.venv/bin/moto_server)", path.exists().then_some(path))
}

/// Debian's redis-server, from the PATH.
pub fn redis_server() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("redis-server")).find(|p| p.is_file())
    });
    found("redis-server", on_path)
}

/// ClamAV's clamd (Debian's clamav-daemon), from the PATH or `/usr/sbin`.
pub fn clamd() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.push(PathBuf::from("/usr/sbin"));
    found("clamd", dirs.into_iter().map(|dir| dir.join("clamd")).find(|p| p.is_file()))
}

/// Prometheus's promtool (Debian's prometheus package), from the PATH.
pub fn promtool() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("promtool")).find(|p| p.is_file())
    });
    found("promtool", on_path)
}
