#!/usr/bin/env bash
# Benchmark (issue 13): what content checksums cost, and how fast hashing is, in one run.
#
#  1. relocate 100 × 8 MiB http (nginx) → file and file → S3 (s3s-fs): this build, which hashes
#     every byte it copies, against the build before checksums (no hashing), run alternately,
#     best of 3 each;
#  2. `derive --checksum calculate-always` over 8 × 256 MiB local files in the page cache, with
#     one worker (one core hashing) and the default 32, next to `openssl dgst -sha256` (the
#     CPU's SHA extensions, one core) on the same files;
#  3. `derive --checksum calculate-always` over nginx (100 × 8 MiB) against curl fetching the
#     same URLs to /dev/null, 32 at a time, and against curl piped into `openssl dgst -sha256`
#     (the same work by peers), alternately, best of 3;
#  4. peak RSS of derive, validate --checksum verify and relocate with 1 MiB and 1 GiB objects.
#
#   bench/checksums.sh                      # builds the baseline from BASELINE_REV first
#   BASELINE=/path/to/old/stacpkg bench/checksums.sh
#
# Needs ~8 GB of free disk.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
bench_setup checksums
# The last commit before content checksums.
BASELINE_REV=${BASELINE_REV:-8e01fc8}
if [ -z "${BASELINE:-}" ]; then
  src=bench/out/baseline-src
  [ -d "$src" ] || git worktree add -f --detach "$src" "$BASELINE_REV" >/dev/null
  cargo build --release --locked --quiet --manifest-path "$src/Cargo.toml" -p stacpkg-cli
  BASELINE=$PWD/$src/target/release/stacpkg
fi
svc=$(mktemp -d /tmp/stacpkg-bench.XXXXXX)
trap 'scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
scripts/services.sh start "$svc" nginx s3 >/dev/null
# shellcheck disable=SC1091
. "$svc/services.env"
export STACPKG_S3_ENDPOINT_STACPKG_A=$S3A_URL STACPKG_S3_ACCESS_KEY_ID_STACPKG_A=$S3A_ACCESS_KEY \
  STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_A=$S3A_SECRET_KEY
s3_clean="rm -rf $S3A_ROOT/$S3A_BUCKET/* $S3A_ROOT/.bucket-*"

# items NAME BASE COUNT: an NDJSON file of COUNT items, asset `data` at BASE/obj-N.bin.
items() {
  python3 - "$2" "$1" "$3" <<'EOF'
import json, sys
base, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(1, count + 1):
    n = str(i).zfill(len(str(count)))
    print(json.dumps({"type": "Feature", "stac_version": "1.0.0", "id": f"{name}-{n}",
        "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
        "assets": {"data": {"href": f"{base}/obj-{n}.bin"}}}))
EOF
}

# make_set NAME COUNT MIB: random objects under nginx's root, and the items streams pointing at
# them over HTTP (`NAME.http.items`) and as local files (`NAME.file.items`).
make_set() {
  local name=$1 count=$2 mib=$3
  mkdir -p "$HTTP_ROOT/$name"
  for i in $(seq -w 1 "$count"); do
    head -c $((mib * 1024 * 1024)) /dev/urandom > "$HTTP_ROOT/$name/obj-$i.bin"
  done
  items "$name" "$HTTP_URL/$name" "$count" | "$ours" items from-ndjson > "$out/$name.http.items"
  items "$name" "$HTTP_ROOT/$name" "$count" | "$ours" items from-ndjson > "$out/$name.file.items"
}

# rate LABEL BYTES SECS RSS_KB [CPU_SECS]
rate() {
  printf "%-58s %7.2f s %8.1f MB/s  peak RSS %5d MB  CPU %5.2f s\n" "$1" "$3" \
    "$(echo "$2 / 1000000 / $3" | bc -l)" "$(($4 / 1024))" "${5:-$BEST_CPU}"
}

# alternately RUNS LABEL_A CMD_A LABEL_B CMD_B BYTES CLEANUP SYNC: run A and B one after the
# other RUNS times (so drift in the machine hits both), and print the best of each.
alternately() {
  local runs=$1 la=$2 ca=$3 lb=$4 cb=$5 bytes=$6 cleanup=$7 sync=$8
  local best_a="" best_b="" rss_a=0 rss_b=0 cpu_a=0 cpu_b=0
  for _ in $(seq 1 "$runs"); do
    best_of 1 "$cleanup" "$ca" "$sync"
    if [ -z "$best_a" ] || [ "$(echo "$BEST_SECS < $best_a" | bc -l)" = 1 ]; then best_a=$BEST_SECS rss_a=$BEST_RSS cpu_a=$BEST_CPU; fi
    best_of 1 "$cleanup" "$cb" "$sync"
    if [ -z "$best_b" ] || [ "$(echo "$BEST_SECS < $best_b" | bc -l)" = 1 ]; then best_b=$BEST_SECS rss_b=$BEST_RSS cpu_b=$BEST_CPU; fi
  done
  rate "$la" "$bytes" "$best_a" "$rss_a" "$cpu_a"
  rate "$lb" "$bytes" "$best_b" "$rss_b" "$cpu_b"
  printf "%-58s %7.1f %%\n" "  → $la relative to $lb (time)" "$(echo "100 * $best_a / $best_b" | bc -l)"
}

bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "SHA extensions: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
echo "this build: $("$ours" --version); baseline: $("$BASELINE" --version) ($BASELINE_REV)"

