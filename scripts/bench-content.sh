#!/usr/bin/env bash
# What the content check (UPLOAD_CONTENT_CHECK, issue #28) costs per verification: the
# browser's confirm of a small PNG with `lenient` (one ranged GET of its first 4 KB more) beside
# `off`, interleaved, on the dev bucket and on a Garage node on loopback; the server's code in
# the release profile. Prints a Markdown table (docs/benchmarks.md keeps the latest).
# usage: scripts/bench-content.sh [PAIRS, default 200]
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
PAIRS=${1:-200} RUSTFLAGS="--cfg erase_components" cargo test --release --test content \
  -- --ignored --nocapture --exact measure_what_the_check_costs_per_verification 2>/dev/null \
  | grep '^|'
