#!/usr/bin/env bash
# Builds the npm package (pkg/) and the page (www/dist/: the page, the package and the model in
# model/), ready to serve with `node scripts/serve.mjs`. `--dev` builds the WebAssembly without
# LTO (faster to build, slower to run; what the tests use).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-npm.sh "$@"
rm -rf www/dist
mkdir -p www/dist/pkg www/dist/model
cp www/index.html www/app.js www/csv.js www/samples.js www/style.css www/sw.js www/dist/
cp pkg/index.js pkg/worker.js pkg/cxr_labeler.js pkg/cxr_labeler_bg.wasm www/dist/pkg/
cp model/model.onnx model/tokenizer.json model/labels.json www/dist/model/
du -sh www/dist www/dist/pkg/cxr_labeler_bg.wasm www/dist/model/model.onnx
