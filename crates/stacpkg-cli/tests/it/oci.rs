//! `push` and `pull` against Debian's docker-registry (open, htpasswd Basic auth, and bearer
//! tokens from `scripts/token-server.py`), interop with ORAS (oras-py), and the OCI image
//! layout target: round trips, reproducible manifests, skipped blobs, digest checks, unsafe
//! paths, credentials, and failures that leave nothing behind.

use serde_json::Value;
use stacpkg_test::TestContext;
use stacpkg_test::services::Services;

use crate::package::{INCLUDES, includes, leftovers, tree, with_demo};

/// A package with every kind of layer: tables, asset files, a zipped directory and files.
fn package(ctx: &TestContext) {
    includes(ctx);
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg --include-assets {INCLUDES}"
    ))
    .success();
}

/// The manifest tagged `tag` as the registry serves it (`curl`), and its digest.
fn manifest(ctx: &TestContext, host: &str, repo: &str, tag: &str) -> (Value, String) {
    let run = ctx
        .sh(&format!(
            "curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://{host}/v2/{repo}/manifests/{tag} > manifest.json && sha256sum manifest.json"
        ))
        .success();
    let digest = String::from_utf8_lossy(&run.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let json = serde_json::from_slice(&std::fs::read(ctx.path("manifest.json")).unwrap()).unwrap();
    (json, format!("sha256:{digest}"))
}

#[test]
fn push_then_pull_reproduces_the_package_and_the_same_package_has_the_same_manifest() {
    let Some(svc) = Services::get("oci-round-trip") else {
        return;
    };
    let ctx = with_demo();
    package(&ctx);
    let host = svc.var("OCI_HOST");
    let repo = format!("{}/pkg", svc.prefix());
    ctx.sh(&format!(
        "set -e; $STACPKG push pkg {host}/{repo}:v1 --plain-http
         $STACPKG pull {host}/{repo}:v1 --plain-http --output-dir pulled
         diff -r pkg pulled"
    ))
    .success();
    let (json, digest) = manifest(&ctx, host, &repo, "v1");
    assert_eq!(
        json["artifactType"],
        "application/vnd.stacpkg.package.v1+json"
    );
    assert_eq!(
        json["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert!(json.get("annotations").is_none(), "{json}");
    let layers: Vec<(String, String)> = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap().to_string(),
                l["annotations"]["org.opencontainers.image.title"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let asset = "application/vnd.stacpkg.asset.v1";
    let expected: Vec<(&str, &str)> = vec![
        ("application/vnd.stacpkg.items.v1.parquet", "items.parquet"),
        (
            "application/vnd.stacpkg.asset-lock.v1.parquet",
            "assets.lock.parquet",
        ),
        ("text/markdown", "README.md"),
        (asset, "assets/item-a/thumbnail.png"),
        (asset, "assets/item-a/visual.tif"),
        (asset, "assets/item-b/thumbnail.png"),
        (asset, "assets/item-b/visual.tif"),
        (asset, "assets/item-c/thumbnail.png"),
        (asset, "assets/item-c/visual.tif"),
        ("application/vnd.stacpkg.files.v1+zip", "docs"),
        ("application/json", "provenance.json"),
    ];
    let got: Vec<(&str, &str)> = layers
        .iter()
        .map(|(m, t)| (m.as_str(), t.as_str()))
        .collect();
    assert_eq!(got, expected);

    // The same package again (even rebuilt, with its ZIP rewritten) gives the same manifest, and
    // every blob is already there.
    ctx.sh(&format!(
        "set -e; $STACPKG items from-json items.json | $STACPKG build pkg --force --include-assets {INCLUDES}"
    ))
    .success();
    let again = ctx.tty(
        &format!("$STACPKG push pkg {host}/{repo}:v2 --plain-http"),
        120,
    );
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let shown = String::from_utf8_lossy(&again.stdout);
    assert!(shown.contains(&format!("@{digest}")), "{shown}");
    assert!(
        shown.contains("(11 layers, 11 blobs already there)"),
        "{shown}"
    );
    assert_eq!(manifest(&ctx, host, &repo, "v2").1, digest);
    // A pull by digest works too.
    ctx.sh(&format!(
        "set -e; $STACPKG pull {host}/{repo}@{digest} --plain-http --output-dir by-digest && diff -r pkg by-digest"
    ))
    .success();
}

#[test]
fn a_tampered_blob_fails_the_pull_and_leaves_nothing() {
    let Some(svc) = Services::get("oci-tampered") else {
        return;
    };
    let ctx = with_demo();
    package(&ctx);
    let host = svc.var("OCI_HOST");
    let repo = format!("{}/pkg", svc.prefix());
    ctx.sh(&format!("$STACPKG push pkg {host}/{repo}:v1 --plain-http"))
        .success();
    let (json, _) = manifest(&ctx, host, &repo, "v1");
    let readme = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["annotations"]["org.opencontainers.image.title"] == "README.md")
        .unwrap();
    let hex = readme["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    let data = std::path::Path::new(svc.var("OCI_ROOT")).join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let original = std::fs::read(&data).unwrap();
    let mut tampered = original.clone();
    tampered[0] ^= 0x20;
    std::fs::write(&data, &tampered).unwrap();
    let run = ctx.sh(&format!(
        "$STACPKG pull {host}/{repo}:v1 --plain-http --output-dir pulled"
    ));
    std::fs::write(&data, &original).unwrap();
    let line = run.error_line(1);
    assert!(
        line.contains("`README.md` does not match its digest"),
        "{line}"
    );
    assert!(!ctx.path("pulled").exists());
    assert!(
        std::fs::read_dir(ctx.dir()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".pulled")),
        "a staging directory was left behind"
    );
}

/// Upload blobs and a manifest by hand (`curl`), as a registry client that is not stacpkg would.
fn push_by_hand(ctx: &TestContext, host: &str, repo: &str, layers: &[(&str, &str, &str)]) {
    let mut script = String::from(
        "set -e
         upload() {
           d=sha256:$(sha256sum \"$1\" | cut -d' ' -f1)
           loc=$(curl -fsS -o /dev/null -D - -X POST http://HOST/v2/REPO/blobs/uploads/ | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')
           case $loc in http*) ;; *) loc=http://HOST$loc ;; esac
           case $loc in *\\?*) sep='&' ;; *) sep='?' ;; esac
           curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary @\"$1\" \"$loc${sep}digest=$d\"
           printf '{\"mediaType\": \"%s\", \"digest\": \"%s\", \"size\": %s, \"annotations\": {\"org.opencontainers.image.title\": \"%s\"}}' \"$2\" \"$d\" $(stat -c %s \"$1\") \"$3\"
         }
         printf '{}' > config.json; upload config.json application/vnd.oci.empty.v1+json c > /dev/null
         layers=''
        ",
    );
    for (file, media_type, title) in layers {
        script.push_str(&format!(
            "l=$(upload '{file}' '{media_type}' '{title}'); layers=\"${{layers:+$layers, }}$l\"\n"
        ));
    }
    script.push_str(
        "printf '{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"config\": {\"mediaType\": \"application/vnd.oci.empty.v1+json\", \"digest\": \"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\", \"size\": 2}, \"layers\": [%s]}' \"$layers\" > hand.json
         curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @hand.json http://HOST/v2/REPO/manifests/v1",
    );
    let script = script.replace("HOST", host).replace("REPO", repo);
    ctx.sh(&script).success();
}

#[test]
fn unsafe_titles_and_zip_members_are_refused_before_anything_is_written() {
    let Some(svc) = Services::get("oci-unsafe") else {
        return;
    };
    let Some(python) = stacpkg_test::python() else {
        return;
    };
    let ctx = with_demo();
    package(&ctx);
    ctx.write("note.txt", "a note");
    let zip = ctx.sh(&format!(
        "{} -c \"import zipfile; z = zipfile.ZipFile('evil.zip', 'w'); z.writestr('docs/ok.txt', 'ok'); z.writestr('../evil.txt', 'evil'); z.close()\"",
        python.display()
    ));
    zip.success();
    let host = svc.var("OCI_HOST");
    let items = (
        "pkg/items.parquet",
        "application/vnd.stacpkg.items.v1.parquet",
        "items.parquet",
    );
    let lock = (
        "pkg/assets.lock.parquet",
        "application/vnd.stacpkg.asset-lock.v1.parquet",
        "assets.lock.parquet",
    );
    for (case, layer, message) in [
        (
            "dotdot",
            ("note.txt", "text/plain", "../escaped.txt"),
            "unsafe package path: ../escaped.txt",
        ),
        (
            "absolute",
            (
                "note.txt",
                "application/vnd.stacpkg.asset.v1",
                "/tmp/stacpkg-absolute.txt",
            ),
            "unsafe package path: /tmp/stacpkg-absolute.txt",
        ),
        (
            "backslash",
            ("note.txt", "text/plain", "docs\\\\x.txt"),
            "unsafe package path: docs\\x.txt",
        ),
        // Issue 11, defect 5: a title with control characters (here ESC, a terminal escape).
        (
            "control",
            ("note.txt", "text/plain", "evil\\u001b[2J.txt"),
            "unsafe package path (control characters): evil\\u{1b}[2J.txt",
        ),
        (
            "zip",
            ("evil.zip", "application/vnd.stacpkg.files.v1+zip", "docs"),
            "unsafe package path: ../evil.txt",
        ),
    ] {
        let repo = format!("{}/{case}", svc.prefix());
        push_by_hand(&ctx, host, &repo, &[items, lock, layer]);
        let run = ctx.sh(&format!(
            "$STACPKG pull {host}/{repo}:v1 --plain-http --output-dir out/pulled"
        ));
        let line = run.error_line(1);
        assert!(line.contains(message), "{case}: {line}");
        assert_eq!(tree(&ctx.path("out")), Vec::<String>::new(), "{case}");
        assert!(!ctx.path("escaped.txt").exists() && !ctx.path("out/escaped.txt").exists());
        assert!(!ctx.path("evil.txt").exists() && !ctx.path("out/evil.txt").exists());
        assert!(!std::path::Path::new("/tmp/stacpkg-absolute.txt").exists());
        // A remote inspect prints titles: it refuses the same ones (a ZIP's members are not
        // its business).
        if case != "zip" {
            let run = ctx.sh(&format!(
                "$STACPKG inspect {host}/{repo}:v1 --plain-http --format markdown"
            ));
            let line = run.error_line(1);
            assert!(line.contains(message), "inspect {case}: {line}");
            assert_eq!(run.stdout, b"", "inspect {case}");
        }
    }
    // A manifest without the lock is not a package.
    let repo = format!("{}/tables", svc.prefix());
    push_by_hand(&ctx, host, &repo, &[items]);
    let run = ctx.sh(&format!(
        "$STACPKG pull {host}/{repo}:v1 --plain-http --output-dir out/pulled"
    ));
    let line = run.error_line(1);
    assert!(
        line.contains("did not contain assets.lock.parquet"),
        "{line}"
    );
    assert_eq!(tree(&ctx.path("out")), Vec::<String>::new());
}

#[test]
fn basic_auth_takes_credentials_from_the_environment_or_a_docker_config_and_never_shows_them() {
    let Some(svc) = Services::get("oci-basic") else {
        return;
    };
    let ctx = with_demo();
    package(&ctx);
    let host = svc.var("OCI_BASIC_HOST");
    let (user, pass) = (svc.var("OCI_BASIC_USER"), svc.var("OCI_BASIC_PASS"));
    let repo = format!("{}/pkg", svc.prefix());
    let target = format!("{host}/{repo}:v1");
    // No credentials anywhere (an empty Docker config directory).
    let run = ctx.sh(&format!(
        "mkdir -p empty; DOCKER_CONFIG=$PWD/empty $STACPKG push pkg {target} --plain-http"
    ));
    let line = run.error_line(1);
    assert!(
        line.contains(&format!("registry {host} needs credentials")),
        "{line}"
    );
    // Wrong credentials are refused, and neither password is printed.
    let run = ctx.sh(&format!(
        "ORAS_USER={user} ORAS_PASS=not-the-password $STACPKG push pkg {target} --plain-http"
    ));
    let line = run.error_line(1);
    assert!(
        line.contains("refused") && line.contains("ORAS_USER/ORAS_PASS"),
        "{line}"
    );
    assert!(!run.stderr.contains("not-the-password"));
    // From the environment.
    ctx.sh(&format!(
        "set -e; ORAS_USER={user} ORAS_PASS={pass} $STACPKG push pkg {target} --plain-http
         ORAS_USER={user} ORAS_PASS={pass} $STACPKG pull {target} --plain-http --output-dir from-env
         diff -r pkg from-env"
    ))
    .success();
    // From $DOCKER_CONFIG/config.json (`auths`), with the Basic backend sending them at once.
    let auth = ctx
        .sh(&format!("printf '%s' '{user}:{pass}' | base64 -w0"))
        .success()
        .stdout;
    let auth = String::from_utf8(auth).unwrap();
    ctx.write(
        "docker/config.json",
        serde_json::json!({"auths": {format!("http://{host}"): {"auth": auth}}}).to_string(),
    );
    let run = ctx
        .sh(&format!(
            "set -e; export DOCKER_CONFIG=$PWD/docker
             $STACPKG pull {target} --plain-http --auth-backend basic --output-dir from-config
             diff -r pkg from-config"
        ))
        .success();
    assert!(!run.stderr.contains(pass));
}

#[test]
fn bearer_tokens_are_negotiated_with_the_registrys_token_service() {
    let Some(svc) = Services::get("oci-token") else {
        return;
    };
    let ctx = with_demo();
    package(&ctx);
    let host = svc.var("OCI_TOKEN_HOST");
    let (user, pass) = (svc.var("OCI_TOKEN_USER"), svc.var("OCI_TOKEN_PASS"));
    let target = format!("{host}/{}/pkg:v1", svc.prefix());
    ctx.sh(&format!(
        "set -e; export ORAS_USER={user} ORAS_PASS={pass}
         $STACPKG push pkg {target} --plain-http
         $STACPKG pull {target} --plain-http --output-dir pulled
         diff -r pkg pulled"
    ))
    .success();
    // Anonymous tokens carry no rights here; wrong credentials get no token.
    let run = ctx.sh(&format!(
        "mkdir -p empty; DOCKER_CONFIG=$PWD/empty $STACPKG pull {target} --plain-http --output-dir anon"
    ));
    let line = run.error_line(1);
    assert!(
        line.contains("refused") && line.contains("no credentials"),
        "{line}"
    );
    let run = ctx.sh(&format!(
        "ORAS_USER={user} ORAS_PASS=wrong-token-pass $STACPKG pull {target} --plain-http --output-dir bad"
    ));
    let line = run.error_line(1);
    assert!(
        line.contains("token service") && line.contains("refused"),
        "{line}"
    );
    assert!(!run.stderr.contains("wrong-token-pass"));
    assert_eq!(leftovers(&ctx), ["pkg"]);
}

#[test]
fn oras_pulls_what_we_push_and_we_pull_what_oras_pushes() {
    let Some(svc) = Services::get("oci-oras") else {
        return;
    };
    let Some(python) = stacpkg_test::python() else {
        return;
    };
    let ctx = with_demo();
    package(&ctx);
    let host = svc.var("OCI_HOST");
    let repo = format!("{}/pkg", svc.prefix());
    ctx.sh(&format!("$STACPKG push pkg {host}/{repo}:v1 --plain-http"))
        .success();
    let script = format!(
        "import oras.client, os
c = oras.client.OrasClient(hostname='{host}', insecure=True)
c.pull(target='{host}/{repo}:v1', outdir='by-oras')
os.chdir('pkg')
c.push(target='{host}/{repo}:from-oras', files=['items.parquet:application/vnd.stacpkg.items.v1.parquet', 'assets.lock.parquet:application/vnd.stacpkg.asset-lock.v1.parquet', 'README.md:text/markdown'])
"
    );
    ctx.write("oras_interop.py", script);
    ctx.sh(&format!("{} oras_interop.py", python.display()))
        .success();
    for file in [
        "items.parquet",
        "assets.lock.parquet",
        "README.md",
        "assets/item-b/visual.tif",
    ] {
        assert_eq!(
            std::fs::read(ctx.path(&format!("by-oras/{file}"))).unwrap(),
            std::fs::read(ctx.path(&format!("pkg/{file}"))).unwrap(),
            "{file}"
        );
    }
    ctx.sh(&format!(
        "set -e; $STACPKG pull {host}/{repo}:from-oras --plain-http --output-dir from-oras
         for f in items.parquet assets.lock.parquet README.md; do cmp pkg/$f from-oras/$f; done"
    ))
    .success();
    assert_eq!(
        tree(&ctx.path("from-oras")),
        ["README.md", "assets.lock.parquet", "items.parquet"]
    );
}

#[test]
fn an_oci_layout_round_trips_without_a_registry_and_keeps_one_entry_per_tag() {
    let ctx = with_demo();
    package(&ctx);
    ctx.sh("set -e; $STACPKG push pkg oci-layout:layout:v1
         $STACPKG push pkg oci-layout:layout:v1
         $STACPKG push pkg oci-layout:layout
         $STACPKG pull oci-layout:layout:v1 --output-dir pulled
         diff -r pkg pulled")
        .success();
    assert_eq!(
        std::fs::read_to_string(ctx.path("layout/oci-layout")).unwrap(),
        "{\"imageLayoutVersion\": \"1.0.0\"}"
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(ctx.path("layout/index.json")).unwrap()).unwrap();
    let tags: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(tags, ["v1", "latest"]);
    assert_eq!(
        index["manifests"][0]["digest"],
        index["manifests"][1]["digest"]
    );
    // Every blob is stored under its own digest.
    let sums = ctx
        .sh("cd layout/blobs/sha256 && for f in *; do echo \"$f  $f\"; done | sha256sum -c --quiet")
        .success();
    assert_eq!(sums.stderr, "");

    // A blob changed on disk is caught on pull; nothing is written.
    let hex = ctx
        .sh("sha256sum pkg/README.md | cut -d' ' -f1")
        .success()
        .stdout;
    let blob = ctx.path(&format!(
        "layout/blobs/sha256/{}",
        String::from_utf8_lossy(&hex).trim()
    ));
    std::fs::write(&blob, "# Demo packagE\n").unwrap();
    let run = ctx.sh("$STACPKG pull oci-layout:layout:v1 --output-dir again");
    let line = run.error_line(1);
    assert!(line.contains("does not match its digest"), "{line}");
    assert!(!ctx.path("again").exists());
}

#[test]
fn pull_and_push_refuse_bad_sources_targets_and_outputs() {
    let ctx = with_demo();
    package(&ctx);
    ctx.sh("$STACPKG push pkg oci-layout:layout:v1").success();
    ctx.write("busy/keep.txt", "mine");
    for (command, message) in [
        (
            "push item-a oci-layout:x",
            "not a stacpkg package directory: item-a missing items.parquet, assets.lock.parquet",
        ),
        (
            "pull oci-layout:layout:v9 --output-dir out",
            "has no manifest `v9`",
        ),
        (
            "pull oci-layout:nowhere --output-dir out",
            "is not an OCI image layout",
        ),
        (
            "pull oci-layout:layout:v1 --output-dir busy",
            "`busy` exists and is not empty",
        ),
    ] {
        let run = ctx.sh(&format!("$STACPKG {command}"));
        let line = run.error_line(1);
        assert!(line.contains(message), "{command}: {line}");
    }
    assert!(!ctx.path("out").exists());
    assert_eq!(tree(&ctx.path("busy")), ["keep.txt"]);
    let run = ctx.sh("$STACPKG push pkg 'localhost:5000/Not/Lowercase'");
    let line = run.error_line(2);
    assert!(line.contains("not a valid repository name"), "{line}");
    // --force replaces a package (and only a package).
    ctx.sh("set -e; $STACPKG pull oci-layout:layout:v1 --output-dir pulled; $STACPKG pull oci-layout:layout:v1 --output-dir pulled --force")
        .success();
    let run = ctx.sh("$STACPKG pull oci-layout:layout:v1 --output-dir busy --force");
    let line = run.error_line(1);
    assert!(line.contains("not a stacpkg package"), "{line}");
}
