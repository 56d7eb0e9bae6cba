#!/usr/bin/env bash
# Big files through the page into Garage (one node, loopback), outside CI: a file over 5 GiB
# (in parts, necessarily) beside 1 GiB in one POST and 1 GiB in parts, each verified by the
# server and then read back from Garage and compared byte for byte (SHA-256). Needs `cargo
# leptos build` first, and about 3x the big file's size free on disk. Prints one line per file.
# usage: scripts/bench-big.sh [BIG_MIB (default 5632)]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
big_mib=${1:-5632}
work=$(mktemp -d)
apps=()
cleanup() {
  for pid in "${apps[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/garage.sh stop "$work/garage"
  rm -rf "$work"
}
trap cleanup EXIT
scripts/garage.sh start "$work/garage" 3960 http://127.0.0.1:3189 http://127.0.0.1:3190 > /dev/null
# Written at run time: nothing for shellcheck to follow.
set -a
# shellcheck source=/dev/null
. "$work/garage/env"
set +a
# Two instances: 3189 sends files up to 5 GiB in one POST, 3190 everything above 100 MiB in parts.
# Both have the bucket check every byte: a POST's file is hashed whole first, a part as it goes.
start() {
  LEPTOS_SITE_ADDR=127.0.0.1:$1 LEPTOS_SITE_ROOT="$PWD/target/site" UPLOAD_METRICS_ADDR=127.0.0.1:$(($1 + 1000)) \
    UPLOAD_MAX_BYTES=$((big_mib << 20)) UPLOAD_MULTIPART_THRESHOLD=$2 UPLOAD_CHECKSUM_MAX_BYTES=5368709120 \
    UPLOAD_STATE_DIR="$work/state-$1" target/debug/server > "$work/app-$1.log" 2>&1 &
  apps+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$1/healthz" > /dev/null && break; sleep 0.2; done
}
start 3189 5368709120
start 3190 104857600

for run in 1024:3189 1024:3190 "$big_mib:3189"; do
  mib=${run%:*} port=${run#*:}
  file="$work/file-$mib.bin"
  head -c $((mib << 20)) /dev/urandom > "$file"
  sync
  want=$(sha256sum "$file" | cut -d' ' -f1)
  result=$(cd end2end && node scripts/big-upload.mjs "http://127.0.0.1:$port" "$file")
  key=$(node -e 'console.log(JSON.parse(process.argv[1]).key)' "$result")
  got=$(.venv/bin/python - "$key" <<'PY'
import hashlib, os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"], region_name=os.environ["AWS_REGION"], config=Config(s3={"addressing_style": "path"}))
body = s3.get_object(Bucket=os.environ["UPLOAD_BUCKET"], Key=sys.argv[1])["Body"]
h = hashlib.sha256()
for chunk in iter(lambda: body.read(8 << 20), b""):
    h.update(chunk)
print(h.hexdigest())
PY
)
  [ "$got" = "$want" ] || { echo "$mib MiB: the stored object differs (sha256 $got, file $want)"; exit 1; }
  echo "${result%\}},\"verified_sha256\":\"$want\"}"
  rm -f "$file"
done
