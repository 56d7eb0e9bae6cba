//! The shared store against a real Redis (Debian's `redis-server`, started here on a port of its
//! own with no persistence): budgets and verdicts hold across instances, a store that stops
//! answering makes each instance decide alone (counted), and sharing resumes when it is back.

mod common;

use std::net::TcpListener;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::metrics::Metrics;
use server::shared::{Budget, SharedStore};
use server::uploads::guard::Guard;

struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Redis on `port` with its files in `dir`; `None` (the test skips) where redis-server is
    /// not installed.
    fn start_on(port: u16, dir: PathBuf) -> Option<Self> {
        let program = common::tools::redis_server()?;
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(program)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let redis = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir =
            std::env::temp_dir().join(format!("redis-test-{}", uuid::Uuid::new_v4().simple()));
        Self::start_on(port, dir)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

/// One instance's guard: its own memory, the shared store, its own metrics.
fn instance(url: &str, per_uploader: u32, metrics: &Arc<Metrics>) -> Guard {
    let store = Arc::new(SharedStore::new(url).unwrap());
    Guard::new(n(per_uploader), n(1000), metrics.clone()).shared(Some(store))
}

#[tokio::test]
async fn budgets_and_verdicts_hold_across_instances() {
    let Some(redis) = Redis::start() else { return };
    let metrics = Arc::new(Metrics::new());
    let (a, b) = (instance(&redis.url(), 4, &metrics), instance(&redis.url(), 4, &metrics));
    let uploader = uuid::Uuid::new_v4().simple().to_string();
    // Four files a minute in all, whichever instance is asked.
    for (i, guard) in [&a, &b, &a, &b].into_iter().enumerate() {
        assert!(guard.spend_signature(&uploader, None).await.is_ok(), "file {i}");
    }
    for guard in [&a, &b] {
        let wait = guard.spend_signature(&uploader, None).await.unwrap_err();
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(15),
            "one more in 15 s: {wait:?}"
        );
    }
    // Another uploader has its own budget.
    assert!(b.spend_signature("someone-else", None).await.is_ok());
    // One verdict per receipt in the whole fleet; released, it may be checked again.
    assert!(a.claim_verdict("uploads/u/d/", Duration::from_secs(60)).await);
    assert!(!b.claim_verdict("uploads/u/d/", Duration::from_secs(60)).await);
    b.release_verdict("uploads/u/d/").await;
    assert!(a.claim_verdict("uploads/u/d/", Duration::from_secs(60)).await);
    assert!(metrics.encode().contains("shared_store_errors_total{op=\"rate\"} 0"));
}

#[tokio::test]
async fn the_address_budget_is_shared_and_spent_with_the_uploaders_or_not_at_all() {
    let Some(redis) = Redis::start() else { return };
    let store = SharedStore::new(&redis.url()).unwrap();
    let budget = |key: &str, burst| Budget {
        key: key.into(),
        interval: Duration::from_secs(60) / burst,
        burst,
    };
    let ip = format!("ip-{}", uuid::Uuid::new_v4().simple());
    assert_eq!(store.spend(&[budget("u1", 5), budget(&ip, 1)]).await.unwrap(), None);
    // The address is out: the uploader's budget is not spent by the refusal.
    assert!(store.spend(&[budget("u2", 1), budget(&ip, 1)]).await.unwrap().is_some());
    assert_eq!(
        store.spend(&[budget("u2", 1)]).await.unwrap(),
        None,
        "u2's only token is still there"
    );
}

#[tokio::test]
async fn room_is_asked_without_spending_and_a_spent_guess_budget_closes_every_instance() {
    let Some(redis) = Redis::start() else { return };
    let store = SharedStore::new(&redis.url()).unwrap();
    let key = format!("g-{}", uuid::Uuid::new_v4().simple());
    let budget = [Budget { key, interval: Duration::from_secs(30), burst: 2 }];
    for _ in 0..5 {
        assert_eq!(store.room(&budget).await.unwrap(), None, "asking spends nothing");
    }
    assert_eq!(store.spend(&budget).await.unwrap(), None);
    assert_eq!(store.spend(&budget).await.unwrap(), None);
    let wait = store.room(&budget).await.unwrap().expect("spent");
    assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
    // Ten wrong codes on one instance: the other compares no code from that address either.
    let metrics = Arc::new(Metrics::new());
    let (a, b) = (instance(&redis.url(), 4, &metrics), instance(&redis.url(), 4, &metrics));
    let at = Some("198.18.0.1".parse().unwrap());
    for _ in 0..10 {
        assert!(a.spend_wrong_code("u", at).await.is_ok());
    }
    assert!(b.may_try_a_code("u", at).await.is_err());
    assert!(metrics.encode().contains("shared_store_errors_total{op=\"rate\"} 0"));
}

#[tokio::test]
async fn without_redis_each_instance_decides_alone_and_says_so_then_shares_again() {
    let Some(mut redis) = Redis::start() else { return };
    let (port, dir) = (redis.port, redis.dir.clone());
    let metrics = Arc::new(Metrics::new());
    let (a, b) = (instance(&redis.url(), 2, &metrics), instance(&redis.url(), 2, &metrics));
    assert!(a.spend_signature("u", None).await.is_ok());

    redis.stop();
    // Signing goes on, quickly, with each instance's own budget; every fallback is counted.
    let started = Instant::now();
    for guard in [&a, &a, &b, &b] {
        assert!(guard.spend_signature("u", None).await.is_ok());
    }
    assert!(a.spend_signature("u", None).await.is_err(), "a's own budget of 2 is spent");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let exported = metrics.encode();
    assert!(exported.contains("shared_store_errors_total{op=\"rate\"} 5"), "{exported}");

    // Back (the back-off after a failure is a second): the fleet shares one budget again.
    let _redis = Redis::start_on(port, dir).expect("redis-server was there a moment ago");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut shared_again = false;
    for _ in 0..50 {
        // The connection manager reconnects on its own; until then, calls fall back. Each try
        // uses a new uploader, with a budget of 2 in all if the instances share it.
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let errors_before = metrics.encode();
        let answers = [
            a.spend_signature(&fresh, None).await.is_ok(),
            b.spend_signature(&fresh, None).await.is_ok(),
            b.spend_signature(&fresh, None).await.is_ok(),
        ];
        if answers == [true, true, false] && metrics.encode() == errors_before {
            shared_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        shared_again,
        "after Redis came back, the two instances did not share one budget again"
    );
}

#[tokio::test]
async fn a_store_that_hangs_holds_no_request_past_its_bound_even_before_it_ever_answered() {
    // A "Redis" that takes connections and never answers: down at start, and hung.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", hung.local_addr().unwrap());
    let metrics = Arc::new(Metrics::new());
    let guard = Arc::new(instance(&url, 1000, &metrics));
    let started = Instant::now();
    let spends = (0..50).map(|i| {
        let guard = guard.clone();
        tokio::spawn(async move {
            let at = Instant::now();
            let spent = guard.spend_signature(&format!("u{i}"), None).await;
            (spent, at.elapsed())
        })
    });
    for done in futures::future::join_all(spends).await {
        let (spent, took) = done.unwrap();
        assert!(spent.is_ok(), "decided with this instance's own budgets");
        // The bound is 250 ms; a little more for 50 tasks on two cores.
        assert!(took < Duration::from_millis(450), "one signature waited {took:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    drop(hung);
}
