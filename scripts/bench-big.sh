#!/usr/bin/env bash
# A big file through the page beside curl, outside CI (issue #27, goal 1): a BIG_MIB file
# (default 5 GiB) chosen in the page goes in parts, every part hashed and checked by the bucket,
# beside curl POSTing 1 GiB to the same bucket with a form from `server sign --curl` (one
# request, no checksum), and (Garage) beside boto3 sending the same parts with the same checks,
# the ceiling a native client reaches; on Garage and on the dev bucket, one run each. Every
# object is read back and compared with its file (SHA-256), then removed. The release build
# (`scripts/build.sh --release` first, or SERVER_BIN=...); about 3x BIG_MIB free on disk.
# Prints one Markdown row per bucket: throughputs and the page's / curl's ratio.
# CHECKSUM=off: the apps sign no checksum, so the page hashes nothing (what hashing costs).
# usage: [TARGETS="garage dev"] [HASHERS="native wasm"] [BOTO3=no] [CHECKSUM=off] scripts/bench-big.sh [BIG_MIB (default 5120)]
set -euo pipefail
# A SERVER_BIN relative to where the script was started from.
server_bin=${SERVER_BIN:+$(realpath -m "$SERVER_BIN")}
cd "$(dirname "$0")/.."
# Every instance gets exactly the settings written below: none inherited from the caller.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(UPLOAD_|AWS_|LEPTOS_)')
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export NODE_NO_WARNINGS=1
big_mib=${1:-5120}
# curl sends 1 GiB, or the whole file when it is smaller (the short pass in scripts/test.sh).
curl_mib=$((big_mib < 1024 ? big_mib : 1024))
server=${server_bin:-target/server-release/server}
[ -x "$server" ] || { echo "no $server: run \`scripts/build.sh --release\` first" >&2; exit 1; }
log() { echo "== $*" >&2; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
json() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }

work=$(mktemp -d)
apps=()
cleanup() {
  for pid in "${apps[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/garage.sh stop "$work/garage" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
SERVER_BIN=$server scripts/garage.sh start "$work/garage" 3960 http://127.0.0.1:3189 > /dev/null
mapfile -t garage_env < <(grep -v '^#' "$work/garage/env")
dev_key=DEVBENCH$(hex 8) dev_secret=$(hex 32)
dev_env=(UPLOAD_BUCKET=dev-uploads AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=http://127.0.0.1:3191 "AWS_ACCESS_KEY_ID=$dev_key" "AWS_SECRET_ACCESS_KEY=$dev_secret")

# One instance per bucket, in the default configuration but for the limits a benchmark hits:
# files above 64 MiB go in parts, each part's SHA-256 signed and checked.
start() { # port env...
  local port=$1
  shift
  env "$@" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$PWD/target/site" UPLOAD_METRICS_ADDR="127.0.0.1:$((port + 1000))" \
    UPLOAD_MAX_BYTES=$((big_mib << 20)) UPLOAD_CHECKSUM="${CHECKSUM:-sha256}" \
    UPLOAD_FILES_PER_MINUTE=4000000000 UPLOAD_SIGNS_PER_MINUTE_PER_IP=4000000000 \
    UPLOAD_STATE_DIR="$work/state-$port" "$server" > "$work/app-$port.log" 2>&1 &
  apps+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" > /dev/null && return 0; sleep 0.2; done
  echo "the app on $port did not start:" >&2
  cat "$work/app-$port.log" >&2
  exit 1
}
start 3189 "${garage_env[@]}"
start 3190 "UPLOAD_DEV_BUCKET_ADDR=127.0.0.1:3191" "UPLOAD_DEV_DATA_DIR=$work/dev-data" "UPLOAD_DEV_ACCESS_KEY_ID=$dev_key" "UPLOAD_DEV_SECRET_ACCESS_KEY=$dev_secret"

log "files: $big_mib MiB and $curl_mib MiB of random bytes"
big="$work/big.bin" small="$work/curl.bin"
head -c $((big_mib << 20)) /dev/urandom > "$big"
head -c $((curl_mib << 20)) /dev/urandom > "$small"
big_sha=$(sha256sum "$big" | cut -d' ' -f1)
small_sha=$(sha256sum "$small" | cut -d' ' -f1)
sync

# The object's SHA-256 as the bucket gives it back; then it is removed.
read_back() { # key env...
  local key=$1
  shift
  env "$@" .venv/bin/python - "$key" <<'PY'
import hashlib, os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"], region_name=os.environ["AWS_REGION"], config=Config(s3={"addressing_style": "path"}))
bucket, key = os.environ["UPLOAD_BUCKET"], sys.argv[1]
body = s3.get_object(Bucket=bucket, Key=key)["Body"]
h = hashlib.sha256()
for chunk in iter(lambda: body.read(8 << 20), b""):
    h.update(chunk)
try:
    s3.delete_object(Bucket=bucket, Key=key)
except Exception:
    pass  # the dev bucket has no DeleteObject: removed from its directory below
print(h.hexdigest())
PY
  rm -f "$work/dev-data/dev-uploads/$key"
}
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }

# What a native client reaches with the same checked parts (Garage only: the dev bucket takes
# presigned requests only): boto3 sends FILE in PART_MIB parts, each with its SHA-256 (hashlib),
# IN_FLIGHT at a time, with the bucket's own key. Prints the seconds and the key.
boto3_parts() { # file part_mib in_flight env...
  local file=$1 part=$2 in_flight=$3
  shift 3
  env "$@" .venv/bin/python - "$file" "$part" "$in_flight" <<'PY'
import os, sys, time, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
file, part, in_flight = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"], region_name=os.environ["AWS_REGION"],
                  config=Config(s3={"addressing_style": "path"}, max_pool_connections=in_flight))
key = f"bench/boto3-{os.getpid()}.bin"
config = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=in_flight)
started = time.monotonic()
s3.upload_file(file, os.environ["UPLOAD_BUCKET"], key, ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=config)
print(f"{time.monotonic() - started:.3f} {key}")
PY
}

