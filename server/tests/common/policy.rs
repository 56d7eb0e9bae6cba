//! Generated upload cases, signing them, and asking the verifier (the policy tests).

use std::time::Duration;

use base64::Engine;
use proptest::prelude::*;
use server::policy::{
    verify, Context, Credentials, FormSpec, OnSuccess, Part, PolicySigner, SignedForm, SizeRule,
};
use time::OffsetDateTime;

pub const BUCKET: &str = "uploads";
pub const REGION: &str = "garage";

#[derive(Debug, Clone)]
pub struct Case {
    pub spec: FormSpec,
    pub token: Option<String>,
    pub now: OffsetDateTime,
    /// A file size the form accepts.
    pub size: u64,
}

pub fn credentials(token: &Option<String>) -> Credentials {
    let creds = Credentials::new("GK0123456789abcdef01234567", "f".repeat(64));
    match token {
        Some(t) => creds.with_session_token(t.clone()),
        None => creds,
    }
}

pub fn case() -> impl Strategy<Value = Case> {
    let key = ("[a-f0-9]{4}", "[A-Za-z0-9 ._()-]{1,24}", any::<bool>()).prop_map(
        |(dir, name, templated)| {
            if templated {
                format!("uploads/{dir}/${{filename}}")
            } else {
                format!("uploads/{dir}/{name}")
            }
        },
    );
    let content_type = prop::option::of(prop::sample::select(vec![
        "image/png",
        "text/plain; charset=utf-8",
        "application/octet-stream",
    ]));
    let size = prop_oneof![
        (0u64..=10_000_000).prop_map(SizeRule::Exact),
        (0u64..=1000, 0u64..=1000)
            .prop_map(|(min, extra)| SizeRule::Range { min, max: min + extra }),
    ];
    let on_success = prop::option::of(prop_oneof![
        prop::sample::select(vec![200u16, 201, 204]).prop_map(OnSuccess::Status),
        "[a-z]{1,8}".prop_map(|path| OnSuccess::Redirect(format!("http://127.0.0.1:3000/{path}"))),
    ]);
    let metadata = prop::collection::btree_map("[a-z][a-z0-9-]{0,8}", "[ -~]{0,16}", 0..3);
    let checksum = prop::option::of(
        any::<[u8; 32]>().prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
    );
    let token = prop::option::of("[A-Za-z0-9+/=]{16,64}");
    let now = (1_600_000_000i64..1_900_000_000)
        .prop_map(|t| OffsetDateTime::from_unix_timestamp(t).unwrap());
    (
        key,
        content_type,
        size,
        on_success,
        metadata,
        checksum,
        token,
        now,
        30u64..=600,
        any::<prop::sample::Index>(),
    )
        .prop_map(
            |(
                key,
                content_type,
                size,
                on_success,
                metadata,
                checksum,
                token,
                now,
                expires_in,
                pick,
            )| {
                let mut spec = FormSpec::new(BUCKET, key, size);
                spec.content_type = content_type.map(str::to_owned);
                spec.on_success = on_success;
                spec.metadata = metadata.into_iter().collect();
                spec.checksum_sha256 = checksum;
                spec.expires_in = Duration::from_secs(expires_in);
                let size = match size {
                    SizeRule::Exact(n) => n,
                    SizeRule::Range { min, max } => {
                        min + pick.index((max - min + 1) as usize) as u64
                    }
                };
                Case { spec, token, now, size }
            },
        )
}

pub fn sign(case: &Case) -> SignedForm {
    PolicySigner::new(credentials(&case.token), REGION)
        .sign(&case.spec, case.now)
        .expect("generated specs are valid")
}

pub fn parts(fields: &[(String, String)], size: u64) -> Vec<Part> {
    let mut parts: Vec<Part> = fields.iter().map(|(n, v)| Part::field(n, v)).collect();
    parts.push(Part::File { file_name: "C:\\photos\\holiday.jpg".into(), size });
    parts
}

/// The code the verifier answers, or "accepted".
pub fn verdict(case: &Case, parts: &[Part], now: OffsetDateTime) -> &'static str {
    let creds = credentials(&case.token);
    let lookup = |id: &str| (id == creds.access_key_id()).then(|| creds.clone());
    match verify(parts, Context { bucket: BUCKET, region: REGION, now }, lookup) {
        Ok(_) => "accepted",
        Err(err) => err.code,
    }
}
