//! The server functions: what the page calls on the server. Their arguments and answers are in
//! [`crate::wire`]; the server answers them through the [`crate::service::UploadService`] it puts
//! in the Leptos context.

// A server function's arguments are the fields of the form clients POST: the API contract,
// kept flat (the macro makes a client function with the same arguments).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::wire::{
    BucketInfo, MultipartUpload, PartToSign, SignedPart, SignedUpload, StoredPart, StoredUpload,
    UploadError,
};

/// Signs a POST policy for one file of exactly `size` bytes of type `content_type`.
/// An empty `content_type` (browsers report one for unknown extensions) is signed as
/// `application/octet-stream`, which the browser must then send. `access_code` is checked when
/// the operator set one (see [`BucketInfo::access_code_required`]); otherwise it is ignored.
/// With `checksum_sha256` (base64; or `content_md5` where the service checks MD5, see
/// [`BucketInfo::checksum`]), the bucket accepts only those exact bytes; `metadata` is stored
/// with the object (names of lowercase letters, digits and `-`; 2 KB in all). `profile` names
/// the upload profile whose rules apply (empty or absent: `default`).
#[server(endpoint = "sign_upload", client = crate::bearer::Bearer)]
pub async fn sign_upload(
    file_name: String,
    size: u64,
    content_type: String,
    access_code: String,
    #[server(default)] checksum_sha256: Option<String>,
    #[server(default)] metadata: std::collections::BTreeMap<String, String>,
    #[server(default)] content_md5: Option<String>,
    #[server(default)] profile: String,
) -> Result<SignedUpload, UploadError> {
    let request = crate::service::UploadRequest {
        profile,
        file_name,
        size,
        content_type,
        access_code,
        checksum_sha256,
        content_md5,
        metadata,
    };
    server_side::serve(|service, who| async move { service.sign_upload(&who, request).await }).await
}

/// Reports an upload the bucket accepted (its key, the ETag it answered with, and the receipt
/// that came with the signed form); the server checks the stored object against what the
/// receipt says was signed. Only then is the upload "done".
#[server(endpoint = "confirm_upload", client = crate::bearer::Bearer)]
pub async fn confirm_upload(
    key: String,
    etag: String,
    receipt: String,
) -> Result<StoredUpload, UploadError> {
    let report = crate::wire::UploadReport { key, etag, receipt };
    server_side::serve(|service, who| async move { service.confirm_upload(&who, report).await })
        .await
}

/// A signed form for the page's no-JavaScript upload: it comes back to `/uploaded`, with a
/// return token and the receipt the service adds.
#[server(endpoint = "page_form", client = crate::bearer::Bearer)]
pub async fn page_form(
    #[server(default)] profile: String,
) -> Result<Option<SignedUpload>, UploadError> {
    let redirect = server_side::return_url("/uploaded");
    server_side::serve(
        |service, who| async move { service.page_form(&who, profile, redirect).await },
    )
    .await
}

/// This browser's uploads under `profile`, as the bucket lists them, newest first.
#[server(endpoint = "my_uploads", client = crate::bearer::Bearer)]
pub async fn my_uploads(
    #[server(default)] profile: String,
) -> Result<Vec<StoredUpload>, UploadError> {
    server_side::serve(|service, who| async move { service.my_uploads(&who, profile).await }).await
}

/// The bucket this server signs for, and what `profile` takes there (for this user: narrowed
/// by their token). An unknown profile is a 404, one this user may not use a 403.
#[server(endpoint = "upload_target", client = crate::bearer::Bearer)]
pub async fn upload_target(#[server(default)] profile: String) -> Result<BucketInfo, UploadError> {
    server_side::target(&profile)
}

/// Exchanges the application's token (which the page took from its URL's fragment) for a
/// session cookie; answers when the session ends (unix seconds). `UPLOAD_AUTH=token` only.
#[server(endpoint = "start_session", client = crate::bearer::Bearer)]
pub async fn start_session(token: crate::wire::Token) -> Result<i64, UploadError> {
    server_side::start_session(token.0).await
}

/// Ends the session: the browser's cookie is cleared.
#[server(endpoint = "end_session", client = crate::bearer::Bearer)]
pub async fn end_session() -> Result<(), UploadError> {
    server_side::end_session();
    Ok(())
}

