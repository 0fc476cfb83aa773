#!/usr/bin/env bash
# Runs the whole test suite. Needs the Rust toolchain, Python 3 (for the interop tests with
# pyarrow, DuckDB, ORAS, stac-geoparquet, pystac and geopandas, installed here into .venv-test
# on first use) and the test servers (nginx, s3s-fs,
# Azurite, docker-registry: installed by scripts/services.sh on first use, started here, stopped
# on exit).
# `.ci/run` calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-test
# Readers and clients that are not stacpkg: pyarrow and DuckDB read our files, oras exchanges
# packages, and stac-geoparquet, pystac and geopandas consume the items we write.
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pyarrow, duckdb, oras.client, stac_geoparquet, pystac, geopandas, shapely' 2>/dev/null; then
  echo "==> installing pyarrow, duckdb, oras, stac-geoparquet, pystac and geopandas into $venv (interop tests)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow duckdb oras stac-geoparquet pystac geopandas
fi
export STACPKG_TEST_PYTHON="$PWD/$venv/bin/python"

scripts/services.sh install
services=$(mktemp -d /tmp/stacpkg-services.XXXXXX)
trap 'scripts/services.sh stop "$services"; rm -rf "$services"' EXIT
scripts/services.sh start "$services"
export STACPKG_TEST_SERVICES="$services/services.env"

echo "==> cargo test"
cargo test --workspace --locked

# The library embedded in a program, configured in code only: it must run with no environment
# variable at all.
echo "==> examples/embed.rs with an empty environment"
cargo build --locked -p stacpkg --example embed
env -i target/debug/examples/embed
