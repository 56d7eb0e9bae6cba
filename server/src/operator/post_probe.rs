//! Whether the bucket takes browser-based POST uploads, as `server doctor` finds out: it POSTs
//! a form signed for one byte with an empty file. A store that checks POST policies refuses it
//! for its size (S3 400 EntityTooSmall, Garage 400), one without POST uploads answers 501
//! (Cloudflare R2), and nothing is stored either way.
//!
//! The SDK has no operation for a form, so the probe rides on a `PutObject` whose request is
//! replaced, just before it is sent, by the form's POST ([`SendInstead`]): the SDK's own HTTP
//! client, TLS and endpoint settings carry it, and retries are off so that the `PutObject`
//! itself is never sent.

use std::fmt::Write as _;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

use crate::policy::SizeRule;
use crate::uploads::Uploads;

const BOUNDARY: &str = "----server-doctor-probe";

/// What the probe learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostSupport {
    /// The form was refused for breaking its policy: POST uploads work and are checked.
    Checked,
    /// 501: the store takes no POST uploads.
    Unsupported(String),
    /// The store kept a form that broke its policy (the probe object was removed).
    Unchecked,
    /// Another answer, or none.
    Unknown(String),
}

/// Replaces the request about to be sent with a POST of `body` to `url`.
#[derive(Debug)]
struct SendInstead {
    url: String,
    body: Vec<u8>,
}

impl Intercept for SendInstead {
    fn name(&self) -> &'static str {
        "SendInstead"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("content-length", self.body.len())
            .body(SdkBody::from(self.body.clone()))?;
        *context.request_mut() = request.try_into()?;
        Ok(())
    }
}

/// `fields`, then an empty file, as a browser sends a form.
fn form_body(fields: &[(String, String)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in fields {
        let _ = write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        );
    }
    let _ = write!(
        body,
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"probe\"\r\n\r\n\r\n--{BOUNDARY}--\r\n"
    );
    body.into_bytes()
}

/// POSTs a form signed for one byte, carrying none, to the bucket under `key`.
pub async fn probe(uploads: &Uploads, client: &aws_sdk_s3::Client, key: &str) -> PostSupport {
    let now = uploads.now();
    let probe = app::service::UploaderId::parse(&"0".repeat(32)).expect("32 hex digits");
    let signer = match uploads.policy_signer(&probe, now).await {
        Ok(signer) => signer,
        Err(err) => return PostSupport::Unknown(err.to_string()),
    };
    let spec = uploads.spec(key.to_owned(), None, SizeRule::Exact(1));
    let form = match uploads.sign_form(&signer, &spec, now, "doctor") {
        Ok(form) => form,
        Err(err) => return PostSupport::Unknown(err.to_string()),
    };
    let bucket = &uploads.config().bucket;
    let instead = SendInstead { url: bucket.post_url(), body: form_body(&form.fields) };
    let sent = client
        .put_object()
        .bucket(&bucket.name)
        .key(key)
        .body(ByteStream::from_static(b""))
        .customize()
        .config_override(
            aws_sdk_s3::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .interceptor(instead)
        .send()
        .await;
    match sent {
        Ok(_) => {
            let _ = client.delete_object().bucket(&bucket.name).key(key).send().await;
            PostSupport::Unchecked
        }
        Err(err) => match err.raw_response().map(|r| r.status().as_u16()) {
            Some(400 | 403) => PostSupport::Checked,
            Some(501) => PostSupport::Unsupported(crate::aws::brief(&err)),
            _ => PostSupport::Unknown(crate::aws::brief(&err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_carries_its_fields_then_an_empty_file() {
        let body = String::from_utf8(form_body(&[("key".into(), "k".into())])).unwrap();
        let key = body.find("name=\"key\"\r\n\r\nk\r\n").unwrap();
        let file = body.find("name=\"file\"; filename=\"probe\"\r\n\r\n\r\n").unwrap();
        assert!(key < file && body.ends_with(&format!("--{BOUNDARY}--\r\n")), "{body}");
    }
}
