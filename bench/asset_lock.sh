#!/usr/bin/env bash
# Benchmark: `asset-lock derive` (probing) and `asset-lock validate` over assets served by a local
# nginx, at the default worker count: rows/s and peak RSS, next to the HEAD rate nginx itself
# serves to `ab -k -i -c 32` and the Python original's rows/s on the same input, in one run.
#
#   bench/asset_lock.sh                       # 10k assets (+ 100k, 300k rows for RSS flatness)
#   PYTHON_ORIGINAL=0 bench/asset_lock.sh
#
# Needs nginx and ab (scripts/services.sh install) and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
bench_setup asset-lock
svc=$(mktemp -d /tmp/stacpkg-bench.XXXXXX)
trap 'scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
scripts/services.sh start "$svc" nginx >/dev/null
# shellcheck disable=SC1091
. "$svc/services.env"

# 1,000 items × 10 assets of 1 KiB: 10,000 distinct objects. The 100k and 300k inputs point 10
# and 30 items at each object set (same objects, more rows) to show memory does not grow with rows.
python3 - "$HTTP_ROOT" "$HTTP_URL" "$out" <<'EOF'
import json, os, sys
root, url, out = sys.argv[1:]
blob = os.urandom(1024)
def item(i, copy):
    assets = {}
    for a in range(10):
        key = f"bench/item-{i:04d}/band-{a:02d}.tif"
        assets[f"b{a:02d}"] = {"href": f"{url}/{key}", "type": "image/tiff"}
    return {"type": "Feature", "stac_version": "1.0.0", "id": f"item-{copy}-{i:04d}",
            "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "links": [], "assets": assets}
for i in range(1000):
    d = os.path.join(root, f"bench/item-{i:04d}")
    os.makedirs(d, exist_ok=True)
    for a in range(10):
        with open(os.path.join(d, f"band-{a:02d}.tif"), "wb") as f:
            f.write(blob)
for name, copies in (("10k", 1), ("100k", 10), ("300k", 30)):
    with open(os.path.join(out, f"items-{name}.ndjson"), "w") as f:
        for c in range(copies):
            for i in range(1000):
                f.write(json.dumps(item(i, c)) + "\n")
EOF
for n in 10k 100k 300k; do
  # Same input batch size for both, so peak RSS compares rows, not upstream batch sizes.
  "$ours" items from-ndjson --batch-size 1000 "$out/items-$n.ndjson" > "$out/items-$n.arrow"
done

rows() { case $1 in 10k) echo 10000 ;; 100k) echo 100000 ;; 300k) echo 300000 ;; esac; }

# timed LABEL ROWS CMD...: run CMD with stdin/stdout already redirected by the caller's wrapper.
report() {
  local label=$1 rows=$2 secs=$3 rss_kb=$4
  printf "%-28s %7d rows %7.2f s %9.0f rows/s  peak RSS %4d MB\n" \
    "$label" "$rows" "$secs" "$(echo "$rows / $secs" | bc -l)" "$((rss_kb / 1024))"
  echo "$rows / $secs" | bc -l > "$out/$label.rate"
}

best_of_3() {
  # best_of_3 LABEL ROWS IN OUT BIN ARGS...: the fastest of three runs (the VM is noisy).
  local label=$1 rows=$2 in=$3 dest=$4 best="" best_rss=0
  shift 4
  for _ in 1 2 3; do
    local start end secs
    start=$(date +%s.%N)
    /usr/bin/time -o "$out/time" -f "%M" "$@" < "$in" > "$dest"
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc -l)" = 1 ]; then
      best=$secs
      best_rss=$(tail -1 "$out/time")
    fi
  done
  report "$label" "$rows" "$best" "$best_rss"
}

echo "machine: $(nproc) cores; stacpkg $("$ours" --version | cut -d' ' -f2); nginx worker_processes 1"
ab_rate=$(ab -k -i -c 32 -n 200000 "$HTTP_URL/bench/item-0000/band-00.tif" 2>/dev/null \
  | awk '/Requests per second/ {print $4}')
printf "%-28s %33.0f HEAD/s\n" "ab -k -i -c 32 -n 200000" "$ab_rate"

for n in 10k 100k 300k; do
  best_of_3 "stacpkg derive $n" "$(rows $n)" "$out/items-$n.arrow" "$out/lock-$n.arrow" \
    "$ours" asset-lock derive
  best_of_3 "stacpkg validate $n" "$(rows $n)" "$out/lock-$n.arrow" "$out/validate-$n.jsonl" \
    "$ours" asset-lock validate
  [ "$(grep -c '"valid": true' "$out/validate-$n.jsonl")" = "$(rows $n)" ] \
    || { echo "validate did not find every row valid" >&2; exit 1; }
done


if py=$(python_original); then
  export STACPKG_OBSTORE_ALLOW_HTTP=1
  # One run each (about 35 s at its ~280 rows/s); its default --max-workers (4).
  for step in derive validate; do
    in=$out/items-10k.arrow
    [ $step = validate ] && in=$out/lock-10k.arrow
    start=$(date +%s.%N)
    # The original intermittently exits 139 after complete output (ref §10); the output is checked.
    /usr/bin/time -o "$out/time" -f "%M" "$py" asset-lock $step < "$in" > "$out/python-$step.out" || true
    end=$(date +%s.%N)
    if [ $step = validate ]; then
      [ "$(grep -c '"valid": true' "$out/python-$step.out")" = 10000 ] \
        || { echo "python validate output incomplete" >&2; exit 1; }
    fi
    report "python $step 10k" 10000 "$(echo "$end - $start" | bc -l)" "$(tail -1 "$out/time")"
  done
  for step in derive validate; do
    printf "ratio %s 10k: stacpkg / python original = %.0fx\n" $step \
      "$(echo "$(cat "$out/stacpkg $step 10k.rate") / $(cat "$out/python $step 10k.rate")" | bc -l)"
  done
fi
for step in derive validate; do
  printf "%s 10k vs ab HEAD rate: %.0f%%\n" $step \
    "$(echo "100 * $(cat "$out/stacpkg $step 10k.rate") / $ab_rate" | bc -l)"
done
