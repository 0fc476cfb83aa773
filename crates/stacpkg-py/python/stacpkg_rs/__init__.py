"""stacpkg's Rust core for Python.

STAC items to GeoParquet-shaped Arrow tables, asset locks, and packages, with the names and
signatures of the Python stacpkg 0.1.4 library (``import stacpkg_rs as stacpkg``). Tables cross
the boundary through the Arrow C stream interface without copying column buffers; the work runs
with the GIL released. Stores and registry credentials follow the command line's environment
rules (``AWS_*``, ``AZURE_*``, ``STACPKG_S3_*``, …).
"""

from ._native import (
    DigestMismatchError,
    InvalidInputError,
    NotAPackageError,
    RegistryError,
    StacpkgError,
    StoreError,
    StoreNotFoundError,
    derive_asset_lock,
    copy_assets,
    relocate_assets,
    relocate_asset_locations,
    pull_package,
    push_package,
    build_package,
    remove_alternate_asset_hrefs,
    promote_alternate_asset_hrefs,
    add_alternate_asset_hrefs,
    enrich_items,
    package_inspect_data,
    package_inspect_markdown,
    package_inspect_yaml,
    read_items_geoparquet,
    read_stac_json,
    read_stac_json_stream,
    read_stac_ndjson,
    read_stac_ndjson_stream,
    validate_assets,
    write_asset_lock_parquet_stream,
    write_items_geoparquet_stream,
    write_items_stac_json,
)

__all__ = [
    "DigestMismatchError",
    "InvalidInputError",
    "NotAPackageError",
    "RegistryError",
    "StacpkgError",
    "StoreError",
    "StoreNotFoundError",
    "derive_asset_lock",
    "copy_assets",
    "relocate_assets",
    "relocate_asset_locations",
    "pull_package",
    "push_package",
    "build_package",
    "remove_alternate_asset_hrefs",
    "promote_alternate_asset_hrefs",
    "add_alternate_asset_hrefs",
    "enrich_items",
    "package_inspect_data",
    "package_inspect_markdown",
    "package_inspect_yaml",
    "read_items_geoparquet",
    "read_stac_json",
    "read_stac_json_stream",
    "read_stac_ndjson",
    "read_stac_ndjson_stream",
    "validate_assets",
    "write_asset_lock_parquet_stream",
    "write_items_geoparquet_stream",
    "write_items_stac_json",
]
