//! Resumable transfers (issue 14): a push and a pull killed (SIGKILL) in the middle of a
//! 256 MiB layer, re-run, transfer less than 60% of the layer again — counted by an nginx proxy
//! in front of the registry, which logs the bytes of every request and response — and give the
//! same result. Pulls resume against docker-registry (`Range`); pushes resume against
//! ferro-oci-server (docker-registry 2.8 refuses to continue an upload whose last chunk was cut
//! mid-request: its signed upload state no longer matches the bytes it kept, so stacpkg starts
//! that upload over, with a note — tested too).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use stacpkg_test::TestContext;
use stacpkg_test::services::Services;

const SIZE: u64 = 256 * 1024 * 1024;
const TITLE: &str = "assets/big/data.bin";

/// A package with one 256 MiB asset of random bytes.
fn big_package(ctx: &TestContext) {
    ctx.sh(&format!(
        "set -e; head -c {SIZE} /dev/urandom > data.bin
         printf '%s\\n' '{{\"type\": \"Feature\", \"stac_version\": \"1.0.0\", \"id\": \"big\", \"geometry\": null, \"properties\": {{\"datetime\": \"2024-01-01T00:00:00Z\"}}, \"links\": [], \"assets\": {{\"data\": {{\"href\": \"data.bin\"}}}}}}' > items.ndjson
         $STACPKG items from-ndjson items.ndjson | $STACPKG build pkg --include-assets"
    ))
    .success();
}

