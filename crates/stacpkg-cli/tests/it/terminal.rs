//! Behaviour on an interactive terminal, checked under a real pseudo-terminal (`script`).

use stacpkg_test::demo;

use crate::ctx;

#[test]
fn terminal_stdout_gets_the_text_preview_not_binary() {
    let ctx = ctx();
    let run = ctx.tty(
        &format!("$STACPKG items from-json {}", demo("items.json").display()),
        200,
    );
    assert_eq!(run.code, Some(0));
    let text = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("stac_... | stac_... | id     | links"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("---------+----------+--------+"),
        "{text}"
    );
    assert!(lines[2].contains(" | item-a | "), "{text}");
    assert_eq!(*lines.last().unwrap(), "3 rows x 19 columns");
    assert!(lines.iter().all(|l| l.chars().count() <= 200));
}

#[test]
fn preview_of_many_rows_shows_the_first_twenty() {
    let ctx = ctx();
    let item = std::fs::read_to_string(demo("items.ndjson")).unwrap();
    ctx.write("many.ndjson", item.repeat(9));
    ctx.sh("$STACPKG items from-ndjson many.ndjson | $STACPKG items to-parquet many.parquet")
        .success();
    for command in ["from-ndjson many.ndjson", "from-parquet many.parquet"] {
        let run = ctx.tty(&format!("$STACPKG items {command}"), 120);
        assert_eq!(run.code, Some(0));
        let text = String::from_utf8(run.stdout).unwrap();
        assert_eq!(text.lines().count(), 2 + 20 + 1, "{text}");
        assert!(
            text.ends_with("27 rows x 19 columns (showing first 20)\n"),
            "{text}"
        );
    }
}

#[test]
fn interactive_stdin_is_refused_with_a_hint_instead_of_blocking() {
    let ctx = ctx();
    for command in [
        "items to-parquet out.parquet",
        "items from-json",
        "items from-ndjson -",
    ] {
        let run = ctx.tty(&format!("$STACPKG {command}"), 120);
        assert_eq!(run.code, Some(2), "{command}");
        let text = String::from_utf8(run.stdout).unwrap();
        assert!(
            text.starts_with("stacpkg: error: stdin is a terminal: "),
            "{command}: {text}"
        );
        assert_eq!(text.lines().count(), 1);
    }
    assert!(!ctx.path("out.parquet").exists());
}
