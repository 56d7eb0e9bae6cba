//! This instance's own rate limits on signing, per uploader and per client address, so that one
//! visitor (or one address cycling through fresh cookies) cannot mint policies without end; what
//! [`super::guard::Guard`] decides with when no shared store answers.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Keys are forgotten once their bucket is full again, when the tables grow past this.
const PRUNE_ABOVE: usize = 10_000;

/// Wrong access codes one address may send a minute.
pub const GUESSES_PER_MINUTE: u32 = 10;

pub struct SignLimits {
    /// Wrong access codes, per address (or uploader): apart from the signing budgets.
    guesses: DefaultKeyedRateLimiter<String>,
    per_uploader: DefaultKeyedRateLimiter<String>,
    /// Checks of the bucket made for an uploader (confirming): a client whose confirm keeps
    /// failing on the bucket cannot make the service ask it without end.
    confirms: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

/// The budget an address spends from: IPv4 addresses one by one, IPv6 by /64 (one subscriber
/// usually holds a whole /64, and could otherwise take a fresh budget per address).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
        v4 => v4,
    }
}

impl SignLimits {
    /// Each limit allows a burst of its whole per-minute count, refilled evenly over the minute.
    pub fn per_minute(per_uploader: NonZeroU32, per_ip: NonZeroU32) -> Self {
        Self {
            per_uploader: RateLimiter::keyed(Quota::per_minute(per_uploader)),
            confirms: RateLimiter::keyed(Quota::per_minute(per_uploader)),
            guesses: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(GUESSES_PER_MINUTE).expect("not zero"),
            )),
            per_ip: RateLimiter::keyed(Quota::per_minute(per_ip)),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` to sign, or how long to wait first, counting against the client address only.
    pub fn spend_address(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        if self.per_ip.len() > PRUNE_ABOVE {
            self.per_ip.retain_recent();
        }
        let now = self.clock.now();
        match ip {
            Some(ip) => {
                self.per_ip.check_key(&address_key(ip)).map_err(|wait| wait.wait_time_from(now))
            }
            None => Ok(()),
        }
    }

    /// `Ok` for one more wrong access code from `who`, or how long to wait first.
    pub fn spend_wrong_code(&self, who: &str) -> Result<(), Duration> {
        if self.guesses.len() > PRUNE_ABOVE {
            self.guesses.retain_recent();
        }
        let now = self.clock.now();
        self.guesses.check_key(&who.to_owned()).map_err(|wait| wait.wait_time_from(now))
    }

    /// `Ok` to ask the bucket about one of `uploader`'s uploads, or how long to wait first.
    pub fn spend_bucket_check(&self, uploader: &str) -> Result<(), Duration> {
        if self.confirms.len() > PRUNE_ABOVE {
            self.confirms.retain_recent();
        }
        let now = self.clock.now();
        self.confirms.check_key(&uploader.to_owned()).map_err(|wait| wait.wait_time_from(now))
    }

    /// `Ok` to sign one file for `uploader` at `ip`, or how long to wait first.
    pub fn spend_signature(&self, uploader: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        if self.per_uploader.len() > PRUNE_ABOVE {
            self.per_uploader.retain_recent();
        }
        // The uploader first: a visitor over its own limit does not spend its address's budget.
        let now = self.clock.now();
        self.per_uploader
            .check_key(&uploader.to_owned())
            .map_err(|wait| wait.wait_time_from(now))?;
        self.spend_address(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[test]
    fn each_uploader_and_each_address_has_its_own_budget() {
        let limits = SignLimits::per_minute(n(2), n(3));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limits.spend_signature("a", Some(ip)).is_ok());
        assert!(limits.spend_signature("a", Some(ip)).is_ok());
        let wait = limits.spend_signature("a", Some(ip)).unwrap_err();
        assert!(wait > Duration::from_secs(20) && wait <= Duration::from_secs(30), "{wait:?}");
        // Another uploader on the same address uses the address's last token...
        assert!(limits.spend_signature("b", Some(ip)).is_ok());
        // ...and then the address is out, whatever the cookie.
        assert!(limits.spend_signature("c", Some(ip)).is_err());
        assert!(limits.spend_signature("c", Some("192.0.2.2".parse().unwrap())).is_ok());
    }

    #[test]
    fn ipv6_addresses_share_their_64s_budget() {
        let limits = SignLimits::per_minute(n(100), n(2));
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(limits.spend_address(ip("2001:db8:1:2::1")).is_ok());
        assert!(limits.spend_address(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).is_ok());
        assert!(limits.spend_address(ip("2001:db8:1:2::99")).is_err(), "same /64");
        assert!(limits.spend_address(ip("2001:db8:1:3::1")).is_ok(), "another /64");
        assert_eq!(
            address_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
