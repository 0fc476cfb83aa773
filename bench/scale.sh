#!/usr/bin/env bash
# Benchmark (issue 17): sharded runs on one machine, against the local S3 server (s3s-fs).
#
#  1. relocate a lock of 4,000 × 64 KiB objects S3 → S3: one process (--max-workers 8) against
#     4 shard processes at once (--shard K/4 --max-workers 2 each), then the merge of the shard
#     files read back from S3; the merged lock must equal the single run's (keys' prefix and
#     last-modified times aside: the copies are other objects, made at other times);
#  2. merge 1,000,000 lock rows from 16 shard files (`asset-lock from-parquet 'shard-*' |
#     to-parquet`), against reading the single run's file the same way, and check the bytes;
#  3. per-shard overhead: relocating a shard of 10,000 small objects out of a 40,000-row lock
#     (`--shard 0/4`: start-up, reading and hashing every row, planning them all) against an
#     unsharded run over a lock of exactly those 10,000 rows: as dry runs (the shard's own cost,
#     best of 5) and with the copies (ABBA order, best of RUNS).
#
#   bench/scale.sh            # RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
bench_setup scale
RUNS=${RUNS:-3}
# SECTIONS=13 runs sections 1 and 3 only.
SECTIONS=${SECTIONS:-123}
svc=$(mktemp -d /tmp/stacpkg-bench.XXXXXX)
trap 'scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
scripts/services.sh start "$svc" s3 >/dev/null
# shellcheck disable=SC1091
. "$svc/services.env"
export STACPKG_S3_ENDPOINT_STACPKG_A=$S3A_URL STACPKG_S3_ACCESS_KEY_ID_STACPKG_A=$S3A_ACCESS_KEY \
  STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_A=$S3A_SECRET_KEY AWS_EC2_METADATA_DISABLED=true
bucket=$S3A_BUCKET
root=$S3A_ROOT/$bucket
# pyarrow, to compare locks and cut a plain lock out of a shard: the test venv's, or a small one.
py=.venv-test/bin/python
if ! "$py" -c 'import pyarrow' 2>/dev/null; then
  py=bench/.venv-pyarrow/bin/python
  [ -x "$py" ] || { python3 -m venv bench/.venv-pyarrow && "$py" -m pip install --quiet pyarrow; }
fi

# objects PREFIX COUNT ASSETS BYTES: COUNT items of ASSETS assets each, objects of BYTES bytes
# written straight into the S3 server's directory; the items as NDJSON on stdout.
objects() {
  python3 - "$root" "$bucket" "$@" <<'EOF'
import json, os, sys
root, bucket, prefix, count, assets, size = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:])
block = os.urandom(size)
for i in range(count):
    entry = {}
    for a in range(assets):
        key = f"{prefix}/src/{i}/a{a}.bin"
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(block[: size - 8] + i.to_bytes(4, "big") + a.to_bytes(4, "big"))
        entry[f"a{a}"] = {"href": f"s3://{bucket}/{key}", "file:size": size}
    print(json.dumps({"type": "Feature", "stac_version": "1.0.0", "id": f"item-{i:07d}",
        "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
        "assets": entry}))
EOF
}

if [[ $SECTIONS == *1* ]]; then
echo "== 1. relocate 4,000 × 64 KiB S3 → S3: one process against 4 shards at once"
objects one 1000 4 65536 > "$out/one.ndjson"
"$ours" items from-ndjson "$out/one.ndjson" | "$ours" asset-lock derive | "$ours" asset-lock to-parquet "$out/one.lock.parquet"
single_secs="" sharded_secs=""
for _ in $(seq 1 "$RUNS"); do
  rm -rf "$root/one/single" "$root/one/sharded" "$root/one/shards"
  start=$(date +%s.%N)
  "$ours" asset-lock from-parquet "$out/one.lock.parquet" \
    | "$ours" asset-lock relocate --store-type s3 --store-container "$bucket" --key one/single --max-workers 8 \
    | "$ours" asset-lock to-parquet "$out/single.parquet"
  secs=$(echo "$(date +%s.%N) - $start" | bc -l)
  [ -z "$single_secs" ] || [ "$(echo "$secs < $single_secs" | bc -l)" = 1 ] && single_secs=$secs
  start=$(date +%s.%N)
  for k in 0 1 2 3; do
    ("$ours" asset-lock from-parquet "$out/one.lock.parquet" \
      | "$ours" asset-lock relocate --shard "$k/4" --max-workers 2 --store-type s3 --store-container "$bucket" --key one/sharded \
      | "$ours" asset-lock to-parquet "s3://$bucket/one/shards/shard-$k.parquet") &
  done
  wait
  "$ours" asset-lock from-parquet "s3://$bucket/one/shards/shard-*.parquet" | "$ours" asset-lock to-parquet "$out/merged.parquet"
  secs=$(echo "$(date +%s.%N) - $start" | bc -l)
  [ -z "$sharded_secs" ] || [ "$(echo "$secs < $sharded_secs" | bc -l)" = 1 ] && sharded_secs=$secs
