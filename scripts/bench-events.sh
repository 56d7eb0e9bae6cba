#!/usr/bin/env bash
# Events (issue #25), measured on loopback with the server-release build:
# - delivery rate: 20 000 events queued in Redis's outbox, drained by one instance, then by two,
#   to nginx answering 204 (the service signs each, nginx checks nothing: the service's rate);
# - verdict to delivery: 200 uploads through an instance as the page makes them (sign, POST,
#   confirm), one after the other, to the verifying receiver (scripts/webhook-receiver.py):
#   p50, p99 and max from each confirm's answer to the event's arrival, without and with Redis;
# - signing with and without a webhook configured (wrk, scripts/bench/sign.lua, 16 connections;
#   two rounds, interleaved).
# usage: scripts/bench-events.sh [SIGNING_DURATION, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(UPLOAD_|AWS_|LEPTOS_)')
scripts/setup.sh test > /dev/null
export PATH="$HOME/.cargo/bin:$PATH"
log() { echo "== $*" >&2; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

target=$PWD/target/bench-events
log "build the server (server-release)"
cargo build --profile server-release -p server --target-dir "$target" >&2
export SERVER_BIN=$target/server-release/server

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for dir in "$work"/*/; do scripts/fleet.sh stop-all "$dir" 2>/dev/null || true; done
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
secret="whsec_$(head -c 32 /dev/urandom | base64)"

# nginx answering 204 to every POST, on 3190.
mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  server { listen 127.0.0.1:3190; location / { return 204; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work/nginx"

redis_cli() { redis-cli -p 3197 "$@"; }

# The rate at which INSTANCES drain 20 000 events from Redis's outbox.
drain() {
  local instances=$1 dir="$work/drain-$1" events=20000
  mkdir -p "$dir"
  {
    echo "UPLOAD_SESSION_SECRET=$(hex 32)"
    echo "UPLOAD_REDIS_URL=redis://127.0.0.1:3197"
    echo "UPLOAD_WEBHOOK_URL=http://127.0.0.1:3190/hooks"
    echo "UPLOAD_WEBHOOK_SECRET=$secret"
  } > "$dir/instance.env"
  scripts/fleet.sh start-redis "$dir" 3197 > /dev/null
  local now
  now=$(date +%s%3N)
  for i in $(seq 1 "$events"); do
    printf "XADD s3up:outbox %s-%s v '{\"id\":\"uploads/u/d%s/\",\"key\":\"uploads/u/d%s/f.txt\",\"uploader\":\"u\",\"verdict\":\"verified\",\"by\":\"browser\",\"at\":%s}'\n" \
      "$now" "$i" "$i" "$i" "$((now / 1000))"
    printf 'ZADD s3up:outbox:due 0 %s-%s\n' "$now" "$i"
  done | redis_cli > /dev/null
  local start end
  start=$(date +%s.%N)
  for n in $(seq 1 "$instances"); do
    UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:$((3180 + n)) UPLOAD_DEV_DATA_DIR="$dir/data-$n" \
      scripts/fleet.sh start-instance "$dir" "i$n" $((3191 + n)) > /dev/null
  done
  while [ "$(redis_cli XLEN s3up:outbox)" -gt 0 ]; do sleep 0.05; done
  end=$(date +%s.%N)
  # Delivered, every one: none given up, and the instances counted them all.
  local dead delivered=0
  dead=$(redis_cli XLEN s3up:outbox:dead)
  for n in $(seq 1 "$instances"); do
    delivered=$(( delivered + $(curl -s "http://127.0.0.1:$((4191 + n))/metrics" | awk '$1 == "upload_webhook_delivered_total" { print $2 }') ))
  done
  scripts/fleet.sh stop-all "$dir"
  if [ "$dead" != 0 ] || [ "$delivered" != "$events" ]; then
    echo "drain: $dead dead, $delivered delivered of $events" >&2
    exit 1
  fi
  awk -v n="$events" -v s="$start" -v e="$end" -v i="$instances" \
    'BEGIN { printf "| delivery rate, %d instance%s with Redis, to nginx (204) | %.0f events/s (%d in %.1f s, instances starting included) |\n", i, (i > 1 ? "s" : ""), n / (e - s), n, e - s }'
}

# From confirm to delivery: 200 uploads through one instance (REDIS: 0 or 1).
delay() {
  local redis=$1 dir="$work/delay-$1"
  mkdir -p "$dir"
  .venv/bin/python scripts/webhook-receiver.py 3189 "$dir/received.jsonl" --secret "$secret" > /dev/null 2>&1 &
  local receiver=$!
  pids+=("$receiver")
  {
    echo "UPLOAD_SESSION_SECRET=$(hex 32)"
    echo "UPLOAD_WEBHOOK_URL=http://127.0.0.1:3189/hooks"
    echo "UPLOAD_WEBHOOK_SECRET=$secret"
    echo "UPLOAD_SIGNS_PER_MINUTE_PER_IP=100000"
    echo "UPLOAD_FILES_PER_MINUTE=100000"
    [ "$redis" = 1 ] && echo "UPLOAD_REDIS_URL=redis://127.0.0.1:3197"
  } > "$dir/instance.env"
  [ "$redis" = 1 ] && scripts/fleet.sh start-redis "$dir" 3197 > /dev/null
  sleep 1
  UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3188 UPLOAD_DEV_DATA_DIR="$dir/data" \
    scripts/fleet.sh start-instance "$dir" a 3187 > /dev/null
  local count p50 p99 max
  read -r count p50 p99 max < <(.venv/bin/python scripts/bench/events_delay.py http://127.0.0.1:3187 http://127.0.0.1:3189 200)
  scripts/fleet.sh stop-all "$dir"
  kill "$receiver"
  echo "| verdict to delivery, $([ "$redis" = 1 ] && echo Redis || echo "no Redis"), verifying receiver | p50 $p50 ms, p99 $p99 ms, max $max ms ($count events) |"
}

wrk_rps() {
  awk '/^Requests\/sec:/ { rps = $2 } $1 == "99%" { p99 = $2 } END { printf "%.0f %s\n", rps, p99 }'
}

declare -A total
signing() { # with (0|1)
  local with=$1 dir="$work/sign-$1-$RANDOM"
  mkdir -p "$dir"
  {
    echo "UPLOAD_SESSION_SECRET=$(hex 32)"
    printf '%s\n' "UPLOAD_BUCKET=bench" "AWS_REGION=garage" "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9" \
      "AWS_ACCESS_KEY_ID=GK$(hex 12)" "AWS_SECRET_ACCESS_KEY=$(hex 32)" \
      "UPLOAD_FILES_PER_MINUTE=4000000000" "UPLOAD_SIGNS_PER_MINUTE_PER_IP=4000000000"
    if [ "$with" = 1 ]; then
      echo "UPLOAD_WEBHOOK_URL=http://127.0.0.1:3190/hooks"
      echo "UPLOAD_WEBHOOK_SECRET=$secret"
    fi
  } > "$dir/instance.env"
  scripts/fleet.sh start-instance "$dir" a 3198 > /dev/null
  wrk -t2 -c16 -d1s -s scripts/bench/sign.lua http://127.0.0.1:3198 > /dev/null
  local rps p99
  read -r rps p99 < <(wrk -t2 -c16 -d"$duration" --latency -s scripts/bench/sign.lua http://127.0.0.1:3198 | wrk_rps)
  scripts/fleet.sh stop-all "$dir"
  total[$with]=$(( ${total[$with]:-0} + rps ))
  echo "| signing, $([ "$with" = 1 ] && echo "webhook configured" || echo "no webhook") | $rps/s, p99 $p99 |"
}

echo "| what | figure |"
echo "|---|---|"
drain 1
drain 2
delay 0
delay 1
for _ in 1 2; do
  signing 0
  signing 1
done
awk -v w="${total[1]}" -v o="${total[0]}" 'BEGIN { printf "\nSigning with a webhook / without: %.3fx (%d vs %d signatures/s, mean of 2)\n", w / o, w / 2, o / 2 }'
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%d); $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with changes)')."
