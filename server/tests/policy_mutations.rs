//! Properties of the policy core: every form the signer makes is accepted by the verifier,
//! and every single mutation of a signed form is refused with the code S3 would answer.

mod common;

use common::policy::{case, credentials, parts, sign, verdict, BUCKET, REGION};
use proptest::prelude::*;
use server::policy::{verify, Context, Credentials, Part, SizeRule};

/// What S3 answers when one field's value is changed.
fn code_for_changed(name: &str) -> &'static str {
    match name {
        "policy" | "x-amz-signature" => "SignatureDoesNotMatch",
        "x-amz-algorithm" => "InvalidArgument",
        "x-amz-credential" => "InvalidAccessKeyId",
        "x-amz-security-token" => "InvalidToken",
        _ => "AccessDenied",
    }
}

/// What S3 answers when one field's value is appended to, cut short or has a character
/// replaced: as for any change ([`code_for_changed`]), but where the field's own format check
/// comes before the signature.
fn code_for_mutated(name: &str, how: &str) -> &'static str {
    match (name, how) {
        // `<key id>/<date>/<region>/s3/aws4_request`: its tail no longer reads as a scope.
        ("x-amz-credential", "appended" | "cut short") => "InvalidArgument",
        _ => code_for_changed(name),
    }
}

/// What S3 answers when one field is missing (or was sent after the file).
fn code_for_removed(name: &str) -> &'static str {
    match name {
        "key" | "policy" | "x-amz-algorithm" | "x-amz-credential" | "x-amz-date"
        | "x-amz-signature" => "InvalidArgument",
        "x-amz-security-token" => "InvalidAccessKeyId",
        _ => "AccessDenied",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_signed_form_is_accepted_until_it_expires(case in case()) {
        let form = sign(&case);
        let parts = parts(&form.fields, case.size);
        prop_assert_eq!(verdict(&case, &parts, case.now), "accepted");
        let last_moment = form.expires_at() - time::Duration::milliseconds(1);
        prop_assert_eq!(verdict(&case, &parts, last_moment), "accepted");
        prop_assert_eq!(verdict(&case, &parts, form.expires_at()), "AccessDenied");
    }

    #[test]
    fn every_single_mutation_is_refused_with_the_right_code(case in case()) {
        let form = sign(&case);
        let fields = &form.fields;
        let check = |what: String, parts: Vec<Part>, want: &str| -> Result<(), TestCaseError> {
            prop_assert_eq!(verdict(&case, &parts, case.now), want, "{}", what);
            Ok(())
        };

        for (i, (name, value)) in fields.iter().enumerate() {
            let mut changed = fields.clone();
            // Prepended, so that even a `${filename}` key leaves the prefix its policy binds.
            changed[i].1 = format!("x{value}");
            check(format!("{name} changed"), parts(&changed, case.size), code_for_changed(name))?;
            // Appended to, cut short, one character replaced: each is another value. (Appending
            // to a key signed with `starts-with` is what starts-with allows, by design.)
            let starts_with_key = name == "key" && value.contains("${filename}");
            let mut variants = vec![("appended", format!("{value}x"))];
            if let Some((last, _)) = value.char_indices().last() {
                variants.push(("cut short", value[..last].to_owned()));
                let first = value.chars().next().unwrap();
                variants.push(("replaced", format!("{}{}", if first == 'Q' { 'R' } else { 'Q' }, &value[first.len_utf8()..])));
            }
            for (how, mutated) in variants {
                if starts_with_key && how != "replaced" {
                    continue;
                }
                let mut changed = fields.clone();
                changed[i].1 = mutated;
                check(format!("{name} {how}"), parts(&changed, case.size), code_for_mutated(name, how))?;
            }

            let mut removed = fields.clone();
            removed.remove(i);
            check(format!("{name} removed"), parts(&removed, case.size), code_for_removed(name))?;

            // The file moved before this field: this field and all after it are ignored.
            let mut moved = parts(&fields[..i], case.size);
            moved.extend(fields[i..].iter().map(|(n, v)| Part::field(n, v)));
            let credential_at = fields.iter().position(|(n, _)| n == "x-amz-credential").unwrap();
            let want = if i == 0 { "InvalidArgument" } else if i <= credential_at { "AccessDenied" } else { "InvalidArgument" };
            check(format!("file moved before {name}"), moved, want)?;

            // Field names are case-insensitive: shouting one changes nothing.
            let mut shouted = fields.clone();
            shouted[i].0 = name.to_ascii_uppercase();
            check(format!("{name} in upper case"), parts(&shouted, case.size), "accepted")?;
        }

        let before_policy = fields.len() - 2;
        let mut added = fields.clone();
        added.insert(before_policy, ("x-amz-meta-intruder".into(), "1".into()));
        check("x-amz-meta-intruder added".into(), parts(&added, case.size), "AccessDenied")?;
        let mut ignored = fields.clone();
        ignored.insert(before_policy, ("x-ignore-note".into(), "anything".into()));
        check("x-ignore-note added".into(), parts(&ignored, case.size), "accepted")?;
        let mut duplicated = fields.clone();
        duplicated.insert(1, ("key".into(), fields[0].1.clone()));
        check("key sent twice".into(), parts(&duplicated, case.size), "InvalidArgument")?;

        let (min, max) = match case.spec.size { SizeRule::Exact(n) => (n, n), SizeRule::Range { min, max } => (min, max) };
        check("one byte too many".into(), parts(fields, max + 1), "EntityTooLarge")?;
        if min > 0 {
            check("one byte too few".into(), parts(fields, min - 1), "EntityTooSmall")?;
        }
        check("no file".into(), fields.iter().map(|(n, v)| Part::field(n, v)).collect(), "InvalidArgument")?;
        let mut padded = fields.clone();
        padded.insert(before_policy, ("x-ignore-padding".into(), "p".repeat(20 * 1024)));
        check("over 20 KB before the file".into(), parts(&padded, case.size), "MaxPostPreDataLengthExceeded")?;

        let other_bucket = verify(&parts(fields, case.size), Context { bucket: "elsewhere", region: REGION, now: case.now }, |_| Some(credentials(&case.token)));
        prop_assert_eq!(other_bucket.map_err(|e| e.code), Err("AccessDenied"));
        let wrong_secret = verify(&parts(fields, case.size), Context { bucket: BUCKET, region: REGION, now: case.now }, |id| {
            let creds = Credentials::new(id, "0".repeat(64));
            Some(match &case.token { Some(t) => creds.with_session_token(t.clone()), None => creds })
        });
        prop_assert_eq!(wrong_secret.map_err(|e| e.code), Err("SignatureDoesNotMatch"));
        let unknown_key = verify(&parts(fields, case.size), Context { bucket: BUCKET, region: REGION, now: case.now }, |_| None);
        prop_assert_eq!(unknown_key.map_err(|e| e.code), Err("InvalidAccessKeyId"));
    }
}
