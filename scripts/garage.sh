#!/usr/bin/env bash
# A single-node Garage on loopback for development and tests: one bucket, one key, and a CORS
# rule for the app's origins. Writes the AWS_* settings that point the app at it to DIR/env.
# usage: scripts/garage.sh start DIR PORT ORIGIN...   (S3 API on PORT, RPC on PORT+1, admin on PORT+3)
#        scripts/garage.sh stop DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
cmd=${1:?usage: garage.sh start|stop DIR ...}
dir=${2:?usage: garage.sh start|stop DIR ...}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/garage.toml"
g() { garage -c "$conf" "$@"; }

stop() {
  if [ -f "$dir/garage.pid" ]; then
    kill "$(cat "$dir/garage.pid")" 2>/dev/null || true
    rm -f "$dir/garage.pid"
  fi
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
port=${3:?usage: garage.sh start DIR PORT ORIGIN...}
shift 3
origins=("$@")
[ ${#origins[@]} -gt 0 ] || { echo "garage.sh: name at least one origin for CORS" >&2; exit 2; }

if [ ! -f "$conf" ]; then
  hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
  cat > "$conf" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$((port + 1))"
rpc_public_addr = "127.0.0.1:$((port + 1))"
rpc_secret = "$(hex 32)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$((port + 3))"
admin_token = "$(hex 32)"
TOML
  # Garage key ids are GK + 24 hex digits, secrets 64 hex digits.
  umask 077
  cat > "$dir/env" <<ENV
UPLOAD_BUCKET=uploads
AWS_REGION=garage
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port
AWS_ACCESS_KEY_ID=GK$(hex 12)
AWS_SECRET_ACCESS_KEY=$(hex 32)
ENV
fi

stop
garage -c "$conf" server > "$dir/garage.log" 2>&1 &
echo $! > "$dir/garage.pid"
for _ in $(seq 1 100); do
  g status > /dev/null 2>&1 && break
  kill -0 "$(cat "$dir/garage.pid")" 2>/dev/null || { cat "$dir/garage.log" >&2; exit 1; }
  sleep 0.2
done

set -a; . "$dir/env"; set +a
if [ ! -f "$dir/.configured" ]; then
  node_id=$(g node id -q | cut -d@ -f1)
  g layout assign -z local -c 1G "$node_id" > /dev/null
  g layout apply --version 1 > /dev/null
  g bucket create "$UPLOAD_BUCKET" > /dev/null
  g key import --yes -n uploader "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > /dev/null
  g bucket allow --read --write --owner "$UPLOAD_BUCKET" --key uploader > /dev/null
  touch "$dir/.configured"
fi
# The S3 API answers once the layout is live.
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$AWS_ENDPOINT_URL_S3" && break
  sleep 0.2
done
# The operator's own command writes the CORS rule (the server binary must be built).
cors_args=()
for origin in "${origins[@]}"; do cors_args+=(--origin "$origin"); done
"$root/target/debug/server" cors "${cors_args[@]}" > /dev/null
echo "garage: bucket $UPLOAD_BUCKET at $AWS_ENDPOINT_URL_S3 (data in $dir/data, log in $dir/garage.log)"
