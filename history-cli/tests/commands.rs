//! Every subcommand and output format of the real `historyctl` binary, against history files
//! the tests write.

mod common;

use common::*;
use serde_json::Value;

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn no_secrets(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} printed in:\n{text}");
    }
}

#[test]
fn list_as_a_table_matches_the_expected_text() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let out = ok(dir.path(), &["list", "-o", "table"]);
    assert_expected("list.txt", &out);
    no_secrets(&out);
}

#[test]
fn list_writes_json_lines_when_stdout_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let out = ok(dir.path(), &["list"]);
    let events = lines(&out);
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [DELETE_WEB, RESIZE_WEB, START_WEB, CREATE_DB, CREATE_WEB]
    );
    // Machine formats: RFC 3339 UTC.
    assert_eq!(events[4]["timestamp"], "2026-11-30T10:00:00Z");
    assert_eq!(events[1]["parameters"]["admin_password"], "[redacted]");
    assert_eq!(events[1]["labels"]["api_token"], "[redacted]");
    no_secrets(&out);
}

#[test]
fn list_as_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let json: Value = serde_json::from_str(&ok(dir.path(), &["list", "-o", "json"])).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 5);
    assert!(json["next_cursor"].is_null());
    let csv = ok(dir.path(), &["list", "-o", "csv"]);
    assert!(csv.starts_with("id,timestamp,finished_at,duration,event_type,status,"));
    assert_eq!(csv.lines().count(), 6);
    no_secrets(&csv);
}

#[test]
fn every_filter_flag_narrows_the_list() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let count = |args: &[&str]| {
        let mut all = vec!["list"];
        all.extend_from_slice(args);
        lines(&ok(dir.path(), &all)).len()
    };
    assert_eq!(count(&["--status", "failed"]), 1);
    assert_eq!(count(&["--status", "failed", "--status", "in_progress"]), 2);
    assert_eq!(count(&["--type", "vm_create", "--user", "7"]), 3);
    assert_eq!(count(&["--vm", "2"]), 3);
    assert_eq!(count(&["--label", "region=eu-west-1"]), 2);
    assert_eq!(count(&["--operation", "vm::start"]), 1);
    assert_eq!(count(&["--error", "provider refused"]), 1);
    assert_eq!(count(&["--since", "2026-11-30T10:10:00Z"]), 3);
    assert_eq!(count(&["--until", "2026-11-30T10:10:00Z"]), 2);
    assert_eq!(
        count(&["--since", "2026-11-30", "--until", "2026-12-01"]),
        5
    );
    assert_eq!(count(&["--since", "24h"]), 0);
    assert_eq!(count(&["--min-duration", "1s"]), 1);
    assert_eq!(count(&["--max-duration", "100ms"]), 2);
    assert_eq!(count(&["--trace", CREATE_WEB]), 2);
    assert_eq!(count(&["--parent", CREATE_WEB]), 1);
    assert_eq!(count(&["--external-trace", EXTERNAL_TRACE]), 2);
    assert_eq!(count(&["--external-span", EXTERNAL_SPAN]), 1);
    assert_eq!(
        count(&["--external-trace", "4bf92f3577b34da6a3ce929d0e0e4737"]),
        0
    );
}

#[test]
fn external_ids_are_listed_shown_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let table = ok(dir.path(), &["list", "-o", "table", "--external-ids"]);
    assert!(table.contains("external trace"), "{table}");
    assert!(
        table.contains(EXTERNAL_TRACE) && table.contains(EXTERNAL_SPAN),
        "{table}"
    );
    let plain = ok(dir.path(), &["list", "-o", "table"]);
    assert!(!plain.contains(EXTERNAL_TRACE), "{plain}");
    let events = lines(&ok(dir.path(), &["list", "--external-span", EXTERNAL_SPAN]));
    assert_eq!(events[0]["external_trace_id"], EXTERNAL_TRACE);
    assert_eq!(events[0]["external_span_id"], EXTERNAL_SPAN);
    let bad = run(dir.path(), &["list", "--external-trace", "xyz"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("external_trace_id"), "{stderr}");
}

