#!/usr/bin/env bash
# Benchmark: `push` and `pull` of a 1 GiB package (16 × 64 MiB assets, random bytes) to the local
# docker-registry: MB/s and peak RSS, next to plain `curl` blob transfers of the same 16 blobs in
# the same run (monolithic upload: POST, then PUT ?digest= streaming the file; GET to a file —
# sequential, and 4 at a time like stacpkg) and the Python original (1 run each).
#
#   bench/oci.sh
#   PYTHON_ORIGINAL=0 bench/oci.sh
#
# Every run starts from an empty registry and is timed until `sync` (best of 3).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
bench_setup oci
svc=$(mktemp -d /tmp/stacpkg-bench.XXXXXX)
trap 'scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
scripts/services.sh start "$svc" oci >/dev/null
# shellcheck disable=SC1091
. "$svc/services.env"
py=$(python_original) || py=""

# The package: the demo's tables plus 16 × 64 MiB asset files.
(cd examples/demo && "$ours" items from-json items.json | "$ours" build "$out/pkg" --no-probe-metadata)
for i in $(seq -w 1 16); do
  mkdir -p "$out/pkg/assets/item-$i"
  head -c $((64 * 1024 * 1024)) /dev/urandom > "$out/pkg/assets/item-$i/data.bin"
done
bytes=$(find "$out/pkg" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')
blobs=$(find "$out/pkg/assets" -type f | sort)
for f in $blobs; do echo "$f sha256:$(sha256sum "$f" | cut -d' ' -f1)"; done > "$out/digests"

empty_registry="rm -rf $OCI_ROOT/docker"
# One curl upload: POST for a session, then PUT ?digest= streaming the file (-T).
cat > "$out/curl-put.sh" <<CURL
#!/usr/bin/env bash
set -euo pipefail
loc=\$(curl -fsS -o /dev/null -D - -X POST http://$OCI_HOST/v2/bench/curl/blobs/uploads/ | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case \$loc in http*) ;; *) loc=http://$OCI_HOST\$loc ;; esac
curl -fsS -o /dev/null -H 'Content-Type: application/octet-stream' -T "\$1" "\$loc&digest=\$2"
CURL
cat > "$out/curl-get.sh" <<CURL
#!/usr/bin/env bash
set -euo pipefail
curl -fsS -o "$out/curl-get/\$(basename "\$(dirname "\$1")").bin" "http://$OCI_HOST/v2/bench/curl/blobs/\$2"
CURL
chmod +x "$out/curl-put.sh" "$out/curl-get.sh"

echo "machine: $(nproc) cores; stacpkg $("$ours" --version | cut -d' ' -f2); $(curl --version | head -1 | cut -d' ' -f1-2); docker-registry $(docker-registry --version | awk '{print $3}')"
echo "== package: 16 × 64 MiB assets + tables, $((bytes / 1048576)) MiB"
timed "curl upload, one blob at a time" "$bytes" "$empty_registry" \
  "while read -r f d; do $out/curl-put.sh \$f \$d; done < $out/digests"
timed "curl upload, 4 blobs at a time" "$bytes" "$empty_registry" \
  "xargs -P4 -L1 $out/curl-put.sh < $out/digests"
timed "stacpkg push" "$bytes" "$empty_registry" \
  "$ours push $out/pkg $OCI_HOST/bench/pkg:v1 --plain-http"
# The registry now holds both the curl blobs and the package (the last runs above).
xargs -P4 -L1 "$out/curl-put.sh" < "$out/digests"
timed "curl GET, one blob at a time" "$bytes" "rm -rf $out/curl-get; mkdir -p $out/curl-get" \
  "while read -r f d; do $out/curl-get.sh \$f \$d; done < $out/digests"
timed "curl GET, 4 blobs at a time" "$bytes" "rm -rf $out/curl-get; mkdir -p $out/curl-get" \
  "xargs -P4 -L1 $out/curl-get.sh < $out/digests"
timed "stacpkg pull (digest-checked)" "$bytes" "rm -rf $out/pulled" \
  "$ours pull $OCI_HOST/bench/pkg:v1 --plain-http --output-dir $out/pulled"
diff -r "$out/pkg" "$out/pulled" && echo "   (pulled package identical to the pushed one)"
if [ -n "$py" ]; then
  timed "python stacpkg push (1 run)" "$bytes" "$empty_registry" \
    "$py push $out/pkg $OCI_HOST/bench/py:v1 --plain-http >/dev/null 2>&1 || true" 1
  timed "python stacpkg pull (1 run)" "$bytes" "rm -rf $out/py-pulled" \
    "$py pull $OCI_HOST/bench/py:v1 --plain-http --output-dir $out/py-pulled >/dev/null 2>&1 || true" 1
  diff -rq "$out/pkg" "$out/py-pulled" >/dev/null && echo "   (python pull identical)" || echo "   (python pull differs or failed)"
fi
rm -rf "$out"
