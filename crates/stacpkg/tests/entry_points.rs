//! Every entry point of the library that does I/O, called from a plain thread and from inside a
//! tokio runtime (the runtime contract of the crate docs): items from memory, derive and validate
//! against an in-memory store, relocation to local files, build, inspect, and push / pull to
//! memory and to an OCI image layout.

use std::path::Path;
use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use stacpkg::BatchReader;
use stacpkg::asset_lock::{
    self, DeriveOptions, Destination, PlanOptions, RelocateOptions, ValidateOptions,
};
use stacpkg::items::{Format, Input, ReadOptions, read_stac};
use stacpkg::oci::{ArtifactRef, MemoryTarget, Progress, PullOptions, PushOptions};
use stacpkg::package::media_type::MediaTypes;
use stacpkg::package::{BuildOptions, build, inspect};
use stacpkg::runtime::Runtime;
use stacpkg::store::Stores;

const ITEMS: &str = r#"{"type": "FeatureCollection", "features": [
  {"type": "Feature", "id": "one", "geometry": null, "properties": {"datetime": null},
   "links": [], "assets": {"data": {"href": "s3://bucket/one.bin"}}},
  {"type": "Feature", "id": "two", "geometry": null, "properties": {"datetime": null},
   "links": [], "assets": {"data": {"href": "s3://bucket/two.bin"}}}]}"#;

fn items() -> BatchReader {
    let input = Input::Bytes {
        name: "items".into(),
        bytes: ITEMS.into(),
    };
    read_stac(input, Format::Json, ReadOptions::default()).unwrap()
}

/// An in-memory bucket with the two objects, registered as `s3://bucket`.
fn stores(dir: &Path) -> Stores {
    let bucket = Arc::new(InMemory::new());
    let put = async {
        for name in ["one", "two"] {
            let path = object_store::path::Path::from(format!("{name}.bin"));
            bucket
                .put(
                    &path,
                    PutPayload::from(format!("{name} bytes").into_bytes()),
                )
                .await
                .unwrap();
        }
    };
    // The setup's own small runtime, on a thread of its own (the caller may be inside one).
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(put)
        })
        .join()
        .unwrap()
    });
    Stores::builder()
        .register("s3://bucket", bucket as Arc<dyn ObjectStore>)
        .unwrap()
        .working_dir(dir)
        .build()
        .unwrap()
}

fn rows(reader: BatchReader) -> (arrow_schema::SchemaRef, Vec<arrow_array::RecordBatch>) {
    let schema = reader.schema();
    (schema, reader.map(Result::unwrap).collect())
}

/// The whole pipeline on `runtime`; panics on any failure.
fn pipeline(runtime: Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let stores = stores(dir);

    let derive = DeriveOptions {
        runtime: runtime.clone(),
        ..DeriveOptions::default()
    };
    let (lock, report) = asset_lock::derive(items(), &stores, derive, |_| {}).unwrap();
    let (schema, lock) = rows(lock);
    assert_eq!(report.rows.load(std::sync::atomic::Ordering::Relaxed), 2);

    let validate = ValidateOptions {
        runtime: runtime.clone(),
        ..ValidateOptions::default()
    };
    let replay = |batches: &Vec<arrow_array::RecordBatch>| {
        BatchReader::new(schema.clone(), batches.clone().into_iter().map(Ok))
    };
    let checked = asset_lock::validate(replay(&lock), &stores, validate, |_| Ok(())).unwrap();
    assert_eq!((checked.results, checked.invalid), (2, 0));

    let mirror = dir.join("mirror").display().to_string();
    let relocation = RelocateOptions {
        runtime: runtime.clone(),
        ..RelocateOptions::to(Destination::Plan(PlanOptions::local(mirror)))
    };
    let (relocated, _) = asset_lock::relocate(replay(&lock), &stores, relocation, |_| {}).unwrap();
    let (_, relocated) = rows(relocated);
    assert_eq!(
        std::fs::read(dir.join("mirror/one/data.bin")).unwrap(),
        b"one bytes"
    );

    let package = dir.join("pkg");
    let options = BuildOptions {
        include_assets: true,
        derive: DeriveOptions {
            runtime: runtime.clone(),
            ..DeriveOptions::default()
        },
        ..BuildOptions::default()
    };
    let built = build(
        items(),
        Some(replay(&relocated)),
        &package,
        &stores,
        options,
    )
    .unwrap();
    assert_eq!((built.items, built.copied_assets), (2, 2));
    let summary = inspect(&package, &MediaTypes::builtin()).unwrap();
    assert_eq!(summary.to_json().matches("assets/").count(), 2);

    let push = PushOptions {
        runtime: runtime.clone(),
        scratch: dir.to_path_buf(),
        ..PushOptions::default()
    };
    let pull = PullOptions {
        runtime: runtime.clone(),
        ..PullOptions::default()
    };
    let memory = MemoryTarget::new();
    let pushed =
        stacpkg::oci::push_to(&memory, "v1", &package, &push, &Progress::default()).unwrap();
    let pulled = stacpkg::oci::pull_from(
        &memory,
        &pushed.digest,
        &dir.join("from-memory"),
        &pull,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(pulled.digest, pushed.digest);

    let layout: ArtifactRef = format!("oci-layout:{}:v1", dir.join("oci").display())
        .parse()
        .unwrap();
    stacpkg::oci::push(&package, &layout, &push, &Progress::default()).unwrap();
    stacpkg::oci::pull(
        &layout,
        &dir.join("from-layout"),
        &pull,
        &Progress::default(),
    )
    .unwrap();
    for copy in ["from-memory", "from-layout"] {
        assert_eq!(
            std::fs::read(dir.join(copy).join("assets/one/data.bin")).unwrap(),
            b"one bytes",
            "{copy}"
        );
    }
}

#[test]
fn every_entry_point_works_from_a_plain_thread() {
    pipeline(Runtime::Own);
}

#[tokio::test]
async fn every_entry_point_works_inside_a_current_thread_runtime() {
    pipeline(Runtime::Own);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_entry_point_works_inside_a_multi_thread_runtime() {
    pipeline(Runtime::Own);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_entry_point_can_use_the_callers_runtime() {
    pipeline(Runtime::Handle(tokio::runtime::Handle::current()));
}
