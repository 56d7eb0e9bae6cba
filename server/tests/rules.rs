//! What may be uploaded is decided by `app::rules`; the policy core checks the forms it signs
//! on its own (it also serves `server sign`). These properties pin the two together: for every
//! metadata entry and checksum, the core refuses exactly what the rules refuse. (The rules'
//! cap on the number of entries is the service's choice alone: S3 has none.)

use std::collections::BTreeMap;

use app::rules;
use proptest::prelude::*;
use server::policy::{Credentials, FormSpec, PolicySigner, SizeRule};
use time::macros::datetime;

/// Whether the policy core signs a form carrying `metadata` and `checksum`.
fn core_signs(metadata: Vec<(String, String)>, checksum: Option<String>) -> bool {
    let mut spec = FormSpec::new("uploads", "uploads/u/d/file.bin", SizeRule::Exact(1));
    spec.metadata = metadata;
    spec.checksum_sha256 = checksum;
    PolicySigner::new(Credentials::new("AKID", "secret"), "us-east-1")
        .sign(&spec, datetime!(2026-11-28 12:00 UTC))
        .is_ok()
}

/// Names near and far from the rule: valid ones, their neighbours, any text.
fn names() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9-]{0,70}", "[a-zA-Z0-9_. -]{1,12}", ".{0,12}"]
}

fn values() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,40}", ".{0,12}", "[a-z]{2030,2050}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_core_refuses_exactly_the_metadata_the_rules_refuse(name in names(), value in values()) {
        let by_rules = rules::metadata(&BTreeMap::from([(name.clone(), value.clone())])).is_ok();
        prop_assert_eq!(core_signs(vec![(name, value)], None), by_rules);
    }

    #[test]
    fn the_core_refuses_exactly_the_checksums_the_rules_refuse(
        raw in prop_oneof!["[A-Za-z0-9+/]{42,44}={0,2}", ".{0,50}", any::<[u8; 32]>().prop_map(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(b)
        })]
    ) {
        prop_assert_eq!(core_signs(Vec::new(), Some(raw.clone())), rules::checksum_sha256(&raw).is_ok());
    }
}

#[test]
fn both_sides_know_the_same_metadata_limit() {
    assert_eq!(rules::MAX_METADATA_BYTES, server::policy::MAX_METADATA_BYTES);
    // At the limit and one past it, decided the same way.
    for len in [rules::MAX_METADATA_BYTES - 1, rules::MAX_METADATA_BYTES] {
        let value = "x".repeat(len - 1);
        let by_rules = rules::metadata(&BTreeMap::from([("a".to_string(), value.clone())])).is_ok();
        assert!(by_rules, "{len} bytes are allowed");
        assert_eq!(core_signs(vec![("a".into(), value)], None), by_rules, "{len}");
    }
    let over = "x".repeat(rules::MAX_METADATA_BYTES);
    assert!(rules::metadata(&BTreeMap::from([("a".to_string(), over.clone())])).is_err());
    assert!(!core_signs(vec![("a".into(), over)], None));
}
