#!/usr/bin/env bash
# Speed guard: fails (exit 1) when the working tree labels more than 25% slower than BASE (a git
# revision, default HEAD), natively (cxr-label, reports/s) or in Node (the wasm package,
# ms/report). Both sides are built here and run alternately, ROUNDS times each, on the same
# machine in one run, with the model in model/ and the same reports; medians are compared.
# model/benchmark.json holds the reference numbers measured with the shipped model (another
# machine's numbers are not comparable: only the side-by-side ratio decides).
#
#   scripts/speed_guard.sh [BASE]        # REPORTS=file.jsonl ROUNDS=5 LIMIT=100 to change the run
#
# Needs a release build of each side (minutes; dependencies are shared through target/).
set -euo pipefail
cd "$(dirname "$0")/.."

base_ref=${1:-HEAD}
reports=${REPORTS:-../shared/data/iu/dev.jsonl}
[ -f "$reports" ] || reports=tests/fixtures/reports.jsonl
rounds=${ROUNDS:-5}
limit=${LIMIT:-100}
threshold=1.25

work=$(mktemp -d)
cleanup() {
  git worktree remove --force "$work/base" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

build() { # build SIDE DIR: cxr-label (no embedded model) and the npm package of the tree in DIR
  (
    cd "$2"
    # Both trees share target/, where some files have the same path for both (the final copies,
    # and the cdylib .wasm, which cargo names without a hash): remove them, so that each build
    # writes its own instead of reusing the other tree's.
    rm -f target/release/cxr-label target/wasm32-unknown-unknown/release/cxr_labeler.wasm \
      target/wasm32-unknown-unknown/release/deps/cxr_labeler.wasm
    cargo build --release --quiet --bin cxr-label --no-default-features --features cli
    cp target/release/cxr-label "$work/cxr-label-$1"
    scripts/build-npm.sh > /dev/null
    cp -r pkg "$work/pkg-$1"
  )
}

echo "building $base_ref and the working tree..." >&2
git worktree add --detach --quiet "$work/base" "$base_ref"
ln -s "$PWD/target" "$work/base/target" # share the dependency builds
build base "$work/base"
build new "$PWD"

head -n "$limit" "$reports" > "$work/reports.jsonl"
native() { # reports/s of one run
  "$work/cxr-label-$1" label "$work/reports.jsonl" -o /dev/null --model model --threads 1 --batch-size 32 2>&1 |
    grep -o '[0-9.]* reports/s' | cut -d' ' -f1
}
node_ms() { # labelBatch ms/report of one run
  node scripts/bench_node.mjs --pkg "$work/pkg-$1" --model model --reports "$work/reports.jsonl" \
    --runs 3 --limit "$limit" --json | sed 's/.*"labelBatch":\([0-9.]*\).*/\1/'
}
for round in $(seq "$rounds"); do
  for side in base new; do
    native "$side" >> "$work/native-$side"
    node_ms "$side" >> "$work/node-$side"
  done
  echo "round $round/$rounds done" >&2
done

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
nb=$(median "$work/native-base"); nn=$(median "$work/native-new")
jb=$(median "$work/node-base"); jn=$(median "$work/node-new")
echo "| measure | $base_ref | working tree | ratio |"
echo "|---|---|---|---|"
awk -v b="$nb" -v n="$nn" 'BEGIN { printf "| native reports/s (1 thread, batch 32) | %.1f | %.1f | %.2f |\n", b, n, n / b }'
awk -v b="$jb" -v n="$jn" 'BEGIN { printf "| Node labelBatch ms/report | %.1f | %.1f | %.2f |\n", b, n, n / b }'

if awk -v b="$nb" -v n="$nn" -v t="$threshold" 'BEGIN { exit !(n * t < b) }'; then
  echo "FAIL: native labeling is more than 25% slower than $base_ref" >&2
  exit 1
fi
if awk -v b="$jb" -v n="$jn" -v t="$threshold" 'BEGIN { exit !(n > b * t) }'; then
  echo "FAIL: the wasm package in Node is more than 25% slower than $base_ref" >&2
  exit 1
fi
echo "ok: within 25% of $base_ref"
