#!/usr/bin/env bash
# Runs every test of the project. On a fresh machine it first installs what is missing (the
# wasm32 target, wasm-bindgen-cli, Node packages, Chromium): see scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo test --workspace                       # unit, integration (API, golden, CLI), doc tests
scripts/build-web.sh --dev                   # the npm package and the page, as the tests load them
node --test tests/node/                      # wasm in Node: parity with native, errors, package
npx tsc -p tests/node/tsconfig.json          # the .d.ts types an example program
node --test tests/browser/                   # the page in headless Chromium
