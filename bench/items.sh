#!/usr/bin/env bash
# Benchmark: STAC NDJSON → items.parquet (`stacpkg items from-ndjson F | stacpkg items to-parquet O`)
# on deterministic Sentinel-2-like items (bench/gen_items.py), for 100k and 1M items: items/s,
# MB/s of input, peak RSS of each process (/usr/bin/time), and the same pipeline with the Python
# original on the 100k file, in the same run, with the ratio.
#
#   bench/items.sh                  # both sizes, with the Python original if it can be installed
#   SIZES="100k" bench/items.sh     # only 100k
#   PYTHON_ORIGINAL=0 bench/items.sh
#
# Inputs are generated once into bench/data (1.3 GB and 12.6 GB); outputs go to bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

sizes=${SIZES:-"100k 1m"}
[ -x /usr/bin/time ] || { echo "bench needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
cargo build --release --locked --quiet
ours=target/release/stacpkg
mkdir -p bench/data bench/out

count() { case $1 in 100k) echo 100000 ;; 1m) echo 1000000 ;; *) echo "$1" ;; esac; }

input() {
  local f=bench/data/items-$1.ndjson
  if [ ! -f "$f" ]; then
    echo "generating $f" >&2
    python3 bench/gen_items.py "$(count "$1")" > "$f.tmp" && mv "$f.tmp" "$f"
  fi
  echo "$f"
}

# run LABEL STACPKG INPUT: time the two-process pipeline, print one result line.
run() {
  local label=$1 bin=$2 in=$3 out=bench/out/$1.parquet n bytes start end secs
  n=$(count "${label##*-}")
  bytes=$(stat -c %s "$in")
  rm -f "$out"
  # Same start for every tool: the input in the page cache (read once untimed).
  cat "$in" > /dev/null
  start=$(date +%s.%N)
  /usr/bin/time -o bench/out/conv.time -f "%M" "$bin" items from-ndjson "$in" \
    | /usr/bin/time -o bench/out/parquet.time -f "%M" "$bin" items to-parquet "$out"
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc -l)
  printf "%-16s %9d items %8.2f s %10.0f items/s %8.1f MB/s  rss from-ndjson %5d MB, to-parquet %5d MB  out %6.1f MB\n" \
    "$label" "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$(echo "$bytes / 1000000 / $secs" | bc -l)" \
    "$(( $(tail -1 bench/out/conv.time) / 1024 ))" "$(( $(tail -1 bench/out/parquet.time) / 1024 ))" \
    "$(echo "$(stat -c %s "$out") / 1000000" | bc -l)"
  echo "$n / $secs" | bc -l > "bench/out/$label.rate"
}


echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; stacpkg $($ours --version | cut -d' ' -f2)"
for size in $sizes; do
  run "stacpkg-$size" "$ours" "$(input "$size")"
done
if [[ " $sizes " == *" 100k "* ]] && py=$(python_original); then
  run "python-100k" "$py" "$(input 100k)"
  printf "ratio (100k, items/s): stacpkg / python original = %.1fx\n" \
    "$(echo "$(cat bench/out/stacpkg-100k.rate) / $(cat bench/out/python-100k.rate)" | bc -l)"
fi
