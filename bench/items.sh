#!/usr/bin/env bash
# Benchmark: STAC NDJSON → GeoParquet, stacpkg against its peers on the same files in the same run.
#
#   stacpkg          stacpkg items from-ndjson F | stacpkg items to-parquet O
#   python original  the same two commands of stacpkg 0.1.4 (PyPI, Python 3.13 venv)
#   rustac           rustac translate F O (PyPI's rustac, its own CLI)
#
# For each item shape of bench/gen_items.py (sentinel2, landsat, wide) on COUNT items: RUNS rounds,
# each running every tool once in turn (paired and alternating, so a slow moment of the machine
# hits every tool), then per tool the median wall time, items/s, CPU seconds (user + system of
# every process) per 1,000 items, the peak RSS of its largest process, and the two ratios.
# Then, on the sentinel2 file: `items from-json` of the same items as one ItemCollection and
# `items to-ndjson`, each against `items from-ndjson` (all to /dev/null), and with RSS_COUNT > 0
# the peak RSS of the stacpkg pipeline on RSS_COUNT items.
#
#   bench/items.sh                                     # 100k items of each shape, 3 rounds
#   SHAPES=sentinel2 COUNT=20000 RUNS=1 bench/items.sh # a quick look
#   RSS_COUNT=1000000 bench/items.sh                   # also 1M items, RSS only (12.6 GB input)
#   PYTHON_ORIGINAL=0 RUSTAC=0 bench/items.sh          # stacpkg only
#
# Inputs are generated once into bench/data; outputs go to bench/out/items.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

shapes=${SHAPES:-"sentinel2 landsat wide"}
count=${COUNT:-100000}
runs=${RUNS:-3}
rss_count=${RSS_COUNT:-0}
[ -x /usr/bin/time ] || { echo "bench needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
cargo build --release --locked --quiet
ours=$PWD/target/release/stacpkg
out=$PWD/bench/out/items
rm -rf "$out"
mkdir -p bench/data "$out"

# rustac: print the path of PyPI's rustac CLI (in bench/.venv-rustac, installed on first use).
rustac() {
  [ "${RUSTAC:-1}" = 1 ] || return 1
  local venv=bench/.venv-rustac
  if [ ! -x $venv/bin/rustac ]; then
    python3 -m venv $venv && $venv/bin/pip install --quiet rustac >&2 || return 1
  fi
  echo "$PWD/$venv/bin/rustac"
}

# input SHAPE COUNT: the NDJSON file, generated on first use.
input() {
  local f=bench/data/$1-$2.ndjson
  if [ ! -f "$f" ]; then
    echo "generating $f" >&2
    python3 bench/gen_items.py "$2" "$1" > "$f.tmp" && mv "$f.tmp" "$f"
  fi
  echo "$f"
}

# measure FILE CMD: run CMD (a bash -c string) once, the input in the page cache first; append
# "wall cpu rss_kb" to FILE, or "fail" when CMD fails.
measure() {
  local file=$1 cmd=$2
  cat "${3:-/dev/null}" > /dev/null
  if /usr/bin/time -o "$out/time" -f "%e %U %S %M" bash -c "$cmd" > /dev/null 2> "$out/stderr"; then
    awk '{print $1, $2 + $3, $4}' "$out/time" >> "$file"
  else
    echo "fail" >> "$file"
    echo "  failed: $cmd: $(tail -1 "$out/stderr")" >&2
  fi
}

# summary FILE N: "median_wall items/s cpu_per_1k rss_mb" of the runs in FILE (each "fail" when
# a run failed).
summary() {
  if grep -q fail "$1"; then echo "fail fail fail fail"; return; fi
  sort -n "$1" | awk -v n="$2" '{w[NR]=$1; c[NR]=$2; if ($3 > r) r = $3}
    END {m = int((NR + 1) / 2); printf "%.2f %.0f %.3f %.0f\n", w[m], n / w[m], c[m] / n * 1000, r / 1024}'
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(date -u +%F); stacpkg $($ours --version | cut -d' ' -f2); $count items, median of $runs rounds"
tools=(stacpkg)
py=$(python_original) && tools+=(python) || echo "(no Python original: PYTHON_ORIGINAL=0 or no Python 3.13)"
rs=$(rustac) && tools+=(rustac) || echo "(no rustac: RUSTAC=0 or pip failed)"
[ "${tools[*]}" = stacpkg ] || echo "peers: ${py:+stacpkg 0.1.4 (Python)} ${rs:+rustac $("$rs" --version | cut -d' ' -f2) (PyPI $("${rs%/rustac}/pip" show rustac 2>/dev/null | awk '/^Version/ {print $2}'))}"

for shape in $shapes; do
  f=$(input "$shape" "$count")
  mb=$(( $(stat -c %s "$f") / 1000000 ))
  for _ in $(seq 1 "$runs"); do
    for tool in "${tools[@]}"; do
      o=$out/$shape-$tool.parquet
      rm -f "$o"
      case $tool in
        stacpkg) measure "$out/$shape.$tool" "'$ours' items from-ndjson '$f' | '$ours' items to-parquet '$o'" "$f" ;;
        python) measure "$out/$shape.$tool" "'$py' items from-ndjson '$f' | '$py' items to-parquet '$o'" "$f" ;;
        rustac) measure "$out/$shape.$tool" "'$rs' translate '$f' '$o'" "$f" ;;
      esac
    done
  done
  echo
  echo "$shape: $count items, $mb MB of NDJSON"
  printf "  %-16s %8s %10s %14s %10s\n" tool "wall s" "items/s" "CPU s / 1k" "peak RSS"
  for tool in "${tools[@]}"; do
    read -r wall rate cpu rss <<< "$(summary "$out/$shape.$tool" "$count")"
    echo "$rate" > "$out/$shape.$tool.rate"
    if [ "$wall" = fail ]; then
      printf "  %-16s %8s\n" "$tool" "failed"
    else
      printf "  %-16s %8.2f %10d %14.3f %7d MB\n" "$tool" "$wall" "$rate" "$cpu" "$rss"
    fi
  done
  for peer in python rustac; do
    [ -s "$out/$shape.$peer.rate" ] && [ "$(cat "$out/$shape.$peer.rate")" != fail ] || continue
    printf "  ratio stacpkg / %s = %.1fx\n" "$peer" \
      "$(echo "$(cat "$out/$shape.stacpkg.rate") / $(cat "$out/$shape.$peer.rate")" | bc -l)"
  done
