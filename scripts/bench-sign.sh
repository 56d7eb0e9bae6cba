#!/usr/bin/env bash
# Signing speed beside the references, in one run on one machine: our PolicySigner (criterion),
# boto3's generate_presigned_post and AWS JS v3's createPresignedPost, all on the same upload.
# Prints per-policy times and the ratios; the machine is shared, so trust the ratios more.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test > /dev/null
export PATH="$HOME/.cargo/bin:$PATH"

cargo bench -p server --bench sign -- --warm-up-time 2 --measurement-time 5 > target/bench-sign.log 2>&1 || { cat target/bench-sign.log; exit 1; }
estimate() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['median']['point_estimate']))" "target/criterion/$1/new/estimates.json"; }
ours=$(estimate sign_policy_cached_key)
hmac=$(estimate hmac_sha256_same_bytes)
derive=$(estimate derive_day_key)
boto3=$(.venv/bin/python scripts/bench/boto3_post.py)
js=$(NODE_NO_WARNINGS=1 node end2end/scripts/bench-presigned-post.mjs)

ratio() { python3 -c "print(f'{$1/$2:.1f}x')"; }
printf '| what | ns per policy | vs ours |\n|---|---:|---:|\n'
printf '| ours: sign one policy, day key cached | %s | 1.0x |\n' "$ours"
printf '| floor: one HMAC-SHA256 over the same policy bytes | %s | %s |\n' "$hmac" "$(ratio "$hmac" "$ours")"
printf '| ours: derive the day key (once a day) | %s | %s |\n' "$derive" "$(ratio "$derive" "$ours")"
printf '| boto3 %s generate_presigned_post | %s | %s |\n' "$(.venv/bin/python -c 'import boto3; print(boto3.__version__)')" "$boto3" "$(ratio "$boto3" "$ours")"
printf '| AWS JS v3 createPresignedPost | %s | %s |\n' "$js" "$(ratio "$js" "$ours")"
