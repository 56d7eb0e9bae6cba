#!/usr/bin/env bash
# Sets up what is missing, then runs every test: the Rust unit and integration tests, and the
# Playwright end-to-end tests in Chromium against two instances of the app: one signing for a
# fresh Garage (a real S3-compatible server), one with the embedded dev bucket.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export NODE_NO_WARNINGS=1

# The same cfg cargo-leptos gives debug builds, so both share one set of compiled crates.
echo "== cargo test"
RUSTFLAGS="--cfg erase_components" cargo test

# The alert rules, on series that must fire them and series that must not.
echo "== alert rules"
promtool check rules monitoring/alerts.yml
promtool test rules monitoring/alerts.test.yml

echo "== build the app"
cargo leptos build

echo "== end-to-end"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/garage.sh stop "$work/garage"
  rm -rf "$work"
}
trap cleanup EXIT
# Ports of their own, so tests can run beside `scripts/run.sh`.
scripts/garage.sh start "$work/garage" 3910 http://127.0.0.1:3100
set -a; . "$work/garage/env"; set +a

# The operator commands against a real bucket: `server cors` wrote the rule (scripts/garage.sh);
# `server doctor` must find everything in order for the app's origin, and name the fix for
# an origin the rule does not cover.
echo "== server doctor"
target/debug/server doctor --origin http://127.0.0.1:3100 | tee "$work/doctor.txt"
grep -q "^ok   CORS: http://127.0.0.1:3100 may POST" "$work/doctor.txt"
grep -q "^ok   IAM: s3:GetObject and s3:ListBucket on uploads/" "$work/doctor.txt"
grep -q "^note IAM, not visible from here: s3:PutObject" "$work/doctor.txt"
if target/debug/server doctor --origin http://elsewhere.example > "$work/doctor-other.txt"; then
  echo "server doctor passed an origin the CORS rule does not cover"; exit 1
fi
grep -q "fix: run: server cors --origin http://elsewhere.example" "$work/doctor-other.txt"
export LEPTOS_SITE_ROOT=target/site
LEPTOS_SITE_ADDR=127.0.0.1:3100 target/debug/server > "$work/app-garage.log" 2>&1 &
pids+=($!)

export DEV_APP_URL=http://127.0.0.1:3101 DEV_BUCKET_ENDPOINT=http://127.0.0.1:3102 DEV_DATA_DIR="$work/dev-data"
export UPLOAD_DEV_ACCESS_KEY_ID=DEVTEST$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
export UPLOAD_DEV_SECRET_ACCESS_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
# This instance also has a size limit and an access code, which the page must handle.
export DEV_ACCESS_CODE="e2e access code"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3101 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3102 UPLOAD_DEV_DATA_DIR="$DEV_DATA_DIR" UPLOAD_MAX_BYTES=8388608 \
  UPLOAD_ACCESS_CODE="$DEV_ACCESS_CODE" \
  target/debug/server > "$work/app-dev.log" 2>&1 &
pids+=($!)

(cd end2end && npx playwright test) || { echo "== app logs"; tail -n 30 "$work"/app-*.log; exit 1; }

# Every metric the alert rules and the dashboard use, as the two running apps export them.
echo "== metrics in the alerts and the dashboard"
scripts/check-metrics.py http://127.0.0.1:3100 "$DEV_APP_URL"

# The apps logged every signature and refusal of the run above: no secret may be in any line.
echo "== secrets in logs"
for secret in "$AWS_SECRET_ACCESS_KEY" "$UPLOAD_DEV_SECRET_ACCESS_KEY" "$DEV_ACCESS_CODE"; do
  if grep -qF "$secret" "$work"/app-*.log; then
    echo "a secret key appears in the server logs"; exit 1
  fi
done
lines=$(cat "$work"/app-*.log | wc -l)
[ "$lines" -gt 20 ] || { echo "the server logs hold only $lines lines: nothing was checked"; exit 1; }
echo "== no secret in $lines log lines"
