#!/usr/bin/env bash
# What holding and scanning cost (issue #28): the browser's confirm of a PNG (33 B and 4 MiB)
# under profiles with no check, the content check, quarantine (a copy to the final key), and
# quarantine with clamd's scan, interleaved, on the dev bucket and a Garage node on loopback;
# and, side by side with BASE (a commit before quarantine), the content check's own measurement
# (its `off` column: what an upload costs with every check off), each built in the release
# profile. Prints Markdown tables (docs/benchmarks.md keeps the latest).
# usage: scripts/bench-quarantine.sh BASE_COMMIT [PAIRS, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: scripts/bench-quarantine.sh BASE_COMMIT [PAIRS]}
pairs=${2:-100}
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(UPLOAD_|AWS_|LEPTOS_)')
scripts/setup.sh test > /dev/null
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTFLAGS="--cfg erase_components"
log() { echo "== $*" >&2; }
work=$(mktemp -d)
cleanup() {
  scripts/garage.sh stop "$work/garage" 2>/dev/null || true
  git worktree remove --force "$work/base-src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The test binaries, one build after the other, sharing the target directory's dependencies.
test_binary() { # dir test
  (cd "$1" && cargo test --release --test "$2" --no-run --message-format=json 2>/dev/null) |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])' | tail -1
}
log "build $base's content test"
git worktree prune
git worktree add --detach "$work/base-src" "$base" > /dev/null
base_content=$(CARGO_TARGET_DIR=$PWD/target test_binary "$work/base-src" content)
cp "$base_content" "$work/base-content"
log "build this tree's tests"
# Cargo hashes a workspace's own crates by their path inside it, so the base's worktree and
# this one share artifacts, told apart by the sources' times: the base's are newer.
find app server frontend -name '*.rs' -exec touch {} +
tree_content=$(test_binary . content)
tree_quarantine=$(test_binary . quarantine)

scripts/garage.sh start "$work/garage" 3970 http://127.0.0.1:3191 > /dev/null
set -a
# shellcheck disable=SC1091
. "$work/garage/env"
set +a
measure() { # binary test
  PAIRS=$pairs "$1" --ignored --nocapture --exact "$2" 2>/dev/null | grep '^|'
}
log "every check off, and the content check: $base, then this tree"
echo "$base:"
measure "$work/base-content" measure_what_the_check_costs_per_verification
echo "this tree:"
measure "$tree_content" measure_what_the_check_costs_per_verification
log "quarantine and scan"
measure "$tree_quarantine" measure_what_holding_and_scanning_cost