#[test]
fn pages_continue_with_the_printed_cursor_and_all_streams_everything() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["list", "-o", "json", "--limit", "2"];
        if let Some(c) = &after {
            args.extend(["--after", c.as_str()]);
        }
        let page: Value = serde_json::from_str(&ok(dir.path(), &args)).unwrap();
        for e in page["items"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [DELETE_WEB, RESIZE_WEB, START_WEB, CREATE_DB, CREATE_WEB]
    );
    let all = lines(&ok(dir.path(), &["list", "--all", "--oldest-first"]));
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["id"], CREATE_WEB);
    let table = ok(dir.path(), &["list", "-o", "table", "--limit", "2"]);
    assert!(table.contains("more: --after c1."), "{table}");
}

#[test]
fn show_prints_one_event_in_full() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    assert_expected(
        "show-failed.txt",
        &ok(dir.path(), &["show", CREATE_DB, "-o", "table"]),
    );
    assert_expected(
        "show-trace.txt",
        &ok(dir.path(), &["show", START_WEB, "-o", "table"]),
    );
    let json: Value =
        serde_json::from_str(&ok(dir.path(), &["show", CREATE_DB, "-o", "json"])).unwrap();
    assert_eq!(json["error"]["message"], "quota exceeded in us-east-1");
    let secret = ok(dir.path(), &["show", RESIZE_WEB, "-o", "table"]);
    assert!(secret.contains("[redacted]"));
    no_secrets(&secret);
    for format in ["jsonl", "csv", "json"] {
        no_secrets(&ok(dir.path(), &["show", RESIZE_WEB, "-o", format]));
    }
}

#[test]
fn stats_overall_and_per_group_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    assert_expected(
        "stats-by-type.txt",
        &ok(dir.path(), &["stats", "--by", "type", "-o", "table"]),
    );
    let json: Value =
        serde_json::from_str(&ok(dir.path(), &["stats", "--by", "status", "-o", "json"])).unwrap();
    assert_eq!(json["summary"]["events"], 5);
    assert_eq!(json["summary"]["by_status"]["failed"], 1);
    let groups: Vec<&str> = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["in_progress", "success", "failed"]);
    let by_day = lines(&ok(dir.path(), &["stats", "--by", "day"]));
    assert_eq!(by_day.len(), 1);
    assert_eq!(by_day[0]["group"], "2026-11-30T00:00:00Z");
    assert_eq!(by_day[0]["events"], 5);
    let summary = lines(&ok(dir.path(), &["stats", "--user", "7"]));
    assert_eq!(summary[0]["events"], 3);
    let csv = ok(dir.path(), &["stats", "--by", "user", "-o", "csv"]);
    assert!(
        csv.starts_with("group,events,in_progress,success,failed,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4, "{csv}");
}

#[test]
fn export_writes_jsonl_or_csv_to_stdout_or_a_private_new_file() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let out = ok(dir.path(), &["export", "--status", "success"]);
    assert_eq!(lines(&out).len(), 3);
    no_secrets(&out);
    ok(dir.path(), &["export", "--out", "all.csv"]);
    let csv = std::fs::read_to_string(dir.path().join("all.csv")).unwrap();
    assert!(csv.starts_with("id,timestamp,"));
    assert_eq!(csv.lines().count(), 6);
    no_secrets(&csv);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("all.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = run(dir.path(), &["export", "--out", "all.csv"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("cannot create all.csv"));
    ok(
        dir.path(),
        &["export", "--format", "jsonl", "--out", "x.data"],
    );
    let back = std::fs::read_to_string(dir.path().join("x.data")).unwrap();
    assert_eq!(lines(&back).len(), 5);
}

#[test]
fn prune_is_a_dry_run_that_changes_nothing_unless_yes() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let before = fingerprint(&db);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let dry = ok(dir.path(), &["prune", "--status", "success", "-o", "table"]);
    assert!(dry.starts_with("would delete 3 events"), "{dry}");
    assert!(dry.contains("--yes"));
    let json = lines(&ok(dir.path(), &["prune", "--older-than", "1d"]));
    assert_eq!(json[0]["dry_run"], true);
    assert_eq!(json[0]["deleted"], 5);
    assert!(before == fingerprint(&db), "a dry run changed the file");

    let done = lines(&ok(dir.path(), &["prune", "--status", "success", "--yes"]));
    assert_eq!(done[0]["deleted"], 3);
    assert_eq!(done[0]["dry_run"], false);
    assert_eq!(lines(&ok(dir.path(), &["list"])).len(), 2);
    let keep = lines(&ok(
        dir.path(),
        &["prune", "--keep-last", "1", "--per", "vm"],
    ));
    assert_eq!(keep[0]["deleted"], 0);
}

