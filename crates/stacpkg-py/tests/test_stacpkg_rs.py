"""stacpkg_rs against the stacpkg command line and the real test services.

Run by scripts/test.sh after `maturin develop` into .venv-test, with STACPKG_TEST_SERVICES
(the services.env that scripts/services.sh writes) and STACPKG_BIN (the command line built from
the same sources).
"""

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import stacpkg_rs

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "examples" / "demo"
STACPKG = os.environ.get("STACPKG_BIN", str(ROOT / "target" / "debug" / "stacpkg"))


def services() -> dict[str, str]:
    path = os.environ.get("STACPKG_TEST_SERVICES")
    if not path:
        pytest.fail("STACPKG_TEST_SERVICES is not set: run the suite through scripts/test.sh")
    out = {}
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition("=")
        out[name] = value
    return out


def cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    done = subprocess.run(
        [STACPKG, *args], input=stdin, capture_output=True, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def cli_error(*args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run([STACPKG, *args], input=stdin, capture_output=True, check=False)
    assert done.returncode != 0
    line = done.stderr.decode().strip().splitlines()[-1]
    assert line.startswith("stacpkg: error: "), line
    return line.removeprefix("stacpkg: error: ")


def ipc_table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def same_table(a: pa.Table, b: pa.Table) -> bool:
    """Equal schemas (metadata included) and values; NaN equals NaN (a 2D bbox has NaN z)."""
    def values(table: pa.Table) -> str:
        return json.dumps(table.to_pylist(), default=repr)

    return a.schema.equals(b.schema, check_metadata=True) and values(a) == values(b)


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.fixture
def s3_env(monkeypatch):
    env = services()
    monkeypatch.setenv("STACPKG_S3_ENDPOINT_STACPKG_A", env["S3A_URL"])
    monkeypatch.setenv("STACPKG_S3_ACCESS_KEY_ID_STACPKG_A", env["S3A_ACCESS_KEY"])
    monkeypatch.setenv("STACPKG_S3_SECRET_ACCESS_KEY_STACPKG_A", env["S3A_SECRET_KEY"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return env


def s3_items(env: dict[str, str], tmp_path: Path, payload: bytes) -> tuple[Path, Path]:
    """One item whose asset is an object in the S3 test server's bucket; returns the NDJSON
    file and the object's file behind the server."""
    prefix = uuid.uuid4().hex
    obj = Path(env["S3A_ROOT"]) / env["S3A_BUCKET"] / prefix / "data.tif"
    obj.parent.mkdir(parents=True)
    obj.write_bytes(payload)
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "s3-item",
        "geometry": None,
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "links": [],
        "assets": {"data": {"href": f"s3://{env['S3A_BUCKET']}/{prefix}/data.tif"}},
    }
    path = tmp_path / "items.ndjson"
    path.write_text(json.dumps(item) + "\n")
    return path, obj


def build(package: Path) -> None:
    """The demo items as a package, built by the command line."""
    items = cli("items", "from-ndjson", str(DEMO / "items.ndjson"))
    cli("build", str(package), stdin=items, cwd=DEMO)


def test_items_from_json_and_ndjson_equal_the_command_line_tables():
    for reader, command, source in [
        (stacpkg_rs.read_stac_json, "from-json", DEMO / "items.json"),
        (stacpkg_rs.read_stac_ndjson, "from-ndjson", DEMO / "items.ndjson"),
    ]:
        table = reader(source)
        expected = ipc_table(cli("items", command, str(source)))
        assert isinstance(table, pa.Table)
        assert table.num_rows == 3
        assert same_table(table, expected)


def test_stream_readers_hand_out_record_batches_with_the_same_rows():
    reader = stacpkg_rs.read_stac_ndjson_stream(DEMO / "items.ndjson", batch_size=1)
    assert isinstance(reader, pa.RecordBatchReader)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [1, 1, 1]
    table = pa.Table.from_batches(batches, schema=reader.schema)
    assert same_table(table, stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson"))
    json_reader = stacpkg_rs.read_stac_json_stream(str(DEMO / "items.json"))
    assert json_reader.read_all().num_rows == 3


def test_selection_keeps_only_the_named_items():
    table = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson", item_ids={"item-b"})
    assert table.column("id").to_pylist() == ["item-b"]
    table = stacpkg_rs.read_stac_json(DEMO / "items.json", item_ids=["item-a", "item-c"])
    assert table.column("id").to_pylist() == ["item-a", "item-c"]


def test_items_geoparquet_is_byte_identical_to_the_command_line_and_reads_back(tmp_path):
    table = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    report = stacpkg_rs.write_items_geoparquet_stream(table, tmp_path / "py.parquet")
    assert report["rows"] == 3
    cli("items", "to-parquet", str(tmp_path / "cli.parquet"), stdin=ipc_bytes(table))
    assert (tmp_path / "py.parquet").read_bytes() == (tmp_path / "cli.parquet").read_bytes()
    # A RecordBatchReader and a path to an IPC stream are sources too.
    stacpkg_rs.write_items_geoparquet_stream(
        stacpkg_rs.read_stac_ndjson_stream(DEMO / "items.ndjson"), tmp_path / "stream.parquet"
    )
    assert (tmp_path / "stream.parquet").read_bytes() == (tmp_path / "cli.parquet").read_bytes()
    (tmp_path / "items.arrow").write_bytes(ipc_bytes(table))
    stacpkg_rs.write_items_geoparquet_stream(tmp_path / "items.arrow", tmp_path / "ipc.parquet")
    assert (tmp_path / "ipc.parquet").read_bytes() == (tmp_path / "cli.parquet").read_bytes()
    back = stacpkg_rs.read_items_geoparquet(tmp_path / "py.parquet")
    assert same_table(back, ipc_table(cli("items", "from-parquet", str(tmp_path / "py.parquet"))))


def test_geopandas_reads_the_items_table():
    geopandas = pytest.importorskip("geopandas")
    table = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    frame = geopandas.GeoDataFrame.from_arrow(table)
    assert list(frame["id"]) == ["item-a", "item-b", "item-c"]
    assert frame.geometry.iloc[0].bounds == pytest.approx((16.3, 48.15, 16.4, 48.25))


def test_derived_lock_equals_the_command_lines_and_writes_the_same_parquet(tmp_path):
    items = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    lock = stacpkg_rs.derive_asset_lock(items, probe_metadata=False)
    expected = ipc_table(cli("asset-lock", "derive", "--no-probe-metadata", stdin=ipc_bytes(items)))
    assert same_table(lock, expected)
    assert lock.schema.metadata[b"stacpkg:schema-kind"] == b"asset-lock"
    stacpkg_rs.write_asset_lock_parquet_stream(lock, tmp_path / "py.lock.parquet")
    cli("asset-lock", "to-parquet", str(tmp_path / "cli.lock.parquet"), stdin=ipc_bytes(lock))
    assert (tmp_path / "py.lock.parquet").read_bytes() == (
        tmp_path / "cli.lock.parquet"
    ).read_bytes()


def test_derive_probes_s3_and_hashes_and_validate_catches_a_changed_object(s3_env, tmp_path):
    payload = b"pixels " * 1000
    ndjson, obj = s3_items(s3_env, tmp_path, payload)
    items = stacpkg_rs.read_stac_ndjson(ndjson)
    lock = stacpkg_rs.derive_asset_lock(items, checksum="calculate-always", max_workers=2)
    row = lock.to_pylist()[0]
    assert row["store_type"] == "s3"
    assert row["size_bytes"] == len(payload)
    assert row["file_checksum"] == "1220" + hashlib.sha256(payload).hexdigest()

    results = stacpkg_rs.validate_assets(lock, verify_checksums=True)
    assert [r["valid"] for r in results] == [True]
    assert results[0]["item_id"] == "s3-item" and results[0]["errors"] == []

    obj.write_bytes(payload[:-1] + b"X")
    results = stacpkg_rs.validate_assets(lock, verify_checksums=True)
    assert results[0]["valid"] is False
    assert any("file_checksum mismatch" in e for e in results[0]["errors"])
    # A lock path works as the table does.
    pq.write_table(lock, tmp_path / "assets.lock.parquet")
    assert stacpkg_rs.validate_assets(tmp_path / "assets.lock.parquet")[0]["valid"] is False


def test_a_missing_object_raises_store_not_found_with_the_command_line_message(s3_env, tmp_path):
    ndjson, obj = s3_items(s3_env, tmp_path, b"gone soon")
    items = stacpkg_rs.read_stac_ndjson(ndjson)
    obj.unlink()
    with pytest.raises(stacpkg_rs.StoreNotFoundError) as raised:
        stacpkg_rs.derive_asset_lock(items)
    assert isinstance(raised.value, stacpkg_rs.StoreError)
    assert isinstance(raised.value, stacpkg_rs.StacpkgError)
    expected = cli_error("asset-lock", "derive", stdin=ipc_bytes(items))
    assert str(raised.value) == expected
    assert s3_env["S3A_SECRET_KEY"] not in str(raised.value)
    # keep_going keeps the row, unprobed.
    lock = stacpkg_rs.derive_asset_lock(items, keep_going=True)
    assert lock.num_rows == 1 and lock.column("size_bytes").to_pylist() == [None]


def test_package_inspection_matches_the_command_line(tmp_path):
    package = tmp_path / "package"
    build(package)
    assert stacpkg_rs.package_inspect_yaml(package) == cli("inspect", str(package)).decode()
    assert (
        stacpkg_rs.package_inspect_markdown(str(package))
        == cli("inspect", str(package), "--format", "markdown").decode()
    )
    data = stacpkg_rs.package_inspect_data(package)
    assert data == json.loads(cli("inspect", str(package), "--format", "json"))
    assert data["items"]["count"] == 3 and data["assets"]["count"] == 6
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(stacpkg_rs.NotAPackageError) as raised:
        stacpkg_rs.package_inspect_data(empty)
    assert str(raised.value) == cli_error("inspect", str(empty))


def test_a_stream_of_the_wrong_kind_fails_as_on_the_command_line(tmp_path):
    items = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    lock = stacpkg_rs.derive_asset_lock(items, probe_metadata=False)
    with pytest.raises(stacpkg_rs.InvalidInputError) as raised:
        stacpkg_rs.write_items_geoparquet_stream(lock, tmp_path / "x.parquet")
    expected = cli_error("items", "to-parquet", str(tmp_path / "y.parquet"), stdin=ipc_bytes(lock))
    # The module names the parameter where the command line names its standard input.
    assert str(raised.value) == expected.replace("stdin", "source", 1)
    assert not (tmp_path / "x.parquet").exists()


def test_malformed_stac_raises_invalid_input_naming_the_file(tmp_path):
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"type": "Feature", "id": 7, "assets": {}}\n')
    with pytest.raises(stacpkg_rs.InvalidInputError) as raised:
        stacpkg_rs.read_stac_ndjson(bad)
    assert str(raised.value) == cli_error("items", "from-ndjson", str(bad))
    assert str(bad) in str(raised.value)


def test_wrong_argument_types_raise_type_error_naming_the_parameter():
    with pytest.raises(TypeError, match="items"):
        stacpkg_rs.derive_asset_lock(42)
    with pytest.raises(TypeError, match="item_ids"):
        stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson", item_ids="item-a")
    with pytest.raises(TypeError, match="path"):
        stacpkg_rs.read_stac_json(3.5)
    with pytest.raises(ValueError, match="checksum"):
        stacpkg_rs.derive_asset_lock(stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson"), checksum="md6")


def test_calls_from_a_thread_pool_and_an_event_loop_return_the_same_tables():
    expected = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(lambda _: stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson"), range(8)))
    assert all(same_table(t, expected) for t in tables)

    async def main():
        # Inside a running loop (as in Jupyter): a plain call, and one on a worker thread.
        direct = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
        threaded = await asyncio.to_thread(stacpkg_rs.read_stac_ndjson, DEMO / "items.ndjson")
        return direct, threaded

    direct, threaded = asyncio.run(main())
    assert same_table(direct, expected) and same_table(threaded, expected)


def test_polars_style_stream_objects_are_accepted_without_pyarrow_types(tmp_path):
    # Any object with __arrow_c_stream__ is an input: wrap a table in a plain class.
    table = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")

    class Stream:
        def __arrow_c_stream__(self, requested_schema=None):
            return table.__arrow_c_stream__(requested_schema)

    lock = stacpkg_rs.derive_asset_lock(Stream(), probe_metadata=False)
    assert lock.num_rows == stacpkg_rs.derive_asset_lock(table, probe_metadata=False).num_rows


def test_the_module_is_typed_and_documented():
    package = Path(stacpkg_rs.__file__).parent
    assert (package / "py.typed").exists()
    stub = (package / "__init__.pyi").read_text()
    for name in stacpkg_rs.__all__:
        assert name in stub, name
        assert getattr(stacpkg_rs, name).__doc__, name


def test_the_package_layout_of_a_build_is_readable_by_the_module(tmp_path, monkeypatch):
    # Relative asset hrefs resolve against the working directory, as on the command line.
    monkeypatch.chdir(DEMO)
    package = tmp_path / "package"
    build(package)
    items = stacpkg_rs.read_items_geoparquet(package / "items.parquet")
    assert items.num_rows == 3
    results = stacpkg_rs.validate_assets(package / "assets.lock.parquet")
    assert len(results) == pq.read_table(package / "assets.lock.parquet").num_rows == 6
    assert all(r["valid"] for r in results), results
    shutil.rmtree(package)


def mirrored_lock(items: pa.Table) -> pa.Table:
    """The demo lock pointing at copies under an S3 bucket, with a size for each row."""
    lock = stacpkg_rs.derive_asset_lock(items, probe_metadata=False)
    n = lock.num_rows
    columns = {name: lock.column(name) for name in lock.column_names}
    columns["store_type"] = pa.array(["s3"] * n)
    columns["store_container"] = pa.array(["mirror"] * n)
    columns["key"] = pa.array([f"copies/{i}.bin" for i in range(n)])
    columns["size_bytes"] = pa.array(list(range(100, 100 + n)), pa.int64())
    return pa.table(columns, schema=lock.schema)


def test_enrich_and_alternates_equal_the_command_line(tmp_path):
    items = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    lock = mirrored_lock(items)
    lock_file = tmp_path / "lock.arrow"
    lock_file.write_bytes(ipc_bytes(lock))
    stream = ipc_bytes(items)

    enriched = stacpkg_rs.enrich_items(items, lock)
    expected = ipc_table(cli("items", "enrich", "--asset-lock", str(lock_file), stdin=stream))
    assert same_table(enriched, expected)
    sizes = [a["visual"]["file:size"] for a in enriched.column("assets").to_pylist() if a["visual"]]
    assert sizes and all(100 <= size < 106 for size in sizes)

    added = stacpkg_rs.add_alternate_asset_hrefs(
        items, lock, alternate_key="s3", alternate_name="Mirror"
    )
    expected = ipc_table(
        cli("items", "add-alternate", "--asset-lock", str(lock_file), "--alternate-key", "s3",
            "--alternate-name", "Mirror", stdin=stream)
    )
    assert same_table(added, expected)
    alternates = [a["visual"]["alternate"]["s3"] for a in added.column("assets").to_pylist()]
    assert all(alt["href"].startswith("s3://mirror/copies/") for alt in alternates), alternates

    switched = stacpkg_rs.promote_alternate_asset_hrefs(added, alternate_key="s3", mode="switch")
    expected = ipc_table(
        cli("items", "promote-alternate", "--alternate-key", "s3", "--mode", "switch",
            stdin=ipc_bytes(added))
    )
    assert same_table(switched, expected)

    removed = stacpkg_rs.remove_alternate_asset_hrefs(added, alternate_key="s3")
    expected = ipc_table(
        cli("items", "remove-alternate", "--alternate-key", "s3", stdin=ipc_bytes(added))
    )
    assert same_table(removed, expected)
    with pytest.raises(ValueError, match="mode"):
        stacpkg_rs.promote_alternate_asset_hrefs(added, alternate_key="s3", mode="swap")


def test_build_package_writes_the_command_lines_tables(tmp_path, monkeypatch):
    monkeypatch.chdir(DEMO)
    build(tmp_path / "cli")
    report = stacpkg_rs.build_package(DEMO / "items.ndjson", tmp_path / "py")
    assert report["package"] == str(tmp_path / "py")
    assert report["items"] == 3 and report["assets"] == 6
    assert {f["path"] for f in report["files"]} == {"items.parquet", "assets.lock.parquet"}
    for name in ["items.parquet", "assets.lock.parquet"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    # A table and a selection work as paths do; a build never overwrites without force.
    items = stacpkg_rs.read_stac_json("items.json")
    selected = stacpkg_rs.build_package(items, tmp_path / "one", item_ids={"item-a"})
    assert selected["items"] == 1
    with pytest.raises(stacpkg_rs.StacpkgError):
        stacpkg_rs.build_package(items, tmp_path / "one", item_ids={"item-a"})
    assert stacpkg_rs.build_package(items, tmp_path / "one", force=True)["replaced"] is True
    with pytest.raises(ValueError, match="mandatory"):
        stacpkg_rs.build_package(items, tmp_path / "x", skip=["assets-lock"])
    with pytest.raises(ValueError, match="probe_metadata"):
        stacpkg_rs.build_package(
            items, tmp_path / "x", probe_metadata=False, checksum="calculate-always"
        )
    assert not (tmp_path / "x").exists()


def test_push_and_pull_through_a_registry_and_an_image_layout(tmp_path, monkeypatch):
    env = services()
    monkeypatch.chdir(DEMO)
    package = tmp_path / "package"
    stacpkg_rs.build_package(DEMO / "items.ndjson", package, include_assets=True)

    layout = f"oci-layout:{tmp_path / 'layout'}:v1"
    pushed = stacpkg_rs.push_package(package, layout)
    assert pushed["digest"].startswith("sha256:") and pushed["layers"] >= 2
    stacpkg_rs.pull_package(layout, tmp_path / "from-layout")
    for name in ["items.parquet", "assets.lock.parquet"]:
        assert (tmp_path / "from-layout" / name).read_bytes() == (package / name).read_bytes()

    # The Basic-auth registry, with credentials given in code, not in the environment.
    monkeypatch.delenv("ORAS_USER", raising=False)
    monkeypatch.delenv("ORAS_PASS", raising=False)
    target = f"{env['OCI_BASIC_HOST']}/py/demo:{uuid.uuid4().hex[:8]}"
    with pytest.raises(stacpkg_rs.RegistryError) as raised:
        stacpkg_rs.push_package(package, target, plain_http=True, credentials={})
    assert env["OCI_BASIC_PASS"] not in str(raised.value)
    credentials = {"username": env["OCI_BASIC_USER"], "password": env["OCI_BASIC_PASS"]}
    with pytest.raises(ValueError, match="credentials"):
        stacpkg_rs.push_package(package, target, plain_http=True, credentials={"user": "x"})
    pushed = stacpkg_rs.push_package(package, target, plain_http=True, credentials=credentials)
    pulled = stacpkg_rs.pull_package(
        target, tmp_path / "one", plain_http=True, credentials=credentials, item_ids={"item-b"}
    )
    assert pulled["digest"] == pushed["digest"] and pulled["layers_left"] > 0
    assert stacpkg_rs.read_items_geoparquet(tmp_path / "one" / "items.parquet").column(
        "id"
    ).to_pylist() == ["item-b"]
    # What was pulled selectively is what build writes for the same selection.
    stacpkg_rs.build_package(
        DEMO / "items.ndjson", tmp_path / "built-one", include_assets=True, item_ids={"item-b"}
    )
    for name in ["items.parquet", "assets.lock.parquet"]:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "built-one" / name).read_bytes()


def test_relocation_plans_copies_and_copies_to_a_given_lock(s3_env, tmp_path, monkeypatch):
    monkeypatch.chdir(DEMO)
    items = stacpkg_rs.read_stac_ndjson("items.ndjson")
    lock = stacpkg_rs.derive_asset_lock(items, checksum="calculate-always")
    prefix = uuid.uuid4().hex
    where = dict(store_type="s3", store_container=s3_env["S3A_BUCKET"], key=prefix)

    planned = stacpkg_rs.relocate_asset_locations(lock, **where)
    expected = ipc_table(
        cli("asset-lock", "relocate", "--dry-run", "--store-type", "s3", "--store-container",
            s3_env["S3A_BUCKET"], "--key", prefix, stdin=ipc_bytes(lock))
    )
    assert same_table(planned, expected)
    assert not (Path(s3_env["S3A_ROOT"]) / s3_env["S3A_BUCKET"] / prefix).exists()

    copied = stacpkg_rs.relocate_assets(lock, **where, max_workers=2)
    assert copied.column("key").to_pylist() == planned.column("key").to_pylist()
    assert copied.column("file_checksum").to_pylist() == lock.column("file_checksum").to_pylist()
    assert all(r["valid"] for r in stacpkg_rs.validate_assets(copied, verify_checksums=True))

    # As a reader, to another prefix: the same rows, copied as they are read.
    streamed = stacpkg_rs.relocate_assets_stream(
        lock, store_type="s3", store_container=s3_env["S3A_BUCKET"], key=prefix + "-stream"
    )
    assert isinstance(streamed, pa.RecordBatchReader)
    streamed = streamed.read_all()
    assert streamed.column("size_bytes").to_pylist() == copied.column("size_bytes").to_pylist()
    assert all(r["valid"] for r in stacpkg_rs.validate_assets(streamed, verify_checksums=True))

    # The same copies made to a lock given as a table: the rows of the relocation.
    again = stacpkg_rs.copy_assets(lock, planned, overwrite=False)
    assert again.column("key").to_pylist() == copied.column("key").to_pylist()
    assert again.column("size_bytes").to_pylist() == copied.column("size_bytes").to_pylist()

    with pytest.raises(ValueError, match="store_container"):
        stacpkg_rs.relocate_asset_locations(lock, store_type="s3")
    with pytest.raises(ValueError, match="layout"):
        stacpkg_rs.relocate_asset_locations(lock, **where, layout="flat")


def test_store_options_in_code_replace_the_environment(s3_env, tmp_path, monkeypatch):
    payload = b"configured in code"
    ndjson, _ = s3_items(s3_env, tmp_path, payload)
    items = stacpkg_rs.read_stac_ndjson(ndjson)
    for name in list(os.environ):
        if name.startswith("STACPKG_S3_"):
            monkeypatch.delenv(name)
    bucket = f"s3://{s3_env['S3A_BUCKET']}"
    options = {
        "endpoint": s3_env["S3A_URL"],
        "aws_access_key_id": s3_env["S3A_ACCESS_KEY"],
        "aws_secret_access_key": s3_env["S3A_SECRET_KEY"],
        "region": "us-east-1",
        "allow_http": True,
    }
    lock = stacpkg_rs.derive_asset_lock(items, stores={bucket: options})
    assert lock.column("size_bytes").to_pylist() == [len(payload)]
    assert stacpkg_rs.validate_assets(lock, stores={bucket: options})[0]["valid"]

    wrong = dict(options, aws_secret_access_key="not-the-secret-4242")
    with pytest.raises(stacpkg_rs.StoreError) as raised:
        stacpkg_rs.derive_asset_lock(items, stores={bucket: wrong})
    assert "not-the-secret-4242" not in str(raised.value)
    with pytest.raises(TypeError, match="stores"):
        stacpkg_rs.derive_asset_lock(items, stores={bucket: "endpoint"})


INTERRUPTED = """
import os, signal, sys, threading, time
import stacpkg_rs
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
start = time.time()
try:
    {call}
except KeyboardInterrupt:
    print("interrupted after", round(time.time() - start, 2))
    sys.exit(3)
print("finished after", round(time.time() - start, 2))
"""


def seconds_to_interrupt(call: str) -> float:
    """Run `call` in a child process that sends itself SIGINT after 0.3 s; it must end in
    KeyboardInterrupt. Returns how long after the call's start that came."""
    script = INTERRUPTED.format(call=call)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 3, (done.stdout, done.stderr)
    return float(done.stdout.split()[-1])


def test_ctrl_c_stops_a_long_write_and_leaves_nothing_behind(tmp_path):
    # 4000 sentinel2-like items, converted and written by a child process that sends itself
    # SIGINT after 0.3 s: KeyboardInterrupt, promptly, and no file or temporary file left.
    items = tmp_path / "items.ndjson"
    with items.open("w") as out:
        subprocess.run(
            ["python3", str(ROOT / "bench" / "gen_items.py"), "4000", "sentinel2"],
            stdout=out, check=True,
        )
    outdir = tmp_path / "out"
    outdir.mkdir()
    took = seconds_to_interrupt(
        f"stacpkg_rs.write_items_geoparquet_stream(stacpkg_rs.read_stac_ndjson_stream("
        f"{str(items)!r}, batch_size=100), {str(outdir / 'items.parquet')!r})"
    )
    assert took < 3.0, took
    assert list(outdir.iterdir()) == []


INTEROP = """
import json, sys
import stacpkg_rs
from stacpkg.assets import derive_asset_lock
from stacpkg.geoparquet import items_table_to_geoparquet_table
from stacpkg.stac_json import read_stac_json
from stacpkg.report import package_inspect_data

def values(column):
    return json.dumps(column.to_pylist(), default=repr)

original = items_table_to_geoparquet_table(read_stac_json("items.json"))
ours = stacpkg_rs.read_stac_json("items.json")
items = {
    name: [str(original.schema.field(name).type) == str(ours.schema.field(name).type),
           values(original.column(name)) == values(ours.column(name))]
    for name in original.column_names
}
lock_o = derive_asset_lock(read_stac_json("items.json"), probe_metadata=False)
lock_r = stacpkg_rs.derive_asset_lock(ours, probe_metadata=False)
lock = {name: values(lock_o.column(name)) == values(lock_r.column(name)) for name in lock_o.column_names}
print(json.dumps({
    "items": items,
    "extra_item_columns": sorted(set(ours.column_names) - set(original.column_names)),
    "lock": lock,
    "extra_lock_columns": sorted(set(lock_r.column_names) - set(lock_o.column_names)),
    "inspect": [package_inspect_data(sys.argv[1]), stacpkg_rs.package_inspect_data(sys.argv[1])],
}))
"""


def test_the_originals_library_and_the_module_return_equal_tables(tmp_path):
    original = os.environ.get("STACPKG_TEST_ORIGINAL")
    if not original:
        pytest.fail("STACPKG_TEST_ORIGINAL is not set: run the suite through scripts/test.sh")
    python = Path(original).parent / "python"
    package = tmp_path / "package"
    build(package)
    # stacpkg 0.1.4 under Python 3.13.0 sometimes dies of SIGSEGV as its interpreter exits
    # (see the Rust interop test): run it again when, and only when, that happens.
    for _ in range(5):
        done = subprocess.run(
            [str(python), "-c", INTEROP, str(package)], capture_output=True, text=True, cwd=DEMO
        )
        if done.returncode != -11:
            break
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # The departures README lists ("What is different from the Python original"): links keep
    # every member seen (`method` here), a 2D row of a table with 3D bboxes has NaN z (the
    # original: null), and a 3D point keeps its z in the WKB. The columns of properties that
    # only some items have are kept (the original drops them).
    departures = {"links", "bbox", "geometry"}
    for name, (same_type, same_values) in found["items"].items():
        if name not in departures:
            assert same_type and same_values, name
    assert set(found["items"]) >= {"id", "assets", "datetime", "collection", "stac_version"}
    assert found["extra_item_columns"] == [
        "end_datetime", "oam:producer_name", "provider", "start_datetime", "title"
    ]
    # The lock: every column of the original's equal; `file_checksum` is new.
    assert all(found["lock"].values()), found["lock"]
    assert found["extra_lock_columns"] == ["file_checksum"]
    # The summary: the same, plus the count of rows with a checksum.
    original_summary, summary = found["inspect"]
    assert summary["assets"].pop("checksum_count") == 0
    assert summary == original_summary


def test_items_go_back_out_as_the_command_lines_stac(tmp_path):
    items = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    report = stacpkg_rs.write_items_stac_json(items, tmp_path / "items.ndjson")
    assert report["items"] == 3
    expected = cli("items", "to-ndjson", stdin=ipc_bytes(items))
    assert (tmp_path / "items.ndjson").read_bytes() == expected
    stacpkg_rs.write_items_stac_json(items, tmp_path / "items.json", shape="collection")
    assert (tmp_path / "items.json").read_bytes() == cli("items", "to-json", stdin=ipc_bytes(items))
    # What went out reads back to the same table.
    assert same_table(stacpkg_rs.read_stac_json(tmp_path / "items.json"), items)
    with pytest.raises(ValueError, match="shape"):
        stacpkg_rs.write_items_stac_json(items, tmp_path / "x.json", shape="geojson")


def test_progress_callbacks_hear_the_final_counts(tmp_path, monkeypatch):
    monkeypatch.chdir(DEMO)
    items = stacpkg_rs.read_stac_ndjson("items.ndjson")
    seen = []
    lock = stacpkg_rs.derive_asset_lock(items, checksum="calculate-always", progress=seen.append)
    assert seen, "the callback is called at least once, at the end"
    assert seen[-1]["rows"] == lock.num_rows == 6
    assert seen[-1]["hashed"] == 6 and seen[-1]["bytes_hashed"] > 0

    copies = []
    stacpkg_rs.relocate_assets(
        lock, store_type="file", key=str(tmp_path / "copies"), progress=copies.append
    )
    assert copies[-1]["copied"] == 6 and copies[-1]["bytes"] == seen[-1]["bytes_hashed"]

    package = tmp_path / "package"
    stacpkg_rs.build_package("items.ndjson", package)
    pushed = []
    stacpkg_rs.push_package(package, f"oci-layout:{tmp_path / 'layout'}:v1", progress=pushed.append)
    assert pushed[-1]["done"] == pushed[-1]["total"] > 0

    def fails(counts):
        raise RuntimeError("the callback's own error")

    with pytest.raises(RuntimeError, match="own error"):
        stacpkg_rs.derive_asset_lock(items, probe_metadata=False, progress=fails)


def test_filter_items_selects_like_the_command_line(tmp_path):
    items = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    kept = stacpkg_rs.filter_items(items, collections={"demo-aerial"})
    expected = ipc_table(
        cli("items", "from-ndjson", str(DEMO / "items.ndjson"), "--collections", "demo-aerial")
    )
    assert kept.column("id").to_pylist() == expected.column("id").to_pylist() == ["item-a", "item-b"]
    both = stacpkg_rs.filter_items(items, item_ids={"item-b", "item-c"}, collections={"demo-aerial"})
    assert both.column("id").to_pylist() == ["item-b"]
    assert same_table(stacpkg_rs.items_table_to_geoparquet_table(items), items)
    compact = pa.table({"id": ["a"], "assets_json": ["{}"]})
    with pytest.raises(stacpkg_rs.InvalidInputError, match="read_stac_json"):
        stacpkg_rs.items_table_to_geoparquet_table(compact)


def test_a_streaming_pipeline_and_single_batches_give_the_same_lock(tmp_path, monkeypatch):
    monkeypatch.chdir(DEMO)
    expected = stacpkg_rs.derive_asset_lock(stacpkg_rs.read_stac_ndjson("items.ndjson"))
    reader = stacpkg_rs.derive_asset_lock_stream(
        stacpkg_rs.read_stac_ndjson_stream("items.ndjson", batch_size=1)
    )
    assert isinstance(reader, pa.RecordBatchReader)
    report = stacpkg_rs.write_asset_lock_parquet_stream(reader, tmp_path / "lock.parquet")
    assert report["rows"] == expected.num_rows == 6
    streamed = stacpkg_rs.derive_asset_lock_stream(stacpkg_rs.read_stac_ndjson("items.ndjson"))
    assert same_table(streamed.read_all(), expected)
    stacpkg_rs.write_asset_lock_parquet_stream(expected, tmp_path / "whole.parquet")
    assert (tmp_path / "lock.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()

    # One batch given through __arrow_c_array__ only.
    batch = stacpkg_rs.read_stac_ndjson("items.ndjson").combine_chunks().to_batches()[0]

    class OneBatch:
        def __arrow_c_array__(self, requested_schema=None):
            return batch.__arrow_c_array__(requested_schema)

    assert same_table(stacpkg_rs.derive_asset_lock(OneBatch()), expected)


def test_referrers_and_remote_inspection_match_the_command_line(tmp_path, monkeypatch):
    env = services()
    monkeypatch.chdir(DEMO)
    package = tmp_path / "package"
    stacpkg_rs.build_package("items.ndjson", package)
    report = tmp_path / "report.json"
    report.write_text('{"valid": true}\n')
    kind = "application/vnd.stacpkg.test-report+json"

    # A registry with the referrers API (ferro-oci-server).
    # A repository of its own: the demo package's manifest (the subject) is the same every run.
    subject = f"{env['OCI_REFERRERS_HOST']}/py/attach-{uuid.uuid4().hex[:8]}:v1"
    stacpkg_rs.push_package(package, subject, plain_http=True)
    attached = stacpkg_rs.attach_artifact(
        subject,
        [(report, "application/json")],
        artifact_type=kind,
        annotations={"org.example.check": "passed"},
        plain_http=True,
    )
    assert attached["via"] == "api" and attached["digest"].startswith("sha256:")
    found = stacpkg_rs.discover_referrers(subject, artifact_type=kind, plain_http=True)
    assert [r["digest"] for r in found] == [attached["digest"]]
    assert found[0]["annotations"]["org.example.check"] == "passed"
    assert found == json.loads(
        cli("discover", subject, "--artifact-type", kind, "--format", "json", "--plain-http")
    )
    remote = stacpkg_rs.package_inspect_data(subject, plain_http=True)
    assert remote["items"] == stacpkg_rs.package_inspect_data(package)["items"]
    assert remote == json.loads(cli("inspect", subject, "--format", "json", "--plain-http"))

    # An OCI image layout: attach scans and writes its index.
    layout = f"oci-layout:{tmp_path / 'layout'}:v1"
    stacpkg_rs.push_package(package, layout)
    assert stacpkg_rs.attach_artifact(layout, [str(report)], artifact_type=kind)["via"] == "layout"
    assert len(stacpkg_rs.discover_referrers(layout)) == 1
    assert stacpkg_rs.package_inspect_yaml(layout) == cli("inspect", layout).decode()
    with pytest.raises(TypeError, match="files"):
        stacpkg_rs.attach_artifact(layout, str(report), artifact_type=kind)


def test_ctrl_c_cancels_a_pull_and_a_rerun_finishes_it(tmp_path, monkeypatch):
    # A 384 MB content layer (a pull of ~2 s here); SIGINT after 0.3 s: KeyboardInterrupt at
    # once, no output directory; the rerun completes it.
    env = services()
    monkeypatch.chdir(DEMO)
    package = tmp_path / "package"
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for _ in range(4):
            out.write(os.urandom(96 * 1024 * 1024))
    stacpkg_rs.build_package("items.ndjson", package, includes=[big])
    repository = f"py/cancel-{uuid.uuid4().hex[:8]}"
    stacpkg_rs.push_package(package, f"{env['OCI_HOST']}/{repository}:v1", plain_http=True)
    source = f"{env['OCI_SLOW_HOST']}/{repository}:v1"
    out = tmp_path / "out"
    took = seconds_to_interrupt(
        f"stacpkg_rs.pull_package({source!r}, {str(out)!r}, plain_http=True)"
    )
    assert took < 1.2, took
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    stacpkg_rs.pull_package(source, out, plain_http=True)
    assert (out / "big.bin").read_bytes() == big.read_bytes()


def test_the_stream_variants_read_as_the_tables(tmp_path):
    items = stacpkg_rs.read_stac_ndjson(DEMO / "items.ndjson")
    lock = mirrored_lock(items)
    added = stacpkg_rs.add_alternate_asset_hrefs(items, lock, alternate_key="s3")
    pairs = [
        (stacpkg_rs.filter_items, stacpkg_rs.filter_items_stream, (items,), {"item_ids": {"item-a"}}),
        (stacpkg_rs.enrich_items, stacpkg_rs.enrich_items_stream, (items, lock), {}),
        (stacpkg_rs.add_alternate_asset_hrefs, stacpkg_rs.add_alternate_asset_hrefs_stream,
         (items, lock), {"alternate_key": "s3"}),
        (stacpkg_rs.promote_alternate_asset_hrefs, stacpkg_rs.promote_alternate_asset_hrefs_stream,
         (added,), {"alternate_key": "s3", "mode": "switch"}),
        (stacpkg_rs.remove_alternate_asset_hrefs, stacpkg_rs.remove_alternate_asset_hrefs_stream,
         (added,), {"alternate_key": "s3"}),
    ]
    for table_fn, stream_fn, args, kwargs in pairs:
        reader = stream_fn(*args, **kwargs)
        assert isinstance(reader, pa.RecordBatchReader), stream_fn.__name__
        assert same_table(reader.read_all(), table_fn(*args, **kwargs)), stream_fn.__name__
    # A chain of readers: nothing is held whole on the way.
    chained = stacpkg_rs.remove_alternate_asset_hrefs_stream(
        stacpkg_rs.add_alternate_asset_hrefs_stream(
            stacpkg_rs.read_stac_ndjson_stream(DEMO / "items.ndjson", batch_size=1),
            lock,
            alternate_key="s3",
        ),
        alternate_key="s3",
    )
    stacpkg_rs.write_items_geoparquet_stream(chained, tmp_path / "chained.parquet")
    stacpkg_rs.write_items_geoparquet_stream(
        stacpkg_rs.remove_alternate_asset_hrefs(added, alternate_key="s3"), tmp_path / "whole.parquet"
    )
    assert same_table(pq.read_table(tmp_path / "chained.parquet"), pq.read_table(tmp_path / "whole.parquet"))


def test_dask_maps_relocation_shards_over_a_local_cluster_and_their_merge_is_the_single_run(
    tmp_path,
):
    from dask.distributed import Client, LocalCluster

    env = services()
    bucket = env["S3A_BUCKET"]
    prefix = uuid.uuid4().hex
    stores = {
        f"s3://{bucket}": {
            "endpoint": env["S3A_URL"],
            "aws_access_key_id": env["S3A_ACCESS_KEY"],
            "aws_secret_access_key": env["S3A_SECRET_KEY"],
            "region": "us-east-1",
            "allow_http": True,
        }
    }
    root = Path(env["S3A_ROOT"]) / bucket / prefix
    lines = []
    for i in range(24):
        for key in ("a", "b"):
            obj = root / "src" / str(i) / f"{key}.bin"
            obj.parent.mkdir(parents=True, exist_ok=True)
            obj.write_bytes(f"{key}{i}".encode() * (40 + i))
        lines.append(json.dumps({
            "type": "Feature", "stac_version": "1.0.0", "id": f"tile-{i}", "geometry": None,
            "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
            "assets": {k: {"href": f"s3://{bucket}/{prefix}/src/{i}/{k}.bin"} for k in ("a", "b")},
        }))
    (tmp_path / "items.ndjson").write_text("\n".join(lines) + "\n")
    lock = stacpkg_rs.derive_asset_lock(
        stacpkg_rs.read_stac_ndjson(tmp_path / "items.ndjson"), stores=stores
    )
    lock_url = f"s3://{bucket}/{prefix}/lock.parquet"
    stacpkg_rs.write_asset_lock_parquet_stream(lock, lock_url, stores=stores)

    def relocate_shard(k: int) -> int:
        # Runs in a worker process: everything it needs travels with it, nothing is shared but
        # the object store.
        import stacpkg_rs as worker

        source = worker.read_asset_lock_parquet(lock_url, stores=stores)
        shard = worker.relocate_assets(
            source, store_type="s3", store_container=bucket, key=f"{prefix}/dask",
            shard=f"{k}/4", max_workers=2, stores=stores,
        )
        worker.write_asset_lock_parquet_stream(
            shard, f"s3://{bucket}/{prefix}/shards/shard-{k}.parquet", stores=stores
        )
        return shard.num_rows

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        rows = client.gather(client.map(relocate_shard, range(4)))
    assert sum(rows) == 48 and all(0 < r < 48 for r in rows)

    merged = stacpkg_rs.read_asset_lock_parquet(
        f"s3://{bucket}/{prefix}/shards/shard-*.parquet", stores=stores
    )
    single = stacpkg_rs.relocate_assets(
        lock, store_type="s3", store_container=bucket, key=f"{prefix}/single", stores=stores
    )
    assert merged.schema.names == single.schema.names

    def comparable(table: pa.Table, where: str) -> list[dict]:
        out = table.drop_columns(["last_modified"]).to_pylist()
        for row in out:
            row["key"] = row["key"].replace(where, "", 1)
        return out

    assert comparable(merged, "/dask/") == comparable(single, "/single/")
    # Every copy is the source's bytes.
    for row in merged.to_pylist():
        copied = (Path(env["S3A_ROOT"]) / bucket / row["key"]).read_bytes()
        source = root / "src" / row["item_id"].removeprefix("tile-") / f"{row['asset_key']}.bin"
        assert copied == source.read_bytes()
    # Shards of one run only: a missing one is refused.
    with pytest.raises(stacpkg_rs.InvalidInputError, match="lack shard 3 of 4"):
        stacpkg_rs.read_asset_lock_parquet(
            [f"s3://{bucket}/{prefix}/shards/shard-{k}.parquet" for k in range(3)], stores=stores
        )
    with pytest.raises(ValueError, match="argument 'shard': shard `5/4`"):
        stacpkg_rs.relocate_assets(lock, store_type="s3", store_container=bucket, shard="5/4")
