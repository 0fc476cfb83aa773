#!/usr/bin/env bash
# Builds stacpkg and runs the main job — the tutorial's package workflow — on the bundled example
# (examples/demo): STAC JSON → items.parquet, a look at it, the asset lock derived by probing the
# local asset files, validation against it, a package built from both, and its inspection; then
# a self-contained package that carries the asset bytes, pushed to and pulled from an OCI image
# layout (the pulled package validates like the pushed one), and its items written back out as
# STAC NDJSON and JSON. No network, no registry needed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet
stacpkg=$PWD/target/release/stacpkg
out=${1:-out/demo}
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "==> stacpkg items from-json examples/demo/items.json | stacpkg items to-parquet $out/items.parquet"
"$stacpkg" items from-json examples/demo/items.json | "$stacpkg" items to-parquet "$out/items.parquet"
echo "    wrote $out/items.parquet ($(stat -c %s "$out/items.parquet") bytes)"

echo "==> stacpkg items from-parquet $out/items.parquet --collections demo-aerial | stacpkg items to-parquet $out/aerial.parquet"
"$stacpkg" items from-parquet "$out/items.parquet" --collections demo-aerial \
  | "$stacpkg" items to-parquet "$out/aerial.parquet"
echo "    wrote $out/aerial.parquet ($(stat -c %s "$out/aerial.parquet") bytes)"

echo "==> stacpkg items from-parquet $out/items.parquet"
if [ -t 1 ]; then
  "$stacpkg" items from-parquet "$out/items.parquet"
else
  # Without a terminal, stdout would get the binary Arrow stream; show the preview through a
  # pseudo-terminal instead (script(1) from util-linux).
  COLUMNS=${COLUMNS:-160} script -qec "$stacpkg items from-parquet $out/items.parquet" /dev/null | tr -d '\r'
fi

# The example's asset hrefs are relative to its document (`./item-a/visual.tif`) and it has no
# self link, so derive and validate run next to it (relative hrefs resolve against the working
# directory).
echo "==> cd examples/demo && stacpkg items from-json items.json | stacpkg asset-lock derive | stacpkg asset-lock to-parquet $out/assets.lock.parquet"
(cd examples/demo && "$stacpkg" items from-json items.json | "$stacpkg" asset-lock derive \
  | "$stacpkg" asset-lock to-parquet "$out/assets.lock.parquet")
echo "    wrote $out/assets.lock.parquet ($(stat -c %s "$out/assets.lock.parquet") bytes)"

echo "==> cd examples/demo && stacpkg asset-lock from-parquet $out/assets.lock.parquet | stacpkg asset-lock validate"
(cd examples/demo && "$stacpkg" asset-lock from-parquet "$out/assets.lock.parquet" | "$stacpkg" asset-lock validate)

echo "==> stacpkg items from-parquet $out/items.parquet | stacpkg build $out/demo.pkg --asset-lock <(stacpkg asset-lock from-parquet $out/assets.lock.parquet) --includes examples/demo/README.md --force"
"$stacpkg" items from-parquet "$out/items.parquet" \
  | "$stacpkg" build "$out/demo.pkg" --force \
      --asset-lock <("$stacpkg" asset-lock from-parquet "$out/assets.lock.parquet") \
      --includes examples/demo/README.md
echo "    created $out/demo.pkg"

echo "==> stacpkg inspect $out/demo.pkg"
"$stacpkg" inspect "$out/demo.pkg"

echo "==> cd examples/demo && stacpkg items from-json items.json | stacpkg build $out/demo-with-assets.pkg --include-assets --force"
(cd examples/demo && "$stacpkg" items from-json items.json \
  | "$stacpkg" build "$out/demo-with-assets.pkg" --include-assets --force)
echo "==> cd $out/demo-with-assets.pkg && stacpkg asset-lock from-parquet assets.lock.parquet | stacpkg asset-lock validate"
(cd "$out/demo-with-assets.pkg" && "$stacpkg" asset-lock from-parquet assets.lock.parquet | "$stacpkg" asset-lock validate)
echo "==> stacpkg inspect $out/demo-with-assets.pkg --format md"
"$stacpkg" inspect "$out/demo-with-assets.pkg" --format md

# Distribution without a registry: an OCI image layout directory (the same artifact a registry
# gets with `stacpkg push PKG HOST/REPO:TAG`).
echo "==> stacpkg push $out/demo-with-assets.pkg oci-layout:$out/oci:v1"
rm -rf "$out/oci" "$out/pulled.pkg"
"$stacpkg" push "$out/demo-with-assets.pkg" "oci-layout:$out/oci:v1"
echo "==> stacpkg pull oci-layout:$out/oci:v1 --output-dir $out/pulled.pkg"
"$stacpkg" pull "oci-layout:$out/oci:v1" --output-dir "$out/pulled.pkg"
diff -r "$out/demo-with-assets.pkg" "$out/pulled.pkg"
echo "    the pulled package is identical to the pushed one"
echo "==> cd $out/pulled.pkg && stacpkg asset-lock from-parquet assets.lock.parquet | stacpkg asset-lock validate"
(cd "$out/pulled.pkg" && "$stacpkg" asset-lock from-parquet assets.lock.parquet | "$stacpkg" asset-lock validate)

# The package's items as STAC again: NDJSON for loaders (pgstac, stac-fastapi), one
# ItemCollection for pystac and friends.
echo "==> stacpkg items from-parquet $out/pulled.pkg/items.parquet | stacpkg items to-ndjson $out/items.ndjson"
"$stacpkg" items from-parquet "$out/pulled.pkg/items.parquet" | "$stacpkg" items to-ndjson "$out/items.ndjson"
echo "    wrote $out/items.ndjson ($(wc -l < "$out/items.ndjson") items)"
echo "==> stacpkg items from-parquet $out/pulled.pkg/items.parquet | stacpkg items to-json $out/items.json"
"$stacpkg" items from-parquet "$out/pulled.pkg/items.parquet" | "$stacpkg" items to-json "$out/items.json"

echo
echo "The package is at $out/demo.pkg (tables only: the lock points at examples/demo/);"
echo "$out/demo-with-assets.pkg also carries the asset bytes under assets/, and"
echo "$out/pulled.pkg is that package pushed to and pulled from the OCI layout $out/oci;"
echo "$out/items.ndjson and $out/items.json are its items as STAC again."
