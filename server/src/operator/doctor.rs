//! `server doctor`: checks the set-up from the server's side (credentials, the bucket, the
//! clock, CORS for the app's origin) and says what to fix.

use std::sync::{Arc, Mutex};

use app::service::UploaderId;
use app::wire::UploadMethod;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use time::OffsetDateTime;

use super::cors::{allows_parts_from, allows_puts_from, allows_uploads_from, request_headers};
use super::lifecycle::{abort_days, staging_days};
use super::post_probe::{self, PostSupport};
use crate::aws::brief;
use crate::policy::error::code;
use crate::policy::rfc3339;
use crate::quarantine::{staging_prefix, STAGING_PREFIX};
use crate::uploads::Uploads;

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
    pub verdict: Verdict,
    pub what: String,
    /// What to do about it, when it failed.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Fail,
    /// Not something the doctor can see from here: said, not judged.
    Note,
}

fn ok(what: String) -> Check {
    Check { verdict: Verdict::Ok, what, fix: None }
}

fn fail(what: String, fix: impl Into<String>) -> Check {
    Check { verdict: Verdict::Fail, what, fix: Some(fix.into()) }
}

fn note(what: String) -> Check {
    Check { verdict: Verdict::Note, what, fix: None }
}

/// For profiles with `quarantine = true`: a rule that expires what is left in staging, and
/// CopyObject (promotion), probed by copying a staged key that is not there: the store
/// implements it and the credentials may read staging and write uploads/ when the answer is
/// NoSuchKey.
async fn quarantine_checks(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    probe: &UploaderId,
) -> Vec<Check> {
    let fix = "run: server lifecycle";
    let lifecycle = match client.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(answer) => match staging_days(answer.rules()) {
            Some(days) => ok(format!("lifecycle: what is left in {STAGING_PREFIX} expires after {days} day(s)")),
            None => fail(format!("lifecycle: nothing expires what is left in {STAGING_PREFIX} (quarantined uploads whose promotion never succeeded)"), fix),
        },
        Err(err) => fail(format!("lifecycle: cannot read the rules: {}", brief(&err)), fix),
    };
    let name = format!("doctor-probe-{}", uuid::Uuid::new_v4().simple());
    let staged = format!("{}{name}", staging_prefix(probe.as_str()));
    let source = format!("{bucket}/{}", crate::policy::uri_encoded(&staged, true));
    let to = format!("uploads/{}/{name}", probe.as_str());
    let copy = client.copy_object().bucket(bucket).key(&to).copy_source(source).send().await;
    let iam_fix = "grant the server s3:GetObject and s3:PutObject on uploads/ (server iam-policy); a store without CopyObject cannot quarantine";
    let copying = match copy {
        Err(err) if err.as_service_error().and_then(|e| e.meta().code()) == Some(code::NO_SUCH_KEY) => {
            ok("quarantine: CopyObject from staging to uploads/ (a missing source answers NoSuchKey)".into())
        }
        Ok(_) => fail(format!("quarantine: a probe key that should not exist is there: {staged}"), "delete it; nothing else writes doctor-probe keys"),
        Err(err) => fail(format!("quarantine: CopyObject from staging answered {}", brief(&err)), iam_fix),
    };
    vec![lifecycle, copying]
}

/// clamd, where profiles scan: it must answer PING.
async fn clamd_check(addr: &str) -> Check {
    use clamav_client::tokio::{ping, Tcp};
    let fix = "start clamd, or correct UPLOAD_CLAMD_ADDR; until it answers, scanned profiles' files wait in staging";
    match tokio::time::timeout(std::time::Duration::from_secs(5), ping(Tcp { host_address: addr }))
        .await
    {
        Ok(Ok(answer)) if answer == clamav_client::PONG => {
            ok(format!("malware scan: clamd at {addr} answers"))
        }
        Ok(Ok(answer)) => fail(
            format!(
                "malware scan: {addr} answered {:?}, not clamd's PONG",
                String::from_utf8_lossy(&answer)
            ),
            fix,
        ),
        Ok(Err(err)) => fail(format!("malware scan: clamd at {addr}: {err}"), fix),
        Err(_) => fail(format!("malware scan: clamd at {addr} did not answer in 5 s"), fix),
    }
}

