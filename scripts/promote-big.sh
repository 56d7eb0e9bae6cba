#!/usr/bin/env bash
# A big quarantined upload promoted by part copies (issue #28): BIG_BYTES (default 6 GiB) sent
# in the parts the server cuts (20 MiB for 6 GiB) to a Garage node on loopback under a profile
# with quarantine = true, completed (the server copies it to its final key with UploadPartCopy,
# 5 GiB at a time, and checks the copy), then read back and compared part by part. Release build; needs about 2 x BIG_BYTES of
# free disk. Too long for CI (scripts/test.sh runs the same path with a 12 MiB file in 5 MiB
# copied parts); run it and report the row in docs/benchmarks.md.
# usage: scripts/promote-big.sh [BIG_BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(UPLOAD_|AWS_|LEPTOS_)')
scripts/setup.sh test > /dev/null
export PATH="$HOME/.cargo/bin:$PATH"
work=$(mktemp -d)
cleanup() {
  scripts/garage.sh stop "$work/garage" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
scripts/garage.sh start "$work/garage" 3970 http://127.0.0.1:3191 > /dev/null
set -a
# shellcheck disable=SC1091
. "$work/garage/env"
set +a
echo "| file | sending | completing (promotion included) | reading back | SHA-256 the bucket reports |"
echo "|---|---|---|---|---|"
BIG_BYTES=${1:-$((6 << 30))} RUSTFLAGS="--cfg erase_components" cargo test --release \
  --test quarantine -- --ignored --nocapture --exact a_big_upload_is_promoted_by_part_copies_byte_for_byte \
  2>/dev/null | grep '^|'
