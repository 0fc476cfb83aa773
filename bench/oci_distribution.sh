#!/usr/bin/env bash
# Benchmark (issue 14): the OCI workflows of the EO guide against the local docker-registry.
#
#  1. `inspect REF` of a pushed 1 GiB package (16 items × 64 MiB assets): bytes the registry
#     sent, from its access log, against the manifest and the two tables;
#  2. a selective pull of 1 of the 16 items: bytes sent, against 1/16 of the asset bytes plus
#     the tables;
#  3. a package of 2,500 × 64 KiB assets (the PASTIS-2433 shape): push and pull time and peak
#     RSS, next to curl doing the same blob requests 4 at a time (HEAD, POST, PUT per blob up;
#     GET per blob down), alternately, best of 3.
#
# Push and pull of large blobs against curl: bench/oci.sh.
#
#   bench/oci_distribution.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
bench_setup oci-distribution
svc=$(mktemp -d /tmp/stacpkg-bench.XXXXXX)
trap 'scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
scripts/services.sh start "$svc" oci >/dev/null
# shellcheck disable=SC1091
. "$svc/services.env"

# sent_since LINE: bytes the registry sent for the requests logged after line LINE of its access
# log (combined format: the status is field 9, the bytes field 10).
sent_since() {
  tail -n +$(($1 + 1)) "$OCI_LOG" | awk '$9 ~ /^[0-9]+$/ && $10 ~ /^[0-9]+$/ { s += $10 } END { printf "%.0f\n", s }'
}
lines() { wc -l < "$OCI_LOG"; }

# package DIR COUNT BYTES: COUNT items, each with one asset of BYTES random bytes, built with
# --include-assets.
package() {
  local dir=$1 count=$2 size=$3
  mkdir -p "$dir.src"
  python3 - "$dir.src" "$count" "$size" > "$dir.items.ndjson" <<'EOF'
import json, os, sys
root, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
width = len(str(count))
for i in range(1, count + 1):
    n = str(i).zfill(width)
    path = os.path.join(root, f"obj-{n}.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    print(json.dumps({"type": "Feature", "stac_version": "1.0.0", "id": f"item-{n}",
        "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
        "assets": {"data": {"href": path}}}))
EOF
  "$ours" items from-ndjson "$dir.items.ndjson" | "$ours" build "$dir" --include-assets
  rm -rf "$dir.src"
}

echo "machine: $(nproc) cores; stacpkg $("$ours" --version | cut -d' ' -f2); docker-registry $(docker-registry --version | awk '{print $3}')"

echo "== 1. inspect a pushed 1 GiB package (16 × 64 MiB assets)"
package "$out/big" 16 $((64 * 1024 * 1024))
"$ours" push "$out/big" "$OCI_HOST/bench/big:v1" --plain-http
manifest=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$OCI_HOST/v2/bench/big/manifests/v1")
tables=$(echo "$manifest" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(sum(l["size"] for l in m["layers"] if l["mediaType"].endswith(".parquet")))')
assets=$(echo "$manifest" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(sum(l["size"] for l in m["layers"] if l["mediaType"] == "application/vnd.stacpkg.asset.v1"))')
mark=$(lines)
"$ours" inspect "$OCI_HOST/bench/big:v1" --plain-http --format json > /dev/null
sent=$(sent_since "$mark")
printf "%-60s %12s bytes\n" "registry sent for inspect" "$sent"
printf "%-60s %12s bytes\n" "  manifest (${#manifest}) + the two tables ($tables)" "$((${#manifest} + tables))"
printf "%-60s %12s bytes\n" "  the whole package" "$((assets + tables))"

echo "== 2. pull 1 of 16 items"
mark=$(lines)
rm -rf "$out/one"
"$ours" pull "$OCI_HOST/bench/big:v1" --plain-http --output-dir "$out/one" --item-ids item-01
sent=$(sent_since "$mark")
printf "%-60s %12s bytes\n" "registry sent for the selective pull" "$sent"
printf "%-60s %12s bytes\n" "  1/16 of the asset bytes + the tables + the manifest" \
  "$((assets / 16 + tables + ${#manifest}))"
rm -rf "$out/one" "$out/big"

echo "== 3. 2,500 assets of 64 KiB: push and pull against curl, 4 requests at a time"
package "$out/many" 2500 65536
bytes=$(find "$out/many" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')
find "$out/many/assets" -type f | sort | while read -r f; do echo "$f sha256:$(sha256sum "$f" | cut -d' ' -f1)"; done > "$out/digests"
# One curl upload as stacpkg does it: HEAD (is it there?), POST for a session, PUT ?digest=.
cat > "$out/curl-put.sh" <<CURL
#!/usr/bin/env bash
set -euo pipefail
curl -s -o /dev/null -I "http://$OCI_HOST/v2/bench/curl/blobs/\$2" || true
loc=\$(curl -fsS -o /dev/null -D - -X POST http://$OCI_HOST/v2/bench/curl/blobs/uploads/ | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case \$loc in http*) ;; *) loc=http://$OCI_HOST\$loc ;; esac
curl -fsS -o /dev/null -H 'Content-Type: application/octet-stream' -T "\$1" "\$loc&digest=\$2"
CURL
cat > "$out/curl-get.sh" <<CURL
#!/usr/bin/env bash
set -euo pipefail
curl -fsS -o "$out/curl-get/\$(basename "\$1")" "http://$OCI_HOST/v2/bench/curl/blobs/\$2"
CURL
chmod +x "$out/curl-put.sh" "$out/curl-get.sh"
empty_registry="rm -rf $OCI_ROOT/docker"
report() {
  printf "%-60s %7.2f s  peak RSS %5d MB\n" "$1" "$BEST_SECS" "$((BEST_RSS / 1024))"
}
for _ in 1 2 3; do
  best_of 1 "$empty_registry" "xargs -P4 -L1 $out/curl-put.sh < $out/digests" 1
  echo "$BEST_SECS $BEST_RSS" >> "$out/curl-up"
  best_of 1 "$empty_registry" "$ours push $out/many $OCI_HOST/bench/many:v1 --plain-http" 1
  echo "$BEST_SECS $BEST_RSS" >> "$out/ours-up"
done
best() { sort -n "$1" | head -1; }
read -r BEST_SECS BEST_RSS < <(best "$out/curl-up"); report "curl upload of the 2,500 blobs, 4 at a time"
read -r BEST_SECS BEST_RSS < <(best "$out/ours-up"); report "stacpkg push (2,500 asset layers + tables)"
# Both in the registry for the downloads.
xargs -P4 -L1 "$out/curl-put.sh" < "$out/digests"
for _ in 1 2 3; do
  best_of 1 "rm -rf $out/curl-get; mkdir -p $out/curl-get" "xargs -P4 -L1 $out/curl-get.sh < $out/digests" 1
  echo "$BEST_SECS $BEST_RSS" >> "$out/curl-down"
  best_of 1 "rm -rf $out/pulled" "$ours pull $OCI_HOST/bench/many:v1 --plain-http --output-dir $out/pulled" 1
  echo "$BEST_SECS $BEST_RSS" >> "$out/ours-down"
done
read -r BEST_SECS BEST_RSS < <(best "$out/curl-down"); report "curl GET of the 2,500 blobs, 4 at a time"
read -r BEST_SECS BEST_RSS < <(best "$out/ours-down"); report "stacpkg pull (digest-checked, 2,500 files)"
echo "  ($((bytes / 1048576)) MiB in the package)"
rm -rf "$out/many" "$out/pulled" "$out/curl-get"