/// Every check, in order.
pub async fn checks(uploads: &Uploads, client: &aws_sdk_s3::Client, origin: &str) -> Vec<Check> {
    let bucket = uploads.config().bucket.name.as_str();
    let sent = match uploads.config().method {
        UploadMethod::Post => format!("forms POSTed to {}", uploads.config().bucket.post_url()),
        UploadMethod::Put => "files sent with presigned PUTs (UPLOAD_METHOD=put)".to_owned(),
    };
    let mut checks =
        vec![ok(format!("bucket {bucket} in region {}, {sent}", uploads.config().bucket.region))];

    let now = uploads.now();
    let probe = UploaderId::parse(&"0".repeat(32)).expect("32 hex digits");
    checks.push(match uploads.policy_signer(&probe, now).await {
        Ok(policy_signer) => {
            let credentials = policy_signer.credentials();
            let expiry = match credentials.expires_at() {
                None => "they do not expire".to_owned(),
                Some(at) => format!("they expire at {} (in {} min)", rfc3339(at), (at - now).whole_minutes()),
            };
            ok(format!("credentials: {} (access key {}); {expiry}", uploads.credential_kind(), credentials.access_key_id()))
        }
        Err(err) => fail(
            format!("credentials ({}): {err}", uploads.credential_kind()),
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile; with STS, check UPLOAD_ROLE_ARN and that the base credentials may call it (the server log has the cause)",
        ),
    });

    // Before the bucket's other checks, which a store without POST uploads may fail as well.
    if uploads.config().method == UploadMethod::Post {
        let key =
            format!("uploads/{}/doctor-probe-{}", probe.as_str(), uuid::Uuid::new_v4().simple());
        checks.push(match post_probe::probe(uploads, client, &key).await {
            PostSupport::Checked => ok("POST uploads: taken, and a form that breaks its policy is refused".into()),
            PostSupport::Unsupported(answer) => fail(
                format!("POST uploads: the store does not take them ({answer})"),
                "set UPLOAD_METHOD=put (server --method put): files then go with presigned PUTs, and server cors allows them",
            ),
            PostSupport::Unchecked => fail(
                "POST uploads: the store kept a form that broke its policy (it does not check POST policies; the probe was removed)".into(),
                "use a store that checks POST policies, or set UPLOAD_METHOD=put",
            ),
            PostSupport::Unknown(answer) => fail(format!("POST uploads: a probe form got {answer}"), "check AWS_ENDPOINT_URL_S3 and the bucket's settings"),
        });
    }

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
            let skew = (theirs - uploads.now()).whole_seconds();
            if skew.abs() <= MAX_SKEW_SECS {
                ok(format!("clock: {skew:+} s from the bucket's"))
            } else {
                fail(format!("clock: {skew:+} s from the bucket's"), "synchronise this machine's clock (NTP): policies carry their expiry in the bucket's time")
            }
        }
        None => fail("clock: the bucket sent no usable Date header".into(), "check AWS_ENDPOINT_URL_S3: S3 always sends Date"),
    });

    let put = uploads.config().method == UploadMethod::Put;
    checks.push(match client.get_bucket_cors().bucket(bucket).send().await {
        Ok(answer) if put && allows_puts_from(answer.cors_rules(), origin, &request_headers(&uploads.config().profiles)) => {
            ok(format!("CORS: {origin} may PUT files and parts with their signed headers, and read ETag"))
        }
        Ok(_) if put => fail(
            format!("CORS: no rule lets {origin} PUT files with their signed headers (content-type, x-amz-checksum-sha256, content-md5, x-amz-meta-file-last-modified, x-amz-meta-uploader, x-amz-meta-profile and the profiles' fields) and read ETag"),
            format!("run: server cors --origin {origin}"),
        ),
        Ok(answer) if allows_uploads_from(answer.cors_rules(), origin) && allows_parts_from(answer.cors_rules(), origin) => {
            ok(format!("CORS: {origin} may POST forms, PUT parts with their checksum, and read ETag"))
        }
        Ok(answer) if allows_uploads_from(answer.cors_rules(), origin) => fail(
            format!("CORS: {origin} may POST but not PUT parts with x-amz-checksum-sha256 (files in parts would fail)"),
            format!("run: server cors --origin {origin}"),
        ),
        Ok(_) => fail(format!("CORS: no rule lets {origin} POST and read ETag"), format!("run: server cors --origin {origin}")),
        Err(err) if err.as_service_error().and_then(|e| e.meta().code()) == Some(code::NO_SUCH_CORS_CONFIGURATION) => {
            fail("CORS: the bucket has no CORS rules".into(), format!("run: server cors --origin {origin}"))
        }
        Err(err) => fail(format!("CORS: cannot read the rules: {}", brief(&err)), "grant s3:GetBucketCORS, or check the rules by hand"),
    });

    checks.push(match client.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(answer) => match abort_days(answer.rules()) {
            Some(days) => ok(format!("lifecycle: unfinished multipart uploads are aborted after {days} day(s)")),
            None => fail("lifecycle: no rule aborts unfinished multipart uploads under uploads/ (their parts would be kept, and paid for, forever)".into(), "run: server lifecycle"),
        },
        Err(err) if err.as_service_error().and_then(|e| e.meta().code()) == Some(code::NO_SUCH_LIFECYCLE_CONFIGURATION) => {
            fail("lifecycle: the bucket has no lifecycle rules (unfinished multipart uploads would be kept forever)".into(), "run: server lifecycle")
        }
        Err(err) => fail(format!("lifecycle: cannot read the rules: {}", brief(&err)), "grant s3:GetLifecycleConfiguration, or check the rules by hand"),
    });

    if uploads.config().profiles.iter().any(|p| p.quarantine) {
        checks.extend(quarantine_checks(client, bucket, &probe).await);
    }
    if let Some(addr) = uploads.config().limits.clamd_addr.as_deref() {
        checks.push(clamd_check(addr).await);
    }

    // Confirming HEADs objects under uploads/: a key that is not there answers 404 only to
    // credentials holding s3:GetObject there and s3:ListBucket (403 otherwise).
    let missing =
        format!("uploads/{}/doctor-probe-{}", probe.as_str(), uuid::Uuid::new_v4().simple());
    let iam_fix = "grant s3:GetObject on the uploads/ prefix and s3:ListBucket on the bucket (see: server iam-policy)";
    checks.push(match client.head_object().bucket(bucket).key(&missing).send().await {
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => ok(
            "IAM: s3:GetObject and s3:ListBucket on uploads/ (a missing key answers 404, not 403)"
                .into(),
        ),
        Ok(_) => fail(
            format!("IAM: a probe key that should not exist is there: {missing}"),
            "delete it; nothing else writes doctor-probe keys",
        ),
        Err(err) => {
            fail(format!("IAM: a HeadObject under uploads/ answered {}", brief(&err)), iam_fix)
        }
    });
    checks.push(note(format!(
        "IAM, not visible from here: {} (the first upload tells), s3:DeleteObject on uploads/ (removing an upload that is not what was signed), s3:PutBucketCORS (server cors tells); server iam-policy prints what is needed",
        if uploads.credentials_per_uploader() { "s3:PutObject of the assumed role or federated user" } else { "s3:PutObject on uploads/" }
    )));
    checks
}

/// Prints the checks as `ok` / `FAIL` / `note` lines with their fixes; `true` when none failed.
pub fn print(checks: &[Check]) -> bool {
    for check in checks {
        let label = match check.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Fail => "FAIL",
            Verdict::Note => "note",
        };
        println!("{label} {}", check.what);
        if let Some(fix) = &check.fix {
            println!("     fix: {fix}");
        }
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    if failed == 0 {
        println!("everything checked is in order");
    } else {
        println!("{failed} problem(s) to fix");
    }
    failed == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Sat, 28 Nov 2026 12:00:05 GMT"),
            Some(datetime!(2026-11-28 12:00:05 UTC))
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
