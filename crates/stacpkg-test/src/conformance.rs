//! One suite of store operations, run against every backend: in memory and on local disk in
//! plain `cargo test`, and against the real S3, Azure and HTTP servers of `scripts/services.sh`
//! in the service tests.
//!
//! Each check goes through the library as a program would — [`Stores`], derive, relocate — and
//! checks the objects it wrote with the store itself: probe facts, small (one PUT) and
//! multipart copies, no-overwrite, keep-going, the memory cap, and staging cleanup.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use stacpkg::BatchReader;
use stacpkg::asset_lock::{
    self, DeriveOptions, Destination, KeyLayout, PlanOptions, RelocateOptions,
};
use stacpkg::items::{Format, Input, ReadOptions, read_stac};
use stacpkg::store::{Location, StoreError, Stores, locate};

/// Part size the suite copies with: S3's smallest, so multipart copies work on every store.
pub const CHUNK: usize = 5 * 1024 * 1024;

/// Puts bytes at an href by other means than the store (a directory a server serves).
pub type PutObject = Box<dyn Fn(&str, &[u8]) + Send + Sync>;

/// Where the suite runs: stores, and the href prefix its objects live under. The backends of
/// one run share their stores (a relocation reads one and writes the other).
pub struct Backend {
    /// Name in failure messages.
    pub name: String,
    /// The stores, configured for the backend.
    pub stores: Stores,
    /// `s3://bucket/prefix`, `az://container/prefix`, `http://host/prefix`, or an absolute
    /// directory; each check works below its own sub-prefix.
    pub base: String,
    /// Relocations may write here (not to a plain HTTP server).
    pub writable: bool,
    /// Puts an object at an href, when the store itself cannot (nginx serves a directory).
    pub put: Option<PutObject>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Run `work` on a small runtime of its own (the suite's setup and checks).
fn block_on<T: Send>(work: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(work)
            })
            .join()
            .expect("the runtime thread")
    })
}

impl Backend {
    /// The href of `key` below the base.
    pub fn href(&self, key: &str) -> String {
        format!("{}/{key}", self.base.trim_end_matches('/'))
    }

    fn store(&self, href: &str) -> (Arc<dyn ObjectStore>, object_store::path::Path) {
        let location: Location = locate(href).location;
        self.stores
            .object_store(&location, None)
            .unwrap_or_else(|e| panic!("{}: no store for `{href}`: {e}", self.name))
    }

    /// Put `bytes` at `key`.
    pub fn put(&self, key: &str, bytes: &[u8]) -> String {
        let href = self.href(key);
        match &self.put {
            Some(put) => put(&href, bytes),
            None => {
                let (store, path) = self.store(&href);
                let payload = PutPayload::from(bytes.to_vec());
                block_on(async move { store.put(&path, payload).await })
                    .unwrap_or_else(|e| panic!("{}: cannot put `{href}`: {e}", self.name));
            }
        }
        href
    }

