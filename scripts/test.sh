#!/usr/bin/env bash
# Sets up what is missing, then runs every test: the Rust unit and integration tests, and the
# Playwright end-to-end tests (Chromium -> app -> a fresh Garage in a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# The same cfg cargo-leptos gives debug builds, so both share one set of compiled crates.
echo "== cargo test"
RUSTFLAGS="--cfg erase_components" cargo test

echo "== end-to-end"
work=$(mktemp -d)
trap 'scripts/garage.sh stop "$work/garage"; rm -rf "$work"' EXIT
# Ports of their own, so tests can run beside `scripts/run.sh`.
export LEPTOS_SITE_ADDR=127.0.0.1:3100
scripts/garage.sh start "$work/garage" 3910 "http://$LEPTOS_SITE_ADDR"
set -a; . "$work/garage/env"; set +a
NODE_NO_WARNINGS=1 cargo leptos end-to-end