done
# The same rows: every column but last_modified equal, keys equal once the runs' prefixes are out.
same=$("$py" - "$out/single.parquet" "$out/merged.parquet" <<'EOF'
import sys
import pyarrow.parquet as pq
def rows(path, prefix):
    out = pq.read_table(path).drop_columns(["last_modified"]).to_pylist()
    for row in out:
        row["key"] = row["key"].replace(prefix, "", 1)
    return out
a, b = rows(sys.argv[1], "one/single/"), rows(sys.argv[2], "one/sharded/")
print(f"the same {len(a)} rows" if a == b else "DIFFERENT rows")
EOF
)
printf "%-44s %8.2f s\n" "1 process, 8 workers" "$single_secs"
printf "%-44s %8.2f s  (%s)\n" "4 shards × 2 workers, at once, + merge" "$sharded_secs" "$same"

fi
if [[ $SECTIONS == *2* ]]; then
echo "== 2. merge 1,000,000 lock rows from 16 shard files"
python3 - "$out/big.ndjson" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(100_000):
        f.write(json.dumps({"type": "Feature", "stac_version": "1.0.0", "id": f"S2B_MSIL2A_{i:07d}",
            "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
            "assets": {f"B{b:02d}": {"href": f"s3://archive/tiles/{i}/B{b:02d}.tif", "file:size": i * 16 + b}
                       for b in range(10)}}) + "\n")
EOF
"$ours" items from-ndjson "$out/big.ndjson" > "$out/big.arrow"
"$ours" asset-lock derive --no-probe-metadata < "$out/big.arrow" | "$ours" asset-lock to-parquet "$out/big-single.parquet"
mkdir -p "$out/big-shards"
for k in $(seq 0 15); do
  "$ours" asset-lock derive --no-probe-metadata --shard "$k/16" < "$out/big.arrow" \
    | "$ours" asset-lock to-parquet "$out/big-shards/shard-$k.parquet"
done
# seconds LABEL CLEANUP CMD: the best of RUNS runs, wall time and peak RSS.
seconds() {
  best_of "$RUNS" "$2" "$3"
  printf "%-44s %8.2f s  peak RSS %5d MB\n" "$1" "$BEST_SECS" "$((BEST_RSS / 1024))"
}
seconds "read the single run's file → to-parquet" "rm -f $out/big-copy.parquet" \
  "$ours asset-lock from-parquet $out/big-single.parquet | $ours asset-lock to-parquet $out/big-copy.parquet"
seconds "merge 16 shard files → to-parquet" "rm -f $out/big-merged.parquet" \
  "$ours asset-lock from-parquet '$out/big-shards/shard-*.parquet' | $ours asset-lock to-parquet $out/big-merged.parquet"
seconds "merge 16 shard files → Arrow IPC (/dev/null)" "true" \
  "$ours asset-lock from-parquet '$out/big-shards/shard-*.parquet' > /dev/null"
cmp "$out/big-merged.parquet" "$out/big-single.parquet" && echo "merged file is byte-identical to the single run's"

