#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, skipping whatever is already there at the
# right version; a second run installs nothing and says so.
# usage: scripts/setup.sh run|test   (`test` adds Garage, boto3, Chromium, promtool, shellcheck,
#        and Redis and nginx for the several-instances tests)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
export PATH="$HOME/.cargo/bin:$PATH"

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs rustc 1.96
GARAGE_VERSION=2.5.0
# cargo-leptos runs the wasm-bindgen CLI; it must match the crate Cargo.lock pins.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

installed=()
have() { printf 'setup: %-24s already installed (%s)\n' "$1" "$2"; }
did() { installed+=("$1"); }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  have "wasm32 target" "rustup"
else
  rustup target add wasm32-unknown-unknown && did "wasm32 target"
fi

# rustfmt and clippy: scripts/test.sh checks formatting and lints with them.
for component in rustfmt:fmt clippy:clippy; do
  if cargo "${component##*:}" --version >/dev/null 2>&1; then
    have "${component%%:*}" "$(cargo "${component##*:}" --version 2>/dev/null | awk '{print $2}')"
  else
    rustup component add "${component%%:*}" && did "${component%%:*}"
  fi
done

if cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  have "cargo-leptos" "$CARGO_LEPTOS_VERSION"
else
  # no_downloads: fail clearly instead of fetching wasm-bindgen/wasm-opt from GitHub.
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads && did cargo-leptos
fi

if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  have "wasm-bindgen-cli" "$WASM_BINDGEN_VERSION"
else
  # Not --locked: its lockfile pins a yanked webpki-roots.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force && did wasm-bindgen-cli
fi


# end2end's npm packages: Playwright, the S3 client the scripts use, and binaryen's wasm-opt
# (Debian's is too old and silently breaks hydration of release builds).
lock_hash=$(sha256sum end2end/package-lock.json | cut -d' ' -f1)
if [ "$(cat end2end/node_modules/.lock-hash 2>/dev/null)" = "$lock_hash" ]; then
  have "end2end npm packages" "package-lock.json"
else
  (cd end2end && npm ci --no-audit --no-fund) && echo "$lock_hash" > end2end/node_modules/.lock-hash && did "npm packages"
fi

if [ "$mode" = test ]; then
  # Garage: the real S3-compatible server the tests upload to (the app runs without it).
  if garage --version 2>/dev/null | grep -qw "$GARAGE_VERSION"; then
    have "garage" "$GARAGE_VERSION"
  else
    cargo install garage --version "$GARAGE_VERSION" --locked && did garage
  fi

  # boto3 (the reference the policy tests cross-check against) and moto (STS on loopback),
  # in a project-local venv; reinstalled when the pinned list changes.
  want_py=$(sha256sum scripts/requirements-test.txt | cut -c1-16)
  if [ -x .venv/bin/python ] && [ "$(cat .venv/.requirements 2>/dev/null)" = "$want_py" ]; then
    have "python tools (.venv)" "$want_py"
  else
    python3 -m venv .venv && .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt \
      && echo "$want_py" > .venv/.requirements && did "boto3, moto"
  fi

  if command -v chromium >/dev/null; then
    have "chromium" "$(chromium --version 2>/dev/null | awk '{print $2}')"
  else
    as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium && did chromium
  fi

  # promtool (Debian's prometheus package) checks and tests the alert rules. No daemon is
  # started or used: the tests only run promtool.
  if command -v promtool >/dev/null; then
    have "promtool" "$(promtool --version 2>&1 | awk 'NR == 1 { print $3 }')"
  else
    as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus && did promtool
  fi

  # Redis (shared budgets) and nginx (the load balancer) for the several-instances tests; clamd
  # for the malware scan's; wrk for scripts/bench.sh; shellcheck for the scripts themselves.
  # Only the binaries are used: the tests start each on a port of its own with a temp dir (and
  # clamd with a signature file of the test's own: there is no network for freshclam), never as
  # a system service.
  missing=()
  for tool in redis-server:redis-server nginx:nginx clamd:clamav-daemon wrk:wrk shellcheck:shellcheck; do
    if command -v "${tool%%:*}" >/dev/null; then
      have "${tool%%:*}" "$(command -v "${tool%%:*}")"
    else
      missing+=("${tool##*:}")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      && did "${missing[*]}"
    # Debian starts the packages' services on install; the tests never use them.
    for service in redis-server nginx clamav-daemon clamav-freshclam; do
      as_root systemctl disable --now "$service" >/dev/null 2>&1 || as_root service "$service" stop >/dev/null 2>&1 || true
    done
  fi
fi

# A first build fills target/ with about 4 GB (README, "First run"). Say so now rather than let a
# compiler stop halfway with "No space left on device".
free_mib=$(df -Pm . | awk 'NR == 2 { print $4 }')
if [ ! -d target ] && [ "$free_mib" -lt 5120 ]; then
  echo "setup: warning: ${free_mib} MiB free here; a first build needs about 4 GB for target/"
fi

if [ ${#installed[@]} -eq 0 ]; then
  echo "setup: nothing to install"
else
  echo "setup: installed ${installed[*]}"
fi
