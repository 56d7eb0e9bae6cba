#!/usr/bin/env bash
# The fuzz targets (server/tests/fuzz.rs) with many inputs each: the policy parser, the
# verifier, the file-name and key rules, the server functions' decoding (sign_parts' JSON too),
# multipart receipts, the dev bucket's form intake and its part PUT (query, headers, body). scripts/test.sh runs them briefly; this runs them long.
# usage: scripts/fuzz.sh [CASES]   (default 1000000 per target; prints each target's time)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cases=${1:-1000000}
RUSTFLAGS="--cfg erase_components" cargo test --test fuzz --no-run
for target in the_policy_parser_never_panics_on_any_document the_verifier_answers_every_form_with_an_s3_error_or_acceptance \
  file_names_and_keys_stay_under_the_uploader_prefix_and_map_back server_functions_answer_bad_input_without_a_server_error \
  the_dev_bucket_answers_any_post_with_an_s3_error_and_keeps_nothing multipart_receipts_open_only_as_sealed \
  sign_parts_answers_any_json_body_without_a_server_error \
  the_dev_bucket_answers_any_part_put_with_an_s3_error_and_keeps_only_whole_parts; do
  started=$(date +%s)
  FUZZ_CASES=$cases RUSTFLAGS="--cfg erase_components" cargo test -q --test fuzz -- --exact "$target" > /dev/null
  echo "fuzz: $target: $cases inputs, $(( $(date +%s) - started )) s, no failure"
done