fi
if [[ $SECTIONS == *3* ]]; then
echo "== 3. per-shard overhead: a 10,000-asset shard of a 40,000-row lock"
objects three 10000 4 1024 > "$out/three.ndjson"
"$ours" items from-ndjson "$out/three.ndjson" | "$ours" asset-lock derive --no-probe-metadata | "$ours" asset-lock to-parquet "$out/three.lock.parquet"
# The shard's rows alone, as a plain lock: what an unsharded run of the same work reads.
plain=$out/shard0.plain.parquet
"$ours" items from-ndjson "$out/three.ndjson" | "$ours" asset-lock derive --no-probe-metadata --shard 0/4 \
  | "$ours" asset-lock to-parquet "$out/shard0.tagged.parquet"
"$py" - "$out/shard0.tagged.parquet" "$plain" <<'EOF'
import sys
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1]).drop_columns(["shard_position"])
meta = {k: v for k, v in table.schema.metadata.items() if k != b"stacpkg:shard"}
pq.write_table(table.replace_schema_metadata(meta), sys.argv[2])
EOF
shard_rows=$("$py" -c 'import sys, pyarrow.parquet as pq; print(pq.read_metadata(sys.argv[1]).num_rows)' "$plain")
# What a shard adds to its work is start-up and the partition filter (reading, hashing and
# planning every row of the whole lock): measured alone with --dry-run (no copies), and end to
# end with real copies, the two runs alternating in order (ABBA) with the disk synced between.
dry_plain="" dry_sharded=""
for _ in $(seq 1 5); do
  start=$(date +%s.%N)
  "$ours" asset-lock from-parquet "$plain" | "$ours" asset-lock relocate --dry-run --store-type s3 --store-container "$bucket" --key three/out > /dev/null
  secs=$(echo "$(date +%s.%N) - $start" | bc -l)
  [ -z "$dry_plain" ] || [ "$(echo "$secs < $dry_plain" | bc -l)" = 1 ] && dry_plain=$secs
  start=$(date +%s.%N)
  "$ours" asset-lock from-parquet "$out/three.lock.parquet" | "$ours" asset-lock relocate --dry-run --shard 0/4 --store-type s3 --store-container "$bucket" --key three/out > /dev/null
  secs=$(echo "$(date +%s.%N) - $start" | bc -l)
  [ -z "$dry_sharded" ] || [ "$(echo "$secs < $dry_sharded" | bc -l)" = 1 ] && dry_sharded=$secs
done
plain_run() {
  "$ours" asset-lock from-parquet "$plain" \
    | "$ours" asset-lock relocate --store-type s3 --store-container "$bucket" --key three/out > /dev/null
}
sharded_run() {
  "$ours" asset-lock from-parquet "$out/three.lock.parquet" \
    | "$ours" asset-lock relocate --shard 0/4 --store-type s3 --store-container "$bucket" --key three/out > /dev/null
}
plain_secs="" sharded_secs=""
for round in $(seq 1 "$RUNS"); do
  order="plain sharded"
  [ $((round % 2)) = 0 ] && order="sharded plain"
  for which in $order; do
    rm -rf "$root/three/out"
    sync
    start=$(date +%s.%N)
    "${which}_run"
    secs=$(echo "$(date +%s.%N) - $start" | bc -l)
    if [ "$which" = plain ]; then
      [ -z "$plain_secs" ] || [ "$(echo "$secs < $plain_secs" | bc -l)" = 1 ] && plain_secs=$secs
    else
      [ -z "$sharded_secs" ] || [ "$(echo "$secs < $sharded_secs" | bc -l)" = 1 ] && sharded_secs=$secs
    fi
  done
done
printf "%-44s %8.3f s\n" "dry run, the shard's rows only" "$dry_plain"
printf "%-44s %8.3f s  (the shard's own cost: %.3f s = %.2f%% of its copies)\n" "dry run, --shard 0/4 of the 40,000 rows" \
  "$dry_sharded" "$(echo "$dry_sharded - $dry_plain" | bc -l)" \
  "$(echo "($dry_sharded - $dry_plain) * 100 / $plain_secs" | bc -l)"
printf "%-44s %8.2f s  (%s rows)\n" "copies, unsharded, the shard's rows only" "$plain_secs" "$shard_rows"
printf "%-44s %8.2f s  (%+.1f%%)\n" "copies, --shard 0/4 of the 40,000-row lock" "$sharded_secs" \
  "$(echo "($sharded_secs - $plain_secs) * 100 / $plain_secs" | bc -l)"
fi
