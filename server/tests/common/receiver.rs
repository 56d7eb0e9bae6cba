//! The webhook receiver the event tests deliver to: `scripts/webhook-receiver.py`, which verifies
//! every delivery with the Standard Webhooks reference library (PyPI `standardwebhooks`) and
//! validates every event against the JSON Schema in `docs/events.md`. On a port of its own;
//! stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// One delivery as the receiver saw it.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub verified: bool,
    pub refused: Option<String>,
    pub status: u16,
    /// When it arrived (Unix seconds).
    pub at: f64,
    pub event: Option<serde_json::Value>,
}

pub struct Receiver {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Receiver {
    /// A receiver on a free port that accepts deliveries signed with any of `secrets`; `None`
    /// (the test skips) without the project's Python tools.
    pub fn start(secrets: &[&str]) -> Option<Self> {
        Self::start_with(secrets, serde_json::json!([]))
    }

    /// One that gives the answers of `plan` first (see the script), from its first request.
    pub fn start_with(secrets: &[&str], plan: serde_json::Value) -> Option<Self> {
        let port = super::instance::free_port();
        let log =
            std::env::temp_dir().join(format!("receiver-{}.jsonl", uuid::Uuid::new_v4().simple()));
        let mut receiver = Self { child: None, port, log };
        receiver.restart_with(secrets, plan)?;
        Some(receiver)
    }

    /// Its URL, for UPLOAD_WEBHOOK_URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/uploads", self.port)
    }

    /// Stops it: the port refuses connections until [`Receiver::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on its port, with `secrets` (what it saw before is kept).
    pub fn restart(&mut self, secrets: &[&str]) -> Option<()> {
        self.restart_with(secrets, serde_json::json!([]))
    }

    /// Starts it again on its port, with `secrets`, giving the answers of `plan` first.
    pub fn restart_with(&mut self, secrets: &[&str], plan: serde_json::Value) -> Option<()> {
        self.stop();
        let python = super::tools::python()?;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut command = Command::new(python);
        command.current_dir(root).arg("scripts/webhook-receiver.py");
        command.arg(self.port.to_string()).arg(&self.log);
        command.arg("--plan").arg(plan.to_string());
        for secret in secrets {
            command.args(["--secret", secret]);
        }
        self.child = Some(command.stdout(Stdio::null()).spawn().expect("the receiver starts"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the receiver did not start on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(())
    }

    /// What it answers from now on, before 204 to everything (see the script).
    pub async fn plan(&self, plan: serde_json::Value) {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/control", self.port))
            .body(plan.to_string())
            .send()
            .await
            .unwrap();
    }

    /// Every delivery it saw, across restarts.
    pub fn deliveries(&self) -> Vec<Delivery> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            // A line being written is not whole yet.
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The events it verified and answered 2xx, by `webhook-id` (the first of each).
    pub fn taken(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        let mut taken = std::collections::BTreeMap::new();
        for d in self.deliveries() {
            if d.verified && (200..300).contains(&d.status) {
                taken
                    .entry(d.id.clone().unwrap_or_default())
                    .or_insert(d.event.unwrap_or_default());
            }
        }
        taken
    }

    /// Waits until it has taken `n` distinct events, or fails naming what it saw.
    pub async fn wait_for(&self, n: usize, within: Duration, context: impl Fn() -> String) {
        let deadline = Instant::now() + within;
        while self.taken().len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} events taken within {within:?}; deliveries: {:#?}\n{}",
                self.taken().len(),
                self.deliveries(),
                context()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}
