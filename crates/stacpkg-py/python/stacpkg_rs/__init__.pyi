"""Type stubs for stacpkg_rs (see the package docstring)."""

import os
from collections.abc import Callable, Iterable
from typing import Any, Literal, Protocol, TypedDict

import pyarrow as pa

class ArrowStream(Protocol):
    """Anything that exports the Arrow C stream interface (pyarrow, polars, DuckDB, ...)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

StrPath = str | os.PathLike[str]
class ArrowArray(Protocol):
    """Anything that exports one batch through the Arrow C data interface."""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

TableInput = ArrowStream | ArrowArray | StrPath
Names = Iterable[str] | None
# Location prefix ("s3://bucket", "az://container", "gs://bucket") to options: endpoint,
# region, access_key_id, secret_access_key, session_token, skip_signature, allow_http (obstore's
# names, "aws_" prefixes optional), or any object_store configuration name. They replace what
# the environment says about that location; the environment still configures the others.
StoreOptions = dict[str, dict[str, str | bool]]
# Called about every half second on a thread of the module's, and once at the end, with the
# operation's counters (derive: rows, failed, hashed, to_hash, bytes_hashed; relocation and copy:
# rows, to_copy, bytes_to_copy, copied, kept, failed, bytes; push and pull: done, total bytes).
# An exception it raises is raised by the call once its work is over.
Progress = Callable[[dict[str, int]], object]
ChecksumStrategy = Literal[
    "metadata", "use-etag", "calculate-if-needed", "calculate-always"
]

class StacpkgError(Exception):
    """Any failure of stacpkg; ``str(e)`` is the command line's one-line message."""

class InvalidInputError(StacpkgError):
    """An input (STAC JSON, an Arrow stream, a lock) is malformed or of the wrong kind."""

class StoreError(StacpkgError):
    """An object store refused, failed, or does not hold an object."""

class StoreNotFoundError(StoreError):
    """An object named by an href or a lock row does not exist."""

class DigestMismatchError(StacpkgError):
    """Bytes do not match the digest or checksum recorded for them."""

class NotAPackageError(StacpkgError):
    """A directory or artifact is not a stacpkg package."""

class RegistryError(StacpkgError):
    """An OCI registry refused or failed a request."""

class ItemsWriteReport(TypedDict):
    rows: int
    row_groups: int
    secret_hrefs: int

class LockWriteReport(TypedDict):
    rows: int
    queries_dropped: int
    credentials_dropped: int

class Validation(TypedDict, total=False):
    item_id: str
    asset_key: str
    store_type: str | None
    store_container: str | None
    store_endpoint_url: str | None
    key: str | None
    valid: bool
    errors: list[str]

def read_stac_json(
    path: StrPath,
    *,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
    batch_size: int | None = None,
) -> pa.Table:
    """Read one STAC JSON document (an Item, ItemCollection or FeatureCollection) into an
    items table with the whole input's schema (``items from-json``)."""

def read_stac_ndjson(
    path: StrPath,
    *,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
    stream: bool = False,
    batch_size: int | None = None,
) -> pa.Table:
    """Read STAC NDJSON into an items table (``items from-ndjson``); ``stream=True`` fixes the
    schema from the first batch instead of scanning the whole input."""

def read_stac_json_stream(
    path: StrPath,
    *,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
    batch_size: int | None = None,
) -> pa.RecordBatchReader:
    """``read_stac_json`` as a RecordBatchReader: batches are made as they are read, so memory
    stays flat in input size."""

def read_stac_ndjson_stream(
    path: StrPath,
    *,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
    stream: bool = False,
    batch_size: int | None = None,
) -> pa.RecordBatchReader:
    """``read_stac_ndjson`` as a RecordBatchReader."""

def read_items_geoparquet(
    path: StrPath,
    *,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
) -> pa.Table:
    """Read an items GeoParquet file (``items from-parquet``)."""

def write_items_geoparquet_stream(
    source: TableInput, output_path: StrPath
) -> ItemsWriteReport:
    """Write items (an Arrow table or stream, or a path to an Arrow IPC stream) as STAC
    GeoParquet, atomically (``items to-parquet``)."""

class JsonWriteReport(TypedDict):
    items: int
    secret_hrefs: int

def write_items_stac_json(
    items: TableInput,
    output_path: StrPath,
    *,
    shape: Literal["lines", "collection"] = "lines",
) -> JsonWriteReport:
    """Write items back out as STAC, atomically: one Item per line (``items to-ndjson``) or one
    ItemCollection (``shape="collection"``, ``items to-json``), every value as it was read."""

