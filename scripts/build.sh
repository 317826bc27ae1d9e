#!/usr/bin/env bash
# Builds the Worker (build/index.js + wasm) offline: worker-build is pointed at the
# locally installed wasm-bindgen, wasm-opt and esbuild instead of downloading them.
# Also assembles the dashboard's static assets into dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/@esbuild/linux-x64/bin/esbuild}"

# The dashboard's static assets (wrangler.toml [assets]): dashboard/ as it is,
# the chart library from node_modules, and _headers at the root of dist/.
rm -rf dist
mkdir -p dist/dashboard/vendor
cp -R dashboard/. dist/dashboard/
mv dist/dashboard/_headers dist/_headers
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css dist/dashboard/vendor/

exec worker-build --release "$@"
