#!/usr/bin/env bash
# Benchmark: `asset-lock relocate` copying 100 × 8 MiB and 10 × 256 MiB objects http (nginx) →
# file and file → S3 (s3s-fs): MB/s and peak RSS, next to `rclone copy` of the same bytes, the raw
# disk write rate (`dd … conv=fdatasync`) and the Python original, in one run.
#
#   bench/relocate.sh
#   PYTHON_ORIGINAL=0 bench/relocate.sh
#
# Needs ~14 GB of free disk (sources, copies; S3 copies are deleted after each run).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
command -v rclone >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq rclone >/dev/null; }
bench_setup relocate
svc=$(mktemp -d /tmp/stacpkg-bench.XXXXXX)
trap 'scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
scripts/services.sh start "$svc" nginx s3 >/dev/null
# shellcheck disable=SC1091
. "$svc/services.env"
unset AWS_CA_BUNDLE  # rclone 1.60 fails when it points at a bundle it cannot use
export STACPKG_S3_ENDPOINT_STACPKG_A=$S3A_URL STACPKG_S3_ACCESS_KEY_ID_STACPKG_A=$S3A_ACCESS_KEY \
  STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_A=$S3A_SECRET_KEY
rclone_s3=(--s3-provider Other --s3-endpoint "$S3A_URL" --s3-access-key-id "$S3A_ACCESS_KEY"
  --s3-secret-access-key "$S3A_SECRET_KEY" --s3-force-path-style)

py=$(python_original) || py=""

# Sources: random bytes, so no layer can compress them.
make_set() {
  local name=$1 count=$2 mib=$3
  mkdir -p "$HTTP_ROOT/$name"
  for i in $(seq -w 1 "$count"); do
    head -c $((mib * 1024 * 1024)) /dev/urandom > "$HTTP_ROOT/$name/obj-$i.bin"
  done
  python3 - "$HTTP_URL" "$name" "$count" > "$out/$name.ndjson" <<'EOF'
import json, sys
url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(1, count + 1):
    n = str(i).zfill(len(str(count)))
    print(json.dumps({"type": "Feature", "stac_version": "1.0.0", "id": f"{name}-{n}",
        "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
        "assets": {"data": {"href": f"{url}/{name}/obj-{n}.bin"}}}))
EOF
  "$ours" items from-ndjson "$out/$name.ndjson" | "$ours" asset-lock derive > "$out/$name.http.arrow"
}

echo "machine: $(nproc) cores; stacpkg $("$ours" --version | cut -d' ' -f2); $(rclone version | head -1)"
make_set set8 100 8
make_set set256 10 256
for set in set8 set256; do
  bytes=$(find "$HTTP_ROOT/$set" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')
  echo "== $set: $(ls "$HTTP_ROOT/$set" | wc -l) objects, $((bytes / 1048576)) MiB"
  timed "dd (raw disk write, conv=fdatasync)" "$bytes" "rm -f $out/dd.bin" \
    "dd if=/dev/zero of=$out/dd.bin bs=8M count=$((bytes / 8388608)) conv=fdatasync status=none"
  rm -f "$out/dd.bin"

  # http → file
  timed "stacpkg http→file" "$bytes" "rm -rf $out/ours-$set" \
    "$ours asset-lock relocate --store-type file --key $out/ours-$set < $out/$set.http.arrow > $out/$set.file.arrow"
  timed "stacpkg http→file --memory-limit-bytes 256MiB" "$bytes" "rm -rf $out/ours-lim-$set" \
    "$ours asset-lock relocate --store-type file --key $out/ours-lim-$set --memory-limit-bytes 256MiB < $out/$set.http.arrow > /dev/null"
  rm -rf "$out/ours-lim-$set"
  timed "rclone copy http→file" "$bytes" "rm -rf $out/rclone-$set" \
    "rclone copy :http:/$set $out/rclone-$set --http-url $HTTP_URL 2>/dev/null"
  rm -rf "$out/rclone-$set"
  if [ -n "$py" ]; then
    timed "python stacpkg http→file (1 run)" "$bytes" "rm -rf $out/py-$set" \
      "STACPKG_OBSTORE_ALLOW_HTTP=1 $py asset-lock relocate --store-type file --key $out/py-$set < $out/$set.http.arrow > /dev/null 2>&1 || true" 1
    copied=$(find "$out/py-$set" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')
    [ "$copied" = "$bytes" ] || echo "python http→file copied $copied of $bytes bytes"
    rm -rf "$out/py-$set"
  fi

  # file → S3 (from the local copies just made); the S3 server writes to the same disk.
  s3_clean="rm -rf $S3A_ROOT/$S3A_BUCKET/* $S3A_ROOT/.bucket-*"
  timed "stacpkg file→S3" "$bytes" "$s3_clean" \
    "$ours asset-lock relocate --store-type s3 --store-container $S3A_BUCKET --key ours-$set < $out/$set.file.arrow > /dev/null"
  timed "rclone copy file→S3" "$bytes" "$s3_clean" \
    "rclone copy $out/ours-$set :s3:$S3A_BUCKET/rclone-$set ${rclone_s3[*]} 2>/dev/null"
  if [ -n "$py" ]; then
    # The original intermittently segfaults at exit after complete output (ref §10).
    timed "python stacpkg file→S3 (1 run)" "$bytes" "$s3_clean" \
      "$py asset-lock relocate --store-type s3 --store-container $S3A_BUCKET --key py-$set < $out/$set.file.arrow > /dev/null 2>&1 || true" 1
  fi
  bash -c "$s3_clean"
  rm -rf "$out/ours-$set"
done
