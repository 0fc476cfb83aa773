#!/usr/bin/env bash
# Runs the whole test suite. Needs the Rust toolchain, Python 3 (for the pyarrow/DuckDB/ORAS
# interop tests, installed here into .venv-test on first use) and the test servers (nginx, s3s-fs,
# Azurite, docker-registry: installed by scripts/services.sh on first use, started here, stopped
# on exit).
# `.ci/run` calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-test
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pyarrow, duckdb, oras.client' 2>/dev/null; then
  echo "==> installing pyarrow, duckdb and oras into $venv (interop tests)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow duckdb oras
fi
export STACPKG_TEST_PYTHON="$PWD/$venv/bin/python"

scripts/services.sh install
services=$(mktemp -d /tmp/stacpkg-services.XXXXXX)
trap 'scripts/services.sh stop "$services"; rm -rf "$services"' EXIT
scripts/services.sh start "$services"
export STACPKG_TEST_SERVICES="$services/services.env"

echo "==> cargo test"
cargo test --workspace --locked
