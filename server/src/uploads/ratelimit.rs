//! The budgets themselves: which keys a client address spends from, and this instance's own
//! keeper of budgets ([`LocalBudgets`]), what [`super::guard::Guard`] decides with when no shared
//! store answers. The same [`Budget`]s go to the shared store, so both decide alike.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::shared::Budget;

/// Keys are forgotten once their bucket is full again, when a table grows past this.
const PRUNE_ABOVE: usize = 10_000;

/// Wrong access codes one address (an IPv6 /64) may send a minute.
pub const GUESSES_PER_MINUTE: u32 = 10;
/// Wrong access codes the whole fleet takes a minute, from everyone together: with a code of at
/// least [`crate::config::MIN_ACCESS_CODE_CHARS`] characters, guessing it at this rate takes longer than
/// anyone waits (README, "Security").
pub const FLEET_GUESSES_PER_MINUTE: u32 = 300;
/// An IPv6 /48 (a site: 65 536 /64s) spends this many times one address's budget, together.
pub const NETWORK_SHARE: u32 = 4;

/// The budgets an address spends from, with how many times the per-address budget each holds:
/// an IPv4 address alone; an IPv6 address by its /64 (one subscriber usually holds a whole /64,
/// and could otherwise take a fresh budget per address) and by its /48 together with every
/// other /64 of it (a site holds a /48, and could otherwise take 65 536 budgets).
pub fn address_keys(ip: IpAddr) -> Vec<(String, u32)> {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let net = |bits: u32| Ipv6Addr::from(v6.to_bits() & !(u128::MAX >> bits));
            vec![(format!("{}/64", net(64)), 1), (format!("{}/48", net(48)), NETWORK_SHARE)]
        }
        IpAddr::V6(v6) => vec![(v6.to_ipv4_mapped().expect("mapped").to_string(), 1)],
        v4 => vec![(v4.to_string(), 1)],
    }
}

/// `per_minute` a minute, all of it at once, refilled evenly over the minute.
pub fn per_minute(key: String, per_minute: NonZeroU32) -> Budget {
    Budget { key, interval: Duration::from_secs(60) / per_minute.get(), burst: per_minute.get() }
}

/// `per_day` a day, all of it at once, refilled evenly over the day.
pub fn per_day(key: String, per_day: NonZeroU32) -> Budget {
    Budget { key, interval: Duration::from_secs(86_400) / per_day.get(), burst: per_day.get() }
}

/// `per_minute` times `factor` (saturating).
pub fn times(per_minute: NonZeroU32, factor: u32) -> NonZeroU32 {
    per_minute.saturating_mul(NonZeroU32::new(factor).unwrap_or(NonZeroU32::MIN))
}

type Limiter = Arc<DefaultKeyedRateLimiter<String>>;

/// This instance's budgets: one keyed limiter for each size of budget, made when first used.
#[derive(Default)]
pub struct LocalBudgets {
    limiters: Mutex<HashMap<(Duration, u32), Limiter>>,
    clock: DefaultClock,
    /// Budgets found spent, with when one more fits: what [`LocalBudgets::room`] answers from
    /// (the limiter cannot be asked without spending). A refused spend changes nothing in a
    /// budget, so that time stays right until it passes.
    closed: Mutex<HashMap<String, Instant>>,
}

impl LocalBudgets {
    fn limiter(&self, budget: &Budget) -> Limiter {
        let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        let quota = || {
            let burst = NonZeroU32::new(budget.burst).unwrap_or(NonZeroU32::MIN);
            Quota::with_period(budget.interval.max(Duration::from_nanos(1)))
                .expect("a period above zero")
                .allow_burst(burst)
        };
        Arc::clone(
            limiters
                .entry((budget.interval, budget.burst))
                .or_insert_with(|| Arc::new(RateLimiter::keyed(quota()))),
        )
    }

    /// Spends one from each of `budgets` in turn: `Ok`, or how long to wait for the first that
    /// is spent (those before it stay spent: the first budgets are the narrowest, so a client
    /// over its own does not spend the wider ones).
    pub fn spend(&self, budgets: &[Budget]) -> Result<(), Duration> {
        for budget in budgets {
            let limiter = self.limiter(budget);
            if limiter.len() > PRUNE_ABOVE {
                limiter.retain_recent();
            }
            let now = self.clock.now();
            limiter.check_key(&budget.key).map_err(|wait| {
                let wait = wait.wait_time_from(now);
                self.close(&budget.key, wait);
                wait
            })?;
        }
        Ok(())
    }

