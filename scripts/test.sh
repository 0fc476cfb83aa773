#!/usr/bin/env bash
# Runs the whole test suite. Needs the Rust toolchain, Python 3 (for the interop tests with
# pyarrow, DuckDB, ORAS, stac-geoparquet, pystac and geopandas, installed here into .venv-test
# on first use), Python 3.13 (for the Python original, stacpkg 0.1.4, in .venv-original) and the
# test servers (nginx, s3s-fs, Azurite, docker-registry, ferro-oci-server: installed by
# scripts/services.sh on first use, started here, stopped on exit).
# `.ci/run` calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-test
# Readers and clients that are not stacpkg: pyarrow and DuckDB read our files, oras exchanges
# packages, and stac-geoparquet, pystac and geopandas consume the items we write. maturin builds
# the Python module (crates/stacpkg-py) into the same venv, pytest runs its tests, and
# dask.distributed maps shards over it on a LocalCluster.
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pyarrow, duckdb, oras.client, stac_geoparquet, pystac, geopandas, shapely, pytest, dask.distributed' 2>/dev/null || [ ! -x "$venv/bin/maturin" ]; then
  echo "==> installing pyarrow, duckdb, oras, stac-geoparquet, pystac, geopandas, maturin, pytest and dask.distributed into $venv (interop tests)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow duckdb oras stac-geoparquet pystac geopandas 'maturin>=1.9,<2' pytest 'dask[distributed]'
fi
export STACPKG_TEST_PYTHON="$PWD/$venv/bin/python"

# The Python original (stacpkg 0.1.4, which needs Python 3.13): the interop tests check that it
# reads the locks we write, and that we read its own.
original=.venv-original
if [ ! -x "$original/bin/stacpkg" ]; then
  py313=$(ls -d "$HOME"/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | head -1 || true)
  [ -n "$py313" ] || py313=$(command -v python3.13 || true)
  if [ -z "$py313" ]; then
    echo "scripts/test.sh: the interop tests need Python 3.13 for stacpkg 0.1.4 (pyenv install 3.13)" >&2
    exit 1
  fi
  echo "==> installing the Python original (stacpkg 0.1.4) into $original (interop tests)"
  "$py313" -m venv "$original"
  "$original/bin/pip" install --quiet --disable-pip-version-check stacpkg==0.1.4
fi
export STACPKG_TEST_ORIGINAL="$PWD/$original/bin/stacpkg"

scripts/services.sh install
services=$(mktemp -d /tmp/stacpkg-services.XXXXXX)
trap 'scripts/services.sh stop "$services"; rm -rf "$services"' EXIT
scripts/services.sh start "$services"
export STACPKG_TEST_SERVICES="$services/services.env"

echo "==> cargo test"
# The Python module is tested from Python below.
cargo test --workspace --locked --exclude stacpkg-py

# The Python module, built from these sources into the test venv, against the same services and
# the command line just built.
echo "==> stacpkg_rs (maturin develop, pytest)"
(cd crates/stacpkg-py && VIRTUAL_ENV="$PWD/../../$venv" "../../$venv/bin/maturin" develop --locked --quiet)
# The same module next to the original's library (Python 3.13), for the interop test.
rm -rf target/wheels-test
(cd crates/stacpkg-py && "../../$venv/bin/maturin" build --locked --quiet -o ../../target/wheels-test)
"$original/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall target/wheels-test/stacpkg_rs-*.whl
STACPKG_BIN="$PWD/target/debug/stacpkg" "$venv/bin/python" -m pytest -q crates/stacpkg-py/tests

# The library embedded in a program, configured in code only: it must run with no environment
# variable at all.
echo "==> examples/embed.rs with an empty environment"
cargo build --locked -p stacpkg --example embed
env -i target/debug/examples/embed
