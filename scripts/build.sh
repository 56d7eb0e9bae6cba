#!/usr/bin/env bash
# Builds the app as it is served: `cargo leptos build --split` (the code for files in parts goes
# in a wasm of its own, fetched the first time a file goes in parts), then scripts/seal-site.mjs
# (names the entry files by their final content, so that browsers may keep them for a year and a
# rolling deploy never mixes two builds' files under one name).
# usage: scripts/build.sh [--release] [--precompress]
#   --release      the release build (server in target/server-release, wasm optimised)
#   --precompress  the .gz and .br copies the server sends (for serving; release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
build=(--split)
seal=()
profile=debug
for arg; do
  case $arg in
    --release) build+=(--release); profile=server-release ;;
    --precompress) seal+=(--precompress) ;;
    *) echo "build.sh: unknown argument $arg (usage: scripts/build.sh [--release] [--precompress])" >&2; exit 2 ;;
  esac
done
cargo leptos build "${build[@]}"
node scripts/seal-site.mjs target/site pkg "target/$profile/hash.txt" "${seal[@]}"
