//! Signing one upload policy with the day's key cached, against the floor: one HMAC-SHA256
//! over the same policy bytes. `scripts/bench-sign.sh` runs this beside boto3 and AWS JS v3.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, KeyInit, Mac};
use server::policy::{Credentials, FormSpec, OnSuccess, PolicySigner, SigningKey, SizeRule};
use sha2::Sha256;
use time::macros::datetime;

/// The same upload scripts/bench-sign.sh gives boto3 and aws-sdk-js.
fn spec() -> FormSpec {
    let mut spec = FormSpec::new(
        "uploads",
        "uploads/0123456789abcdef0123456789abcdef/fedcba9876543210fedcba9876543210/photo.jpg",
        SizeRule::Exact(5_242_880),
    );
    spec.content_type = Some("image/jpeg".into());
    spec.on_success = Some(OnSuccess::Status(201));
    spec
}

fn bench(c: &mut Criterion) {
    let now = datetime!(2026-11-28 12:00:00 UTC);
    let creds = Credentials::new("GK0123456789abcdef01234567", "f".repeat(64));
    let signer = PolicySigner::new(creds.clone(), "garage");
    let spec = spec();
    let form = signer.sign(&spec, now).unwrap();
    let policy = form.field("policy").unwrap().to_owned();

    c.bench_function("sign_policy_cached_key", |b| {
        b.iter(|| signer.sign(black_box(&spec), black_box(now)).unwrap())
    });
    c.bench_function("hmac_sha256_same_bytes", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&[7u8; 32])).unwrap();
            mac.update(black_box(policy.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
    c.bench_function("derive_day_key", |b| {
        b.iter(|| SigningKey::derive(black_box(&creds), black_box(now), "garage"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
