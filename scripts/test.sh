#!/usr/bin/env bash
# Sets up what is missing, then runs every test: the Rust unit and integration tests, and the
# Playwright end-to-end tests in Chromium against two deployments of the app: two instances
# behind nginx sharing one secret and Redis, signing for a fresh 3-node Garage cluster (a real
# S3-compatible server), and one instance with the embedded dev bucket.
set -euo pipefail
cd "$(dirname "$0")/.."
# A full disk shows up as a compiler or linker crash ("Bus error", "No space left on device"), so
# a failed run ends by saying how much room was left.
disk_note() {
  [ "$1" -eq 0 ] || echo "test.sh: failed (exit $1) with $(df -Pm . | awk 'NR == 2 { print $4 }') MiB free for target/" >&2
}
trap 'disk_note $?' EXIT
scripts/setup.sh test
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export NODE_NO_WARNINGS=1

# Formatting and the shell scripts first: they take seconds and fail fast.
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== shellcheck"
shellcheck scripts/*.sh .ci/run examples/host-app/run.sh
echo "== module imports"
scripts/check-modules.py

# The same cfg cargo-leptos gives debug builds, so both share one set of compiled crates. Every
# test runs here: one that needs a tool the machine lacks fails instead of skipping.
# Built first, then run on a clock (about a minute here): a test that hangs is named by the
# harness ("has been running for over 60 seconds") and stopped, not left to eat the CI's time.
echo "== cargo test"
RUSTFLAGS="--cfg erase_components" cargo test --no-run
rc=0
UPLOAD_TESTS_REQUIRE_TOOLS=1 RUSTFLAGS="--cfg erase_components" timeout 15m cargo test || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "cargo test: stopped after 15 minutes; the test still running is named above" >&2
fi
[ "$rc" -eq 0 ] || exit "$rc"

# Every server started from here on is stopped on exit, whatever happens.
work=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/fleet.sh stop-all "$work/fleet"
  scripts/garage.sh stop "$work/garage"
  scripts/auth-proxy.sh stop "$work/auth-proxy"
  rm -rf "$work"
  disk_note "$rc"
}
trap cleanup EXIT
# Ports of their own, so tests can run beside `scripts/run.sh`: Garage nodes on 3910/3920/3930,
# nginx on 3100 in front of instances a (3103) and b (3104), Redis on 3105, the dev-bucket app on
# 3101 and its bucket on 3102 (3106/3107 for files in parts), PUT-mode apps on 3108 (Garage) and
# 3109 (its dev bucket on 3110), a dev bucket answering as R2 on 3112 (its app on 3111), MD5-mode
# apps on 3113 (Garage) and 3114 (a dev bucket answering as B2, on 3115), a token-mode app on
# 3116 (its bucket 3117; its sign-in page 3118, played by the test), a proxy-mode app on 3121
# (its bucket 3122) behind nginx on 3119 and its authenticator on 3120, the webhook receiver of
# the dev-bucket app on 3123; each app's metrics on
# its port + 1000.
scripts/garage.sh start "$work/garage" 3910 http://127.0.0.1:3100 http://127.0.0.1:3108 http://127.0.0.1:3113 --nodes 3
# Written at run time: nothing for shellcheck to follow.
set -a
# shellcheck source=/dev/null
. "$work/garage/env"
set +a

# Every grant gets a verdict on Garage too: the reconciler's tests against the cluster, and two
# instances sharing a Redis of their own whose lease holder is killed mid-round (about a
# minute). Before the app's build: a test build of the server must not replace the one
# the browsers are served by (its site settings differ).
echo "== on Garage: the reconciler, profiles, content checks"
UPLOAD_TESTS_REQUIRE_TOOLS=1 RUSTFLAGS="--cfg erase_components" timeout 10m \
  cargo test --test reconcile --test reconcile_fleet --test profiles --test content --test quarantine --test scan -- --ignored --skip measure_ --skip a_big_upload

# Lints on the server side (app and server, default features), with the flags of the build
# above so that build scripts and macros are shared.
echo "== clippy, server side"
RUSTFLAGS="--cfg erase_components" cargo clippy --all-targets -- -D warnings

# The alert rules, on series that must fire them and series that must not.
echo "== alert rules"
promtool check rules monitoring/alerts.yml
promtool test rules monitoring/alerts.test.yml

echo "== build the app"
# The sealing of the entry files' names across a deploy whose split-off code changed, then the
# build itself (sealed the same way).
node --test scripts/seal-site.test.mjs
scripts/build.sh

# Lints on the browser side: the wasm crate and `app` with `hydrate`, never in one command with
# the server (cargo would unify their features), in cargo-leptos's own target directory for the
# wasm so that its build scripts and macros are shared.
echo "== clippy, browser side"
RUSTFLAGS="--cfg erase_components" cargo clippy -p frontend -p app --target wasm32-unknown-unknown \
  --target-dir target/front -- -D warnings

echo "== end-to-end"
# The operator commands against a real bucket: `server cors` wrote the rule (scripts/garage.sh);
# `server doctor` must find everything in order for the app's origin, and name the fix for
# an origin the rule does not cover.
echo "== server doctor"
target/debug/server doctor --origin http://127.0.0.1:3100 | tee "$work/doctor.txt"
grep -q "^ok   CORS: http://127.0.0.1:3100 may POST" "$work/doctor.txt"
grep -q "^ok   POST uploads: taken, and a form that breaks its policy is refused" "$work/doctor.txt"
grep -q "^ok   IAM: s3:GetObject and s3:ListBucket on uploads/" "$work/doctor.txt"
grep -q "^note IAM, not visible from here: s3:PutObject" "$work/doctor.txt"
# A profile that quarantines needs the rule that expires staging, and CopyObject from it.
printf '[profiles.held]\nquarantine = true\n' > "$work/quarantine.toml"
UPLOAD_PROFILES="$work/quarantine.toml" target/debug/server doctor --origin http://127.0.0.1:3100 \
  > "$work/doctor-quarantine.txt"
grep -q "^ok   lifecycle: what is left in uploads/.staging/ expires after" "$work/doctor-quarantine.txt"
grep -q "^ok   quarantine: CopyObject from staging to uploads/" "$work/doctor-quarantine.txt"
if target/debug/server doctor --origin http://elsewhere.example > "$work/doctor-other.txt"; then
  echo "server doctor passed an origin the CORS rule does not cover"; exit 1
fi
grep -q "fix: run: server cors --origin http://elsewhere.example" "$work/doctor-other.txt"
# A store without POST uploads, with UPLOAD_METHOD=put: the rule must let its page PUT files.
UPLOAD_METHOD=put target/debug/server doctor --origin http://127.0.0.1:3108 | tee "$work/doctor-put.txt"
grep -q "^ok   CORS: http://127.0.0.1:3108 may PUT files" "$work/doctor-put.txt"
export LEPTOS_SITE_ROOT=target/site

# The receiver of events the fleet and the dev-bucket app send (events.spec.ts): it verifies
# each delivery with the Standard Webhooks reference library, and each event against
# docs/events.md's schema.
export WEBHOOK_RECEIVER_URL=http://127.0.0.1:3123
webhook_secret="whsec_$(head -c 32 /dev/urandom | base64)"
.venv/bin/python scripts/webhook-receiver.py 3123 "$work/webhooks.jsonl" --secret "$webhook_secret" > "$work/webhooks.log" 2>&1 &
pids+=($!)

# Two instances behind nginx: one secret, one Redis, the balancer's forwarding believed.
mkdir -p "$work/fleet"
(
  umask 077
  cat "$work/garage/env"
  echo "UPLOAD_SESSION_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  echo "UPLOAD_REDIS_URL=redis://127.0.0.1:3105"
  echo "UPLOAD_TRUSTED_PROXIES=127.0.0.1"
  # The names the browsers use: the balancer's, and each instance's, which the scale-out tests
  # call directly (any other host is answered 421).
  echo "UPLOAD_PUBLIC_ORIGIN=http://127.0.0.1:3100,http://127.0.0.1:3103,http://127.0.0.1:3104"
  # Every browser test comes from 127.0.0.1: one address budget for the whole run is too small.
  echo "UPLOAD_SIGNS_PER_MINUTE_PER_IP=100000"
  echo "LEPTOS_SITE_ROOT=$PWD/target/site"
  echo "UPLOAD_WEBHOOK_URL=$WEBHOOK_RECEIVER_URL/hooks/uploads"
  echo "UPLOAD_WEBHOOK_SECRET=$webhook_secret"
  echo "UPLOAD_PROFILES=$PWD/end2end/profiles.toml"
  # A quarantined profile's confirm answers "being checked" at once: the page's asking again
  # (and the plain form's return page's) is what the browser tests see.
  echo "UPLOAD_CHECK_WAIT_MS=0"
) > "$work/fleet/instance.env"
scripts/fleet.sh start-redis "$work/fleet" 3105
scripts/fleet.sh start-instance "$work/fleet" a 3103
scripts/fleet.sh start-instance "$work/fleet" b 3104
scripts/fleet.sh start-balancer "$work/fleet" 3100 3103 3104
# What the scale-out tests drive: the fleet's processes and the Garage cluster.
export FLEET_WORK="$work/fleet" GARAGE_DIR="$work/garage" FLEET_INSTANCES="a=http://127.0.0.1:3103,b=http://127.0.0.1:3104"
export FLEET_METRICS="http://127.0.0.1:4103,http://127.0.0.1:4104"

export DEV_APP_URL=http://127.0.0.1:3101 DEV_BUCKET_ENDPOINT=http://127.0.0.1:3102 DEV_DATA_DIR="$work/dev-data"
UPLOAD_DEV_ACCESS_KEY_ID=DEVTEST$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
UPLOAD_DEV_SECRET_ACCESS_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export UPLOAD_DEV_ACCESS_KEY_ID UPLOAD_DEV_SECRET_ACCESS_KEY
# This instance also has a size limit and an access code, which the page must handle, and sends
# its events to the receiver on 3123, as the fleet does.
export DEV_ACCESS_CODE="e2e access code"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3101 UPLOAD_STATE_DIR="$work/state-3101" UPLOAD_METRICS_ADDR=127.0.0.1:4101 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3102 UPLOAD_DEV_DATA_DIR="$DEV_DATA_DIR" UPLOAD_MAX_BYTES=8388608 \
  UPLOAD_ACCESS_CODE="$DEV_ACCESS_CODE" UPLOAD_WEBHOOK_URL="$WEBHOOK_RECEIVER_URL/hooks/uploads" UPLOAD_WEBHOOK_SECRET="$webhook_secret" \
  UPLOAD_PROFILES="$PWD/end2end/profiles.toml" UPLOAD_CHECK_WAIT_MS=0 target/debug/server > "$work/app-dev.log" 2>&1 &
pids+=($!)
# And one with the dev bucket and no size limit, for files in parts (multipart.spec.ts); its part
# URLs live 30 s, so that a test can see one expire.
export DEV_PARTS_APP_URL=http://127.0.0.1:3106 DEV_PARTS_BUCKET_ENDPOINT=http://127.0.0.1:3107 DEV_PARTS_DATA_DIR="$work/dev-parts-data"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3106 UPLOAD_STATE_DIR="$work/state-3106" UPLOAD_METRICS_ADDR=127.0.0.1:4106 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3107 UPLOAD_DEV_DATA_DIR="$DEV_PARTS_DATA_DIR" \
  UPLOAD_POLICY_TTL_SECS=30 \
  target/debug/server > "$work/app-dev-parts.log" 2>&1 &
pids+=($!)
# Stores without POST uploads (put.spec.ts): UPLOAD_METHOD=put on Garage, and on a dev bucket.
export PUT_APP_URL=http://127.0.0.1:3108
LEPTOS_SITE_ADDR=127.0.0.1:3108 UPLOAD_STATE_DIR="$work/state-3108" UPLOAD_METRICS_ADDR=127.0.0.1:4108 UPLOAD_METHOD=put \
  target/debug/server > "$work/app-put.log" 2>&1 &
pids+=($!)
export DEV_PUT_APP_URL=http://127.0.0.1:3109 DEV_PUT_BUCKET_ENDPOINT=http://127.0.0.1:3110 DEV_PUT_DATA_DIR="$work/dev-put-data"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3109 UPLOAD_STATE_DIR="$work/state-3109" UPLOAD_METRICS_ADDR=127.0.0.1:4109 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3110 UPLOAD_DEV_DATA_DIR="$DEV_PUT_DATA_DIR" \
  UPLOAD_METHOD=put target/debug/server > "$work/app-dev-put.log" 2>&1 &
pids+=($!)
# MD5 instead of checksum headers (UPLOAD_CHECKSUM=md5, with PUT): on Garage, and on a dev bucket
# answering as Backblaze B2 (which refuses x-amz-checksum-* headers).
export MD5_APP_URL=http://127.0.0.1:3113
LEPTOS_SITE_ADDR=127.0.0.1:3113 UPLOAD_STATE_DIR="$work/state-3113" UPLOAD_METRICS_ADDR=127.0.0.1:4113 UPLOAD_METHOD=put UPLOAD_CHECKSUM=md5 \
  target/debug/server > "$work/app-md5.log" 2>&1 &
pids+=($!)
export DEV_B2_APP_URL=http://127.0.0.1:3114 DEV_B2_BUCKET_ENDPOINT=http://127.0.0.1:3115 DEV_B2_DATA_DIR="$work/dev-b2-data"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3114 UPLOAD_STATE_DIR="$work/state-3114" UPLOAD_METRICS_ADDR=127.0.0.1:4114 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3115 UPLOAD_DEV_DATA_DIR="$DEV_B2_DATA_DIR" \
  UPLOAD_DEV_EMULATE=b2 UPLOAD_METHOD=put UPLOAD_CHECKSUM=md5 target/debug/server > "$work/app-dev-b2.log" 2>&1 &
pids+=($!)
# A store without POST uploads: the dev bucket answering as Cloudflare R2, the service in POST
# mode (r2.spec.ts, and `server doctor` after the browser tests).
export DEV_R2_APP_URL=http://127.0.0.1:3111 DEV_R2_BUCKET_ENDPOINT=http://127.0.0.1:3112 DEV_R2_DATA_DIR="$work/dev-r2-data"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3111 UPLOAD_STATE_DIR="$work/state-3111" UPLOAD_METRICS_ADDR=127.0.0.1:4111 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3112 UPLOAD_DEV_DATA_DIR="$DEV_R2_DATA_DIR" \
  UPLOAD_DEV_EMULATE=r2 target/debug/server > "$work/app-dev-r2.log" 2>&1 &
pids+=($!)

# Uploaders who are the application's users (identity.spec.ts): signed tokens exchanged for a
# session (its sign-in page is played by the test), on a dev bucket; and an authenticating
# proxy (nginx auth_request) naming the user, in front of another.
TOKEN_HS256_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export TOKEN_HS256_SECRET TOKEN_ISSUER=https://app.example TOKEN_AUDIENCE=uploads
export TOKEN_APP_URL=http://127.0.0.1:3116 TOKEN_BUCKET_ENDPOINT=http://127.0.0.1:3117 TOKEN_DATA_DIR="$work/token-data"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3116 UPLOAD_STATE_DIR="$work/state-3116" UPLOAD_METRICS_ADDR=127.0.0.1:4116 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3117 UPLOAD_DEV_DATA_DIR="$TOKEN_DATA_DIR" \
  UPLOAD_AUTH=token UPLOAD_TOKEN_HS256_SECRET="$TOKEN_HS256_SECRET" UPLOAD_TOKEN_ISSUER="$TOKEN_ISSUER" UPLOAD_TOKEN_AUDIENCE="$TOKEN_AUDIENCE" \
  UPLOAD_SIGN_IN_URL=http://127.0.0.1:3118/sign-in UPLOAD_MULTIPART_THRESHOLD=5242880 \
  target/debug/server > "$work/app-token.log" 2>&1 &
pids+=($!)
export PROXY_URL=http://127.0.0.1:3119 PROXY_APP_URL=http://127.0.0.1:3121 PROXY_BUCKET_ENDPOINT=http://127.0.0.1:3122 PROXY_DATA_DIR="$work/proxy-data"
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3121 UPLOAD_STATE_DIR="$work/state-3121" UPLOAD_METRICS_ADDR=127.0.0.1:4121 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3122 UPLOAD_DEV_DATA_DIR="$PROXY_DATA_DIR" \
  UPLOAD_AUTH=proxy UPLOAD_AUTH_HEADER=X-Auth-Request-User UPLOAD_AUTH_ROLES_HEADER=X-Auth-Request-Groups UPLOAD_AUTH_PROXIES=127.0.0.2 \
  UPLOAD_PUBLIC_ORIGIN="$PROXY_URL,$PROXY_APP_URL" \
  target/debug/server > "$work/app-proxy.log" 2>&1 &
pids+=($!)
scripts/auth-proxy.sh start "$work/auth-proxy" 3119 3121 3120

# The embeddable uploader (embed.spec.ts): the host application of examples/host-app, on
# localhost:3126, mints tokens, frames the avatars' uploader of an instance on 127.0.0.1:3124
# (tokens only, embedding for that origin alone, a dev bucket) and receives its webhooks.
EMBED_WEBHOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
export EMBED_APP_URL=http://127.0.0.1:3124 EMBED_HOST_URL=http://localhost:3126
.venv/bin/python examples/host-app/app.py --port 3126 --uploader "$EMBED_APP_URL" --profile avatars \
  --token-secret "$TOKEN_HS256_SECRET" --issuer "$TOKEN_ISSUER" --audience "$TOKEN_AUDIENCE" \
  --webhook-secret "$EMBED_WEBHOOK_SECRET" > "$work/host-app.log" 2>&1 &
pids+=($!)
env -u UPLOAD_BUCKET LEPTOS_SITE_ADDR=127.0.0.1:3124 UPLOAD_STATE_DIR="$work/state-3124" UPLOAD_METRICS_ADDR=127.0.0.1:4124 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3125 UPLOAD_DEV_DATA_DIR="$work/embed-data" \
  UPLOAD_AUTH=token UPLOAD_TOKEN_HS256_SECRET="$TOKEN_HS256_SECRET" UPLOAD_TOKEN_ISSUER="$TOKEN_ISSUER" UPLOAD_TOKEN_AUDIENCE="$TOKEN_AUDIENCE" \
  UPLOAD_PROFILES="$PWD/end2end/profiles.toml" UPLOAD_EMBED_ORIGINS="$EMBED_HOST_URL" \
  UPLOAD_WEBHOOK_URL=http://127.0.0.1:3126/hooks/uploads UPLOAD_WEBHOOK_SECRET="$EMBED_WEBHOOK_SECRET" \
  target/debug/server > "$work/app-embed.log" 2>&1 &
pids+=($!)

# On failure the logs come first and Playwright's account of what failed last, where a reader of
# the output's tail (CI keeps only the tail) finds it: the first failure's error, then the list.
if ! (cd end2end && npx playwright test 2>&1 | tee "$work/playwright.txt"); then
  echo "== app logs"; tail -n 15 "$work"/app-*.log "$work"/fleet/app-*.log | cut -c1-400
  echo "== what failed"
  grep -m1 -A14 -E '^  1\) ' "$work/playwright.txt" || true
  sed -n '/^  [0-9]* failed$/,$p' "$work/playwright.txt"
  exit 1
fi

# `server doctor` finds that a store takes no POST uploads and names the setting (the R2 dev
# bucket, which answers no other check: the run fails, as it must).
echo "== server doctor on a store without POST uploads"
if env UPLOAD_BUCKET=dev-uploads AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3="$DEV_R2_BUCKET_ENDPOINT" \
  AWS_ACCESS_KEY_ID="$UPLOAD_DEV_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$UPLOAD_DEV_SECRET_ACCESS_KEY" \
  target/debug/server doctor --origin "$DEV_R2_APP_URL" > "$work/doctor-r2.txt"; then
  cat "$work/doctor-r2.txt"; echo "server doctor passed a store without POST uploads"; exit 1
fi
cat "$work/doctor-r2.txt"
grep -q "^FAIL POST uploads: the store does not take them" "$work/doctor-r2.txt"
grep -q "fix: set UPLOAD_METHOD=put" "$work/doctor-r2.txt"

# Every metric the alert rules and the dashboard use, as the two running apps export them.
echo "== metrics in the alerts and the dashboard"
scripts/check-metrics.py http://127.0.0.1:4103 http://127.0.0.1:4104 http://127.0.0.1:4101

# Random requests at every server for a while: no answer may be a server error.
echo "== HTTP fuzz"
if ! scripts/http-fuzz.py 15 http://127.0.0.1:3100 "$DEV_APP_URL" "$DEV_BUCKET_ENDPOINT"; then
  # An unanswered request is most likely a panic: the logs say where.
  echo "== panics in the app logs"
  grep -h -A3 "panicked" "$work"/app-*.log "$work"/fleet/app-*.log | cut -c1-400 || echo "(none)"
  exit 1
fi

# The apps logged every signature and refusal of the run above: no secret may be in any line.
echo "== secrets in logs"
fleet_secret=$(sed -n 's/^UPLOAD_SESSION_SECRET=//p' "$work/fleet/instance.env")
for secret in "$AWS_SECRET_ACCESS_KEY" "$UPLOAD_DEV_SECRET_ACCESS_KEY" "$DEV_ACCESS_CODE" "$fleet_secret" "$TOKEN_HS256_SECRET" "$webhook_secret" "${webhook_secret#whsec_}"; do
  if grep -qF "$secret" "$work"/app-*.log "$work"/fleet/app-*.log; then
    echo "a secret key appears in the server logs"; exit 1
  fi
done
lines=$(cat "$work"/app-*.log "$work"/fleet/app-*.log | wc -l)
[ "$lines" -gt 20 ] || { echo "the server logs hold only $lines lines: nothing was checked"; exit 1; }
echo "== no secret in $lines log lines"

# The benchmark script runs (briefly, on the debug build above): every measurement and its
# reference start, measure and print their row. The figures themselves come from a full run.
echo "== benchmarks, short"
scripts/bench.sh --short > "$work/bench.txt"
cat "$work/bench.txt"
rows=$(grep -c '^| ' "$work/bench.txt")
[ "$rows" -ge 20 ] || { echo "the benchmark table has $rows rows"; exit 1; }
# And the big-file one (issue #27), on 80 MiB in parts: each upload is read back and compared.
echo "== big-file benchmark, short"
SERVER_BIN=target/debug/server scripts/bench-big.sh 80 > "$work/bench-big.txt"
cat "$work/bench-big.txt"
rows=$(grep -cE '^\| (garage|dev) \|' "$work/bench-big.txt")
[ "$rows" -eq 2 ] || { echo "the big-file benchmark printed $rows bucket rows, not 2"; exit 1; }