/// Starts a multipart upload for a file too big for one POST (see
/// [`crate::rules::goes_multipart`]); checked and counted like [`sign_upload`]. Its parts go
/// with URLs from [`sign_parts`]; [`complete_multipart`] or [`abort_multipart`] end it.
#[server(endpoint = "start_multipart", client = crate::bearer::Bearer)]
pub async fn start_multipart(
    file_name: String,
    size: u64,
    content_type: String,
    access_code: String,
    #[server(default)] metadata: std::collections::BTreeMap<String, String>,
    #[server(default)] profile: String,
) -> Result<MultipartUpload, UploadError> {
    let request = crate::service::UploadRequest {
        profile,
        file_name,
        size,
        content_type,
        access_code,
        checksum_sha256: None,
        content_md5: None,
        metadata,
    };
    server_side::serve(|service, who| async move { service.start_multipart(&who, request).await })
        .await
}

/// Presigned PUT URLs for a few parts of the upload the receipt names (at most
/// [`MAX_PARTS_PER_CALL`]), each good for that part's length and SHA-256 only.
#[server(endpoint = "sign_parts", input = server_fn::codec::Json, client = crate::bearer::Bearer)]
pub async fn sign_parts(
    receipt: String,
    parts: Vec<PartToSign>,
) -> Result<Vec<SignedPart>, UploadError> {
    server_side::serve(|service, who| async move { service.sign_parts(&who, receipt, parts).await })
        .await
}

/// How many parts one [`sign_parts`] call may ask for.
pub const MAX_PARTS_PER_CALL: usize = 16;

/// The parts the bucket already has for the upload the receipt names: what a resumed upload
/// need not send again.
#[server(endpoint = "list_parts", client = crate::bearer::Bearer)]
pub async fn list_parts(receipt: String) -> Result<Vec<StoredPart>, UploadError> {
    server_side::serve(|service, who| async move { service.list_parts(&who, receipt).await }).await
}

/// Completes the upload the receipt names from the parts the bucket has, and checks the stored
/// object as [`confirm_upload`] does. Only then is the upload "done".
#[server(endpoint = "complete_multipart", client = crate::bearer::Bearer)]
pub async fn complete_multipart(receipt: String) -> Result<StoredUpload, UploadError> {
    server_side::serve(
        |service, who| async move { service.complete_multipart(&who, receipt).await },
    )
    .await
}

/// Aborts the upload the receipt names; the bucket drops its parts.
#[server(endpoint = "abort_multipart", client = crate::bearer::Bearer)]
pub async fn abort_multipart(receipt: String) -> Result<(), UploadError> {
    server_side::serve(|service, who| async move { service.abort_multipart(&who, receipt).await })
        .await
}

/// What every server function takes from the Leptos context (read before any `.await`: the
/// context is gone after it), and how its error becomes an HTTP status.
#[cfg(feature = "ssr")]
mod server_side {
    use std::future::Future;
    use std::sync::Arc;

    use leptos::prelude::use_context;

    use crate::service::{Identity, Requester, UploadService};
    use crate::wire::UploadError;

    pub fn service() -> Result<Arc<dyn UploadService>, UploadError> {
        use_context::<Arc<dyn UploadService>>()
            .ok_or_else(|| UploadError::Unavailable("no upload service is configured".into()))
    }

    /// Who is asking: the [`Identity`] the server's edge put in the request's extensions.
    fn identity() -> Option<Identity> {
        use_context::<http::request::Parts>().and_then(|parts| Identity::of(&parts).cloned())
    }

    /// The service and who asks it.
    fn context() -> Result<(Arc<dyn UploadService>, Requester), UploadError> {
        let who = identity()
            .ok_or_else(|| UploadError::Unavailable("no uploader session".into()))?
            .requester
            .map_err(UploadError::SignIn)?;
        Ok((service()?, who))
    }

    /// Runs `call` with the service and the requester, and answers with the status its error
    /// means. Everything is read from the context before `call`'s future first awaits.
    pub async fn serve<T, F>(
        call: impl FnOnce(Arc<dyn UploadService>, Requester) -> F,
    ) -> Result<T, UploadError>
    where
        F: Future<Output = Result<T, UploadError>>,
    {
        let response = use_context::<leptos_axum::ResponseOptions>();
        let result = match context() {
            Ok((service, who)) => call(service, who).await,
            Err(err) => Err(err),
        };
        if let (Err(err), Some(response)) = (&result, response) {
            refuse(&response, err);
        }
        result
    }

