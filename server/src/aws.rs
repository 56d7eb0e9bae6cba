//! The AWS SDK side of the server: the SDK configuration (fixed keys or the default chain),
//! the S3 client the server's own calls use (confirm, `cors`, `doctor`), the credential
//! source policies are signed with, the upload service for a real bucket built from them, and
//! an SDK error in one line ([`brief`]).

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::config::Config;
use crate::credentials::{to_sdk, Chain, Source, Sts};
use crate::metrics::Metrics;
use crate::policy::ExpiryLimits;
use crate::uploads::{Objects, Uploads};

/// Loads the SDK configuration: the configured keys when there are some, otherwise the default
/// chain (environment, profile, web identity, container and instance metadata). An STS
/// endpoint can be set with the standard `AWS_ENDPOINT_URL_STS`.
pub async fn sdk_config(config: &Config) -> SdkConfig {
    // A signature waits on STS: a hung endpoint must turn into "unavailable", not a hung page.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(10))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.bucket.region.clone()))
        .timeout_config(timeouts);
    if let Some(credentials) = &config.credentials {
        loader = loader.credentials_provider(to_sdk(credentials));
    }
    loader.load().await
}

/// The S3 client for the configured bucket; path-style on a custom endpoint (Garage, MinIO).
pub fn s3_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk);
    if let Some(endpoint) = &config.bucket.endpoint {
        builder = builder.endpoint_url(endpoint).force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// Credentials are refreshed when less than this is left: the longest policy, its margin
/// before the credentials expire, and a minute to spare.
pub fn refresh_ahead(config: &Config) -> Duration {
    config.policy_lifetime + ExpiryLimits::default().credentials_margin + Duration::from_secs(60)
}

/// What the signer signs with, as configured.
pub fn credential_source(
    config: &Config,
    sdk: &SdkConfig,
    metrics: Arc<Metrics>,
) -> Result<Source, String> {
    Ok(match (&config.sts, &config.credentials) {
        (Some(sts), _) => Source::Sts(Sts::new(
            aws_sdk_sts::Client::new(sdk),
            sts.mode.clone(),
            sts.duration,
            config.bucket.name.clone(),
            config.bucket.region.clone(),
            refresh_ahead(config),
            metrics,
        )),
        (None, Some(credentials)) => {
            Source::fixed(credentials.clone(), config.bucket.region.clone())
        }
        (None, None) => {
            let provider =
                sdk.credentials_provider().ok_or("the AWS SDK found no way to get credentials")?;
            Source::Chain(Chain::new(provider, config.bucket.region.clone(), refresh_ahead(config)))
        }
    })
}

/// The upload service for the configured bucket, and the S3 client it and the operator
/// commands use. The error names what is missing.
pub async fn bucket_uploads(
    config: Config,
    metrics: Arc<Metrics>,
) -> Result<(Uploads, aws_sdk_s3::Client), String> {
    let sdk = sdk_config(&config).await;
    let source = credential_source(&config, &sdk, metrics.clone())?;
    let client = s3_client(&sdk, &config);
    let objects = Objects::S3 { client: client.clone(), bucket: config.bucket.name.clone() };
    Ok((Uploads::with_source(config, source).with_objects(objects).with_metrics(metrics), client))
}

/// An SDK error in one line: S3's code and message, or the innermost cause of a failure to
/// reach it (the SDK's own Display nests several layers of wrappers).
pub fn brief<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = err
                .raw_response()
                .map(|r| format!("HTTP {}: ", r.status().as_u16()))
                .unwrap_or_default();
            let meta = service.err();
            format!(
                "{status}{} {}",
                meta.code().unwrap_or("error"),
                meta.message().unwrap_or("(no message)")
            )
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