def derive_asset_lock(
    items: TableInput,
    *,
    probe_metadata: bool = True,
    item_ids: Names = None,
    providers: Names = None,
    asset_keys: Names = None,
    include_metadata_assets: bool = False,
    keep_going: bool = False,
    max_workers: int | None = None,
    checksum: ChecksumStrategy = "metadata",
    stores: StoreOptions | None = None,
    progress: Progress | None = None,
    shard: str | None = None,
) -> pa.Table:
    """Derive an asset lock from items (an Arrow table or stream, or an items GeoParquet path),
    probing every object for its size, ETag, last-modified and checksum unless
    ``probe_metadata`` is false (``asset-lock derive``)."""

def derive_asset_lock_stream(
    items: TableInput,
    *,
    probe_metadata: bool = True,
    item_ids: Names = None,
    providers: Names = None,
    asset_keys: Names = None,
    include_metadata_assets: bool = False,
    keep_going: bool = False,
    max_workers: int | None = None,
    checksum: ChecksumStrategy = "metadata",
    stores: StoreOptions | None = None,
    shard: str | None = None,
) -> pa.RecordBatchReader:
    """``derive_asset_lock`` as a RecordBatchReader: items are read and objects probed as the
    lock is read, so a pipeline of any length stays flat in memory
    (``read_stac_ndjson_stream`` → this → ``write_asset_lock_parquet_stream``)."""

def validate_assets(
    assets: TableInput,
    *,
    item_ids: Names = None,
    asset_keys: Names = None,
    keep_going: bool = False,
    max_workers: int | None = None,
    verify_checksums: bool = False,
    stores: StoreOptions | None = None,
    shard: str | None = None,
) -> list[Validation]:
    """Check every lock row's object against the lock (an Arrow table or stream, or an
    ``assets.lock.parquet`` path); one result per row (``asset-lock validate``). With
    ``shard="K/N"`` (or ``"auto"``), only the rows of that shard."""

def read_asset_lock_parquet(
    paths: str | os.PathLike[str] | list[str | os.PathLike[str]],
    *,
    stores: StoreOptions | None = None,
) -> pa.Table:
    """Read asset-lock Parquet files (paths, ``s3://``/``az://``/``gs://``/``file://``/``http(s)://``
    URLs, or patterns with ``*`` and ``?``) as one lock (``asset-lock from-parquet``): the shard
    files of a sharded run are merged into its whole lock, in the unsharded order; one file named
    alone is read as it is."""

def write_asset_lock_parquet_stream(
    source: TableInput, output_path: StrPath, *, stores: StoreOptions | None = None
) -> LockWriteReport:
    """Write an asset lock (an Arrow table or stream, or a path to an Arrow IPC stream) as
    ``assets.lock.parquet``, atomically, to a path or an ``s3://``/``az://``/``gs://``/``file://``
    URL (``asset-lock to-parquet``). A shard's table keeps its positions."""

def filter_items(
    items: TableInput,
    *,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
) -> pa.Table:
    """Keep the items with one of ``item_ids``, in one of ``collections``, with a provider
    among ``providers`` (every selection given must match)."""

def filter_items_stream(
    items: TableInput,
    *,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
) -> pa.RecordBatchReader:
    """``filter_items`` as a RecordBatchReader: batches are made as they are read."""

def items_table_to_geoparquet_table(items: TableInput) -> pa.Table:
    """The original converted the JSON-text table of its ``read_stac_json`` here; this module's
    items tables already have the STAC GeoParquet shape, so the table is checked and returned.
    A JSON-text table (``assets_json``) raises ``InvalidInputError``."""

def enrich_items(
    items: TableInput, asset_lock: TableInput, *, alternate_key: str | None = None
) -> pa.Table:
    """Write each asset's lock facts into the items: ``file:size`` and ``file:checksum``, and
    with ``alternate_key`` the lock's location as that alternate href (``items enrich``). A path
    for ``items`` is an items GeoParquet file, for ``asset_lock`` an ``assets.lock.parquet``."""

def enrich_items_stream(
    items: TableInput, asset_lock: TableInput, *, alternate_key: str | None = None
) -> pa.RecordBatchReader:
    """``enrich_items`` as a RecordBatchReader: batches are made as they are read."""

def add_alternate_asset_hrefs(
    items: TableInput,
    asset_lock: TableInput,
    *,
    alternate_key: str,
    alternate_name: str | None = None,
) -> pa.Table:
    """Add each asset's lock location as the alternate href ``alternate_key``
    (``items add-alternate``)."""

def add_alternate_asset_hrefs_stream(
    items: TableInput,
    asset_lock: TableInput,
    *,
    alternate_key: str,
    alternate_name: str | None = None,
) -> pa.RecordBatchReader:
    """``add_alternate_asset_hrefs`` as a RecordBatchReader: batches are made as they are read."""