    /// The status an error means, and the header that goes with it.
    fn refuse(response: &leptos_axum::ResponseOptions, err: &UploadError) {
        response.set_status(err.status());
        match err {
            UploadError::TooManyRequests { retry_after_secs }
            | UploadError::Checking { retry_after_secs } => response.insert_header(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(*retry_after_secs),
            ),
            UploadError::SignIn(sign_in) => response.insert_header(
                http::header::WWW_AUTHENTICATE,
                crate::wire::www_authenticate(sign_in.reason),
            ),
            _ => {}
        }
    }

    fn sign_in_service() -> Result<Arc<dyn crate::service::SignInService>, UploadError> {
        use_context::<Arc<dyn crate::service::SignInService>>()
            .ok_or_else(|| UploadError::Unavailable("signing in is not configured".into()))
    }

    fn set_cookies(
        response: Option<&leptos_axum::ResponseOptions>,
        values: impl IntoIterator<Item = String>,
    ) {
        for value in values {
            if let (Some(response), Ok(value)) = (response, http::HeaderValue::from_str(&value)) {
                response.append_header(http::header::SET_COOKIE, value);
            }
        }
    }

    /// Everything is read from the context before the first await.
    /// Who the request names, as the page shows it.
    pub fn who() -> crate::wire::Who {
        use crate::wire::Who;
        let sessions = sign_in_service().is_ok_and(|service| service.has_sessions());
        match identity().map(|identity| identity.requester) {
            Some(Ok(Requester { user: Some(user), .. })) => {
                Who::User { name: user.subject, can_sign_out: sessions }
            }
            Some(Err(sign_in)) => Who::Nobody(sign_in),
            _ => Who::Anonymous,
        }
    }

    /// `upload_target`: the service's answer for this requester (none when nobody is signed
    /// in yet: the page then offers signing in), with who that is.
    pub fn target(profile: &str) -> Result<crate::wire::BucketInfo, UploadError> {
        let requester = identity().and_then(|identity| identity.requester.ok());
        let result =
            service().and_then(|service| service.upload_target(requester.as_ref(), profile));
        if let (Err(err), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>())
        {
            refuse(&response, err);
        }
        let mut info = result?;
        info.who = who();
        Ok(info)
    }

    /// Whether the request carries its own credentials (`Authorization`): an API client, which
    /// never gets a cookie.
    fn bearer() -> bool {
        use_context::<http::request::Parts>()
            .is_some_and(|parts| parts.headers.contains_key(http::header::AUTHORIZATION))
    }

    pub async fn start_session(token: String) -> Result<i64, UploadError> {
        let https = identity().is_some_and(|identity| identity.https);
        let response = use_context::<leptos_axum::ResponseOptions>();
        let result = if bearer() {
            Err(UploadError::Refused(
                "a session is for the page: API clients send their token with every call \
                 (Authorization: Bearer)"
                    .into(),
            ))
        } else {
            match sign_in_service() {
                Ok(service) => service.start_session(&token, https).await,
                Err(err) => Err(err),
            }
        };
        match &result {
            Ok(started) => set_cookies(response.as_ref(), [started.set_cookie.clone()]),
            Err(err) => {
                if let Some(response) = &response {
                    refuse(response, err);
                }
            }
        }
        result.map(|started| started.expires_at)
    }

    pub fn end_session() {
        let https = identity().is_some_and(|identity| identity.https);
        let response = use_context::<leptos_axum::ResponseOptions>();
        match sign_in_service() {
            Ok(service) if !bearer() => set_cookies(response.as_ref(), service.end_session(https)),
            _ => {}
        }
    }

    /// An absolute URL on this site (as the browser addresses it) for `path`. The scheme is
    /// the edge's verdict (a forwarded one only from a trusted proxy).
    pub fn return_url(path: &str) -> String {
        let parts = use_context::<http::request::Parts>();
        let host = parts
            .as_ref()
            .and_then(|p| p.headers.get(http::header::HOST)?.to_str().ok().map(str::to_owned));
        let host = host.unwrap_or_else(|| "localhost".into());
        let scheme =
            if identity().is_some_and(|identity| identity.https) { "https" } else { "http" };
        format!("{scheme}://{host}{path}")
    }
}
