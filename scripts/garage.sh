#!/usr/bin/env bash
# Garage on loopback for development and tests: one node, or a cluster of three (replication
# factor 3: every object on every node, written with a quorum of 2), one bucket, one key, and a
# CORS rule for the app's origins. Writes the AWS_* settings that point the app at it to DIR/env.
# usage: scripts/garage.sh start DIR PORT ORIGIN... [--nodes 3]
#          node i: S3 API on PORT+10i, RPC on PORT+10i+1, admin on PORT+10i+3; the app talks
#          to node 0
#        scripts/garage.sh stop DIR              (every node)
#        scripts/garage.sh stop-node DIR I       (one node, to test the others carry on)
#        scripts/garage.sh start-node DIR I
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
usage="usage: garage.sh start DIR PORT ORIGIN... [--nodes 3] | stop DIR | stop-node DIR I | start-node DIR I"
cmd=${1:?$usage}
dir=${2:?$usage}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf() { echo "$dir/node$1/garage.toml"; }
g() { garage -c "$(conf 0)" "$@"; }

stop_node() {
  local pid_file="$dir/node$1/garage.pid"
  if [ -f "$pid_file" ]; then
    kill "$(cat "$pid_file")" 2>/dev/null || true
    rm -f "$pid_file"
  fi
}

start_node() {
  local node_dir="$dir/node$1"
  stop_node "$1"
  garage -c "$(conf "$1")" server >> "$node_dir/garage.log" 2>&1 &
  echo $! > "$node_dir/garage.pid"
  for _ in $(seq 1 100); do
    garage -c "$(conf "$1")" status > /dev/null 2>&1 && return 0
    kill -0 "$(cat "$node_dir/garage.pid")" 2>/dev/null || { cat "$node_dir/garage.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "garage node $1 did not start" >&2
  exit 1
}

case "$cmd" in
  stop)
    for node_dir in "$dir"/node*; do [ -d "$node_dir" ] && stop_node "${node_dir##*node}"; done
    exit 0 ;;
  stop-node) stop_node "${3:?$usage}"; exit 0 ;;
  start-node) start_node "${3:?$usage}"; exit 0 ;;
  start) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

port=${3:?$usage}
shift 3
origins=()
nodes=1
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=${2:?--nodes takes 1 or 3}; shift 2 ;;
    *) origins+=("$1"); shift ;;
  esac
done
[ ${#origins[@]} -gt 0 ] || { echo "garage.sh: name at least one origin for CORS" >&2; exit 2; }
[ "$nodes" = 1 ] || [ "$nodes" = 3 ] || { echo "garage.sh: --nodes is 1 or 3" >&2; exit 2; }

hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
if [ ! -f "$(conf 0)" ]; then
  rpc_secret=$(hex 32)
  admin_token=$(hex 32)
  for i in $(seq 0 $((nodes - 1))); do
    p=$((port + 10 * i))
    mkdir -p "$dir/node$i"
    cat > "$(conf "$i")" <<TOML
metadata_dir = "$dir/node$i/meta"
data_dir = "$dir/node$i/data"
db_engine = "sqlite"
replication_factor = $nodes
rpc_bind_addr = "127.0.0.1:$((p + 1))"
rpc_public_addr = "127.0.0.1:$((p + 1))"
rpc_secret = "$rpc_secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$p"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$((p + 3))"
admin_token = "$admin_token"
TOML
  done
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

for i in $(seq 0 $((nodes - 1))); do start_node "$i"; done

# Written at run time: nothing for shellcheck to follow.
set -a
# shellcheck source=/dev/null
. "$dir/env"
set +a
if [ ! -f "$dir/.configured" ]; then
  # Every node joins node 0, each in a zone of its own, so each holds a copy.
  for i in $(seq 1 $((nodes - 1))); do
    g node connect "$(garage -c "$(conf "$i")" node id -q)" > /dev/null
  done
  for i in $(seq 0 $((nodes - 1))); do
    node_id=$(garage -c "$(conf "$i")" node id -q | cut -d@ -f1)
    for _ in $(seq 1 50); do
      g layout assign -z "zone$i" -c 1G "$node_id" > /dev/null 2>&1 && break
      sleep 0.2
    done
  done
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
# The operator's own command writes the CORS rule (the server binary must be built: the debug
# one, or SERVER_BIN).
server_bin=${SERVER_BIN:-$root/target/debug/server}
cors_args=()
for origin in "${origins[@]}"; do cors_args+=(--origin "$origin"); done
"$server_bin" cors "${cors_args[@]}" > /dev/null
# And the rule that aborts multipart uploads left unfinished.
"$server_bin" lifecycle > /dev/null
echo "garage: $nodes node(s), bucket $UPLOAD_BUCKET at $AWS_ENDPOINT_URL_S3 (data and logs in $dir/node*)"
