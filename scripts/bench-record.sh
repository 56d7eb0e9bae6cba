#!/usr/bin/env bash
# Signing with the record of pending uploads on (issue #24), side by side with a commit before
# it: both servers built alike (the server-release profile, each checkout in a target directory
# of its own, one build after the other), then each started in turn on loopback as the fleet
# starts one, and wrk's POST /api/sign_upload (scripts/bench/sign.lua, 16 connections) against
# it: without Redis (this tree records in its embedded store, on disk) and with Redis (this tree
# records there). Two rounds, interleaved, so that a slow moment of the shared machine falls on
# both; prints each run and the ratios of the sums.
# usage: [TREE_SERVER=bin] [BASE_SERVER=bin] scripts/bench-record.sh BASE_COMMIT [DURATION, default 15s]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: scripts/bench-record.sh BASE_COMMIT [DURATION]}
duration=${2:-15s}
# Every instance gets exactly the settings written below: none inherited from the caller.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(UPLOAD_|AWS_|LEPTOS_)')
scripts/setup.sh test > /dev/null
export PATH="$HOME/.cargo/bin:$PATH"
log() { echo "== $*" >&2; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

builds=$PWD/target/bench-record
# Servers built already (say, the release build `scripts/build.sh --release` made before and
# after a change) are taken as they are: TREE_SERVER=path BASE_SERVER=path.
mkdir -p "$builds/tree/server-release" "$builds/base/server-release"
if [ -n "${TREE_SERVER:-}" ]; then
  cp "$TREE_SERVER" "$builds/tree/server-release/server"
else
  log "build this tree's server"
  cargo build --profile server-release -p server --target-dir "$builds/tree" >&2
fi
if [ -n "${BASE_SERVER:-}" ]; then
  cp "$BASE_SERVER" "$builds/base/server-release/server"
else
  log "build $base's server"
  rm -rf "$builds/base-src"
  git worktree prune
  git worktree add --detach "$builds/base-src" "$base" > /dev/null
  (cd "$builds/base-src" && cargo build --profile server-release -p server --target-dir "$builds/base") >&2
  git worktree remove --force "$builds/base-src"
fi

work=$(mktemp -d)
cleanup() {
  for dir in "$work"/*/; do scripts/fleet.sh stop-all "$dir" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# wrk's requests/s, p99 (ms) and errors (non-2xx and socket errors).
wrk_summary() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { split($0, parts, /[ ,]+/); for (i in parts) if (parts[i] ~ /^[0-9]+$/) errors += parts[i] }
    END { printf "%.0f|%.2f|%d\n", rps, p99, errors }'
}

# Signing needs no bucket to talk to: a made-up Garage-style one. Limits out of the way.
made_up=("UPLOAD_BUCKET=bench" "AWS_REGION=garage" "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9" "AWS_ACCESS_KEY_ID=GK$(hex 12)" "AWS_SECRET_ACCESS_KEY=$(hex 32)")
raised=("UPLOAD_FILES_PER_MINUTE=4000000000" "UPLOAD_SIGNS_PER_MINUTE_PER_IP=4000000000")

declare -A total
run() { # which (base|tree) redis (0|1)
  local which=$1 redis=$2 dir="$work/$1-$2-$RANDOM"
  mkdir -p "$dir"
  {
    echo "UPLOAD_SESSION_SECRET=$(hex 32)"
    printf '%s\n' "${made_up[@]}" "${raised[@]}"
    [ "$redis" = 1 ] && echo "UPLOAD_REDIS_URL=redis://127.0.0.1:3197"
  } > "$dir/instance.env"
  [ "$redis" = 1 ] && scripts/fleet.sh start-redis "$dir" 3197
  SERVER_BIN="$builds/$which/server-release/server" scripts/fleet.sh start-instance "$dir" a 3198 > /dev/null
  wrk -t2 -c16 -d1s -s scripts/bench/sign.lua http://127.0.0.1:3198 > /dev/null
  local rps p99 errors
  IFS='|' read -r rps p99 errors < <(wrk -t2 -c16 -d"$duration" --latency -s scripts/bench/sign.lua http://127.0.0.1:3198 | wrk_summary)
  scripts/fleet.sh stop-all "$dir"
  total[$which-$redis]=$(( ${total[$which-$redis]:-0} + rps ))
  echo "| $which | $([ "$redis" = 1 ] && echo Redis || echo "no Redis") | $rps | $p99 ms | $errors |"
}

echo "| server | setup | signatures/s | p99 | errors |"
echo "|---|---|---:|---:|---:|"
for _ in 1 2; do
  for redis in 0 1; do
    run base "$redis"
    run tree "$redis"
  done
done
echo
for redis in 0 1; do
  label=$([ "$redis" = 1 ] && echo "with Redis" || echo "without Redis (embedded store)")
  awk -v t="${total[tree-$redis]}" -v b="${total[base-$redis]}" -v l="$label" \
    'BEGIN { printf "%s: this tree / %s = %.3fx (%d vs %d signatures/s, mean of 2)\n", l, "base", t / b, t / 2, b / 2 }'
done
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%d); base $(git rev-parse --short "$base"), tree $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with changes)'); wrk -t2 -c16 -d$duration."
