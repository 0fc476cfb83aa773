//! stacpkg embedded in a program, from STAC JSON to a package pulled back from an OCI layout,
//! with everything configured in code: no environment variable is read (CI runs it with an empty
//! environment).
//!
//! 1. Three items from a JSON string in memory; their assets live in `s3://demo-archive`, an
//!    in-memory object store registered for that bucket.
//! 2. Their asset lock, derived by probing that store.
//! 3. The assets relocated to a local directory (the lock now points there).
//! 4. A package built from the items and the relocated lock, carrying the asset bytes.
//! 5. The package pushed to an OCI image layout and pulled back: the same files, and a lock that
//!    validates against the pulled files.
//!
//! ```sh
//! cargo run --example embed
//! ```

#![allow(clippy::print_stdout)] // an example program reports what it did

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use stacpkg::BatchReader;
use stacpkg::asset_lock::{
    self, DeriveOptions, Destination, PlanOptions, RelocateOptions, ValidateEvent, ValidateOptions,
};
use stacpkg::items::{Format, Input, ReadOptions, read_stac};
use stacpkg::oci::{
    ChunkedUploads, ImageLayout, OciTarget, Progress, PullOptions, PushOptions, RegistryOptions,
};
use stacpkg::package::media_type::MediaTypes;
use stacpkg::package::{BuildOptions, build};
use stacpkg::runtime::Runtime;
use stacpkg::store::Stores;

type Error = Box<dyn std::error::Error>;

/// Three items, one asset each in `s3://demo-archive`.
fn items_json() -> String {
    let items: Vec<String> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                r#"{{"type": "Feature", "stac_version": "1.1.0", "id": "item-{id}",
                    "geometry": {{"type": "Point", "coordinates": [16.{i}, 48.{i}]}},
                    "bbox": [16.{i}, 48.{i}, 16.{i}, 48.{i}],
                    "properties": {{"datetime": "2024-0{m}-01T00:00:00Z"}},
                    "links": [],
                    "assets": {{"data": {{"href": "s3://demo-archive/scenes/{id}.tif",
                                         "type": "image/tiff"}}}}}}"#,
                m = i + 1
            )
        })
        .collect();
    format!(
        r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
        items.join(", ")
    )
}

fn items() -> Result<BatchReader, Error> {
    let input = Input::Bytes {
        name: "the example's items".into(),
        bytes: items_json().into(),
    };
    Ok(read_stac(input, Format::Json, ReadOptions::default())?)
}

/// Every batch of a reader, and its schema, so a small table can be read twice.
fn collect(
    reader: BatchReader,
) -> Result<(arrow_schema::SchemaRef, Vec<arrow_array::RecordBatch>), Error> {
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

fn replay(table: &(arrow_schema::SchemaRef, Vec<arrow_array::RecordBatch>)) -> BatchReader {
    BatchReader::new(table.0.clone(), table.1.clone().into_iter().map(Ok))
}

/// Every file below `dir` and its bytes, sorted by path.
fn tree(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, Error> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((path.strip_prefix(dir)?.to_path_buf(), std::fs::read(&path)?));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn main() -> Result<(), Error> {
    let work = tempfile::tempdir()?;
    let work = work.path();

    // The archive: an in-memory bucket holding the asset bytes.
    let archive = Arc::new(InMemory::new());
    let setup = tokio::runtime::Builder::new_current_thread().build()?;
    for id in ["a", "b", "c"] {
        let bytes = format!("pixels of scene {id}").into_bytes();
        let path = object_store::path::Path::from(format!("scenes/{id}.tif"));
        setup.block_on(archive.put(&path, PutPayload::from(bytes)))?;
    }
    let stores = Stores::builder()
        .register("s3://demo-archive", archive.clone() as Arc<dyn ObjectStore>)?
        .working_dir(work)
        .build()?;

    // 1–2. Items in memory, and their lock from probing the bucket.
    let (lock, _) = asset_lock::derive(items()?, &stores, DeriveOptions::default(), |_| {})?;
    let lock = collect(lock)?;
    let rows: usize = lock.1.iter().map(|b| b.num_rows()).sum();
    println!("derived a lock of {rows} assets from s3://demo-archive (in memory)");

    // 3. The assets relocated to a local directory.
    let mirror = work.join("mirror");
    let relocation = RelocateOptions::to(Destination::Plan(PlanOptions::local(
        mirror.display().to_string(),
    )));
    let (relocated, report) = asset_lock::relocate(replay(&lock), &stores, relocation, |_| {})?;
    let relocated = collect(relocated)?;
    let copied = report.copied.load(std::sync::atomic::Ordering::Relaxed);
    println!("relocated {copied} assets to {}", mirror.display());
    assert_eq!(copied, 3);

    // 4. A package of the items, the relocated lock, and the asset bytes.
    let package = work.join("demo.pkg");
    let options = BuildOptions {
        include_assets: true,
        ..BuildOptions::default()
    };
    let built = build(
        items()?,
        Some(replay(&relocated)),
        &package,
        &stores,
        options,
    )?;
    println!(
        "built {} with {} items and {} assets",
        package.display(),
        built.items,
        built.copied_assets
    );

    // 5. Through an OCI image layout and back.
    let layout = ImageLayout::open(&work.join("oci"), true)?;
    let push = PushOptions {
        registry: RegistryOptions::default(),
        runtime: Runtime::Own,
        media_types: MediaTypes::builtin(),
        scratch: work.to_path_buf(),
        chunked: ChunkedUploads::default(),
    };
    let pushed = stacpkg::oci::push_to(&layout, "v1", &package, &push, &Progress::default())?;
    println!("pushed {}", layout.place().artifact(&pushed.digest));
    let pulled = work.join("pulled.pkg");
    stacpkg::oci::pull_from(
        &layout,
        "v1",
        &pulled,
        &PullOptions::default(),
        &Progress::default(),
    )?;
    assert_eq!(
        tree(&package)?,
        tree(&pulled)?,
        "the pulled package differs"
    );
    println!("pulled {} (identical)", pulled.display());

    // The pulled lock validates against the pulled files (keys are package-relative), their
    // bytes checked against the SHA-256 each copy recorded.
    let in_package = Stores::builder().working_dir(&pulled).build()?;
    let lock = asset_lock::read_parquet(&pulled.join(stacpkg::package::LOCK_FILE), 1024)?;
    let mut valid = 0;
    let verify = ValidateOptions {
        verify_checksums: true,
        ..ValidateOptions::default()
    };
    let report = asset_lock::validate(lock, &in_package, verify, |event| {
        if let ValidateEvent::Result(result) = event {
            valid += usize::from(result.valid());
        }
        Ok(())
    })?;
    assert_eq!((report.invalid, valid, report.verified), (0, 3, 3));
    println!("validated {valid} assets in the pulled package, checksums verified");
    Ok(())
}
