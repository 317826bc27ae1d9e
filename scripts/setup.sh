#!/usr/bin/env bash
# Installs what building and running hookrelay needs, and only what is missing:
# the wasm target, worker-build, wasm-bindgen-cli (same version as Cargo.lock),
# the npm packages (Node 22, wrangler, binaryen, playwright-core, uPlot) and
# Debian's chromium for the browser tests. Safe to run again: a warm
# machine skips every step.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130

log() { printf '[setup] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

has_version() { # $1 = binary, $2 = exact version it must report
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qw -- "$2"
}

pids=()
if ! has_version worker-build "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (several minutes on a cold machine)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --quiet &
  pids+=($!)
fi
if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  # Not --locked: one locked dependency is missing from the registry mirror.
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (several minutes on a cold machine)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet &
  pids+=($!)
fi

# Debian's Chromium for the dashboard's browser tests (playwright-core drives it;
# Playwright never downloads a browser of its own here).
if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium (Debian) for the dashboard's browser tests"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium >/dev/null
fi

if [ ! -x node_modules/.bin/wrangler ] || ! cmp -s package-lock.json node_modules/.hookrelay-lock; then
  log "installing npm packages"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.hookrelay-lock
fi

for pid in "${pids[@]+"${pids[@]}"}"; do wait "$pid"; done
log "toolchain ready"
