//! The verifier: given a POST form as a bucket receives it, decide whether S3 would store the
//! file, and if not, give S3's exact answer. Pure: the time, the bucket from the URL and the
//! credential store are all passed in.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>

use time::OffsetDateTime;

use super::{error, Condition, Credentials, ReceivedPolicy, S3Error, SigningKey, ALGORITHM};

/// S3 refuses a form whose fields before the file exceed 20 KB.
pub const MAX_PRE_DATA_BYTES: usize = 20 * 1024;

/// One part of the multipart body, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Field {
        name: String,
        value: String,
    },
    /// The `file` part: its client-side file name and its length in bytes.
    File {
        file_name: String,
        size: u64,
    },
}

impl Part {
    pub fn field(name: impl Into<String>, value: impl Into<String>) -> Self {
        Part::Field { name: name.into(), value: value.into() }
    }
}

/// Where and when the form arrived.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The bucket named by the URL (path style) or host (virtual-host style).
    pub bucket: &'a str,
    /// The region this endpoint serves; signatures must be scoped to it.
    pub region: &'a str,
    pub now: OffsetDateTime,
}

/// A form that passed every check: what to store, and how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The object key, with `${filename}` already replaced.
    pub key: String,
    /// The fields as received before the file, original names and order.
    pub fields: Vec<(String, String)>,
    /// The `content-length-range` the file must fall in, if the policy sets one.
    pub size_range: Option<(u64, u64)>,
}

impl Accepted {
    /// A field's value by case-insensitive name.
    pub fn field(&self, name: &str) -> Option<&str> {
        lookup(&self.fields, name)
    }

    /// The size check, which a streaming server can only make once it has read the file.
    pub fn check_size(&self, size: u64) -> Result<(), S3Error> {
        match self.size_range {
            Some((_, max)) if size > max => Err(error::entity_too_large(size, max)),
            Some((min, _)) if size < min => Err(error::entity_too_small(size, min)),
            _ => Ok(()),
        }
    }
}

fn lookup<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Fields the policy need not mention.
fn exempt_from_policy(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "policy" | "x-amz-signature" | "file") || name.starts_with("x-ignore-")
}

/// Verifies a whole request: part order, sizes, then [`verify_fields`] and the file's size.
pub fn verify(
    parts: &[Part],
    cx: Context<'_>,
    credentials: impl Fn(&str) -> Option<Credentials>,
) -> Result<Accepted, S3Error> {
    let file_at = parts.iter().position(|p| matches!(p, Part::File { .. }));
    // Everything after the file is ignored, as S3 does: a field sent late is a field missing.
    let before = &parts[..file_at.unwrap_or(parts.len())];
    let fields: Vec<(String, String)> = before
        .iter()
        .filter_map(|p| match p {
            Part::Field { name, value } => Some((name.clone(), value.clone())),
            Part::File { .. } => None,
        })
        .collect();
    if fields.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>() > MAX_PRE_DATA_BYTES {
        return Err(error::pre_data_too_large());
    }
    let Some(Part::File { file_name, size }) = file_at.map(|i| &parts[i]) else {
        return Err(error::no_file());
    };
    let accepted = verify_fields(fields, file_name, cx, credentials)?;
    accepted.check_size(*size)?;
    Ok(accepted)
}