done

# Items 2 and 3 of the items-speed issue: the other readers and writers of the same items.
f=$(input sentinel2 "$count")
doc=bench/data/sentinel2-$count.json
if [ ! -f "$doc" ]; then
  { printf '{"type":"FeatureCollection","features":['; sed '$!s/$/,/' "$f"; printf ']}'; } > "$doc.tmp"
  mv "$doc.tmp" "$doc"
fi
"$ours" items from-ndjson "$f" > "$out/items.arrow"
for _ in $(seq 1 "$runs"); do
  measure "$out/from-ndjson" "'$ours' items from-ndjson '$f'" "$f"
  measure "$out/from-json" "'$ours' items from-json '$doc'" "$doc"
  measure "$out/to-ndjson" "'$ours' items to-ndjson < '$out/items.arrow'" "$out/items.arrow"
done
echo
echo "sentinel2, $count items, stacpkg alone (output to /dev/null)"
for step in from-ndjson from-json to-ndjson; do
  read -r wall rate cpu rss <<< "$(summary "$out/$step" "$count")"
  echo "$rate" > "$out/$step.rate"
  printf "  %-16s %8.2f s %10d items/s %8.3f CPU s / 1k %7d MB\n" "$step" "$wall" "$rate" "$cpu" "$rss"
done
for step in from-json to-ndjson; do
  printf "  %s / from-ndjson items/s = %.0f%%\n" "$step" \
    "$(echo "100 * $(cat "$out/$step.rate") / $(cat "$out/from-ndjson.rate")" | bc -l)"
done
rm -f "$out/items.arrow"

if [ "$rss_count" -gt 0 ]; then
  f=$(input sentinel2 "$rss_count")
  measure "$out/rss" "'$ours' items from-ndjson '$f' | '$ours' items to-parquet '$out/rss.parquet'"
  read -r wall rate cpu rss <<< "$(summary "$out/rss" "$rss_count")"
  echo
  printf "sentinel2, %d items: stacpkg pipeline peak RSS %d MB (%.1f s)\n" "$rss_count" "$rss" "$wall"
fi
