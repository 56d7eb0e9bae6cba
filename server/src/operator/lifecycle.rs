//! `server lifecycle`: the bucket rules that abort multipart uploads left unfinished (a closed
//! tab, a crash), so their parts do not cost storage forever, and that expire what is left in
//! the staging prefix of quarantined uploads (a file whose promotion never succeeded: each is
//! retried and alerted on long before); the bucket's other rules are kept.
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html>

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
};

use crate::aws::brief;
use crate::quarantine::STAGING_PREFIX;

/// The id of the rule `server lifecycle` writes; rules with other ids are left alone.
pub const LIFECYCLE_RULE_ID: &str = "abort-incomplete-uploads";

/// The id of the rule that expires staged uploads.
pub const STAGING_RULE_ID: &str = "expire-staged-uploads";

/// The rule: objects under the staging prefix expire `days` after they were stored.
pub fn staging_rule(days: i32) -> Result<LifecycleRule, String> {
    LifecycleRule::builder()
        .id(STAGING_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(STAGING_PREFIX).build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .build()
        .map_err(|err| err.to_string())
}

/// The days after which an enabled rule covering the staging prefix expires objects, if one
/// does.
pub fn staging_days(rules: &[LifecycleRule]) -> Option<i32> {
    rules
        .iter()
        .filter(|rule| rule.status() == &ExpirationStatus::Enabled)
        .filter(|rule| {
            // Its prefix (the filter's, or the older rule-level one; none: the whole bucket). A
            // filter on tags or sizes covers only some objects: not staging as a whole.
            #[allow(deprecated)]
            let prefix = match rule.filter() {
                Some(filter) if filter.tag().is_some() || filter.and().is_some() => return false,
                Some(filter)
                    if filter.object_size_greater_than().is_some()
                        || filter.object_size_less_than().is_some() =>
                {
                    return false
                }
                Some(filter) => filter.prefix().unwrap_or(""),
                None => rule.prefix().unwrap_or(""),
            };
            STAGING_PREFIX.starts_with(prefix)
        })
        .filter_map(|rule| rule.expiration()?.days())
        .min()
}

/// The rule: abort uploads under `uploads/` still unfinished `days` after they started.
pub fn abort_rule(days: i32) -> Result<LifecycleRule, String> {
    LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("uploads/").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder().days_after_initiation(days).build(),
        )
        .build()
        .map_err(|err| err.to_string())
}

/// The days after which an enabled rule covering `uploads/` aborts unfinished uploads, if one does.
pub fn abort_days(rules: &[LifecycleRule]) -> Option<i32> {
    rules
        .iter()
        .filter(|rule| rule.status() == &ExpirationStatus::Enabled)
        .filter(|rule| {
            let prefix = rule.filter().and_then(|f| f.prefix()).unwrap_or("");
            "uploads/".starts_with(prefix)
        })
        .filter_map(|rule| rule.abort_incomplete_multipart_upload()?.days_after_initiation())
        .min()
}

/// `server lifecycle [--days N]`: replaces this tool's rule, keeping any others.
pub async fn lifecycle(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    days: i32,
) -> Result<String, String> {
    let existing = match client.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(answer) => answer.rules.unwrap_or_default(),
        Err(err)
            if err.as_service_error().and_then(|e| e.meta().code())
                == Some("NoSuchLifecycleConfiguration") =>
        {
            Vec::new()
        }
        Err(err) => {
            return Err(format!("reading the bucket's lifecycle rules failed: {}", brief(&err)))
        }
    };
    let ours = [Some(LIFECYCLE_RULE_ID), Some(STAGING_RULE_ID)];
    let mut rules: Vec<LifecycleRule> =
        existing.into_iter().filter(|r| !ours.contains(&r.id())).collect();
    let kept = rules.len();
    rules.push(abort_rule(days)?);
    rules.push(staging_rule(days)?);
    let configuration = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|err| err.to_string())?;
    client
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(configuration)
        .send()
        .await
        .map_err(|err| format!("writing the bucket's lifecycle rules failed: {}", brief(&err)))?;
    Ok(format!("bucket {bucket}: multipart uploads under uploads/ unfinished after {days} day(s) are aborted (rule {LIFECYCLE_RULE_ID:?}), and objects left under {STAGING_PREFIX} expire after {days} day(s) (rule {STAGING_RULE_ID:?}); {kept} other rule(s) kept"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_covers_uploads_and_is_found_again() {
        assert_eq!(abort_days(&[abort_rule(1).unwrap()]), Some(1));
        let elsewhere = LifecycleRule::builder()
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(3).build(),
            )
            .build()
            .unwrap();
        assert_eq!(abort_days(std::slice::from_ref(&elsewhere)), None);
        let disabled = LifecycleRule::builder()
            .status(ExpirationStatus::Disabled)
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build(),
            )
            .build()
            .unwrap();
        assert_eq!(abort_days(&[disabled, elsewhere]), None);
    }

    #[test]
    fn the_staging_rule_expires_the_staging_prefix_alone() {
        let rules = [abort_rule(1).unwrap(), staging_rule(2).unwrap()];
        assert_eq!(staging_days(&rules), Some(2));
        assert_eq!(staging_days(&rules[..1]), None, "aborting parts expires no object");
        let everything = LifecycleRule::builder()
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("uploads/").build())
            .expiration(LifecycleExpiration::builder().days(30).build())
            .build()
            .unwrap();
        assert_eq!(staging_days(&[everything]), Some(30), "a rule over uploads/ covers staging");
        let tagged = LifecycleRule::builder()
            .status(ExpirationStatus::Enabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(aws_sdk_s3::types::Tag::builder().key("k").value("v").build().unwrap())
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().days(1).build())
            .build()
            .unwrap();
        assert_eq!(staging_days(&[tagged]), None, "a rule on tags covers only some objects");
    }
}
