#!/usr/bin/env bash
# Sets up what is missing and runs the app with `cargo leptos watch` on http://127.0.0.1:3000.
# With no configuration, uploads go to the embedded dev bucket and land in ./data/dev-uploads.
# Set UPLOAD_BUCKET and the AWS_* variables (see README.md) to upload to a real bucket instead.
# Extra arguments go to `cargo leptos watch` (e.g. --release).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
if [ -z "${UPLOAD_BUCKET:-}" ]; then
  echo "run: no UPLOAD_BUCKET set: uploads go to the embedded dev bucket; files land in data/dev-uploads"
else
  echo "run: uploads go to the bucket $UPLOAD_BUCKET"
fi
echo "run: open http://127.0.0.1:3000 once the build is done"
# `--split`: the code for files in parts is a wasm of its own, as in every build. Watching rebuilds
# in place, without scripts/build.sh's sealing of the names, so the files keep fixed names and
# the browser asks each time whether they changed (LEPTOS_HASH_FILES=false).
# The hash files an earlier scripts/build.sh left beside the binaries would tell a server started
# any other way (scripts/fleet.sh, the benches) that the names are hashed: they no longer are.
rm -f target/debug/hash.txt target/server-release/hash.txt
LEPTOS_HASH_FILES=false exec cargo leptos watch --split "$@"
