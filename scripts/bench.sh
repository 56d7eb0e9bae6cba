#!/usr/bin/env bash
# Benchmarks, side by side in one run (this machine is shared and noisy: compare ratios, not
# absolute figures). Not part of scripts/test.sh; `--short` runs every measurement briefly.
#   fleet: sign_upload over HTTP through nginx (round robin), release build, with wrk:
#          one instance without Redis, one with Redis, two with Redis; and the Redis round trip's
#          cost per signature (one connection, straight to an instance, with and without Redis).
# usage: scripts/bench.sh [--short]       prints a Markdown table; docs/benchmarks.md keeps one
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test > /dev/null
# wasm-opt (release builds) comes from end2end's npm packages.
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
duration=15s
[ "${1:-}" = --short ] && duration=2s
connections=16

echo "== release build" >&2
cargo leptos build --release >&2
export SERVER_BIN=target/server-release/server

work=$(mktemp -d)
cleanup() { scripts/fleet.sh stop-all "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
# Signing needs no bucket to talk to: a made-up Garage-style one. Limits out of the way.
write_env() { # with redis: 1 or 0
  {
    echo "UPLOAD_BUCKET=bench"
    echo "AWS_REGION=garage"
    echo "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9"
    echo "AWS_ACCESS_KEY_ID=GK$(hex 12)"
    echo "AWS_SECRET_ACCESS_KEY=$(hex 32)"
    echo "UPLOAD_SESSION_SECRET=$(hex 32)"
    echo "UPLOAD_TRUSTED_PROXIES=127.0.0.1"
    echo "UPLOAD_FILES_PER_MINUTE=4000000000"
    echo "UPLOAD_SIGNS_PER_MINUTE_PER_IP=4000000000"
    echo "LEPTOS_SITE_ROOT=$PWD/target/site"
    [ "$1" = 1 ] && echo "UPLOAD_REDIS_URL=redis://127.0.0.1:3195"
  } > "$work/instance.env"
}

# wrk's summary as: requests/s, p50 ms, p99 ms, errors.
measure() { # url connections threads
  local out
  out=$(wrk -t"$3" -c"$2" -d"$duration" --latency -s scripts/bench/sign.lua "$1")
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<< "$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<< "$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ { print $NF } /Socket errors:/ { print "socket" }' <<< "$out" | paste -sd' ')
  echo "$rps|$p50|$p99|${errors:-0}"
}

run_fleet() { # label redis(0/1) instances...
  local label=$1 redis=$2
  shift 2
  write_env "$redis"
  [ "$redis" = 1 ] && scripts/fleet.sh start-redis "$work" 3195
  local ports=()
  for name in "$@"; do
    local port=$((3190 + ${#ports[@]}))
    scripts/fleet.sh start-instance "$work" "$name" "$port" > /dev/null
    ports+=("$port")
  done
  scripts/fleet.sh start-balancer "$work" 3199 "${ports[@]}" > /dev/null
  # Warm up (first connections, Redis script load), then measure.
  wrk -t2 -c"$connections" -d1s -s scripts/bench/sign.lua http://127.0.0.1:3199 > /dev/null
  echo "$label|$(measure http://127.0.0.1:3199 "$connections" 2)"
  # One connection straight to the first instance: the latency of one signature.
  echo "$label, 1 connection, no nginx|$(measure "http://127.0.0.1:${ports[0]}" 1 1)"
  scripts/fleet.sh stop-all "$work"
}

echo "== sign_upload through nginx ($connections connections, wrk 2 threads, $duration each)" >&2
rows=()
plain=$(run_fleet "1 instance, no Redis" 0 a)
single=$(run_fleet "1 instance, Redis" 1 a)
double=$(run_fleet "2 instances, Redis" 1 a b)
rows+=("$(head -1 <<< "$plain")" "$(head -1 <<< "$single")" "$(head -1 <<< "$double")")
no_redis_1c=$(tail -1 <<< "$plain")
redis_1c=$(tail -1 <<< "$single")

echo
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%d). Release build, wrk -t2 -c$connections -d$duration."
echo
echo "| setup | signatures/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r label rps p50 p99 errors <<< "$row"
  echo "| $label | $rps | $p50 | $p99 | $errors |"
done
one=$(cut -d'|' -f2 <<< "${rows[1]}")
two=$(cut -d'|' -f2 <<< "${rows[2]}")
echo
echo "Two instances / one (both with Redis): $(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2fx", a / b }')"
echo
echo "| one connection, no nginx | signatures/s | p50 | p99 |"
echo "|---|---|---|---|"
for row in "$no_redis_1c" "$redis_1c"; do
  IFS='|' read -r label rps p50 p99 errors <<< "$row"
  echo "| $label | $rps | $p50 | $p99 |"
done
IFS='|' read -r _ rps_plain _ <<< "$no_redis_1c"
IFS='|' read -r _ rps_redis _ <<< "$redis_1c"
echo
echo "The Redis round trip per signature (one connection): $(awk -v a="$rps_plain" -v b="$rps_redis" 'BEGIN { printf "%.0f us", (1e6 / b - 1e6 / a) }')"
