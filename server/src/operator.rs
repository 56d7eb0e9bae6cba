//! Operator commands: `server cors` writes the CORS rule browser uploads need; `server doctor`
//! checks the set-up from the server's side and says what to fix.

use std::sync::{Arc, Mutex};

use app::signing::UploaderId;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use time::OffsetDateTime;

use crate::policy::rfc3339;
use crate::signer::S3Signer;

/// The id of the rule `server cors` writes; rules with other ids are left alone.
pub const CORS_RULE_ID: &str = "browser-uploads";
/// What the page reads from the bucket's answers.
pub const EXPOSED_HEADERS: [&str; 3] = ["ETag", "Location", "x-amz-request-id"];

/// The rule browsers need to POST forms from `origins` and read the answer.
pub fn upload_rule(origins: &[String]) -> Result<CorsRule, String> {
    let mut rule = CorsRule::builder().id(CORS_RULE_ID).allowed_methods("POST").allowed_headers("*").max_age_seconds(3000);
    for origin in origins {
        rule = rule.allowed_origins(origin.trim_end_matches('/'));
    }
    for header in EXPOSED_HEADERS {
        rule = rule.expose_headers(header);
    }
    rule.build().map_err(|err| err.to_string())
}

/// Whether `rules` let a page on `origin` POST a form and read its ETag.
pub fn allows_uploads_from(rules: &[CorsRule], origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    rules.iter().any(|rule| {
        let origin_ok = rule.allowed_origins().iter().any(|o| o == "*" || o.trim_end_matches('/') == origin);
        let post_ok = rule.allowed_methods().iter().any(|m| m.eq_ignore_ascii_case("POST"));
        let etag_ok = rule.expose_headers().iter().any(|h| h.eq_ignore_ascii_case("ETag"));
        origin_ok && post_ok && etag_ok
    })
}

/// `server cors --origin URL...`: replaces this tool's rule, keeping any others.
pub async fn cors(client: &aws_sdk_s3::Client, bucket: &str, origins: &[String]) -> Result<String, String> {
    let existing = match client.get_bucket_cors().bucket(bucket).send().await {
        Ok(answer) => answer.cors_rules.unwrap_or_default(),
        // No CORS configuration yet is the usual start.
        Err(err) if err.as_service_error().and_then(|e| e.meta().code()) == Some("NoSuchCORSConfiguration") => Vec::new(),
        Err(err) => return Err(format!("reading the bucket's CORS rules failed: {}", brief(&err))),
    };
    let mut rules: Vec<CorsRule> = existing.into_iter().filter(|r| r.id() != Some(CORS_RULE_ID)).collect();
    let kept = rules.len();
    rules.push(upload_rule(origins)?);
    let configuration = CorsConfiguration::builder().set_cors_rules(Some(rules)).build().map_err(|err| err.to_string())?;
    client
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(configuration)
        .send()
        .await
        .map_err(|err| format!("writing the bucket's CORS rules failed: {}", brief(&err)))?;
    Ok(format!(
        "bucket {bucket}: browsers on {} may now POST uploads (rule {CORS_RULE_ID:?}; {kept} other rule(s) kept)",
        origins.join(", ")
    ))
}

/// An SDK error in one line: S3's code and message, or the innermost cause of a failure to
/// reach it (the SDK's own Display nests several layers of wrappers).
pub fn brief<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = err.raw_response().map(|r| format!("HTTP {}: ", r.status().as_u16())).unwrap_or_default();
            let meta = service.err();
            format!("{status}{} {}", meta.code().unwrap_or("error"), meta.message().unwrap_or("(no message)"))
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        other => {
            let mut cause: &dyn std::error::Error = other;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            format!("cannot reach it: {cause}")
        }
    }
}

/// Records the `Date` header of an answer, to measure clock skew.
#[derive(Debug, Clone, Default)]
struct ServerDate(Arc<Mutex<Option<String>>>);

impl Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "ServerDate"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(date.to_owned());
        }
        Ok(())
    }
}

/// An HTTP date (`Sat, 28 Nov 2026 12:00:00 GMT`).
pub fn parse_http_date(raw: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(raw.trim(), format).ok().map(|t| t.assume_utc())
}

/// A policy is judged by the bucket's clock: past this skew, fresh policies may be refused.
const MAX_SKEW_SECS: i64 = 60;

/// One line of the doctor's report.
pub struct Check {
    pub ok: bool,
    pub what: String,
    /// What to do about it, when not ok.
    pub fix: Option<String>,
}

fn ok(what: String) -> Check {
    Check { ok: true, what, fix: None }
}