fn spawn(ctx: &TestContext, args: &[&str], tmpdir: &Path) -> Child {
    ctx.cmd()
        .args(args)
        .env("TMPDIR", tmpdir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Poll `progress` until it reports at least `at` bytes, then SIGKILL `child`; fails when the
/// child ends first or a minute passes.
fn kill_at(mut child: Child, at: u64, progress: impl Fn() -> u64) -> u64 {
    let started = Instant::now();
    loop {
        let seen = progress();
        if seen >= at {
            child.kill().unwrap();
            child.wait().unwrap();
            return seen;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the transfer ended ({status}) before {at} bytes were seen ({seen})");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Lines of the proxy's log (`METHOD URI STATUS REQUEST_BYTES SENT_BYTES`) after `mark`.
fn proxy_log(svc: &Services, mark: usize) -> Vec<(String, String, u16, u64, u64)> {
    std::fs::read_to_string(svc.var("OCI_SLOW_LOG"))
        .unwrap()
        .lines()
        .skip(mark)
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

fn log_lines(svc: &Services) -> usize {
    std::fs::read_to_string(svc.var("OCI_SLOW_LOG"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn largest_file(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

#[test]
fn a_killed_pull_fetches_only_the_rest_of_the_layer_with_a_range_request() {
    let Some(svc) = Services::get("oci-resume-pull") else {
        return;
    };
    let ctx = crate::ctx();
    big_package(&ctx);
    let repository = format!("{}/resume-pull", svc.prefix());
    ctx.sh(&format!(
        "$STACPKG push pkg {}/{repository}:v1 --plain-http",
        svc.var("OCI_HOST")
    ))
    .success();
    // Through the proxy, which sends 48 MB/s: the pull takes ~5 s, killed after ~60%.
    let source = format!("{}/{repository}:v1", svc.var("OCI_SLOW_HOST"));
    let tmp = ctx.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let partial = ctx.path(".out.partial.stacpkg");
    let child = spawn(
        &ctx,
        &["pull", &source, "--plain-http", "--output-dir", "out"],
        &tmp,
    );
    let before = log_lines(&svc);
    let killed_at = kill_at(child, SIZE * 6 / 10, || largest_file(&partial));
    assert!(!ctx.path("out").exists());
    // nginx logs the killed request when it notices the closed connection: wait for that line,
    // so that it is not counted as the re-run's.
    let started = Instant::now();
    while !proxy_log(&svc, before)
        .iter()
        .any(|(method, uri, _, _, sent)| {
            method == "GET" && uri.contains("/blobs/") && *sent > SIZE / 4
        })
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not log the killed pull"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let mark = log_lines(&svc);
    let run = ctx
        .sh(&format!(
            "$STACPKG pull {source} --plain-http --output-dir out"
        ))
        .success();
    assert!(
        run.stderr.contains(&format!(
            "stacpkg: note: resumed the download of `{TITLE}` at "
        )),
        "{}",
        run.stderr
    );
    let layer = proxy_log(&svc, mark)
        .into_iter()
        .filter(|(method, uri, ..)| method == "GET" && uri.contains("/blobs/"))
        .max_by_key(|(.., sent)| *sent)
        .unwrap();
    assert_eq!(layer.2, 206, "{layer:?}");
    let again = layer.4;
    assert!(
        again < SIZE * 6 / 10,
        "fetched {again} of {SIZE} bytes again (killed at {killed_at})"
    );
    // Only what the killed pull had not written (it wrote on after the poll saw `killed_at`);
    // the count includes the response's headers.
    assert!(again <= SIZE - killed_at + 4096, "{again} + {killed_at}");
    ctx.sh("diff -r pkg out").success();
    assert!(!partial.exists());
}

#[test]
fn a_killed_push_uploads_only_the_rest_of_the_layer_from_the_registrys_offset() {
    let Some(svc) = Services::get("oci-resume-push") else {
        return;
    };
    let ctx = crate::ctx();
    big_package(&ctx);
    // ferro-oci-server, through the logging proxy.
    let target = format!(
        "{}/{}/resume-push:v1",
        svc.var("OCI_REFERRERS_PROXY_HOST"),
        svc.prefix()
    );
    let tmp = ctx.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let child = spawn(
        &ctx,
        &[
            "push",
            "pkg",
            &target,
            "--plain-http",
            "--chunk-size",
            "8MiB",
        ],
        &tmp,
    );
    let accepted = || -> u64 {
        std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter_map(|v| v["accepted"].as_u64())
            .max()
            .unwrap_or(0)
    };
    let killed_at = kill_at(child, SIZE / 2, accepted);

    let mark = log_lines(&svc);
    let run = ctx
        .sh(&format!(
            "TMPDIR=tmp $STACPKG push pkg {target} --plain-http --chunk-size 8MiB"
        ))
        .success();
    let note = format!("stacpkg: note: resumed the upload of `{TITLE}` at ");
    let at: u64 = run
        .stderr
        .split(&note)
        .nth(1)
        .unwrap_or_else(|| panic!("{}", run.stderr))
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(at >= killed_at, "{at} < {killed_at}");
    let uploaded: u64 = proxy_log(&svc, mark)
        .iter()
        .filter(|(method, ..)| method == "PATCH" || method == "PUT")
        .map(|(.., request, _)| *request)
        .sum();
    assert!(
        uploaded < SIZE * 6 / 10,
        "uploaded {uploaded} of {SIZE} bytes again"
    );
    // The state is gone, and the package pulls back identical.
    assert!(std::fs::read_dir(&tmp).unwrap().flatten().all(|e| {
        !e.file_name()
            .to_string_lossy()
            .starts_with("stacpkg-upload-")
    }),);
    ctx.sh(&format!(
        "set -e; $STACPKG pull {target} --plain-http --output-dir back && diff -r pkg back"
    ))
    .success();
}

#[test]
fn stale_and_foreign_upload_states_are_ignored_with_a_note_and_the_upload_starts_over() {
    let Some(svc) = Services::get("oci-resume-stale") else {
        return;
    };
    let ctx = crate::ctx();
    ctx.sh(
        "set -e; head -c 3000000 /dev/urandom > blob.bin
         printf '%s\\n' '{\"type\": \"Feature\", \"stac_version\": \"1.0.0\", \"id\": \"big\", \"geometry\": null, \"properties\": {\"datetime\": \"2024-01-01T00:00:00Z\"}, \"links\": [], \"assets\": {\"data\": {\"href\": \"blob.bin\"}}}' > items.ndjson
         $STACPKG items from-ndjson items.ndjson | $STACPKG build pkg --include-assets
         mkdir tmp",
    )
    .success();
    let host = svc.var("OCI_HOST");
    let digest = ctx
        .sh("sha256sum pkg/assets/big/data.bin | cut -d' ' -f1")
        .success();
    let digest = format!(
        "sha256:{}",
        String::from_utf8(digest.stdout).unwrap().trim()
    );
    for (round, why) in [
        "it is not an upload state",
        "it is for another upload",
        "it is for another upload",
        "the registry no longer has that upload",
    ]
    .into_iter()
    .enumerate()
    {
        // A repository per round, so the blob is never there yet.
        let repository = format!("{}/resume-stale-{round}", svc.prefix());
        // The state file's name for this upload: the first 32 hex digits of
        // sha256("HOST\nREPOSITORY\nDIGEST").
        let key = ctx
            .sh(&format!(
                "printf '%s\\n%s\\n%s' '{host}' '{repository}' '{digest}' | sha256sum | cut -c1-32"
            ))
            .success();
        let name = format!(
            "tmp/stacpkg-upload-{}.json",
            String::from_utf8(key.stdout).unwrap().trim()
        );
        let state = |repo: &str, at: &str, upload: &str| {
            format!(
                "{{\"registry\": \"{host}\", \"repository\": \"{repo}\", \"digest\": \"{digest}\", \"size\": 3000000, \"location\": \"http://{at}/v2/{repo}/blobs/uploads/{upload}\"}}"
            )
        };
        let contents = match round {
            0 => "not json".to_string(),
            1 => state("someone/else", host, "x"),
            // Right upload, but a location elsewhere: never contacted (it would get the
            // registry's credentials).
            2 => state(&repository, "127.0.0.1:9", "x"),
            _ => state(&repository, host, "00000000-0000-0000-0000-000000000000"),
        };
        ctx.write(&name, contents);
        let run = ctx
            .sh(&format!(
                "TMPDIR=tmp $STACPKG push pkg {host}/{repository}:v1 --plain-http --chunk-size 1MiB"
            ))
            .success();
        assert_eq!(
            run.stderr,
            format!("stacpkg: note: ignored the upload state `{name}`: {why}\n"),
            "round {round}"
        );
        assert!(!ctx.path(&name).exists(), "round {round}");
        ctx.sh(&format!(
            "set -e; rm -rf back; $STACPKG pull {host}/{repository}:v1 --plain-http --output-dir back && diff -r pkg back"
        ))
        .success();
    }
}