def promote_alternate_asset_hrefs(
    items: TableInput,
    *,
    alternate_key: str,
    mode: Literal["replace", "switch"] = "replace",
    drop_alternates: bool = False,
    switched_alternate_name: str = "original",
) -> pa.Table:
    """Make the alternate ``alternate_key`` the primary href: ``replace`` keeps the alternates
    (or drops them all with ``drop_alternates``), ``switch`` swaps primary and alternate
    (``items promote-alternate``)."""

def promote_alternate_asset_hrefs_stream(
    items: TableInput,
    *,
    alternate_key: str,
    mode: Literal["replace", "switch"] = "replace",
    drop_alternates: bool = False,
    switched_alternate_name: str = "original",
) -> pa.RecordBatchReader:
    """``promote_alternate_asset_hrefs`` as a RecordBatchReader: batches are made as they are read."""

def remove_alternate_asset_hrefs(items: TableInput, *, alternate_key: str) -> pa.Table:
    """Remove the alternate href ``alternate_key`` from every asset (``items remove-alternate``)."""

def remove_alternate_asset_hrefs_stream(items: TableInput, *, alternate_key: str) -> pa.RecordBatchReader:
    """``remove_alternate_asset_hrefs`` as a RecordBatchReader: batches are made as they are read."""

StoreType = Literal["file", "s3", "gs", "az", "http", "https"]
Layout = Literal["item-asset", "source-key"]

def relocate_asset_locations(
    asset_lock: TableInput,
    *,
    store_type: StoreType,
    store_container: str | None = None,
    store_endpoint_url: str | None = None,
    key: str | None = None,
    source_prefix: str | None = None,
    layout: Layout = "item-asset",
    stores: StoreOptions | None = None,
    progress: Progress | None = None,
) -> pa.Table:
    """Where every lock row would go under a store: the destination lock, nothing copied
    (``asset-lock relocate --dry-run``). ``key`` is the key prefix; ``source_prefix`` limits the
    rows relocated to hrefs under it."""

def relocate_assets(
    asset_lock: TableInput,
    *,
    store_type: StoreType,
    store_container: str | None = None,
    store_endpoint_url: str | None = None,
    key: str | None = None,
    source_prefix: str | None = None,
    layout: Layout = "item-asset",
    overwrite: bool = True,
    keep_going: bool = False,
    max_workers: int | None = None,
    memory_limit_bytes: int | None = None,
    chunk_size_bytes: int | None = None,
    put_max_concurrency: int | None = None,
    stores: StoreOptions | None = None,
    progress: Progress | None = None,
    shard: str | None = None,
) -> pa.Table:
    """Copy every lock row's object under a store and return the destination lock with the
    copies' facts (``asset-lock relocate``). Bytes are hashed as they are copied and checked
    against the source's ``file_checksum``; memory stays under ``memory_limit_bytes``."""

def relocate_assets_stream(
    asset_lock: TableInput,
    *,
    store_type: StoreType,
    store_container: str | None = None,
    store_endpoint_url: str | None = None,
    key: str | None = None,
    source_prefix: str | None = None,
    layout: Layout = "item-asset",
    overwrite: bool = True,
    keep_going: bool = False,
    max_workers: int | None = None,
    memory_limit_bytes: int | None = None,
    chunk_size_bytes: int | None = None,
    put_max_concurrency: int | None = None,
    stores: StoreOptions | None = None,
    shard: str | None = None,
) -> pa.RecordBatchReader:
    """``relocate_assets`` as a RecordBatchReader: objects are copied as the destination lock
    is read, so a lock of any length relocates in flat memory."""

def copy_assets(
    source_assets: TableInput,
    target_assets: TableInput,
    *,
    overwrite: bool = True,
    keep_going: bool = False,
    max_workers: int | None = None,
    memory_limit_bytes: int | None = None,
    chunk_size_bytes: int | None = None,
    put_max_concurrency: int | None = None,
    stores: StoreOptions | None = None,
    progress: Progress | None = None,
    shard: str | None = None,
) -> pa.Table:
    """Copy the objects of ``source_assets`` to the locations of ``target_assets`` (rows
    matched by item and asset) and return the target lock with the copies' facts
    (``asset-lock relocate --destination-lock``)."""

class RegistryCredentials(TypedDict, total=False):
    username: str
    password: str
    token: str

class FileEntry(TypedDict):
    path: str
    mediaType: str
    size: int
    digest: str

class BuildReport(TypedDict):
    package: str
    files: list[FileEntry]
    items: int
    assets: int
    copied_assets: int
    replaced: bool

class PushReport(TypedDict):
    digest: str
    layers: int
    skipped: int
    notes: list[str]

class PullReport(TypedDict):
    digest: str
    layers: int
    layers_left: int
    asset_layers_left: int
    replaced: bool
    notes: list[str]

