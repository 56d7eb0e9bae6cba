//! `server cors`: writes the CORS rule browser uploads need, keeping the bucket's other rules.

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::aws::brief;
use crate::config::Profiles;

/// The id of the rule `server cors` writes; rules with other ids are left alone.
pub const CORS_RULE_ID: &str = "browser-uploads";
/// What the page reads from the bucket's answers (a part's ETag is what completing needs).
pub const EXPOSED_HEADERS: [&str; 4] =
    ["ETag", "Location", "x-amz-request-id", "x-amz-checksum-sha256"];
/// What the page sends with a part or a whole file's PUT (`UPLOAD_METHOD=put`), beside what
/// browsers send anyway: the signed type, checksum (or `Content-MD5`, `UPLOAD_CHECKSUM=md5`) and
/// the one metadata the page stores, and the service's own (the profiles' fields add theirs:
/// [`request_headers`]).
pub const REQUEST_HEADERS: [&str; 6] = [
    "x-amz-checksum-sha256",
    "content-md5",
    "content-type",
    "x-amz-meta-file-last-modified",
    // Who uploaded (UPLOAD_AUTH=token or proxy), a signed header of every presigned PUT.
    "x-amz-meta-uploader",
    // The upload profile, on every object.
    "x-amz-meta-profile",
];

/// [`REQUEST_HEADERS`] and the metadata headers of every profile's fields.
pub fn request_headers(profiles: &Profiles) -> Vec<String> {
    let fields = profiles.iter().flat_map(|p| p.rules.fields.iter());
    let mut headers: Vec<String> = REQUEST_HEADERS.iter().map(|h| (*h).to_owned()).collect();
    headers.extend(fields.map(|field| format!("x-amz-meta-{}", field.name)));
    headers.sort();
    headers.dedup();
    headers
}

/// The rule browsers need to POST forms and PUT parts and files (with `headers`) from
/// `origins` and read the answers.
pub fn upload_rule(origins: &[String], headers: &[String]) -> Result<CorsRule, String> {
    let mut rule = CorsRule::builder()
        .id(CORS_RULE_ID)
        .allowed_methods("POST")
        .allowed_methods("PUT")
        .max_age_seconds(3000);
    for header in headers {
        rule = rule.allowed_headers(header);
    }
    for origin in origins {
        rule = rule.allowed_origins(origin.trim_end_matches('/'));
    }
    for header in EXPOSED_HEADERS {
        rule = rule.expose_headers(header);
    }
    rule.build().map_err(|err| err.to_string())
}

/// Whether one of `rules` lets a page on `origin` use `method` and read the ETag.
fn allows(rules: &[CorsRule], origin: &str, method: &str, headers: &[&str]) -> bool {
    let origin = origin.trim_end_matches('/');
    rules.iter().any(|rule| {
        let origin_ok =
            rule.allowed_origins().iter().any(|o| o == "*" || o.trim_end_matches('/') == origin);
        let method_ok = rule.allowed_methods().iter().any(|m| m.eq_ignore_ascii_case(method));
        let headers_ok = headers
            .iter()
            .all(|h| rule.allowed_headers().iter().any(|a| a == "*" || a.eq_ignore_ascii_case(h)));
        let etag_ok = rule.expose_headers().iter().any(|h| h.eq_ignore_ascii_case("ETag"));
        origin_ok && method_ok && headers_ok && etag_ok
    })
}

/// Whether `rules` let a page on `origin` POST a form and read its ETag.
pub fn allows_uploads_from(rules: &[CorsRule], origin: &str) -> bool {
    allows(rules, origin, "POST", &[])
}

/// Whether `rules` let a page on `origin` PUT a part with its checksum and read its ETag.
pub fn allows_parts_from(rules: &[CorsRule], origin: &str) -> bool {
    allows(rules, origin, "PUT", &["x-amz-checksum-sha256"])
}

/// Whether `rules` let a page on `origin` PUT a whole file with its signed headers and read its
/// ETag (`UPLOAD_METHOD=put`).
pub fn allows_puts_from(rules: &[CorsRule], origin: &str, headers: &[String]) -> bool {
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    allows(rules, origin, "PUT", &headers)
}

/// `server cors --origin URL...`: replaces this tool's rule, keeping any others.
pub async fn cors(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    origins: &[String],
    headers: &[String],
) -> Result<String, String> {
    let existing = match client.get_bucket_cors().bucket(bucket).send().await {
        Ok(answer) => answer.cors_rules.unwrap_or_default(),
        // No CORS configuration yet is the usual start.
        Err(err)
            if err.as_service_error().and_then(|e| e.meta().code())
                == Some("NoSuchCORSConfiguration") =>
        {
            Vec::new()
        }
        Err(err) => return Err(format!("reading the bucket's CORS rules failed: {}", brief(&err))),
    };
    let mut rules: Vec<CorsRule> =
        existing.into_iter().filter(|r| r.id() != Some(CORS_RULE_ID)).collect();
    let kept = rules.len();
    rules.push(upload_rule(origins, headers)?);
    let configuration = CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .map_err(|err| err.to_string())?;
    client
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(configuration)
        .send()
        .await
        .map_err(|err| format!("writing the bucket's CORS rules failed: {}", brief(&err)))?;
    Ok(format!(
        "bucket {bucket}: browsers on {} may now POST uploads and PUT parts (rule {CORS_RULE_ID:?}; {kept} other rule(s) kept)",
        origins.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_rule_allows_its_origins_only() {
        let headers = request_headers(&Profiles::only_default(&Default::default()));
        let rules = [upload_rule(&["https://app.example/".into()], &headers).unwrap()];
        assert!(allows_uploads_from(&rules, "https://app.example"));
        assert!(allows_parts_from(&rules, "https://app.example"));
        assert!(allows_puts_from(&rules, "https://app.example", &headers));
        let field = ["x-amz-meta-invoice-id".to_owned()];
        assert!(!allows_puts_from(&rules, "https://app.example", &field), "not a field here");
        assert!(!allows_uploads_from(&rules, "https://evil.example"));
        assert!(!allows_parts_from(&rules, "https://evil.example"));
        let post_only = CorsRule::builder()
            .allowed_origins("*")
            .allowed_methods("POST")
            .allowed_headers("*")
            .expose_headers("ETag")
            .build()
            .unwrap();
        assert!(allows_uploads_from(std::slice::from_ref(&post_only), "https://app.example"));
        assert!(!allows_puts_from(
            std::slice::from_ref(&post_only),
            "https://app.example",
            &headers
        ));
        assert!(!allows_parts_from(&[post_only], "https://app.example"), "parts need PUT");
        assert_eq!(rules[0].expose_headers(), EXPOSED_HEADERS);
        let get_only = CorsRule::builder()
            .allowed_origins("*")
            .allowed_methods("GET")
            .expose_headers("ETag")
            .build()
            .unwrap();
        assert!(!allows_uploads_from(&[get_only], "https://app.example"));
    }
}
