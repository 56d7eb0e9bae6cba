//! The upload service behind the server functions ([`Uploads`]), one file per feature, each an
//! `impl Uploads` under the name of the server function it answers:
//! - [`profile`]: which upload profile a call is for, and whether its requester may use it;
//! - [`check`]: what every request to sign passes first (access code, budgets, [`app::rules`]
//!   as the profile sets them), and how a refusal is counted and logged;
//! - [`signing`]: `sign_upload`, a POST form for one file under the uploader's prefix, signed
//!   through [`crate::policy`] with the uploader's credentials, with its sealed [`receipt`];
//! - [`plain_form`]: `page_form`, the no-JavaScript form, and the rule that one form keeps one
//!   file;
//! - [`confirm`]: `confirm_upload`, what arrived checked against its receipt;
//! - [`listing`]: `my_uploads`, the uploader's objects from the bucket;
//! - [`multipart`]: files too big for one POST, in parts;
//! - [`pending`] and [`verdicts`]: the record of every grant signed, and its one verdict,
//!   whoever gives it; [`reconcile`]: the reconciler, which gives it where no browser did;
//! - [`service`]: the [`UploadService`] the server functions call, one method each.
//!
//! Budgets are the [`guard`]'s; records and verdict claims live in the [`State`]; the bucket is
//! reached through [`Objects`]. Any instance with the same session key (and the same Redis)
//! answers any request.

mod bad_receipt;
mod check;
mod confirm;
pub mod content;
mod copy;
pub mod guard;
mod listing;
mod multipart;
mod objects;
pub mod pending;
mod plain_form;
pub mod profile;
mod promote;
mod ratelimit;
pub mod receipt;
pub mod reconcile;
mod scan;
mod service;
mod signing;
mod verdicts;

use std::num::NonZeroU32;
use std::sync::Arc;

use app::service::{Requester, UploaderId};
use app::wire::{BucketInfo, UploadError};
use time::OffsetDateTime;

use crate::config::Config;
use crate::credentials::Source;
use crate::events::route::Routes;
use crate::metrics::Metrics;
use crate::policy::PolicySigner;
use crate::quarantine;
use crate::seal::SessionKey;
use crate::shared::SharedStore;
use crate::state::State;
use guard::Guard;
pub use objects::{Listed, ObjectHead, Objects, CHANGED};

/// Reads the current time; injected so tests can pin it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The upload service: what the server functions call (see [`UploadService`]), and what
/// `server sign` and `server doctor` sign with.
///
/// [`UploadService`]: app::service::UploadService
pub struct Uploads {
    config: Config,
    source: Source,
    /// Where uploads are checked after the browser reports them, and listed.
    objects: Option<Objects>,
    /// What receipts are sealed with: the session key, the same on every instance.
    seal: Arc<SessionKey>,
    clock: Clock,
    /// Set when signing for the embedded dev bucket: where its files land.
    dev_data_dir: Option<String>,
    guard: Guard,
    metrics: Arc<Metrics>,
    /// Where grants are recorded and verdicts claimed (by default, in memory).
    state: Arc<State>,
    /// How long after a form's policy expires the reconciler first looks at it.
    grace: time::Duration,
    /// Set when events are on: where each profile's verdicts go (their endpoints' outboxes),
    /// and the bells of this instance's deliverers.
    events: Option<Arc<Routes>>,
    /// The service itself, once shared ([`Uploads::serving`]): what a check that outlasts its
    /// request runs on ([`confirm`]'s quarantined uploads).
    me: std::sync::OnceLock<std::sync::Weak<Uploads>>,
}

/// `UPLOAD_RECONCILE_GRACE_SECS`'s default: see the README ("Every upload gets a verdict").
pub const DEFAULT_GRACE: std::time::Duration = std::time::Duration::from_secs(900);

/// A fresh directory for one upload of `profile` under the uploader's prefix (and the
/// profile's: [`key_segment`]): two files with one name never overwrite each other,
/// and keys sort newest first (the time counts down), so the bucket's listing, which is in key
/// order, starts with the newest. Under the uploader's staging prefix when `staged` (the
/// profile quarantines its uploads: [`crate::quarantine`]).
fn make_directory(
    uploader: &UploaderId,
    profile: &str,
    staged: bool,
    now: OffsetDateTime,
) -> String {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let random =
        u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes"));
    let segment = key_segment(profile);
    let directory =
        format!("{}{segment}{:016x}{random:016x}/", uploader_prefix(uploader), u64::MAX - millis);
    if staged {
        quarantine::staged(&directory)
    } else {
        directory
    }
}

