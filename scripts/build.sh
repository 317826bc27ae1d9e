#!/usr/bin/env bash
# Builds the Worker (build/index.js + wasm) offline: worker-build is pointed at the
# locally installed wasm-bindgen, wasm-opt and esbuild instead of downloading them.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/@esbuild/linux-x64/bin/esbuild}"
exec worker-build --release "$@"
