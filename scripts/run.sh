#!/usr/bin/env bash
# Sets up what is missing and runs the app with `cargo leptos watch` on http://127.0.0.1:3000.
# Without UPLOAD_BUCKET in the environment, it starts a local Garage in ./data/garage and signs
# for that; with UPLOAD_BUCKET and the AWS_* variables set, it signs for your bucket instead.
# Extra arguments go to `cargo leptos watch` (e.g. --release).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

if [ -z "${UPLOAD_BUCKET:-}" ]; then
  scripts/garage.sh start data/garage 3900 http://127.0.0.1:3000 http://localhost:3000
  trap 'scripts/garage.sh stop data/garage' EXIT
  set -a; . data/garage/env; set +a
  echo "run: uploads go to the local Garage; stored blocks live in data/garage/data"
fi
echo "run: open http://127.0.0.1:3000 once the build is done"
cargo leptos watch "$@"