/// The directory part a profile adds to keys: none for the default profile (its keys stay
/// `uploads/<uploader-id>/<directory>/<name>`), `<profile>/` for any other.
pub fn key_segment(profile: &str) -> String {
    match profile {
        app::rules::DEFAULT_PROFILE => String::new(),
        other => format!("{other}/"),
    }
}

/// The profile an upload's directory (`uploads/[.staging/]<uploader-id>/[<profile>/]<directory>/`)
/// was signed under: what [`key_segment`] put there.
pub fn directory_profile(directory: &str) -> &str {
    match directory.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>()[..] {
        ["uploads", quarantine::STAGING, _, profile, _] => profile,
        ["uploads", quarantine::STAGING, _, _] => app::rules::DEFAULT_PROFILE,
        ["uploads", _, profile, _] => profile,
        _ => app::rules::DEFAULT_PROFILE,
    }
}

/// Everything `uploader` stores is under this prefix, whatever the profile, or under their
/// staging prefix ([`quarantine::staging_prefix`]) until it is checked: what STS scopes their
/// credentials and the IAM policies to.
pub fn uploader_prefix(uploader: &UploaderId) -> String {
    format!("uploads/{}/", uploader.as_str())
}

/// Whether `key` is under one of `uploader`'s prefixes.
pub fn owned_by(key: &str, uploader: &UploaderId) -> bool {
    key.starts_with(&uploader_prefix(uploader))
        || key.starts_with(&quarantine::staging_prefix(uploader.as_str()))
}

impl Uploads {
    /// The service, signing with the configuration's fixed keys.
    ///
    /// # Panics
    /// When the configuration has no keys (it then needs [`Uploads::with_source`]).
    pub fn new(config: Config) -> Self {
        let credentials = config.credentials.clone().expect("Uploads::new needs fixed credentials");
        let source = Source::fixed(credentials, config.bucket.region.clone());
        Self::with_source(config, source)
    }

    pub fn with_source(config: Config, source: Source) -> Self {
        let metrics = Arc::new(Metrics::new());
        // Calls that ask the bucket are budgeted per uploader in proportion to the most files a
        // minute any profile allows (they are not per profile: a listing or a confirm names none
        // to spend from).
        let most = config.profiles.iter().map(|p| p.rules.files_per_minute).max();
        let per_uploader = most.and_then(NonZeroU32::new).unwrap_or(config.limits.files_per_minute);
        let guard =
            Guard::new(per_uploader, config.limits.signs_per_minute_per_ip, metrics.clone());
        Self {
            config,
            source,
            objects: None,
            seal: Arc::new(SessionKey::random()),
            clock: Arc::new(OffsetDateTime::now_utc),
            dev_data_dir: None,
            guard,
            metrics,
            state: Arc::new(State::in_memory()),
            grace: time::Duration::try_from(DEFAULT_GRACE).expect("fits"),
            events: None,
            me: std::sync::OnceLock::new(),
        }
    }

    /// Marks `self` as the service requests are served with: a quarantined upload's checks
    /// may then go on after the confirm that started them has answered.
    pub fn serving(self: &Arc<Self>) {
        let _ = self.me.set(Arc::downgrade(self));
    }

    /// Records grants and claims verdicts in `state` (give every instance of a fleet the same).
    pub fn with_state(mut self, state: Arc<State>) -> Self {
        self.state = state;
        self
    }

    /// Looks at a form `grace` after its policy expires.
    pub fn with_reconcile_grace(mut self, grace: std::time::Duration) -> Self {
        self.grace = time::Duration::try_from(grace).unwrap_or(time::Duration::MAX);
        self
    }

    /// With events: every verdict also goes to the outboxes of its profile's endpoints
    /// (`routes`), whose deliverers (`events::deliver`) are woken.
    pub fn with_events(mut self, routes: Arc<Routes>) -> Self {
        self.events = Some(routes);
        self
    }

    /// A fresh directory for one upload of `profile` by `uploader`: staged where the profile
    /// quarantines its uploads.
    fn fresh_directory(&self, uploader: &UploaderId, profile: &str, now: OffsetDateTime) -> String {
        let staged = self.config.profiles.get(profile).is_some_and(|p| p.quarantine);
        make_directory(uploader, profile, staged, now)
    }

