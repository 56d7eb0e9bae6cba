//! Where events go (`UPLOAD_WEBHOOK_URL`, signed with `UPLOAD_WEBHOOK_SECRET`, or a profile's
//! own endpoint) and one attempt to send one there: a POST of the event's body with the Standard
//! Webhooks headers, answered within [`TIMEOUT`], redirects not followed (the URL is the operator's; a redirect is an
//! error to fix, not a place to send signed events).

use std::time::Duration;

use super::schedule::{attempted, retry_after, Attempted};
use super::signature::Secrets;

/// The name of the endpoint `UPLOAD_WEBHOOK_URL` configures (the store's flags name it).
pub const CONFIGURED: &str = "default";

/// How long a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// `url` without its query or user (either may hold a token), for the logs.
pub fn shown(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// One endpoint. Its `Debug` shows the URL as the logs do ([`Endpoint::shown`]).
pub struct Endpoint {
    /// Its name in logs, metrics and the store's flag (`default`: the configured one).
    pub name: String,
    pub url: reqwest::Url,
    pub secrets: Secrets,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("url", &self.shown())
            .finish_non_exhaustive()
    }
}

/// Why an attempt failed, for the metrics (`reason` label) and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// It answered with a status that is not 2xx (nor 410).
    Status,
    /// It did not answer in time.
    Timeout,
    /// It could not be reached.
    Unreachable,
}

impl Failure {
    pub const ALL: [Failure; 3] = [Failure::Status, Failure::Timeout, Failure::Unreachable];

    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Status => "status",
            Failure::Timeout => "timeout",
            Failure::Unreachable => "unreachable",
        }
    }
}

/// What one attempt came to, with what the logs say of it.
#[derive(Debug)]
pub struct Outcome {
    pub attempted: Attempted,
    /// The status, when there was an answer.
    pub status: Option<u16>,
    pub failure: Option<Failure>,
}

impl Endpoint {
    /// The endpoint at `url` (http or https), signing with `secrets`.
    pub fn new(name: &str, url: &str, secrets: Secrets) -> Result<Self, String> {
        Ok(Self { name: name.to_owned(), url: Self::check_url(url)?, secrets })
    }

    /// `url`, if events can go there: http or https, with a host.
    pub fn check_url(url: &str) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(url).map_err(|err| format!("not a URL: {err}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("expected an http:// or https:// URL".into());
        }
        Ok(url)
    }

    /// The URL without its query or user (either may hold a token), for the logs.
    pub fn shown(&self) -> String {
        shown(&self.url)
    }

    /// The client events are sent with: no redirects, the timeout.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("s3-uploader-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds")
    }

    #[cfg(test)]
    fn for_test(url: &str) -> Self {
        let secrets = Secrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        Self::new("default", url, secrets).unwrap()
    }

    /// Sends `body` as the event `id`, signed at `now` (Unix seconds).
    pub async fn send(&self, client: &reqwest::Client, id: &str, body: &str, now: i64) -> Outcome {
        let signature = self.secrets.signature(id, now, body.as_bytes());
        let sent = client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, now));
                let attempted = attempted(status, after);
                let failure =
                    matches!(attempted, Attempted::Failed { .. }).then_some(Failure::Status);
                Outcome { attempted, status: Some(status), failure }
            }
            Err(err) => Outcome {
                attempted: Attempted::Failed { retry_after: None },
                status: None,
                failure: Some(if err.is_timeout() {
                    Failure::Timeout
                } else {
                    Failure::Unreachable
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logs_and_debug_show_no_token_the_url_may_hold() {
        let endpoint = Endpoint::for_test("https://user:pass@app.example/hooks?token=t0ken#x");
        assert_eq!(endpoint.shown(), "https://app.example/hooks");
        let debug = format!("{endpoint:?}");
        assert!(
            !debug.contains("t0ken") && !debug.contains("pass") && !debug.contains("MfKQ"),
            "{debug}"
        );
        assert!(Endpoint::new(
            "default",
            "ftp://app.example/",
            Secrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
        )
        .is_err());
    }
}