echo "== 1. relocate with hashing (this build) against without (baseline), 100 × 8 MiB"
make_set set8 100 8
bytes=$(bytes_of "$HTTP_ROOT/set8")
"$ours" asset-lock derive < "$out/set8.http.items" > "$out/set8.http.lock"
alternately 3 \
  "relocate http→file, hashing" \
  "$ours asset-lock relocate --store-type file --key $out/new-set8 < $out/set8.http.lock > /dev/null" \
  "relocate http→file, baseline" \
  "$BASELINE asset-lock relocate --store-type file --key $out/old-set8 < $out/set8.http.lock > /dev/null" \
  "$bytes" "rm -rf $out/new-set8 $out/old-set8" 1
rm -rf "$out/new-set8" "$out/old-set8"
# The file → S3 source: a copy the alternation's cleanups do not remove.
"$ours" asset-lock relocate --store-type file --key "$out/src-set8" < "$out/set8.http.lock" > "$out/set8.file.lock"
alternately 3 \
  "relocate file→S3, hashing" \
  "$ours asset-lock relocate --store-type s3 --store-container $S3A_BUCKET --key new < $out/set8.file.lock > /dev/null" \
  "relocate file→S3, baseline" \
  "$BASELINE asset-lock relocate --store-type s3 --store-container $S3A_BUCKET --key old < $out/set8.file.lock > /dev/null" \
  "$bytes" "$s3_clean" 1
bash -c "$s3_clean"
rm -rf "$out/src-set8"

echo "== 2. derive --checksum calculate-always over local files (page cache), 8 × 256 MiB"
make_set set256 8 256
bytes=$(bytes_of "$HTTP_ROOT/set256")
cat "$HTTP_ROOT"/set256/* > /dev/null
best_of 3 true "openssl dgst -sha256 $HTTP_ROOT/set256/* > /dev/null"
rate "openssl dgst -sha256 (one core)" "$bytes" "$BEST_SECS" "$BEST_RSS"
best_of 3 true "$ours asset-lock derive --checksum calculate-always --max-workers 1 < $out/set256.file.items > /dev/null"
rate "derive calculate-always, local, --max-workers 1 (one core)" "$bytes" "$BEST_SECS" "$BEST_RSS"
best_of 3 true "$ours asset-lock derive --checksum calculate-always < $out/set256.file.items > /dev/null"
rate "derive calculate-always, local, 32 workers ($(nproc) cores)" "$bytes" "$BEST_SECS" "$BEST_RSS"

echo "== 3. derive --checksum calculate-always over nginx against curl to /dev/null, 100 × 8 MiB"
bytes=$(bytes_of "$HTTP_ROOT/set8")
cat "$HTTP_ROOT"/set8/* > /dev/null
for i in $(seq -w 1 100); do printf 'url = "%s/set8/obj-%s.bin"\noutput = "/dev/null"\n' "$HTTP_URL" "$i"; done > "$out/curl.cfg"
alternately 3 \
  "derive calculate-always over nginx (32 workers)" \
  "$ours asset-lock derive --checksum calculate-always < $out/set8.http.items > /dev/null" \
  "curl --parallel --parallel-max 32 to /dev/null" \
  "curl -s --no-progress-meter --fail --parallel --parallel-max 32 -K $out/curl.cfg" \
  "$bytes" true 0
# The same work done by peers: every object fetched by curl and hashed by openssl, 32 at a time.
for i in $(seq -w 1 100); do echo "$HTTP_URL/set8/obj-$i.bin"; done > "$out/urls"
alternately 3 \
  "derive calculate-always over nginx (32 workers)" \
  "$ours asset-lock derive --checksum calculate-always < $out/set8.http.items > /dev/null" \
  "curl | openssl dgst -sha256, 32 at a time" \
  "xargs -P 32 -I{} sh -c 'curl -s --fail {} | openssl dgst -sha256 > /dev/null' < $out/urls" \
  "$bytes" true 0

echo "== 4. peak RSS with 1 MiB and 1 GiB objects (2 objects each)"
make_set one-mib 2 1
make_set one-gib 2 1024
for set in one-mib one-gib; do
  bytes=$(bytes_of "$HTTP_ROOT/$set")
  best_of 1 true "$ours asset-lock derive --checksum calculate-always < $out/$set.file.items > $out/$set.file.lock"
  rate "$set: derive calculate-always, local" "$bytes" "$BEST_SECS" "$BEST_RSS"
  best_of 1 true "$ours asset-lock derive --checksum calculate-always < $out/$set.http.items > /dev/null"
  rate "$set: derive calculate-always, nginx" "$bytes" "$BEST_SECS" "$BEST_RSS"
  best_of 1 true "$ours asset-lock validate --checksum verify < $out/$set.file.lock > /dev/null"
  rate "$set: validate --checksum verify, local" "$bytes" "$BEST_SECS" "$BEST_RSS"
  "$ours" asset-lock derive < "$out/$set.http.items" > "$out/$set.http.lock"
  best_of 1 "rm -rf $out/copy-$set" "$ours asset-lock relocate --store-type file --key $out/copy-$set < $out/$set.http.lock > $out/$set.copy.lock" 1
  rate "$set: relocate http→file" "$bytes" "$BEST_SECS" "$BEST_RSS"
  best_of 1 "$s3_clean" "$ours asset-lock relocate --store-type s3 --store-container $S3A_BUCKET --key $set < $out/$set.copy.lock > /dev/null" 1
  rate "$set: relocate file→S3" "$bytes" "$BEST_SECS" "$BEST_RSS"
  bash -c "$s3_clean"
  rm -rf "$out/copy-$set"
done
rm -rf "${HTTP_ROOT:?}"/set8 "$HTTP_ROOT"/set256 "$HTTP_ROOT"/one-mib "$HTTP_ROOT"/one-gib
