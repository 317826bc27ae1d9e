#!/usr/bin/env bash
# Runs every test: format and lint checks, native unit tests of the pure modules,
# the wrangler.toml lint, then the black-box scenarios against the release Worker
# on workerd (local D1, R2, Queues) with real local destination servers.
# Installs whatever is missing first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PATH="$PWD/node_modules/.bin:$PATH"
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy (warnings denied)"
cargo clippy --all-targets --workspace --quiet -- -D warnings
step "native tests: pure modules, the command line and the wrangler.toml lint"
cargo test --workspace --quiet
step "the hookrelay CLI (for the listen scenarios)"
cargo build -p hookrelay-cli --quiet
step "release build of the Worker"
bash scripts/build.sh >/dev/null
step "wrangler deploy --dry-run for every environment"
node scripts/deploy-dry-run.mjs
step "black-box scenarios on workerd (logs in test-output/)"
rm -rf test-output
node --test --test-reporter=spec --test-concurrency=1 --test-timeout=300000 tests/*.test.mjs
