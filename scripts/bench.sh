#!/usr/bin/env bash
# Benchmarks, each side by side with its reference in one run (this machine is shared and noisy:
# compare ratios, not absolute figures). Not part of the tests' timing; scripts/test.sh runs
# `--short` only to prove the script works. Prints one Markdown table; docs/benchmarks.md keeps
# the latest. What it measures:
#   bytes    the wasm + JS + CSS a visitor downloads (gzip, brotli) beside Uppy 5 Dashboard +
#            @uppy/aws-s3 bundled by esbuild --minify; bytes over the wire on a first and a
#            second visit
#   page     navigation -> hydrated (the page's `hydrated` mark), on loopback and over a
#            1.6 Mbit/s link; a dropped file -> its first upload progress, without and with
#            hashing; long tasks while 256 MiB are hashed
#   signing  sign_upload over HTTP (wrk, 16 connections) beside Uppy Companion's GET /s3/params,
#            then 60 s at full load: errors, resident memory before and after; then the fleet:
#            1 or 2 instances behind nginx, with and without Redis
#   upload   1 GiB from the page (Chromium) beside a bare XHR POST in the same browser and curl
#            POSTing a form from `server sign --curl`, to Garage and to the dev bucket
# usage: scripts/bench.sh [--short]   --short: the debug build, small files, seconds not minutes
set -euo pipefail
cd "$(dirname "$0")/.."
# Every instance gets exactly the settings written below: none inherited from the caller
# (scripts/test.sh exports its Garage's, which would point the dev-bucket app at that Garage).
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(UPLOAD_|AWS_|LEPTOS_)')
short=0
[ "${1:-}" = --short ] && short=1
scripts/setup.sh test > /dev/null
# wasm-opt (release builds) and Playwright come from end2end's npm packages.
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export NODE_NO_WARNINGS=1
log() { echo "== $*" >&2; }