    /// Whether each of `budgets` has room for one more, spending nothing: `Ok`, or how long
    /// until the first that is spent has. Knows only what [`LocalBudgets::spend`] found spent.
    pub fn room(&self, budgets: &[Budget]) -> Result<(), Duration> {
        let closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for budget in budgets {
            if let Some(until) = closed.get(&budget.key).filter(|until| **until > now) {
                return Err(*until - now);
            }
        }
        Ok(())
    }

    fn close(&self, key: &str, wait: Duration) {
        let mut closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if closed.len() > PRUNE_ABOVE {
            closed.retain(|_, until| *until > now);
        }
        closed.insert(key.to_owned(), now + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// What signing spends for `uploader` at `ip`: 2 for the uploader, 3 for the address.
    fn signing(uploader: &str, at: &str) -> Vec<Budget> {
        let mut budgets = vec![per_minute(format!("u:{uploader}"), n(2))];
        budgets.extend(
            address_keys(ip(at))
                .into_iter()
                .map(|(key, share)| per_minute(format!("ip:{key}"), times(n(3), share))),
        );
        budgets
    }

    #[test]
    fn each_uploader_and_each_address_has_its_own_budget() {
        let limits = LocalBudgets::default();
        assert!(limits.spend(&signing("a", "192.0.2.1")).is_ok());
        assert!(limits.spend(&signing("a", "192.0.2.1")).is_ok());
        let wait = limits.spend(&signing("a", "192.0.2.1")).unwrap_err();
        assert!(wait > Duration::from_secs(20) && wait <= Duration::from_secs(30), "{wait:?}");
        // Another uploader on the same address uses the address's last token...
        assert!(limits.spend(&signing("b", "192.0.2.1")).is_ok());
        // ...and then the address is out, whatever the cookie.
        assert!(limits.spend(&signing("c", "192.0.2.1")).is_err());
        assert!(limits.spend(&signing("c", "192.0.2.2")).is_ok());
    }

    #[test]
    fn ipv6_addresses_share_their_64s_budget_and_their_48s_aggregate() {
        let limits = LocalBudgets::default();
        let address = |at: &str| -> Vec<Budget> {
            address_keys(ip(at))
                .into_iter()
                .map(|(key, share)| per_minute(format!("ip:{key}"), times(n(2), share)))
                .collect()
        };
        assert!(limits.spend(&address("2001:db8:1:2::1")).is_ok());
        assert!(limits.spend(&address("2001:db8:1:2:ffff:ffff:ffff:ffff")).is_ok());
        assert!(limits.spend(&address("2001:db8:1:2::99")).is_err(), "same /64");
        // Many /64s of one /48: each has its own 2, but together they have 8.
        let spent = (3..1000)
            .filter(|subnet| limits.spend(&address(&format!("2001:db8:1:{subnet:x}::1"))).is_ok())
            .count();
        assert_eq!(spent, 6, "the /48's 8 less the 2 spent above");
        assert!(limits.spend(&address("2001:db8:2:1::1")).is_ok(), "another /48");
        assert_eq!(address_keys(ip("::ffff:192.0.2.1")), [("192.0.2.1".to_owned(), 1)]);
        assert_eq!(
            address_keys(ip("2001:db8:1:2:3:4:5:6")),
            [("2001:db8:1:2::/64".to_owned(), 1), ("2001:db8:1::/48".to_owned(), NETWORK_SHARE)]
        );
    }

    #[test]
    fn room_is_known_without_spending_once_a_budget_is_found_spent() {
        let limits = LocalBudgets::default();
        let budget = [per_minute("g:x".into(), n(2))];
        assert!(limits.room(&budget).is_ok());
        assert!(limits.room(&budget).is_ok(), "asking spends nothing");
        assert!(limits.spend(&budget).is_ok());
        assert!(limits.spend(&budget).is_ok());
        assert!(limits.room(&budget).is_ok(), "not yet found spent");
        let wait = limits.spend(&budget).unwrap_err();
        let until = limits.room(&budget).unwrap_err();
        assert!(until <= wait && until > wait - Duration::from_secs(1), "{until:?} {wait:?}");
        assert!(limits.room(&[per_minute("g:y".into(), n(2))]).is_ok(), "another budget");
    }
}
