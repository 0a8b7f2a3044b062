#!/usr/bin/env bash
# Installs what the tests and the npm build need and a fresh machine lacks: the wasm32 target,
# wasm-bindgen-cli at the version Cargo.lock pins, the Node packages of package-lock.json,
# llama-cpp-python's server in .venv (the trainer's test against a real OpenAI-compatible
# server), and Debian's Chromium (browser tests; unless $CHROMIUM names another) and strace
# (privacy test).
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate exactly (the generated glue is version-locked).
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$wanted" ]; then
  # Not --locked: the CLI's own lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$wanted"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi

# PyPI serves llama-cpp-python as source only: the first install compiles llama.cpp (about
# 6 minutes on 2 cores; pip keeps the built wheel in its cache for the next time).
if ! .venv/bin/python -c "import llama_cpp.server, gguf" 2> /dev/null; then
  python3 -m venv .venv
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) .venv/bin/pip install --quiet --disable-pip-version-check \
    "llama-cpp-python[server]==0.3.36" "gguf==0.19.0"
fi

# Debian packages: Chromium (browser tests) and strace (the no-socket test).
packages=()
[ -n "${CHROMIUM:-}" ] || [ -x /usr/bin/chromium ] || packages+=(chromium)
command -v strace > /dev/null || packages+=(strace)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends "${packages[@]}" ||
    { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${packages[@]}"; }
fi
