//! The store every instance shares (Redis, `UPLOAD_REDIS_URL`): rate-limit budgets (GCRA, one
//! atomic script) and tallies (what one receipt may still be given; one atomic script); the
//! durable state ([`crate::state`]) uses its connection too. Only counters, claims and records
//! go there, never a secret. Every call is bounded in time; a failure is an error the caller
//! falls back from (or refuses on), and after one the store is skipped for a moment rather than
//! waited on.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::OnceCell;

/// How long one call may take before the instance decides alone.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failure, how long calls fail fast instead of waiting on a store that is down.
const BACKOFF: Duration = Duration::from_secs(1);
/// Every key this service writes starts with this.
pub(crate) const PREFIX: &str = "s3up:";

/// GCRA over several budgets at once, up to the decision: KEYS are the budgets; ARGV holds, per
/// key, its emission interval and its burst. Returns how many milliseconds until one more could
/// be spent from the first budget that is out; falls through with `now` and `next_tats` when
/// every budget has room. The time is Redis's own, so instances' clocks do not matter.
macro_rules! gcra_decide {
    () => {
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local next_tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local next_tat = tat + interval
  local allowed_at = next_tat - interval * burst
  if allowed_at > now then return allowed_at - now end
  next_tats[i] = next_tat
end
"
    };
}

/// Spends one from each budget, or from none: 0 when spent, else how many milliseconds until
/// it could be.
const GCRA: &str = concat!(
    gcra_decide!(),
    r"
for i, key in ipairs(KEYS) do
  redis.call('SET', key, next_tats[i], 'PX', next_tats[i] - now)
end
return 0
"
);

/// The same decision, spending nothing: 0 when every budget has room for one more.
const GCRA_ROOM: &str = concat!(gcra_decide!(), "return 0\n");

/// Counts ARGV[1] more against KEYS[1], which may hold ARGV[2] in all, for ARGV[3] ms after the
/// first: 1 when that fits (and it is counted), 0 when it does not (and nothing is).
const TALLY: &str = r"
local n = tonumber(ARGV[1])
local total = redis.call('INCRBY', KEYS[1], n)
if total == n then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if total > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], n)
  return 0
end
return 1
";

/// One budget: `burst` at once, one more every `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub key: String,
    pub interval: Duration,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared store: {0}")]
pub struct StoreError(String);

pub struct SharedStore {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    down_until: Mutex<Option<Instant>>,
    gcra: Script,
    gcra_room: Script,
    tally: Script,
    /// Where it is, without any password, for messages.
    shown: String,
}

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedStore({})", self.shown)
    }
}

impl SharedStore {
    /// Parses `url` (`redis://[:password@]host:port[/db]`); connects on first use.
    pub fn new(url: &str) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|err| format!("expected a redis:// URL ({err})"))?;
        // Host and port only: the URL may hold a password.
        let shown = client.get_connection_info().addr().to_string();
        Ok(Self {
            client,
            connection: OnceCell::new(),
            down_until: Mutex::new(None),
            gcra: Script::new(GCRA),
            gcra_room: Script::new(GCRA_ROOM),
            tally: Script::new(TALLY),
            shown,
        })
    }

    /// Where the store is (host and port; never the password).
    pub fn address(&self) -> &str {
        &self.shown
    }

    /// The connection, made on first use; within [`CALL_TIMEOUT`] or an error (a store that is
    /// down at start must not hold a request longer than one that goes down later).
    pub(crate) async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if self
            .down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| Instant::now() < until)
        {
            return Err(StoreError("unreachable a moment ago; not asked".into()));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1);
        let connecting = self
            .connection
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config));
        match tokio::time::timeout(CALL_TIMEOUT, connecting).await {
            Ok(Ok(connection)) => Ok(connection.clone()),
            Ok(Err(err)) => Err(self.failed(err.to_string())),
            Err(_) => {
                Err(self.failed(format!("no connection within {} ms", CALL_TIMEOUT.as_millis())))
            }
        }
    }

    fn failed(&self, why: String) -> StoreError {
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + BACKOFF);
        StoreError(why)
    }

    pub(crate) async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.failed(err.to_string())),
            Err(_) => Err(self.failed(format!("no answer within {} ms", CALL_TIMEOUT.as_millis()))),
        }
    }

    /// Like [`SharedStore::bounded`] within `within`, for work no request waits on: a timeout or
    /// an error is the caller's to retry, and does not make the instance skip the store.
    pub(crate) async fn bounded_quietly<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
        within: Duration,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(within, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(StoreError(err.to_string())),
            Err(_) => Err(StoreError(format!("no answer within {} ms", within.as_millis()))),
        }
    }

    /// Spends one from every budget, or from none: `None` when spent, else how long to wait.
    pub async fn spend(&self, budgets: &[Budget]) -> Result<Option<Duration>, StoreError> {
        self.run_gcra(&self.gcra, budgets).await
    }

    /// Whether every budget has room for one more, spending nothing: `None` when it has, else
    /// how long until it will.
    pub async fn room(&self, budgets: &[Budget]) -> Result<Option<Duration>, StoreError> {
        self.run_gcra(&self.gcra_room, budgets).await
    }

    async fn run_gcra(
        &self,
        script: &Script,
        budgets: &[Budget],
    ) -> Result<Option<Duration>, StoreError> {
        let mut connection = self.connection().await?;
        let mut call = script.prepare_invoke();
        for budget in budgets {
            call.key(format!("{PREFIX}rate:{}", budget.key));
            call.arg(budget.interval.as_millis().max(1) as u64).arg(budget.burst);
        }
        let wait_ms: u64 = self.bounded(call.invoke_async(&mut connection)).await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }

    /// Counts `n` more against `name`, which may take `most` in all until `ttl` after its first:
    /// true when that fits (and it is counted), false when it does not (and nothing is).
    pub async fn tally(
        &self,
        name: &str,
        n: u64,
        most: u64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let mut call = self.tally.prepare_invoke();
        call.key(format!("{PREFIX}{name}"));
        call.arg(n).arg(most).arg(ttl.as_millis().max(1) as u64);
        let fits: u64 = self.bounded(call.invoke_async(&mut connection)).await?;
        Ok(fits == 1)
    }

    /// Whether the store answers (for `/readyz`), as any other call: during the back-off after
    /// a failure it is not asked, so a balancer's probes never add load to a store in trouble.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        let pong: String = self.bounded(redis::cmd("PING").query_async(&mut connection)).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError(format!("PING answered {pong:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_shown_with_their_password() {
        let store = SharedStore::new("redis://:hunter2@127.0.0.1:6390/0").unwrap();
        assert_eq!(store.address(), "127.0.0.1:6390");
        assert!(!format!("{store:?}").contains("hunter2"));
        assert!(SharedStore::new("http://127.0.0.1").is_err());
    }

    #[tokio::test]
    async fn a_store_that_is_down_is_an_error_soon_and_then_skipped() {
        // Nothing listens on port 1.
        let store = SharedStore::new("redis://127.0.0.1:1").unwrap();
        let started = Instant::now();
        assert!(store
            .spend(&[Budget { key: "k".into(), interval: Duration::from_secs(1), burst: 1 }])
            .await
            .is_err());
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        let err = store.ping().await.unwrap_err();
        assert!(err.0.contains("not asked"), "{err}");
    }
}