/// Verifies the fields sent before the file: authentication, signature, expiry, every
/// condition, and that the policy covers every field. The size is checked separately
/// ([`Accepted::check_size`]) so that a streaming server can call this before reading the file.
pub fn verify_fields(
    fields: Vec<(String, String)>,
    file_name: &str,
    cx: Context<'_>,
    credentials: impl Fn(&str) -> Option<Credentials>,
) -> Result<Accepted, S3Error> {
    let field = |name: &str| lookup(&fields, name);
    // Linear in the number of fields, whatever a client sends.
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    for (name, _) in &fields {
        if !exempt_from_policy(name) && !seen.insert(name.to_ascii_lowercase()) {
            return Err(error::invalid_argument(format!(
                "The form field '{name}' appears more than once."
            )));
        }
    }
    let key = field("key").ok_or_else(|| error::missing_field("key"))?;

    // Authentication. A form with no auth fields at all is anonymous, which a private bucket refuses.
    let auth = ["policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"];
    if auth.iter().all(|name| field(name).is_none()) {
        return Err(error::access_denied());
    }
    if let Some(absent) = auth.iter().find(|name| field(name).is_none()) {
        return Err(error::missing_field(absent));
    }
    let algorithm = field("x-amz-algorithm").unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(error::invalid_argument(format!(
            "Unsupported x-amz-algorithm '{algorithm}': use {ALGORITHM}."
        )));
    }
    let credential = field("x-amz-credential").unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, "s3", "aws4_request"] = scope[..] else {
        return Err(error::invalid_argument(format!(
            "Invalid x-amz-credential '{credential}': expected <access key>/<yyyymmdd>/<region>/s3/aws4_request."
        )));
    };
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error::invalid_argument(format!("Invalid date '{date}' in x-amz-credential.")));
    }
    if region != cx.region {
        return Err(error::wrong_region(region, cx.region));
    }
    let creds = credentials(access_key_id).ok_or_else(error::invalid_access_key_id)?;
    match (creds.session_token(), field("x-amz-security-token")) {
        (Some(_), None) => return Err(error::invalid_access_key_id()),
        (Some(want), Some(got)) if want != got => return Err(error::invalid_token()),
        (None, Some(_)) => return Err(error::invalid_token()),
        _ => {}
    }
    if creds.expires_at().is_some_and(|end| end <= cx.now) {
        return Err(error::expired_token());
    }
    let policy_text = field("policy").unwrap_or_default();
    let key_for_scope = SigningKey::derive_for_scope(&creds, date.to_owned(), region);
    if !key_for_scope.verify(policy_text, field("x-amz-signature").unwrap_or_default()) {
        return Err(error::signature_mismatch());
    }

    // Authorization: the policy, now known to be the signed one.
    let received = ReceivedPolicy::parse(policy_text)?;
    let policy = received.policy();
    if cx.now >= policy.expiration() {
        return Err(error::policy_expired());
    }
    let key = substitute_filename(key, file_name);
    let mut size_range: Option<(u64, u64)> = None;
    for condition in policy.conditions() {
        let value = match condition {
            Condition::ContentLengthRange { min, max } => {
                let (lo, hi) = size_range.unwrap_or((0, u64::MAX));
                size_range = Some((lo.max(*min), hi.min(*max)));
                continue;
            }
            _ if condition.field().is_some_and(|f| f.eq_ignore_ascii_case("bucket")) => {
                Some(cx.bucket)
            }
            _ if condition.field().is_some_and(|f| f.eq_ignore_ascii_case("key")) => {
                Some(key.as_str())
            }
            _ => condition.field().and_then(field),
        };
        if !condition.accepts(value) {
            return Err(error::condition_failed(condition));
        }
    }
    let covered = |name: &str| {
        policy.conditions().iter().any(|c| c.field().is_some_and(|f| f.eq_ignore_ascii_case(name)))
    };
    let extra: Vec<String> = fields
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !exempt_from_policy(name) && !covered(name))
        .cloned()
        .collect();
    if !extra.is_empty() {
        return Err(error::extra_input_fields(&extra));
    }
    Ok(Accepted { key, fields, size_range })
}