# app::rules::part_size: near 320 parts of at most 32 MiB, at least 8 MiB (files up to 312 GiB)
part_mib=$(( (big_mib + 319) / 320 ))
part_mib=$(( part_mib > 32 ? 32 : part_mib ))
part_mib=$(( part_mib > 8 ? part_mib : 8 ))
echo "| bucket | curl, one POST of $curl_mib MiB | the page, $big_mib MiB in parts, hashed natively | ratio (page / curl) | the same, hashed in wasm (before) | ratio | boto3, the same parts, each with its SHA-256, 4 at a time | ratio (page / boto3) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for target in ${TARGETS:-garage dev}; do
  if [ "$target" = garage ]; then port=3189 signing=("${garage_env[@]}"); else port=3190 signing=("${dev_env[@]}"); fi
  log "$target: curl"
  key="bench/curl-$(hex 4).bin"
  env "${signing[@]}" "$server" sign --key "$key" --content-type application/octet-stream --curl "$small" 2> /dev/null > "$work/upload.sh"
  started=$(date +%s.%N)
  sh "$work/upload.sh" > /dev/null
  curl_s=$(seconds_since "$started")
  [ "$(read_back "$key" "${signing[@]}")" = "$small_sha" ] || { echo "$target: curl's object differs from its file" >&2; exit 1; }
  cells="| $target | $(awk -v m="$curl_mib" -v s="$curl_s" 'BEGIN { printf "%.0f MiB/s (%.1f s)", m / s, s }') |"
  # The page as it hashes by default (crypto.subtle), then as it hashed before (sha2 in wasm:
  # still the path without crypto.subtle).
  for hasher in ${HASHERS:-native wasm}; do
    sync
    log "$target: the page, hashing $hasher"
    result=$(cd end2end && node scripts/big-upload.mjs "http://127.0.0.1:$port" "$big" "$hasher")
    log "$result"
    [ "$hasher" = native ] && page_s=$(json "$result" seconds)
    [ "$(read_back "$(json "$result" key)" "${signing[@]}")" = "$big_sha" ] || { echo "$target: the page's object differs from its file" >&2; exit 1; }
    cells+=$(awk -v m="$big_mib" -v s="$(json "$result" seconds)" -v n="$(json "$result" put)" -v c="$curl_mib" -v cs="$curl_s" \
      'BEGIN { printf " %.0f MiB/s (%.1f s, %d parts) | %.2fx |", m / s, s, n, (m / s) / (c / cs) }')
  done
  if [ "$target" = garage ] && [ "${BOTO3:-yes}" = yes ]; then
    sync
    log "$target: boto3, $part_mib MiB parts"
    read -r boto3_s key < <(boto3_parts "$big" "$part_mib" 4 "${signing[@]}")
    [ "$(read_back "$key" "${signing[@]}")" = "$big_sha" ] || { echo "$target: boto3's object differs from its file" >&2; exit 1; }
    cells+=$(awk -v m="$big_mib" -v s="$boto3_s" -v p="${page_s:-}" \
      'BEGIN { printf " %.0f MiB/s (%.1f s) | %s |", m / s, s, p == "" ? "" : sprintf("%.2fx", s / p) }')
  elif [ "$target" = dev ]; then
    cells+=" (presigned requests only) | |"
  fi
  echo "$cells"
done
echo
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%d); $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with changes)'); $server."