    /// The bytes at `href`, if there is an object.
    pub fn get(&self, href: &str) -> Option<Vec<u8>> {
        let (store, path) = self.store(href);
        block_on(async move {
            match store.get(&path).await {
                Ok(got) => Some(got.bytes().await.expect("object bytes").to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("cannot get `{href}`: {e}"),
            }
        })
    }
}

/// Items with one asset each, at these hrefs, as an items stream.
fn items(hrefs: &[String]) -> BatchReader {
    let features: Vec<serde_json::Value> = hrefs
        .iter()
        .enumerate()
        .map(|(i, href)| {
            serde_json::json!({
                "type": "Feature", "id": format!("i{i}"), "geometry": null,
                "properties": {"datetime": null}, "links": [],
                "assets": {"data": {"href": href}},
            })
        })
        .collect();
    let text = serde_json::json!({"type": "FeatureCollection", "features": features});
    let input = Input::Bytes {
        name: "conformance items".into(),
        bytes: text.to_string().into(),
    };
    read_stac(input, Format::Json, ReadOptions::default()).expect("items")
}

/// The lock rows (v1 batches) of items at `hrefs`, probed through `stores`.
fn lock(stores: &Stores, hrefs: &[String], probe: bool) -> BatchReader {
    let options = DeriveOptions {
        probe,
        ..DeriveOptions::default()
    };
    let (lock, _) = asset_lock::derive(items(hrefs), stores, options, |_| {}).expect("derive");
    let schema = lock.schema();
    let batches: Vec<_> = lock.collect::<Result<_, _>>().expect("lock rows");
    BatchReader::new(schema, batches.into_iter().map(Ok))
}

/// Relocation to `destination`'s base under `prefix`, source-key layout off (item-asset).
fn relocation(destination: &Backend, prefix: &str) -> RelocateOptions {
    let base = locate(&destination.href(prefix)).location;
    let plan = match base.store_type.as_deref() {
        Some("file") => PlanOptions::local(base.key.unwrap_or_default()),
        Some(kind) => PlanOptions::bucket(
            kind,
            base.store_container.as_deref().unwrap_or_default(),
            base.key.unwrap_or_default(),
        ),
        None => panic!(
            "{}: no store type in `{}`",
            destination.name, destination.base
        ),
    };
    let mut options = RelocateOptions::to(Destination::Plan(PlanOptions {
        layout: KeyLayout::ItemAsset,
        ..plan
    }));
    options.copy.chunk_size = CHUNK;
    options.copy.put_max_concurrency = 2;
    options.memory_limit = (CHUNK * 6) as u64;
    options
}

/// Relocate `lock` with `source`'s stores, which reach the destination too (the suite builds
/// one set of stores for all the backends of a run).
fn relocate(
    source: &Backend,
    destination: &Backend,
    lock: BatchReader,
    options: RelocateOptions,
) -> stacpkg::Result<(
    Vec<stacpkg::asset_lock::LockRow>,
    Arc<stacpkg::asset_lock::RelocateReport>,
)> {
    let _ = destination;
    let (rows, report) = asset_lock::relocate(lock, &source.stores, options, |_| {})?;
    let mut out = Vec::new();
    for batch in rows {
        out.extend(asset_lock::from_batch(&batch?));
    }
    Ok((out, report))
}

/// Deterministic bytes of a given length (distinct per `seed`).
pub fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Probing an object records its size (and an ETag and a time where the store has them).
pub fn probe(backend: &Backend) {
    let body = bytes(1234, 1);
    let href = backend.put("probe/a.bin", &body);
    let lock = lock(&backend.stores, std::slice::from_ref(&href), true);
    let rows: Vec<_> = lock
        .flat_map(|b| asset_lock::from_batch(&b.expect("batch")))
        .collect();
    assert_eq!(rows.len(), 1, "{}", backend.name);
    assert_eq!(rows[0].facts.size, Some(1234), "{}: size", backend.name);
    let missing = backend.href("probe/missing.bin");
    let (lock, _) = asset_lock::derive(
        items(&[missing]),
        &backend.stores,
        DeriveOptions::default(),
        |_| {},
    )
    .expect("derive");
    let failure = lock
        .filter_map(Result::err)
        .next()
        .unwrap_or_else(|| panic!("{}: probing a missing object succeeded", backend.name));
    assert!(
        matches!(
            failure,
            stacpkg::Error::Probe {
                source: StoreError::NotFound,
                ..
            }
        ),
        "{}: {failure}",
        backend.name
    );
}

/// Objects below one part go in one PUT, larger ones in parts; the bytes arrive whole.
pub fn small_and_multipart_copies(source: &Backend, destination: &Backend) {
    let small = bytes(1000, 2);
    let large = bytes(CHUNK + CHUNK / 2, 3);
    let hrefs = [
        source.put("copies/small.bin", &small),
        source.put("copies/large.bin", &large),
    ];
    let options = relocation(destination, "copies-out");
    let (rows, report) = relocate(
        source,
        destination,
        lock(&source.stores, &hrefs, true),
        options,
    )
    .unwrap_or_else(|e| panic!("{} → {}: {e}", source.name, destination.name));
    assert_eq!(report.copied.load(Ordering::Relaxed), 2);
    for (row, body) in rows.iter().zip([&small, &large]) {
        let href = stacpkg::store::href_of(&row.location).expect("a destination href");
        let href = absolute(&href, destination);
        assert_eq!(
            destination.get(&href).as_ref(),
            Some(body),
            "{} → {}: {href}",
            source.name,
            destination.name
        );
        assert_eq!(row.facts.size, Some(body.len() as i64));
    }
}

/// A relative file href of a relocation (a `file://` URL or an absolute path otherwise).
fn absolute(href: &str, backend: &Backend) -> String {
    match href.strip_prefix("file://") {
        Some(path) => path.to_string(),
        None => {
            let _ = backend;
            href.to_string()
        }
    }
}

/// Without overwrite, a destination of the source's size is kept, any other one is an error.
pub fn no_overwrite(source: &Backend, destination: &Backend) {
    let body = bytes(2000, 4);
    let href = source.put("keep/a.bin", &body);
    let mut options = relocation(destination, "keep-out");
    options.copy.overwrite = false;
    let (first, _) = relocate(
        source,
        destination,
        lock(&source.stores, std::slice::from_ref(&href), true),
        options.clone(),
    )
    .expect("first copy");
    let written = absolute(
        &stacpkg::store::href_of(&first[0].location).expect("href"),
        destination,
    );
    let (_, report) = relocate(
        source,
        destination,
        lock(&source.stores, std::slice::from_ref(&href), true),
        options.clone(),
    )
    .expect("second copy");
    assert_eq!(
        report.kept.load(Ordering::Relaxed),
        1,
        "{}",
        destination.name
    );
    // A different object at the destination is not replaced.
    source.put("keep/a.bin", &bytes(2500, 5));
    let refused = relocate(
        source,
        destination,
        lock(&source.stores, std::slice::from_ref(&href), true),
        options,
    );
    let Err(error) = refused else {
        panic!("{}: a different destination was replaced", destination.name)
    };
    assert!(
        matches!(
            error,
            stacpkg::Error::Copy {
                source: StoreError::Exists(_),
                ..
            }
        ),
        "{}: {error:?}",
        destination.name
    );
    assert_eq!(
        destination.get(&written),
        Some(body),
        "{}",
        destination.name
    );
}

/// With keep-going, a failed copy is reported and the others are made.
pub fn keep_going(source: &Backend, destination: &Backend) {
    let present = source.put("going/present.bin", &bytes(300, 6));
    let missing = source.href("going/missing.bin");
    let mut options = relocation(destination, "going-out");
    options.keep_going = true;
    let (rows, report) = relocate(
        source,
        destination,
        lock(&source.stores, &[present, missing], false),
        options,
    )
    .expect("a keep-going relocation");
    assert_eq!(rows.len(), 2);
    assert_eq!(report.copied.load(Ordering::Relaxed), 1);
    assert_eq!(report.failed.load(Ordering::Relaxed), 1);
    assert_eq!(rows[1].facts.etag, None, "a failed row keeps no facts");
}

/// The memory limit is a real cap: below one copy's budget the run is refused; at exactly one
/// budget, copies take turns and all arrive.
pub fn memory_cap(source: &Backend, destination: &Backend) {
    let hrefs: Vec<String> = (0..4)
        .map(|i| source.put(&format!("cap/{i}.bin"), &bytes(CHUNK + 1, 7 + i as u8)))
        .collect();
    let mut options = relocation(destination, "cap-out");
    options.memory_limit = options.copy.per_copy_bytes() - 1;
    let refused = relocate(
        source,
        destination,
        lock(&source.stores, &hrefs, true),
        options.clone(),
    );
    assert!(
        matches!(refused, Err(stacpkg::Error::MemoryLimitTooSmall { .. })),
        "{:?}",
        refused.err()
    );
    options.memory_limit = options.copy.per_copy_bytes();
    let (_, report) = relocate(
        source,
        destination,
        lock(&source.stores, &hrefs, true),
        options,
    )
    .expect("copies within one budget");
    assert_eq!(
        report.copied.load(Ordering::Relaxed),
        4,
        "{}",
        destination.name
    );
}

/// A run that fails leaves no staging file in a local destination, and a stale staging file
/// goes when its object is written.
pub fn staging_cleanup(source: &Backend, destination_dir: &Path, destination: &Backend) {
    let body = bytes(CHUNK + 10, 9);
    let present = source.put("staging/a.bin", &body);
    let missing = source.href("staging/gone.bin");
    let options = relocation(destination, "staging-out");
    let failed = relocate(
        source,
        destination,
        lock(&source.stores, &[present.clone(), missing], false),
        options.clone(),
    );
    assert!(
        failed.is_err(),
        "{}: a missing source did not fail",
        source.name
    );
    let staging = |dir: &Path| -> Vec<String> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(next) = pending.pop() {
            for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.to_string_lossy().contains('#') {
                    found.push(path.display().to_string());
                }
            }
        }
        found
    };
    assert_eq!(staging(destination_dir), Vec::<String>::new());
    let stale = destination_dir.join("staging-out/i0/data.bin#7");
    std::fs::create_dir_all(stale.parent().expect("parent")).expect("mkdir");
    std::fs::write(&stale, b"half").expect("stale file");
    relocate(
        source,
        destination,
        lock(&source.stores, std::slice::from_ref(&present), true),
        options,
    )
    .expect("the copy");
    assert!(!stale.exists(), "the stale staging file is still there");
}

/// Every check with `source` as the source and `destination` (writable) as the destination.
pub fn run(source: &Backend, destination: &Backend) {
    probe(source);
    small_and_multipart_copies(source, destination);
    no_overwrite(source, destination);
    keep_going(source, destination);
    memory_cap(source, destination);
}
