//! The [`UploadService`] the server functions call: each method is the `Uploads` method of the
//! same name (in the file of its feature), boxed for the trait object.

use app::service::{Requester, UploadRequest, UploadService};
use app::wire::{
    BucketInfo, MultipartUpload, PartToSign, SignedPart, SignedUpload, StoredPart, StoredUpload,
    UploadError, UploadReport,
};
use futures::future::BoxFuture;

use super::Uploads;

impl UploadService for Uploads {
    fn sign_upload<'a>(
        &'a self,
        who: &'a Requester,
        request: UploadRequest,
    ) -> BoxFuture<'a, Result<SignedUpload, UploadError>> {
        Box::pin(Uploads::sign_upload(self, who, request))
    }

    fn confirm_upload<'a>(
        &'a self,
        who: &'a Requester,
        report: UploadReport,
    ) -> BoxFuture<'a, Result<StoredUpload, UploadError>> {
        Box::pin(Uploads::confirm_upload(self, who, report))
    }

    fn page_form<'a>(
        &'a self,
        who: &'a Requester,
        profile: String,
        redirect: String,
    ) -> BoxFuture<'a, Result<Option<SignedUpload>, UploadError>> {
        Box::pin(async move { Uploads::page_form(self, who, &profile, redirect).await })
    }

    fn my_uploads<'a>(
        &'a self,
        who: &'a Requester,
        profile: String,
    ) -> BoxFuture<'a, Result<Vec<StoredUpload>, UploadError>> {
        Box::pin(async move { Uploads::my_uploads(self, who, &profile).await })
    }

    fn upload_target(
        &self,
        who: Option<&Requester>,
        profile: &str,
    ) -> Result<BucketInfo, UploadError> {
        Uploads::upload_target(self, who, profile)
    }

    fn start_multipart<'a>(
        &'a self,
        who: &'a Requester,
        request: UploadRequest,
    ) -> BoxFuture<'a, Result<MultipartUpload, UploadError>> {
        Box::pin(Uploads::start_multipart(self, who, request))
    }

    fn sign_parts<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
        parts: Vec<PartToSign>,
    ) -> BoxFuture<'a, Result<Vec<SignedPart>, UploadError>> {
        Box::pin(Uploads::sign_parts(self, who, receipt, parts))
    }

    fn list_parts<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<Vec<StoredPart>, UploadError>> {
        Box::pin(Uploads::list_parts(self, who, receipt))
    }

    fn complete_multipart<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<StoredUpload, UploadError>> {
        Box::pin(Uploads::complete_multipart(self, who, receipt))
    }

    fn abort_multipart<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<(), UploadError>> {
        Box::pin(Uploads::abort_multipart(self, who, receipt))
    }
}
