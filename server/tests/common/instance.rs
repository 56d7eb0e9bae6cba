//! The server binary as a test starts it: its own ports, a log file, settings on top of a
//! test's defaults (policies of 30 s, a reconciler grace of 1 s, rounds every second); killed
//! with SIGKILL when dropped (or by [`Instance::kill`]).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A form signed through an instance, for a new uploader.
pub struct Signed {
    pub url: String,
    pub key: String,
    pub fields: Vec<(String, String)>,
    pub receipt: String,
    /// The uploader's cookie, for the confirm.
    pub cookie: String,
    /// The file's SHA-256 (base64), bound by the form.
    pub sha256: String,
}

/// A server process, logging to a file; killed with SIGKILL when dropped.
pub struct Instance {
    pub child: Child,
    pub port: u16,
    pub metrics: u16,
    pub log: PathBuf,
}

impl Instance {
    pub fn start(settings: &[(&str, String)], log: &Path) -> Self {
        // A port found free may be taken before the server binds it (by another test's
        // outgoing connection): then it starts again on others, a few times.
        for _ in 0..3 {
            if let Some(instance) = Self::try_start(settings, log) {
                return instance;
            }
        }
        panic!("the server found its ports taken three times: {log:?}");
    }

    /// Starts it; `None` when it stopped because a port it was given was taken.
    fn try_start(settings: &[(&str, String)], log: &Path) -> Option<Self> {
        let (port, metrics) = (free_port(), free_port());
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        // What this start logs comes after what earlier ones did.
        let from = out.metadata().unwrap().len() as usize;
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("UPLOAD_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .env("UPLOAD_POLICY_TTL_SECS", "30")
            .env("UPLOAD_RECONCILE_GRACE_SECS", "1")
            .env("UPLOAD_RECONCILE_EVERY_SECS", "1")
            .env("UPLOAD_CHECKSUM_MAX_BYTES", "0")
            .env("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "100000")
            .env("RUST_LOG", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (name, value) in settings {
            command.env(name, value);
        }
        let child = command.spawn().expect("the server starts");
        let mut instance = Self { child, port, metrics, log: log.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest_blocking(&format!("http://127.0.0.1:{port}/healthz")).is_none() {
            if let Ok(Some(status)) = instance.child.try_wait() {
                let logged = std::fs::read(log).unwrap_or_default();
                let said = String::from_utf8_lossy(logged.get(from..).unwrap_or_default());
                if said.contains("already in use") {
                    return None;
                }
                panic!("the server stopped ({status}): {said}");
            }
            assert!(Instant::now() < deadline, "the server did not start: {}", instance.tail());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(instance)
    }

    /// The log once it holds at least `count` lines containing every one of `needles`: lines
    /// are written in blocks (every 50 ms, `server::logging`), so a line is not in the file
    /// the moment its metric moves. Panics after 5 s with the log's tail.
    pub async fn logged(&self, needles: &[&str], count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let found = log.lines().filter(|l| needles.iter().all(|n| l.contains(n))).count();
            if found >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {count} lines with {needles:?}:\n{}",
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Signs a 4-byte text file, as the page asks (no cookie: a new uploader each time).
    pub async fn sign(&self, name: &str) -> (String, String, Vec<(String, String)>) {
        let signed = self.sign_form(&[("file_name", name), ("size", "4")], String::new()).await;
        (signed.url, signed.key, signed.fields)
    }

    /// Asks `sign_upload` for a text file described by `fields` (name, size, checksum).
    async fn sign_form(&self, fields: &[(&str, &str)], sha256: String) -> Signed {
        let mut form = vec![("access_code", ""), ("content_type", "text/plain")];
        form.extend_from_slice(fields);
        let answer = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/api/sign_upload", self.port))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        let cookie = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("; ");
        let signed: serde_json::Value =
            serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        let fields = signed["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("a signed form: {signed}"))
            .iter()
            .map(|f| (f[0].as_str().unwrap().to_owned(), f[1].as_str().unwrap().to_owned()))
            .collect();
        Signed {
            url: signed["url"].as_str().unwrap().into(),
            key: signed["key"].as_str().unwrap().into(),
            receipt: signed["receipt"].as_str().unwrap().into(),
            fields,
            cookie,
            sha256,
        }
    }

    /// Kills it outright (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Signs `body` as the text file `name` with its SHA-256 (the bucket checks it), as the
    /// page asks, for a new uploader (whose cookie the answer sets).
    pub async fn sign_checked(&self, name: &str, body: &[u8]) -> Signed {
        self.sign_checked_for("", name, body).await
    }

    /// [`Instance::sign_checked`], for the upload profile `profile` (empty: the default).
    pub async fn sign_checked_for(&self, profile: &str, name: &str, body: &[u8]) -> Signed {
        use base64::Engine;
        use sha2::Digest;
        let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
        let size = body.len().to_string();
        let fields =
            [("file_name", name), ("size", &size), ("checksum_sha256", &sha), ("profile", profile)];
        self.sign_form(&fields, sha.clone()).await
    }

    /// Confirms an upload as the page does, with the ETag the bucket answered.
    pub async fn confirm(&self, signed: &Signed, etag: &str) -> serde_json::Value {
        let form = serde_urlencoded::to_string([
            ("key", signed.key.as_str()),
            ("etag", etag),
            ("receipt", signed.receipt.as_str()),
        ])
        .unwrap();
        let answer = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/api/confirm_upload", self.port))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header("cookie", &signed.cookie)
            .body(form)
            .send()
            .await
            .unwrap();
        serde_json::from_str(&answer.text().await.unwrap()).unwrap()
    }

    /// A counter's value in this instance's metrics.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} is not exported"))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET that answers 200, or `None`.
pub fn reqwest_blocking(url: &str) -> Option<()> {
    let out = Command::new("curl")
        .args(["-fs", "-o", "/dev/null", url])
        .stdout(Stdio::null())
        .status()
        .ok()?;
    out.success().then_some(())
}
