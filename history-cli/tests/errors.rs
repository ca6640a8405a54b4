//! Bad flags and bad files: one clear line on stderr and the documented exit code; nothing
//! created or changed. Colors only on a terminal, never with NO_COLOR.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_flags_and_values_are_usage_errors_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    for args in [
        &["list", "--no-such-flag"][..],
        &["list", "--status", "sideways"],
        &["list", "--since", "yesterday-ish"],
        &["list", "--label", "novalue"],
        &["list", "--limit", "0"],
        &["list", "-o", "xml"],
        &["show", "not-a-uuid"],
        &["diff", CREATE_WEB],
        &["prune", "--keep-last", "3"],
        &["frobnicate"],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            stderr(&out).starts_with("error:"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let bad_status = stderr(&run(dir.path(), &["list", "--status", "sideways"]));
    assert!(bad_status.contains("must be one of"), "{bad_status}");
}

#[test]
fn a_missing_file_is_one_clear_line_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["list"][..],
        &["stats"],
        &["prune", "--older-than", "1d", "--yes"],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("historyctl: no history database at history.db"),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a file was created"
    );
}

#[test]
fn bad_files_are_one_clear_line_and_stay_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("notes.txt"),
        "not a database, just some notes",
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.db"), "").unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let db = fixture(dir.path());
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    for (file, says) in [
        ("notes.txt", "is not a SQLite database"),
        ("empty.db", "is empty"),
        ("adir", "it is a directory"),
        ("history.db", "newer than the"),
    ] {
        let before = std::fs::read(dir.path().join(file)).ok();
        let out = run(dir.path(), &["list", "--db", file]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{file}: {err}");
        assert_eq!(
            std::fs::read(dir.path().join(file)).ok(),
            before,
            "{file} changed"
        );
    }
}

#[test]
fn the_file_comes_from_db_then_history_db_then_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    fixture(&sub);
    let via_env = historyctl(dir.path())
        .env("HISTORY_DB", sub.join("history.db"))
        .args(["list"])
        .output()
        .unwrap();
    assert!(via_env.status.success(), "{}", stderr(&via_env));
    assert_eq!(String::from_utf8_lossy(&via_env.stdout).lines().count(), 5);
    let via_flag = ok(
        dir.path(),
        &["list", "--db", "sub/history.db", "--status", "failed"],
    );
    assert_eq!(via_flag.lines().count(), 1);
    assert_eq!(run(dir.path(), &["list"]).status.code(), Some(1));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let mut child = historyctl(dir.path())
        .args(["list", "--all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.code().is_some(), "killed by a signal");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

/// Runs `historyctl` under a real pseudo-terminal (`script`), returning what it printed.
fn on_terminal(dir: &std::path::Path, args: &str, no_color: bool) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_historyctl");
    let mut cmd = std::process::Command::new("script");
    cmd.current_dir(dir)
        .env("TZ", "UTC")
        .env_remove("NO_COLOR")
        .args(["-qec", &format!("{bin} {args}"), "/dev/null"]);
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    match cmd.output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => panic!("script failed: {}", stderr(&out)),
        Err(e) => {
            println!("skipped: `script` (util-linux) is not available to make a terminal: {e}");
            None
        }
    }
}

#[test]
fn colors_and_charts_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let Some(tty) = on_terminal(dir.path(), "list", false) else {
        return;
    };
    assert!(tty.contains("\u{1b}["), "no colors on a terminal: {tty}");
    assert!(tty.contains("started"), "not a table on a terminal: {tty}");
    assert!(
        tty.contains("2026-11-30 10:00:00"),
        "local time on a terminal: {tty}"
    );
    let plain = on_terminal(dir.path(), "list", true).unwrap_or_default();
    assert!(
        !plain.contains("\u{1b}["),
        "colors despite NO_COLOR: {plain}"
    );
    let chart = on_terminal(dir.path(), "stats --by type", true).unwrap_or_default();
    assert!(chart.contains('█'), "no chart on a terminal: {chart}");
    let piped = ok(dir.path(), &["stats", "--by", "type", "-o", "table"]);
    assert!(
        !piped.contains('█') && !piped.contains("\u{1b}["),
        "{piped}"
    );
}
