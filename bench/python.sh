#!/usr/bin/env bash
# Benchmark of the Python module (issue 16), from Python, against the original's library in the
# same run, on the same file:
#
#   original   stacpkg 0.1.4: read_stac_json(F) → items_table_to_geoparquet_table → IPC bytes →
#              write_items_geoparquet_stream (what its `items from-json | items to-parquet` does)
#   stacpkg_rs read_stac_json_stream(F) → write_items_geoparquet_stream (streaming)
#   stacpkg_rs read_stac_json(F) → a pyarrow.Table → write_items_geoparquet_stream
#
# F is one ItemCollection of COUNT sentinel2-like items (bench/gen_items.py). RUNS rounds, each
# running the three once in turn; median wall time and peak RSS of each process. Then the
# zero-copy check: a LOCK_ROWS-row lock table made in pyarrow is passed to
# write_asset_lock_parquet_stream and validate_assets, and the peak RSS above the process's RSS
# with the table loaded is compared with the table's size (a copy of its buffers would add it).
#
#   bench/python.sh                       # 100k items, 3 rounds, 1M lock rows
#   COUNT=20000 RUNS=1 bench/python.sh    # a quick look
#
# Both libraries run in the Python 3.13 venv of the original (bench/common.sh); stacpkg_rs is
# built as a release wheel and installed there.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

count=${COUNT:-100000}
runs=${RUNS:-3}
lock_rows=${LOCK_ROWS:-1000000}
[ -x /usr/bin/time ] || { echo "bench needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
original=$(python_original) || { echo "bench/python.sh needs the Python original (Python 3.13)" >&2; exit 1; }
py=$(dirname "$original")/python
out=$PWD/bench/out/python
rm -rf "$out"
mkdir -p bench/data "$out"

echo "==> building the stacpkg_rs wheel (release) and installing it next to the original"
python3 -m pip --version >/dev/null 2>&1 || true
maturin=${MATURIN:-.venv-test/bin/maturin}
(cd crates/stacpkg-py && "../../$maturin" build --release --locked --quiet -o "$out/wheels")
"$py" -m pip install --quiet --no-deps --force-reinstall "$out"/wheels/stacpkg_rs-*.whl

ndjson=bench/data/sentinel2-$count.ndjson
if [ ! -f "$ndjson" ]; then
  python3 bench/gen_items.py "$count" sentinel2 > "$ndjson.tmp" && mv "$ndjson.tmp" "$ndjson"
fi
json=$out/sentinel2-$count.json
python3 - "$ndjson" "$json" <<'PY'
import sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as dst:
    dst.write('{"type": "FeatureCollection", "features": [')
    for i, line in enumerate(src):
        dst.write(("," if i else "") + line.strip())
    dst.write("]}")
PY

cat > "$out/original.py" <<'PY'
import io, sys
import pyarrow as pa
from stacpkg.stac_json import read_stac_json
from stacpkg.geoparquet import items_table_to_geoparquet_table, write_items_geoparquet_stream
# What the original's `items from-json` emits: its reader's JSON-text columns in GeoParquet shape.
table = items_table_to_geoparquet_table(read_stac_json(sys.argv[1]))
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, table.schema) as writer:
    writer.write_table(table)
del table
write_items_geoparquet_stream(io.BytesIO(sink.getvalue().to_pybytes()), sys.argv[2])
PY
cat > "$out/ours_stream.py" <<'PY'
import sys
import stacpkg_rs
stacpkg_rs.write_items_geoparquet_stream(stacpkg_rs.read_stac_json_stream(sys.argv[1]), sys.argv[2])
PY
cat > "$out/ours_table.py" <<'PY'
import sys
import stacpkg_rs
table = stacpkg_rs.read_stac_json(sys.argv[1])
stacpkg_rs.write_items_geoparquet_stream(table, sys.argv[2])
PY

cat "$json" > /dev/null
for name in original ours_stream ours_table; do : > "$out/$name.runs"; done
for round in $(seq "$runs"); do
  for name in original ours_stream ours_table; do
    # The original's 8 GB push the input out of the page cache: warm it before every run.
    cat "$json" > /dev/null
    /usr/bin/time -o "$out/time" -f "%e %M" "$py" "$out/$name.py" "$json" "$out/$name.parquet"
    cat "$out/time" >> "$out/$name.runs"
  done
done
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(date -u +%F); $count items ($(du -m "$json" | cut -f1) MB of JSON), median of $runs rounds"
printf '  %-36s %9s %10s %10s\n' "" "wall s" "items/s" "peak RSS"
declare -A wall
for name in original ours_stream ours_table; do
  read -r w rss < <(sort -n "$out/$name.runs" | awk '{w[NR]=$1; if ($2 > r) r = $2} END {print w[int((NR + 1) / 2)], r}')
  wall[$name]=$w
  printf '  %-36s %9.2f %10.0f %7.0f MB\n' "$name" "$w" "$(echo "$count / $w" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
done
printf '  ratio original / stacpkg_rs (stream) = %.1fx\n' "$(echo "${wall[original]} / ${wall[ours_stream]}" | bc -l)"
printf '  ratio original / stacpkg_rs (table)  = %.1fx\n' "$(echo "${wall[original]} / ${wall[ours_table]}" | bc -l)"

echo
echo "zero-copy check: $lock_rows lock rows made in pyarrow"
"$py" - "$lock_rows" "$out" <<'PY'
import sys, time
import pyarrow as pa
import stacpkg_rs

rows, out = int(sys.argv[1]), sys.argv[2]

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def peak_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

def reset_peak():
    # Linux: "5" resets the peak RSS (VmHWM) to the current RSS.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

schema = stacpkg_rs.derive_asset_lock(
    stacpkg_rs.read_stac_ndjson("examples/demo/items.ndjson"), probe_metadata=False
).schema
n = rows
table = pa.table(
    {
        "item_id": pa.array([f"item-{i // 4:07d}" for i in range(n)]),
        "asset_key": pa.array([("B01", "B02", "B03", "visual")[i % 4] for i in range(n)]),
        "store_type": pa.array(["file"] * n),
        "store_container": pa.nulls(n, pa.string()),
        "store_endpoint_url": pa.nulls(n, pa.string()),
        "key": pa.array([f"/nonexistent/stacpkg-bench/{i:08d}.tif" for i in range(n)]),
        "size_bytes": pa.array(range(n), pa.int64()),
        "etag": pa.nulls(n, pa.string()),
        "last_modified": pa.nulls(n, pa.string()),
        "file_checksum": pa.nulls(n, pa.string()),
    }
).cast(schema)
size = table.nbytes / 2**20
# Drop the temporaries of building the table before the baseline.
import gc; gc.collect()
reset_peak()
base = rss_mb()
print(f"  table: {size:.0f} MB of Arrow buffers; process RSS with it loaded {base:.0f} MB")
start = time.time()
report = stacpkg_rs.write_asset_lock_parquet_stream(table, f"{out}/lock.parquet")
after_write = peak_mb()
print(f"  write_asset_lock_parquet_stream: {report['rows']} rows in {time.time() - start:.1f} s; peak RSS {after_write:.0f} MB, {after_write - base:+.0f} MB over the baseline")
reset_peak()
start = time.time()
results = stacpkg_rs.validate_assets(table, keep_going=True)
took = time.time() - start
invalid = sum(1 for r in results if not r["valid"])
print(f"  validate_assets: {len(results)} results ({invalid} invalid: the objects do not exist) in {took:.1f} s; peak RSS {peak_mb():.0f} MB (the {len(results)} result dicts included)")
PY