fn fail(what: String, fix: impl Into<String>) -> Check {
    Check { ok: false, what, fix: Some(fix.into()) }
}

/// `server doctor`: every check, in order; the caller prints them.
pub async fn doctor(signer: &S3Signer, client: &aws_sdk_s3::Client, origin: &str) -> Vec<Check> {
    let bucket = signer.config.bucket.as_str();
    let mut checks = vec![ok(format!("bucket {bucket} in region {}, forms POSTed to {}", signer.config.region, signer.post_url()))];

    let now = signer.now();
    let probe = UploaderId::parse(&"0".repeat(32)).expect("32 hex digits");
    checks.push(match signer.policy_signer(&probe, now).await {
        Ok(policy_signer) => {
            let credentials = policy_signer.credentials();
            let expiry = match credentials.expires_at() {
                None => "they do not expire".to_owned(),
                Some(at) => format!("they expire at {} (in {} min)", rfc3339(at), (at - now).whole_minutes()),
            };
            ok(format!("credentials: {} (access key {}); {expiry}", signer.credential_kind(), credentials.access_key_id()))
        }
        Err(err) => fail(
            format!("credentials ({}): {err}", signer.credential_kind()),
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile; with STS, check UPLOAD_ROLE_ARN and that the base credentials may call it (the server log has the cause)",
        ),
    });

    let date = ServerDate::default();
    match client.head_bucket().bucket(bucket).customize().interceptor(date.clone()).send().await {
        Ok(_) => checks.push(ok(format!("bucket {bucket} is reachable with these credentials"))),
        Err(err) => {
            let text = brief(&err);
            let fix = match err.raw_response().map(|r| r.status().as_u16()) {
                Some(404) => format!("create the bucket {bucket}, or fix UPLOAD_BUCKET"),
                Some(403) => "the credentials may not access the bucket: grant s3:ListBucket (for this check), s3:PutObject, s3:GetObject, s3:PutBucketCORS".into(),
                Some(301) | Some(400) => "check AWS_REGION: it must be the bucket's region (Garage: its s3_region)".into(),
                _ => "check AWS_ENDPOINT_URL_S3 and the network between this server and the bucket".into(),
            };
            checks.push(fail(format!("bucket {bucket}: {text}"), fix));
            // Clock and CORS are read from the bucket: nothing more to learn.
            return checks;
        }
    }

    let server_date = date.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    checks.push(match server_date.as_deref().and_then(parse_http_date) {
        Some(theirs) => {
            let skew = (theirs - signer.now()).whole_seconds();
            if skew.abs() <= MAX_SKEW_SECS {
                ok(format!("clock: {skew:+} s from the bucket's"))
            } else {
                fail(format!("clock: {skew:+} s from the bucket's"), "synchronise this machine's clock (NTP): policies carry their expiry in the bucket's time")
            }
        }
        None => fail("clock: the bucket sent no usable Date header".into(), "check AWS_ENDPOINT_URL_S3: S3 always sends Date"),
    });

    checks.push(match client.get_bucket_cors().bucket(bucket).send().await {
        Ok(answer) if allows_uploads_from(answer.cors_rules(), origin) => ok(format!("CORS: {origin} may POST and read ETag")),
        Ok(_) => fail(format!("CORS: no rule lets {origin} POST and read ETag"), format!("run: server cors --origin {origin}")),
        Err(err) if err.as_service_error().and_then(|e| e.meta().code()) == Some("NoSuchCORSConfiguration") => {
            fail("CORS: the bucket has no CORS rules".into(), format!("run: server cors --origin {origin}"))
        }
        Err(err) => fail(format!("CORS: cannot read the rules: {}", brief(&err)), "grant s3:GetBucketCORS, or check the rules by hand"),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_dates_parse() {
        assert_eq!(parse_http_date("Sat, 28 Nov 2026 12:00:05 GMT"), Some(datetime!(2026-11-28 12:00:05 UTC)));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn the_upload_rule_allows_its_origins_only() {
        let rules = [upload_rule(&["https://app.example/".into()]).unwrap()];
        assert!(allows_uploads_from(&rules, "https://app.example"));
        assert!(!allows_uploads_from(&rules, "https://evil.example"));
        assert_eq!(rules[0].expose_headers(), EXPOSED_HEADERS);
        let get_only = CorsRule::builder().allowed_origins("*").allowed_methods("GET").expose_headers("ETag").build().unwrap();
        assert!(!allows_uploads_from(&[get_only], "https://app.example"));
    }
}
