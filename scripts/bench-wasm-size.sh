#!/usr/bin/env bash
# The page's wasm, side by side with an earlier commit's: each built as a release build is
# (cargo's release profile, wasm-bindgen, npm's wasm-opt -Oz), then its size raw and gzip -9.
# usage: scripts/bench-wasm-size.sh [BASE_REV]   (default: HEAD~1; the working tree is compared)
# Unsplit: this is the whole of the page's code, what a first load fetches plus the split-off
# wasm for files in parts (scripts/bench.sh measures the first load of a `scripts/build.sh` build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
base_rev=${1:-HEAD~1}
# A target directory each: with one, a checkout whose build was fresh left the other's wasm in
# place (cargo copies the output only when it builds), and both measured the same.
target_of() { echo "$root/target/front-size/$1"; }
base=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$base" 2>/dev/null || rm -rf "$base"' EXIT
git worktree add -q --detach "$base" "$base_rev"

# Prints "RAW GZIP" for the checkout in $1, built in the target directory named $2.
size_of() {
  local target
  target=$(target_of "$2")
  (cd "$1" && cargo build -q --package=frontend --lib --release --target=wasm32-unknown-unknown \
    --no-default-features --target-dir="$target")
  local out
  out=$(mktemp -d)
  wasm-bindgen --target web --no-typescript --out-dir "$out" \
    "$target/wasm32-unknown-unknown/release/frontend.wasm"
  "$root/end2end/node_modules/.bin/wasm-opt" -Oz "$out/frontend_bg.wasm" -o "$out/opt.wasm"
  echo "$(stat -c %s "$out/opt.wasm") $(gzip -9 -c "$out/opt.wasm" | wc -c)"
  rm -rf "$out"
}

read -r base_raw base_gz < <(size_of "$base" base)
read -r ours_raw ours_gz < <(size_of "$root" tree)
printf '| wasm | %s | this tree | ratio |\n|---|---|---|---|\n' "$base_rev"
awk -v a="$base_raw" -v b="$ours_raw" 'BEGIN { printf "| wasm-opt -Oz | %d B | %d B (%+d B) | %.3fx |\n", a, b, b - a, b / a }'
awk -v a="$base_gz" -v b="$ours_gz" 'BEGIN { printf "| gzip -9 | %d B | %d B (%+d B) | %.3fx |\n", a, b, b - a, b / a }'