#[test]
fn diff_compares_two_events_or_the_previous_success() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    assert_expected(
        "diff.txt",
        &ok(dir.path(), &["diff", CREATE_WEB, CREATE_DB, "-o", "table"]),
    );
    let changes = lines(&ok(dir.path(), &["diff", "--previous-success", RESIZE_WEB]));
    let paths: Vec<&str> = changes
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"size"), "{paths:?}");
    assert!(paths.contains(&"admin_password"), "{paths:?}");
    let text = serde_json::to_string(&changes).unwrap();
    no_secrets(&text);
    let json: Value = serde_json::from_str(&ok(
        dir.path(),
        &["diff", CREATE_WEB, RESIZE_WEB, "-o", "json"],
    ))
    .unwrap();
    assert_eq!(json["old"], CREATE_WEB);
    let csv = ok(dir.path(), &["diff", CREATE_WEB, RESIZE_WEB, "-o", "csv"]);
    assert!(csv.starts_with("part,change,path,old,new"));
    no_secrets(&csv);
    let none = run(dir.path(), &["diff", "--previous-success", CREATE_WEB]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no successful vm_create event"));
}

#[test]
fn check_reports_orphans_and_recovers_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let before = fingerprint(&db);
    let out = run(dir.path(), &["check", "-o", "table"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("integrity   ok"), "{text}");
    assert!(
        text.contains("1 in-progress events with no live writer"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--recover"), "{err}");
    assert!(before == fingerprint(&db), "check changed the file");

    let fixed = lines(&ok(dir.path(), &["check", "--recover", "--repair"]));
    assert_eq!(fixed[0]["recovered"], 1);
    assert_eq!(fixed[0]["ok"], true);
    let deleted = lines(&ok(dir.path(), &["list", "--status", "interrupted"]));
    assert_eq!(deleted[0]["id"], DELETE_WEB);
    let csv = ok(dir.path(), &["check", "-o", "csv"]);
    assert!(csv.starts_with("ok,integrity_problems,"));
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(dir.path(), &["completions", shell]);
        assert!(script.contains("historyctl"), "{shell}");
        assert!(script.contains("previous-success"), "{shell}");
    }
}

#[test]
fn read_commands_never_write_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let before = fingerprint(&db);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let commands: &[&[&str]] = &[
        &["list"],
        &["list", "--all", "-o", "csv"],
        &["show", CREATE_DB],
        &["stats", "--by", "day"],
        &["export"],
        &["prune", "--older-than", "1d"],
        &["diff", CREATE_WEB, CREATE_DB],
        &["diff", "--previous-success", RESIZE_WEB],
    ];
    for args in commands {
        ok(dir.path(), args);
        assert!(
            before == fingerprint(&db),
            "historyctl {args:?} changed the file"
        );
    }
    let _ = run(dir.path(), &["check"]);
    assert!(before == fingerprint(&db), "check changed the file");
}

#[test]
fn fail_if_empty_exits_3_when_nothing_matched() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let none = run(
        dir.path(),
        &["list", "--status", "cancelled", "--fail-if-empty"],
    );
    assert_eq!(none.status.code(), Some(3));
    assert!(none.stdout.is_empty() && none.stderr.is_empty());
    let plain = run(dir.path(), &["list", "--status", "cancelled"]);
    assert_eq!(plain.status.code(), Some(0));
    let some = run(dir.path(), &["list", "--fail-if-empty"]);
    assert_eq!(some.status.code(), Some(0));
    let missing = "0190a4c2-0000-7000-8000-0000000000ff";
    let show = run(dir.path(), &["show", missing]);
    assert_eq!(show.status.code(), Some(1));
    let show = run(dir.path(), &["--fail-if-empty", "show", missing]);
    assert_eq!(show.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&show.stderr).contains("no event with id"));
    let export = run(dir.path(), &["export", "--user", "99", "--fail-if-empty"]);
    assert_eq!(export.status.code(), Some(3));
}
