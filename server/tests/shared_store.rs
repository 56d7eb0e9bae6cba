//! The shared store against a real Redis (Debian's `redis-server`, started here on a port of its
//! own with no persistence): budgets and verdicts hold across instances, a store that stops
//! answering makes each instance decide alone (counted), and sharing resumes when it is back.

mod common;

use common::redis::Redis;

use std::net::TcpListener;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::metrics::Metrics;
use server::shared::{Budget, SharedStore};
use server::state::{Claim, Conclusion, Entry, Settle, State};
use server::uploads::guard::Guard;

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

/// One instance's durable state, in Redis at `url`.
fn state(url: &str) -> State {
    State::redis(Arc::new(SharedStore::new(url).unwrap()))
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
    let (sa, sb) = (state(&redis.url()), state(&redis.url()));
    let minute = Duration::from_secs(60);
    assert_eq!(sa.claim("uploads/u/d/", "checking", minute).await.unwrap(), Claim::Taken);
    assert_eq!(
        sb.claim("uploads/u/d/", "checking", minute).await.unwrap(),
        Claim::Held("checking".into())
    );
    sb.release("uploads/u/d/", "not what it holds").await.unwrap();
    assert!(matches!(sb.claim("uploads/u/d/", "checking", minute).await.unwrap(), Claim::Held(_)));
    sb.release("uploads/u/d/", "checking").await.unwrap();
    assert_eq!(sa.claim("uploads/u/d/", "checking", minute).await.unwrap(), Claim::Taken);
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

#[tokio::test]
async fn records_claims_verdicts_and_the_lease_are_the_fleets() {
    let Some(redis) = Redis::start() else { return };
    let (a, b) = (state(&redis.url()), state(&redis.url()));
    let entry = |id: &str, due| Entry { id: id.into(), due, body: format!("{{\"id\":\"{id}\"}}") };
    // Queued on one instance (a batch), due for the other.
    a.record_later(entry("later", 5)).unwrap();
    a.record(vec![entry("b", 20), entry("a", 10), entry("c", 30)]).await.unwrap();
    let ids = |v: Vec<Entry>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.get("later").await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "the batch was never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ids(b.due(20, 10).await.unwrap()), ["later", "a", "b"]);
    assert_eq!(b.backlog(20).await.unwrap(), (Some(5), 3));
    // Rescheduled: one record, due later.
    b.record(vec![entry("a", 40)]).await.unwrap();
    assert_eq!(ids(a.due(30, 10).await.unwrap()), ["later", "b", "c"]);
    // A verdict: the claim holds it, the record is gone, the log has one line.
    let minute = Duration::from_secs(60);
    assert_eq!(a.claim("b", "checking", minute).await.unwrap(), Claim::Taken);
    let verdict = Conclusion {
        id: "b",
        holding: Some("checking"),
        claim: Some(("verified", minute)),
        log: Some("v-b"),
        remove: true,
        outbox: &[],
    };
    let lost = Conclusion { holding: Some("checking:another"), ..verdict };
    assert!(!a.conclude(lost).await.unwrap(), "a claim no longer held writes nothing");
    assert!(a.conclude(verdict).await.unwrap());
    // Ended: a reschedule does not bring it back; one that exists moves.
    b.reschedule(vec![entry("b", 1), entry("c", 50)]).await.unwrap();
    assert!(b.get("b").await.unwrap().is_none());
    assert_eq!(b.get("c").await.unwrap().map(|e| e.due), Some(50));
    assert_eq!(b.claim("b", "checking", minute).await.unwrap(), Claim::Held("verified".into()));
    assert!(b.get("b").await.unwrap().is_none());
    let log = b.verdicts(None, 10).await.unwrap();
    assert_eq!(log.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["v-b"]);
    assert!(b.verdicts(Some(&log[0].position), 10).await.unwrap().is_empty());
    // One lease holder at a time; given up (or expired), another takes it.
    let short = Duration::from_millis(300);
    assert!(a.lease("a", short).await.unwrap());
    assert!(!b.lease("b", short).await.unwrap());
    assert!(a.lease("a", short).await.unwrap(), "renewed");
    a.give_up_lease("a").await.unwrap();
    assert!(b.lease("b", short).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(a.lease("a", short).await.unwrap(), "b stopped renewing");
}

#[tokio::test]
async fn the_outbox_is_the_fleets_and_an_event_leased_by_one_goes_to_another_when_it_ends() {
    let Some(redis) = Redis::start() else { return };
    let (a, b) = (state(&redis.url()), state(&redis.url()));
    let minute = Duration::from_secs(60);
    a.record(vec![Entry { id: "x".into(), due: 1, body: "{}".into() }]).await.unwrap();
    assert_eq!(a.claim("x", "checking", minute).await.unwrap(), Claim::Taken);
    let (d, billing) = ("default", "billing");
    let both = [d.to_owned(), billing.to_owned()];
    let verdict = Conclusion {
        id: "x",
        holding: Some("checking"),
        claim: Some(("verified", minute)),
        log: Some("event-x"),
        remove: true,
        outbox: &both,
    };
    assert!(a.conclude(verdict).await.unwrap(), "appended with its verdict, to both endpoints");
    b.enqueue(&[d.to_owned()], vec!["event-y".into()]).await.unwrap();
    // Taken by a for a moment only: a dies, b takes them when the lease ends.
    let taken = a.take(d, Duration::from_millis(200), 10).await.unwrap();
    let lines: Vec<&str> = taken.iter().map(|t| t.line.as_str()).collect();
    assert_eq!(lines, ["event-x", "event-y"]);
    assert!(b.take(d, minute, 10).await.unwrap().is_empty(), "leased to a");
    // The other endpoint's outbox is its own: its copy is there, untaken.
    let other = b.take(billing, minute, 10).await.unwrap();
    assert_eq!((other.len(), other[0].line.as_str(), other[0].attempt), (1, "event-x", 1));
    b.settle(billing, &other[0].position, Settle::Delivered).await.unwrap();
    assert_eq!(a.outbox_stats(billing).await.unwrap().pending, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = b.take(d, minute, 10).await.unwrap();
    assert_eq!(again.iter().map(|t| t.attempt).collect::<Vec<_>>(), [2, 2]);
    // b delivers one; the other fails for good and is a dead letter, revived by an operator.
    b.settle(d, &again[0].position, Settle::Delivered).await.unwrap();
    b.settle(d, &again[1].position, Settle::Dead).await.unwrap();
    let stats = a.outbox_stats(d).await.unwrap();
    assert_eq!((stats.pending, stats.dead, stats.oldest_ms), (0, 1, None));
    let dead = a.outbox(d, true, 10).await.unwrap();
    assert_eq!(dead[0].line, "event-y");
    assert!(!a.revive(billing, &dead[0].position).await.unwrap(), "not billing's");
    assert!(a.revive(d, &dead[0].position).await.unwrap());
    assert!(!a.revive(d, &dead[0].position).await.unwrap(), "once");
    let revived = b.take(d, minute, 10).await.unwrap();
    assert_eq!((revived[0].line.as_str(), revived[0].attempt), ("event-y", 1));
    b.settle(d, &revived[0].position, Settle::RetryAt(0)).await.unwrap();
    assert_eq!(a.outbox(d, false, 10).await.unwrap()[0].attempts, 1);
    a.set_flag("f", Some("why")).await.unwrap();
    assert_eq!(b.flag("f").await.unwrap().as_deref(), Some("why"));
}
