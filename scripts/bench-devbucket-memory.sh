#!/usr/bin/env bash
# Resident memory of the server while a 1 GiB file is POSTed through the embedded dev bucket:
# the file is streamed to disk, so the growth should stay far below the file's size.
# Uses the debug build that scripts/test.sh (or `scripts/build.sh`) makes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run > /dev/null
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
[ -x target/debug/server ] || scripts/build.sh
SIZE=$((1024 * 1024 * 1024))

work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
key_id=DEVBENCH$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
env -u UPLOAD_BUCKET LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR=127.0.0.1:3201 UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3202 \
  UPLOAD_DEV_DATA_DIR="$work/data" UPLOAD_DEV_ACCESS_KEY_ID="$key_id" UPLOAD_DEV_SECRET_ACCESS_KEY="$secret" \
  UPLOAD_STATE_DIR="$work/state" target/debug/server > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:3201/healthz && break; sleep 0.1; done

truncate -s "$SIZE" "$work/big.bin"   # sparse: reads cost no disk
UPLOAD_BUCKET=dev-uploads AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=http://127.0.0.1:3202 \
  AWS_ACCESS_KEY_ID="$key_id" AWS_SECRET_ACCESS_KEY="$secret" \
  target/debug/server sign --key bench/big.bin --content-type application/octet-stream --curl "$work/big.bin" \
  2> /dev/null > "$work/upload.sh"

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status"; }
before=$(rss_kb)
( peak=0; while kill -0 "$server_pid" 2>/dev/null; do r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > "$work/peak"; sleep 0.05; done ) &
sampler=$!
start=$(date +%s.%N)
sh "$work/upload.sh" > /dev/null
end=$(date +%s.%N)
sleep 0.2
kill "$sampler" 2>/dev/null || true
peak=$(cat "$work/peak")
stored=$(stat -c %s "$work/data/dev-uploads/bench/big.bin")
[ "$stored" = "$SIZE" ] || { echo "stored $stored bytes, expected $SIZE"; exit 1; }
python3 - "$before" "$peak" "$start" "$end" "$SIZE" <<'PY'
import sys
before, peak, start, end, size = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
secs = end - start
print(f"1 GiB through the dev bucket: stored whole in {secs:.1f} s ({size / secs / 2**20:.0f} MiB/s)")
print(f"server resident memory: {before / 1024:.1f} MiB before, {peak / 1024:.1f} MiB at peak, growth {(peak - before) / 1024:.1f} MiB")
PY
