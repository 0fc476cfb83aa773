#!/usr/bin/env bash
# Benchmark: STAC Items back out (`items to-ndjson`, `items to-json`) against `items from-ndjson`
# on the same deterministic Sentinel-2-like items (bench/gen_items.py): items/s and peak RSS, best
# of three runs each.
#
#   bench/items_out.sh               # 100k items (1.3 GB of NDJSON, generated once into bench/data)
#   COUNT=20000 bench/items_out.sh
#
# The three timed steps read and write local files only:
#   from-ndjson   items.ndjson → Arrow IPC file   (the reader the writer is measured against)
#   to-ndjson     Arrow IPC file → items.ndjson
#   to-json       Arrow IPC file → items.json (one ItemCollection)
# and, as users run it, `from-parquet items.parquet | to-ndjson`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

count=${COUNT:-100000}
[ -x /usr/bin/time ] || { echo "bench needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
cargo build --release --locked --quiet
ours=$PWD/target/release/stacpkg
out=$PWD/bench/out/items_out
rm -rf "$out"
mkdir -p bench/data "$out"
in=bench/data/items-$count.ndjson
if [ ! -f "$in" ]; then
  echo "generating $in" >&2
  python3 bench/gen_items.py "$count" > "$in.tmp" && mv "$in.tmp" "$in"
fi
"$ours" items from-ndjson "$in" > "$out/items.arrow"
"$ours" items from-ndjson "$in" | "$ours" items to-parquet "$out/items.parquet"

# rate LABEL CMD: best of three runs of CMD, inputs in the page cache; one line with seconds,
# items/s and peak RSS.
rate() {
  best_of 3 "cat '$in' '$out/items.arrow' > /dev/null" "$2"
  printf "%-34s %8.2f s %10.0f items/s  peak RSS %5d MB\n" "$1" "$BEST_SECS" \
    "$(echo "$count / $BEST_SECS" | bc -l)" "$((BEST_RSS / 1024))"
}

echo "machine: $(nproc) cores; stacpkg $($ours --version | cut -d' ' -f2); $count items ($(( $(stat -c %s "$in") / 1000000 )) MB NDJSON)"
rate "from-ndjson (NDJSON → IPC)" "'$ours' items from-ndjson '$in' > '$out/x.arrow'"
rate "to-ndjson (IPC → NDJSON)" "'$ours' items to-ndjson '$out/x.ndjson' < '$out/items.arrow'"
rate "to-json (IPC → ItemCollection)" "'$ours' items to-json '$out/x.json' < '$out/items.arrow'"
rate "from-parquet | to-ndjson" "'$ours' items from-parquet '$out/items.parquet' | '$ours' items to-ndjson '$out/y.ndjson'"
