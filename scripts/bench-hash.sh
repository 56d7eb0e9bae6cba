#!/usr/bin/env bash
# In-browser hashing speed beside WebCrypto, in one run: starts the app (debug build, as
# scripts/run.sh and the tests use it) with the dev bucket on a spare port, then hashes a
# SIZE-MiB file (default 256) both ways in Chromium. The machine is shared: trust the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test > /dev/null
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
scripts/build.sh > target/bench-hash-build.log 2>&1 || { cat target/bench-hash-build.log; exit 1; }
data=$(mktemp -d)
LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR=127.0.0.1:3190 UPLOAD_DEV_DATA_DIR="$data" UPLOAD_STATE_DIR="$data/state" target/debug/server > "$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:3190/healthz > /dev/null && break; sleep 0.1; done
(cd end2end && NODE_NO_WARNINGS=1 node scripts/bench-hash.mjs http://127.0.0.1:3190 "${1:-256}")