/// `${filename}` in a key stands for the client's file name, without any directory part.
pub fn substitute_filename(key: &str, file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    key.replace("${filename}", base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{credential_scope, Condition, PostPolicy};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 12:00:00 UTC);

    /// A form signed over `conditions` (plus the auth ones), sending `fields` (plus the auth ones).
    fn form(
        creds: &Credentials,
        extra_conditions: Vec<Condition<'static>>,
        fields: &[(&str, &str)],
    ) -> Vec<Part> {
        let credential = credential_scope(creds.access_key_id(), NOW, "us-east-1");
        let mut conditions = vec![
            Condition::eq("bucket", "b"),
            Condition::eq("x-amz-algorithm", ALGORITHM),
            Condition::eq("x-amz-credential", credential.clone()),
            Condition::eq("x-amz-date", "20261128T120000Z"),
        ];
        conditions.extend(extra_conditions);
        let policy = PostPolicy::new(NOW + time::Duration::minutes(5), conditions).to_base64();
        let signature = SigningKey::derive(creds, NOW, "us-east-1").sign(&policy);
        let mut parts: Vec<Part> = fields.iter().map(|(n, v)| Part::field(*n, *v)).collect();
        parts.extend([
            Part::field("x-amz-algorithm", ALGORITHM),
            Part::field("x-amz-credential", credential),
            Part::field("x-amz-date", "20261128T120000Z"),
            Part::field("policy", policy),
            Part::field("x-amz-signature", signature),
            Part::File { file_name: "C:\\Users\\me\\cat.png".into(), size: 10 },
        ]);
        parts
    }

    fn check(
        parts: &[Part],
        creds: &Credentials,
        region: &str,
        now: OffsetDateTime,
    ) -> Result<Accepted, S3Error> {
        verify(parts, Context { bucket: "b", region, now }, |id| {
            (id == creds.access_key_id()).then(|| creds.clone())
        })
    }

    #[test]
    fn a_session_token_the_policy_does_not_cover_is_an_extra_field() {
        let creds = Credentials::new("ASIA", "s").with_session_token("tok");
        let parts = form(
            &creds,
            vec![Condition::starts_with("key", "").unwrap()],
            &[("key", "k"), ("x-amz-security-token", "tok")],
        );
        let err = check(&parts, &creds, "us-east-1", NOW).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                "AccessDenied",
                "Invalid according to Policy: Extra input fields: x-amz-security-token"
            )
        );
    }

    #[test]
    fn content_type_lists_must_match_element_by_element() {
        let creds = Credentials::new("AKID", "s");
        let conditions = || {
            vec![
                Condition::starts_with("key", "").unwrap(),
                Condition::starts_with("Content-Type", "image/").unwrap(),
            ]
        };
        let ok =
            form(&creds, conditions(), &[("key", "k"), ("Content-Type", "image/png, image/gif")]);
        assert!(check(&ok, &creds, "us-east-1", NOW).is_ok());
        let sneaky =
            form(&creds, conditions(), &[("key", "k"), ("Content-Type", "image/png, text/html")]);
        let err = check(&sneaky, &creds, "us-east-1", NOW).unwrap_err();
        assert_eq!(
            err.message,
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]"#
        );
    }

    #[test]
    fn filename_is_substituted_before_the_key_is_checked() {
        let creds = Credentials::new("AKID", "s");
        let parts =
            form(&creds, vec![Condition::eq("key", "u/cat.png")], &[("key", "u/${filename}")]);
        assert_eq!(check(&parts, &creds, "us-east-1", NOW).unwrap().key, "u/cat.png");
    }

    #[test]
    fn expired_credentials_and_other_regions_are_refused() {
        let creds = Credentials::new("ASIA", "s")
            .with_session_token("t")
            .with_expiry(NOW - time::Duration::seconds(1));
        let parts = form(
            &creds,
            vec![
                Condition::starts_with("key", "").unwrap(),
                Condition::eq("x-amz-security-token", "t"),
            ],
            &[("key", "k"), ("x-amz-security-token", "t")],
        );
        assert_eq!(check(&parts, &creds, "us-east-1", NOW).unwrap_err().code, "ExpiredToken");
        let creds = Credentials::new("AKID", "s");
        let parts = form(&creds, vec![Condition::starts_with("key", "").unwrap()], &[("key", "k")]);
        let err = check(&parts, &creds, "eu-west-1", NOW).unwrap_err();
        assert_eq!((err.status, err.code), (400, "AuthorizationHeaderMalformed"));
    }
}
