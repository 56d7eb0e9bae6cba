//! Where events go: `UPLOAD_WEBHOOK_URL`, signed with `UPLOAD_WEBHOOK_SECRET` (environment only;
//! several secrets during a rotation), and the profiles' own endpoints (`webhooks` in
//! `UPLOAD_PROFILES`, each secret in the environment variable it names), all tried for
//! `UPLOAD_WEBHOOK_RETRY_SECS`. None: no events. A URL without its secret (or the reverse) is an
//! error, not a quiet half.

use std::sync::Arc;
use std::time::Duration;

use super::profiles::Profiles;
use super::read::{invalid, missing, number, ConfigError, Lookup};
use super::settings::Setting;
use crate::events::endpoint::{Endpoint, CONFIGURED};
use crate::events::signature::Secrets;

/// `UPLOAD_WEBHOOK_RETRY_SECS`'s default: three days, long enough for a receiver down over a
/// weekend.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(3 * 86_400);

/// Every endpoint, and how long each event is tried.
#[derive(Debug)]
pub struct Webhooks {
    /// `UPLOAD_WEBHOOK_URL`'s (named `default`) first when set, then the profiles', by name.
    /// Empty: events are off.
    pub endpoints: Vec<Arc<Endpoint>>,
    /// How long an event is tried before it is a dead letter.
    pub window: Duration,
}

/// Every endpoint: `UPLOAD_WEBHOOK_URL`'s and the profiles' (`profiles`), whose secrets `env`
/// reads (the process's environment, or a test's).
pub fn webhooks(
    get: impl Lookup,
    profiles: &Profiles,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Webhooks, ConfigError> {
    let mut endpoints: Vec<Arc<Endpoint>> = configured(&get)?.into_iter().map(Arc::new).collect();
    for (name, decl) in profiles.endpoints() {
        let at = |reason: String| {
            invalid(Setting::Profiles, format!("webhook endpoint {name:?}: {reason}"))
        };
        let secret = env(&decl.secret_env).filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            at(format!(
                "{} is not set (the environment variable its secret_env names): set it to whsec_ \
                 and 32 random bytes in base64, given to the receiver too",
                decl.secret_env
            ))
        })?;
        let secrets =
            Secrets::parse(&secret).map_err(|e| at(format!("{}: {e}", decl.secret_env)))?;
        endpoints.push(Arc::new(Endpoint::new(name, &decl.url, secrets).map_err(at)?));
    }
    let default = DEFAULT_RETRY.as_secs();
    let window = number(
        &get,
        Setting::WebhookRetrySecs,
        default,
        10..=30 * 86_400,
        "whole seconds from 10 to 2592000 (30 days)",
    )?;
    Ok(Webhooks { endpoints, window: Duration::from_secs(window) })
}

/// `UPLOAD_WEBHOOK_URL`'s endpoint, if it is set.
fn configured(get: &impl Lookup) -> Result<Option<Endpoint>, ConfigError> {
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
    Endpoint::new(CONFIGURED, &url, secrets)
        .map(Some)
        .map_err(|reason| invalid(Setting::WebhookUrl, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::limits::Limits;
    use crate::config::table;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn webhook(get: impl Lookup) -> Result<Webhooks, ConfigError> {
        let limits = Limits::from_lookup(&get).unwrap();
        webhooks(get, &Profiles::only_default(&limits), no_env)
    }

    #[test]
    fn none_set_is_no_webhook_and_one_without_the_other_is_an_error() {
        assert!(webhook(table(&[])).unwrap().endpoints.is_empty());
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
        let config = webhook(table(&set)).unwrap();
        assert_eq!(config.window, DEFAULT_RETRY);
        assert_eq!(config.endpoints[0].url.as_str(), "https://app.example/hooks/uploads");
        assert_eq!(config.endpoints[0].name, CONFIGURED);
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

    #[test]
    fn a_profiles_endpoint_takes_its_secret_from_the_variable_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(
            &path,
            "[[profiles.invoices.webhooks]]\nname = \"billing\"\nurl = \"http://127.0.0.1:9/b\"\n\
             secret_env = \"BILLING_SECRET\"\n[profiles.quiet]\nwebhooks = []\n",
        )
        .unwrap();
        let path = path.display().to_string();
        let set = [("UPLOAD_PROFILES", path.as_str())];
        let get = table(&set);
        let limits = Limits::from_lookup(&get).unwrap();
        let profiles = Profiles::from_lookup(&get, &limits).unwrap();
        let err = webhooks(&get, &profiles, no_env).unwrap_err().to_string();
        assert!(err.contains("\"billing\"") && err.contains("BILLING_SECRET is not set"), "{err}");
        let err = webhooks(&get, &profiles, |_| Some("hunter2".into())).unwrap_err().to_string();
        assert!(err.contains("BILLING_SECRET") && !err.contains("hunter2"), "{err}");
        let config =
            webhooks(&get, &profiles, |name| (name == "BILLING_SECRET").then(|| SECRET.to_owned()))
                .unwrap();
        let names: Vec<_> = config.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["billing"], "no UPLOAD_WEBHOOK_URL: only the profile's");
        let invoices = profiles.get("invoices").unwrap();
        assert_eq!(invoices.webhooks.as_deref(), Some(&["billing".to_owned()][..]));
        assert_eq!(profiles.get("quiet").unwrap().webhooks.as_deref(), Some(&[][..]));
        assert_eq!(profiles.default_profile().webhooks, None);
        // The secret never shows in a Debug print.
        assert!(!format!("{config:?}").contains("MfKQ"));
    }
}
