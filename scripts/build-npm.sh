#!/usr/bin/env bash
# Builds the npm package into pkg/: the WebAssembly module (SIMD128), its JavaScript glue
# (wasm-bindgen's core, src/js/index.js with fromUrl and the worker client), TypeScript types and
# package.json. `--dev` builds without LTO (faster; what the tests use).
# Needs the wasm32 target and wasm-bindgen-cli (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

profile_flag=--release
profile_dir=release
if [ "${1:-}" = "--dev" ]; then
  profile_flag=
  profile_dir=debug
fi

cargo build --lib --target wasm32-unknown-unknown --no-default-features $profile_flag
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name cxr_labeler --remove-name-section \
  "target/wasm32-unknown-unknown/$profile_dir/cxr_labeler.wasm"

version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
sed "s/\"version\": \"0.0.0\"/\"version\": \"$version\"/" src/js/package.json > pkg/package.json
cp src/js/README.md src/js/index.js src/js/index.d.ts src/js/worker.js pkg/
ls -l pkg
