//! Where events go: `UPLOAD_WEBHOOK_URL`, signed with `UPLOAD_WEBHOOK_SECRET` (environment only;
//! several secrets during a rotation), tried for `UPLOAD_WEBHOOK_RETRY_SECS`. Neither set: no
//! events. One without the other is an error, not a quiet half.

use std::sync::Arc;
use std::time::Duration;

use super::read::{invalid, missing, number, ConfigError, Lookup};
use super::settings::Setting;
use crate::events::endpoint::{Endpoint, CONFIGURED};
use crate::events::signature::Secrets;

/// `UPLOAD_WEBHOOK_RETRY_SECS`'s default: three days, long enough for a receiver down over a
/// weekend.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(3 * 86_400);

#[derive(Debug)]
pub struct WebhookConfig {
    pub endpoint: Arc<Endpoint>,
    /// How long an event is tried before it is a dead letter.
    pub window: Duration,
}

/// The webhook's configuration, if one is set.
pub fn webhook(get: impl Lookup) -> Result<Option<WebhookConfig>, ConfigError> {
    let (url, secret) = (get(Setting::WebhookUrl), get(Setting::WebhookSecret));
    let url = match (url, secret.is_some()) {
        (None, false) => return Ok(None),
        (None, true) => {
            return Err(missing(
                Setting::WebhookUrl,
                "UPLOAD_WEBHOOK_SECRET is set: say where events go, or unset the secret",
            ))
        }
        (Some(_), false) => {
            return Err(missing(
                Setting::WebhookSecret,
                "events are signed: set whsec_ and 32 random bytes in base64 (e.g. whsec_$(openssl rand -base64 32)), given to the receiver too",
            ))
        }
        (Some(url), true) => url,
    };
    let secrets = Secrets::parse(&secret.unwrap_or_default())
        .map_err(|reason| invalid(Setting::WebhookSecret, reason))?;
    let endpoint = Endpoint::new(CONFIGURED, &url, secrets)
        .map_err(|reason| invalid(Setting::WebhookUrl, reason))?;
    let default = DEFAULT_RETRY.as_secs();
    let window = number(
        &get,
        Setting::WebhookRetrySecs,
        default,
        10..=30 * 86_400,
        "whole seconds from 10 to 2592000 (30 days)",
    )?;
    Ok(Some(WebhookConfig { endpoint: Arc::new(endpoint), window: Duration::from_secs(window) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::table;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn none_set_is_no_webhook_and_one_without_the_other_is_an_error() {
        assert!(webhook(table(&[])).unwrap().is_none());
        let err = webhook(table(&[("UPLOAD_WEBHOOK_URL", "http://127.0.0.1:9/hook")])).unwrap_err();
        assert!(err.to_string().contains("UPLOAD_WEBHOOK_SECRET"), "{err}");
        let err = webhook(table(&[("UPLOAD_WEBHOOK_SECRET", SECRET)])).unwrap_err();
        assert!(err.to_string().contains("UPLOAD_WEBHOOK_URL"), "{err}");
    }

    #[test]
    fn a_webhook_is_read_with_its_window_and_bad_values_are_named() {
        let set = [
            ("UPLOAD_WEBHOOK_URL", "https://app.example/hooks/uploads"),
            ("UPLOAD_WEBHOOK_SECRET", SECRET),
        ];
        let config = webhook(table(&set)).unwrap().unwrap();
        assert_eq!(config.window, DEFAULT_RETRY);
        assert_eq!(config.endpoint.url.as_str(), "https://app.example/hooks/uploads");
        let bad_url = [("UPLOAD_WEBHOOK_URL", "ftp://x"), ("UPLOAD_WEBHOOK_SECRET", SECRET)];
        let err = webhook(table(&bad_url)).unwrap_err().to_string();
        assert!(err.contains("UPLOAD_WEBHOOK_URL") && err.contains("http"), "{err}");
        let bad_secret =
            [("UPLOAD_WEBHOOK_URL", "http://127.0.0.1:9/"), ("UPLOAD_WEBHOOK_SECRET", "hunter2")];
        let err = webhook(table(&bad_secret)).unwrap_err().to_string();
        assert!(err.contains("whsec_") && !err.contains("hunter2"), "{err}");
        let short = [
            ("UPLOAD_WEBHOOK_URL", "http://127.0.0.1:9/"),
            ("UPLOAD_WEBHOOK_SECRET", SECRET),
            ("UPLOAD_WEBHOOK_RETRY_SECS", "1"),
        ];
        assert!(webhook(table(&short))
            .unwrap_err()
            .to_string()
            .contains("UPLOAD_WEBHOOK_RETRY_SECS"));
    }
}