# The references, from npm (pinned in scripts/bench/uppy/package-lock.json).
if [ ! -f scripts/bench/uppy/node_modules/.package-lock.json ] || [ scripts/bench/uppy/package-lock.json -nt scripts/bench/uppy/node_modules/.package-lock.json ]; then
  log "references: Uppy 5, Uppy Companion, esbuild (npm)"
  (cd scripts/bench/uppy && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

if [ "$short" = 1 ]; then
  duration=2s soak=3s upload_mib=16 hash_mib=16 runs=1 build="debug"
  scripts/build.sh >&2
  export SERVER_BIN=target/debug/server
else
  duration=15s soak=60s upload_mib=1024 hash_mib=256 runs=5 build="release"
  log "release build"
  scripts/build.sh --release --precompress >&2
  export SERVER_BIN=target/server-release/server
fi
connections=16

work=$(mktemp -d)
companion_pid=
cleanup() {
  [ -n "$companion_pid" ] && kill "$companion_pid" 2>/dev/null
  for dir in "$work"/*/; do scripts/fleet.sh stop-all "$dir" 2>/dev/null || true; done
  scripts/garage.sh stop "$work/garage" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
json() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 |"); }
page() { (cd end2end && node scripts/bench-page.mjs "$@"); }

# One app instance in its own directory (fleet.sh reads DIR/instance.env).
instance() { # dir port env-lines...
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  {
    echo "UPLOAD_SESSION_SECRET=$(hex 32)"
    echo "LEPTOS_SITE_ROOT=$PWD/target/site"
    printf '%s\n' "$@"
  } > "$dir/instance.env"
  scripts/fleet.sh start-instance "$dir" a "$port" > /dev/null
}
pid_of() { cat "$1/instance-a.pid"; }
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# wrk's summary as: requests/s|p50 ms|p99 ms|errors (non-2xx and socket errors).
wrk_summary() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { split($0, parts, /[ ,]+/); for (i in parts) if (parts[i] ~ /^[0-9]+$/) errors += parts[i] }
    END { printf "%.0f|%.2f|%.2f|%d\n", rps, p50, p99, errors }'
}
load() { # url duration [wrk args...]
  local url=$1 time=$2
  shift 2
  wrk -t2 -c"$connections" -d"$time" --latency "$@" "$url" | wrk_summary
}

# --- bytes -------------------------------------------------------------------------------
log "bytes shipped"
pkg=target/site/pkg
# A pattern that matches nothing is left out, not passed on as it is.
shopt -s nullglob
# A first visit fetches the main wasm, the JS (the split loader with it) and the CSS; the
# split-off wasm files (split_*.wasm) only when their code is first used.
ours=$(node scripts/bench/sizes.mjs "$pkg"/s3-uploader.*.wasm "$pkg"/*.js "$pkg"/*.css)
wasm=$(node scripts/bench/sizes.mjs "$pkg"/s3-uploader.*.wasm)
split=$(node scripts/bench/sizes.mjs "$pkg"/split_*.wasm)
shopt -u nullglob
(cd scripts/bench/uppy && npx esbuild entry.js --bundle --minify --format=esm --log-level=error --outfile="$work/uppy.js")
cat scripts/bench/uppy/node_modules/@uppy/core/dist/style.min.css scripts/bench/uppy/node_modules/@uppy/dashboard/dist/style.min.css > "$work/uppy.css"
uppy=$(node scripts/bench/sizes.mjs "$work/uppy.js" "$work/uppy.css")
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1000 }'; }
for kind in gzip brotli; do
  a=$(json "$ours" $kind) b=$(json "$uppy" $kind)
  row "first load, $kind ($build build)" "$(kb "$a")" "$(kb "$b") (Uppy 5)" "$(ratio "$a" "$b")" "at most 100 KB gzip"
done
row "of which the wasm, gzip" "$(kb "$(json "$wasm" gzip)")" "" "" ""
row "fetched when used (files in parts), gzip" "$(kb "$(json "$split" gzip)")" "" "" ""

# --- the page ----------------------------------------------------------------------------
scripts/garage.sh start "$work/garage" 3960 http://127.0.0.1:3182 > /dev/null
mapfile -t garage_env < <(grep -v '^#' "$work/garage/env")
# The upload rows measure one POST of the file: no parts below 5 GiB (scripts/bench-big.sh
# measures files in parts).
raised=("UPLOAD_FILES_PER_MINUTE=4000000000" "UPLOAD_SIGNS_PER_MINUTE_PER_IP=4000000000" "UPLOAD_MULTIPART_THRESHOLD=5368709120")
instance "$work/garage-app" 3182 "${garage_env[@]}" "${raised[@]}" "UPLOAD_CHECKSUM_MAX_BYTES=0"
dev_key=DEVBENCH$(hex 8) dev_secret=$(hex 32)
dev_env=("UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3184" "UPLOAD_DEV_DATA_DIR=$work/dev-data" "UPLOAD_DEV_ACCESS_KEY_ID=$dev_key" "UPLOAD_DEV_SECRET_ACCESS_KEY=$dev_secret")
instance "$work/dev-app" 3183 "${dev_env[@]}" "${raised[@]}"

log "the page: load, first progress, hashing"
loaded=$(page load http://127.0.0.1:3182 "$runs")
row "navigation -> hydrated, loopback (median of $runs)" "$(json "$loaded" hydrated_ms | xargs printf '%.0f ms')" "" "" ""
if [ "$short" = 1 ]; then
  # The debug wasm is 6 MB: half a minute at this speed, for a figure nobody reads.
  row "navigation -> hydrated, first visit at 1.6 Mbit/s, 150 ms" "(not with --short)" "" "" ""
else
  slow=$(page load-slow http://127.0.0.1:3182)
  row "navigation -> hydrated, first visit at 1.6 Mbit/s, 150 ms" "$(json "$slow" slow_hydrated_ms | xargs printf '%.0f ms')" "" "" ""
fi
row "bytes over the wire: first visit / second visit" "$(kb "$(json "$loaded" first_visit_bytes)") / $(kb "$(json "$loaded" second_visit_bytes)")" "" "" "second visit: no wasm, JS or CSS again"
plain=$(page first-progress http://127.0.0.1:3182 "$runs")
hashed=$(page first-progress http://127.0.0.1:3183 "$runs")
row "drop -> first upload progress, 1 MiB, no hashing (Garage)" "$(json "$plain" first_progress_ms | xargs printf '%.0f ms')" "" "" "under 100 ms"
row "drop -> first upload progress, 1 MiB, hashed (dev bucket)" "$(json "$hashed" first_progress_ms | xargs printf '%.0f ms')" "" "" ""
tasks=$(page longtasks http://127.0.0.1:3183 "$hash_mib")
row "hashing $hash_mib MiB: time; long tasks; the longest" "$(json "$tasks" hash_ms | xargs printf '%.0f ms'); $(json "$tasks" long_tasks); $(json "$tasks" longest_task_ms | xargs printf '%.0f ms')" "" "" "no task over 50 ms"

# --- the upload --------------------------------------------------------------------------
log "upload: $upload_mib MiB, the page beside a bare XHR and curl, best of 2 each"
big="$work/big.bin"
head -c $((upload_mib << 20)) /dev/urandom > "$big"
curl_upload() { # env for `server sign`...
  env "$@" "$SERVER_BIN" sign --key "bench/curl-$(hex 4).bin" --content-type application/octet-stream --curl "$big" 2> /dev/null > "$work/upload.sh"
  local start end
  start=$(date +%s.%N)
  sh "$work/upload.sh" > /dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
mibs() { awk -v m="$upload_mib" -v s="$1" 'BEGIN { printf "%.0f MiB/s", m / s }'; }
least() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
for target in garage dev; do
  if [ "$target" = garage ]; then
    url=http://127.0.0.1:3182
    signing=("${garage_env[@]}")
  else
    url=http://127.0.0.1:3183
    signing=(UPLOAD_BUCKET=dev-uploads AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=http://127.0.0.1:3184 "AWS_ACCESS_KEY_ID=$dev_key" "AWS_SECRET_ACCESS_KEY=$dev_secret")
  fi
  ours_s="" bare_s="" curl_s=""
  for _ in 1 2; do
    # What the last upload wrote goes to disk first, so that no run pays for another's.
    sync
    uploaded=$(page upload "$url" "$big")
    ours_s=$(least "$(json "$uploaded" upload_s)" "$ours_s")
    bare_s=$(least "$(json "$uploaded" bare_s)" "$bare_s")
    sync
    curl_s=$(least "$(curl_upload "${signing[@]}")" "$curl_s")
  done
  row "upload $upload_mib MiB to $target: the page / curl (throughput)" "$(mibs "$ours_s")" "$(mibs "$curl_s") (curl)" "$(ratio "$curl_s" "$ours_s")" "at least 0.9x curl"
  row "upload $upload_mib MiB to $target: the page / a bare XHR in the same Chromium" "$(mibs "$ours_s")" "$(mibs "$bare_s") (bare XHR)" "$(ratio "$bare_s" "$ours_s")" ""
done
scripts/fleet.sh stop-all "$work/dev-app"
scripts/fleet.sh stop-all "$work/garage-app"

# --- signing -----------------------------------------------------------------------------
log "signing: sign_upload beside Uppy Companion, $connections connections, $duration each"
# Signing needs no bucket to talk to: a made-up Garage-style one. Limits out of the way.
made_up=("UPLOAD_BUCKET=bench" "AWS_REGION=garage" "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9" "AWS_ACCESS_KEY_ID=GK$(hex 12)" "AWS_SECRET_ACCESS_KEY=$(hex 32)")
instance "$work/sign" 3180 "${made_up[@]}" "${raised[@]}"
mkdir -p "$work/companion"
COMPANION_SECRET=$(hex 16) COMPANION_DOMAIN=127.0.0.1:3188 COMPANION_PROTOCOL=http COMPANION_PORT=3188 \
  COMPANION_DATADIR="$work/companion" COMPANION_CLIENT_ORIGINS=true COMPANION_AWS_BUCKET=bench \
  COMPANION_AWS_REGION=garage COMPANION_AWS_ENDPOINT=http://127.0.0.1:9 \
  COMPANION_AWS_KEY="GK$(hex 12)" COMPANION_AWS_SECRET="$(hex 32)" \
  scripts/bench/uppy/node_modules/.bin/companion > "$work/companion.log" 2>&1 &
companion_pid=$!
companion_url="http://127.0.0.1:3188/s3/params?filename=bench.txt&type=text%2Fplain"
for _ in $(seq 1 100); do curl -sf -o /dev/null "$companion_url" && break; sleep 0.2; done
# Warm up both (connections, JIT), then measure one after the other.
load http://127.0.0.1:3180 1s -s scripts/bench/sign.lua > /dev/null
load "$companion_url" 1s > /dev/null
IFS='|' read -r o_rps o_p50 o_p99 o_err < <(load http://127.0.0.1:3180 "$duration" -s scripts/bench/sign.lua)
IFS='|' read -r c_rps c_p50 c_p99 c_err < <(load "$companion_url" "$duration")
row "signatures/s over HTTP, $connections connections" "$o_rps" "$c_rps (Companion)" "$(ratio "$o_rps" "$c_rps")" "at least 40 000/s, 30x Companion"
row "signing latency p50 / p99" "$o_p50 / $o_p99 ms" "$c_p50 / $c_p99 ms" "" "p99 under 10 ms"
row "non-2xx answers and socket errors" "$o_err" "$c_err" "" "0"
kill "$companion_pid"; companion_pid=

log "signing: $soak at full load"
pid=$(pid_of "$work/sign")
before=$(rss_mib "$pid")
IFS='|' read -r s_rps _ s_p99 s_err < <(load http://127.0.0.1:3180 "$soak" -s scripts/bench/sign.lua)
after=$(rss_mib "$pid")
row "$soak at full load: signatures/s; errors; p99" "$s_rps; $s_err; $s_p99 ms" "" "" "0 errors"
row "server memory over it (resident)" "$before -> $after MiB" "" "" "flat"
scripts/fleet.sh stop-all "$work/sign"

# The fleet: instances behind nginx (round robin), with and without Redis.
fleet() { # label redis(0/1) instances...
  local label=$1 redis=$2 dir="$work/fleet-$RANDOM"
  shift 2
  mkdir -p "$dir"
  {
    echo "UPLOAD_SESSION_SECRET=$(hex 32)"
    echo "LEPTOS_SITE_ROOT=$PWD/target/site"
    echo "UPLOAD_TRUSTED_PROXIES=127.0.0.1"
    echo "UPLOAD_PUBLIC_ORIGIN=http://127.0.0.1:3199"
    printf '%s\n' "${made_up[@]}" "${raised[@]}"
    [ "$redis" = 1 ] && echo "UPLOAD_REDIS_URL=redis://127.0.0.1:3195"
  } > "$dir/instance.env"
  [ "$redis" = 1 ] && scripts/fleet.sh start-redis "$dir" 3195
  local ports=() name
  for name in "$@"; do
    local port=$((3190 + ${#ports[@]}))
    scripts/fleet.sh start-instance "$dir" "$name" "$port" > /dev/null
    ports+=("$port")
  done
  scripts/fleet.sh start-balancer "$dir" 3199 "${ports[@]}" > /dev/null
  load http://127.0.0.1:3199 1s -s scripts/bench/sign.lua > /dev/null
  IFS='|' read -r rps _p50 p99 errors < <(load http://127.0.0.1:3199 "$duration" -s scripts/bench/sign.lua)
  row "fleet through nginx: $label" "$rps/s, p99 $p99 ms, $errors errors" "" "" ""
  fleet_rps=$rps
  scripts/fleet.sh stop-all "$dir"
}
log "signing: the fleet behind nginx"
fleet "1 instance, no Redis" 0 a
fleet "1 instance, Redis" 1 a
one=$fleet_rps
fleet "2 instances, Redis" 1 a b
two=$fleet_rps

echo
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%d). $build build; wrk -t2 -c$connections -d$duration."
echo
echo "| measurement | ours | reference | ratio | goal |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Two instances / one behind nginx (both with Redis): $(ratio "$two" "$one")"