    /// The endpoints that hear of an upload of `profile` (none without events).
    pub(crate) fn endpoints(&self, profile: &str) -> &[String] {
        let Some(routes) = &self.events else { return &[] };
        let own = self.config.profiles.get(profile).and_then(|p| p.webhooks.as_deref());
        routes.endpoints(own)
    }

    /// Where grants are recorded.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Where uploads are checked after the browser reports them; without it, confirming says
    /// the service is unavailable.
    pub fn with_objects(mut self, objects: Objects) -> Self {
        self.objects = Some(objects);
        self
    }

    /// Counts into `metrics` (by default, a registry of its own).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        metrics.receipt_reasons(bad_receipt::BadReceipt::ALL.map(bad_receipt::BadReceipt::label));
        self.guard.set_metrics(metrics.clone());
        self.metrics = metrics;
        self
    }

    /// Seals receipts with `key` (by default, a key of this process only): give every
    /// instance the same one.
    pub fn with_session_key(mut self, key: Arc<SessionKey>) -> Self {
        self.seal = key;
        self
    }

    /// Shares rate budgets with every instance through `store`.
    pub fn with_shared_store(mut self, store: Option<Arc<SharedStore>>) -> Self {
        self.guard = self.guard.shared(store);
        self
    }

    /// The service signing for the running dev bucket, checking uploads on its disk.
    pub fn for_dev_bucket(dev: crate::devbucket::Running) -> Self {
        let objects = Objects::Dev { store: dev.store, bucket: dev.config.bucket.clone() };
        let mut uploads = Self::new(dev.config).with_objects(objects);
        uploads.dev_data_dir = Some(dev.files);
        uploads
    }

    pub fn credential_kind(&self) -> &'static str {
        self.source.kind()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where uploads are checked and listed, if anywhere.
    pub fn objects(&self) -> Option<&Objects> {
        self.objects.as_ref()
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Whether each uploader signs with credentials limited to its own prefix (STS).
    pub fn credentials_per_uploader(&self) -> bool {
        matches!(self.source, Source::Sts(_))
    }

    /// The policy signer holding `uploader`'s credentials (fetched from STS when so configured).
    pub async fn policy_signer(
        &self,
        uploader: &UploaderId,
        now: OffsetDateTime,
    ) -> Result<Arc<PolicySigner>, UploadError> {
        self.source.signer_for(uploader, now).await.map_err(|err| {
            tracing::error!(target: "audit", event = "credentials_unavailable", uploader = uploader.as_str(), error = %err);
            signing_unavailable()
        })
    }

    /// The signer for `who`'s request: a visitor the service does not know yet (no cookie, or a
    /// page reached from another site) gets no temporary credentials of its own, so that a flood
    /// of them makes no STS calls.
    pub(super) async fn signer(
        &self,
        who: &Requester,
        now: OffsetDateTime,
    ) -> Result<Arc<PolicySigner>, UploadError> {
        if self.credentials_per_uploader()
            && !who.is_known()
            && !self.source.holds(&who.uploader, now)
        {
            return Err(UploadError::Refused(
                "this service signs only for visitors it knows: open the upload page first (and \
                 keep the cookie it sets)"
                    .into(),
            ));
        }
        self.policy_signer(&who.uploader, now).await
    }

    /// Which bucket uploads go to, and what `profile` takes there for `who` (see
    /// [`Uploads::profile_for`]): what the page shows and checks with.
    pub fn upload_target(
        &self,
        who: Option<&Requester>,
        profile: &str,
    ) -> Result<BucketInfo, UploadError> {
        let limits = &self.config.limits;
        Ok(BucketInfo {
            bucket: self.config.bucket.name.clone(),
            url: self.config.bucket.post_url(),
            method: self.config.method,
            dev_data_dir: self.dev_data_dir.clone(),
            profile: self.profile_for(who, profile)?,
            access_code_required: limits.access_code_sha256.is_some(),
            checksum: limits.checksum,
            who: app::wire::Who::Anonymous,
        })
    }

    /// Where uploads are checked, or the error saying they cannot be here.
    fn bucket_objects(&self, cannot: &'static str) -> Result<&Objects, UploadError> {
        self.objects.as_ref().ok_or_else(|| UploadError::Unavailable(cannot.into()))
    }
}

/// What the page is told when no signature can be made right now.
fn signing_unavailable() -> UploadError {
    UploadError::Unavailable("signing is temporarily unavailable; try again in a minute".into())
}
