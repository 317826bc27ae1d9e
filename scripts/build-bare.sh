#!/usr/bin/env bash
# Builds the benchmark's bare Worker (bench/bare) the way scripts/build.sh
# builds the relay: worker-build --release, offline, with the local
# wasm-bindgen, wasm-opt and esbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/@esbuild/linux-x64/bin/esbuild}"
cd bench/bare
exec worker-build --release "$@"