def build_package(
    items: TableInput,
    output_dir: StrPath,
    *,
    asset_lock: TableInput | None = None,
    includes: list[StrPath] | None = None,
    include_assets: bool = False,
    skip: list[str] | None = None,
    probe_metadata: bool = True,
    include_metadata_assets: bool = False,
    item_ids: Names = None,
    providers: Names = None,
    checksum: ChecksumStrategy = "metadata",
    force: bool = False,
    stores: StoreOptions | None = None,
    shard: str | None = None,
) -> BuildReport:
    """Build a package directory (``build``): ``items.parquet``, ``assets.lock.parquet``
    (derived from the items unless ``asset_lock`` is given), the ``includes``, and with
    ``include_assets`` the asset bytes under ``assets/``. ``items`` may be a table, a STAC
    ``.json``/``.geojson``/``.ndjson`` file, an items GeoParquet file or an Arrow IPC stream.
    Written atomically; an existing package is replaced only with ``force``."""

def push_package(
    package_dir: StrPath,
    target: str,
    *,
    plain_http: bool = False,
    insecure: bool = False,
    auth_backend: Literal["token", "basic"] = "token",
    credentials: RegistryCredentials | None = None,
    progress: Progress | None = None,
) -> PushReport:
    """Push a package to a registry (``host/repository:tag``) or an OCI image layout
    (``oci-layout:PATH[:TAG]``) (``push``). Credentials: the ``credentials`` given
    (``username`` and ``password``, or ``token``; ``{}`` for anonymous access), else the
    environment's (``ORAS_USER`` and ``ORAS_PASS``, Docker's config)."""

def pull_package(
    source: str,
    output_dir: StrPath,
    *,
    plain_http: bool = False,
    insecure: bool = False,
    auth_backend: Literal["token", "basic"] = "token",
    credentials: RegistryCredentials | None = None,
    force: bool = False,
    item_ids: Names = None,
    collections: Names = None,
    providers: Names = None,
    asset_keys: Names = None,
    tables_only: bool = False,
    progress: Progress | None = None,
) -> PullReport:
    """Pull a package into ``output_dir``, every blob digest-checked (``pull``). With a
    selection, the tables are written filtered (the bytes ``build`` writes for it) and only the
    asset layers their rows point at are fetched; ``tables_only`` fetches no asset or content
    layer."""

class AttachReport(TypedDict):
    digest: str
    subject: str
    via: Literal["api", "fallback-tag", "layout"]
    notes: list[str]

class Referrer(TypedDict):
    digest: str
    mediaType: str
    artifactType: str | None
    size: int
    annotations: dict[str, str]

def attach_artifact(
    subject: str,
    files: Iterable[StrPath | tuple[StrPath, str]],
    *,
    artifact_type: str,
    annotations: dict[str, str] | None = None,
    plain_http: bool = False,
    insecure: bool = False,
    auth_backend: Literal["token", "basic"] = "token",
    credentials: RegistryCredentials | None = None,
) -> AttachReport:
    """Attach files (paths, ``"FILE:MEDIATYPE"`` strings or ``(path, media_type)`` pairs) to a
    pushed manifest as an artifact whose ``subject`` it is (``attach``): through the referrers
    API where the registry has one, else the tag schema ``sha256-<hex>``."""

def discover_referrers(
    subject: str,
    *,
    artifact_type: str | None = None,
    plain_http: bool = False,
    insecure: bool = False,
    auth_backend: Literal["token", "basic"] = "token",
    credentials: RegistryCredentials | None = None,
) -> list[Referrer]:
    """The referrers of a pushed manifest, only those of ``artifact_type`` when given
    (``discover --format json``)."""

def package_inspect_data(
    package_dir: StrPath,
    *,
    plain_http: bool = False,
    insecure: bool = False,
    auth_backend: Literal["token", "basic"] = "token",
    credentials: RegistryCredentials | None = None,
) -> dict[str, Any]:
    """A package's summary (``inspect --format json``): a directory, or a pushed package
    (``host/repository:tag``, ``oci-layout:PATH[:TAG]``) read without pulling its assets."""

def package_inspect_yaml(
    package_dir: StrPath,
    *,
    plain_http: bool = False,
    insecure: bool = False,
    auth_backend: Literal["token", "basic"] = "token",
    credentials: RegistryCredentials | None = None,
) -> str:
    """A package's summary as YAML (``inspect``), of a directory or a pushed package."""

def package_inspect_markdown(
    package_dir: StrPath,
    *,
    plain_http: bool = False,
    insecure: bool = False,
    auth_backend: Literal["token", "basic"] = "token",
    credentials: RegistryCredentials | None = None,
) -> str:
    """A package's summary as Markdown (``inspect --format markdown``), of a directory or a
    pushed package."""
