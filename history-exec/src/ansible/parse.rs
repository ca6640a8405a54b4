//! Reading Ansible's output: the default callback of `ansible-playbook` (`TASK [..]` headers,
//! `ok: [host]` / `changed:` / `fatal:` / `skipping:` result lines, `...ignoring`, and the
//! `PLAY RECAP`), and the one-line-per-host form of ad-hoc `ansible` (`host | CHANGED | ..`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Redactor;

/// At most this many task results are kept (the rest are counted).
const MAX_TASK_RESULTS: usize = 1_000;
/// Characters kept of a task's message.
const MAX_MESSAGE_CHARS: usize = 1_000;

/// One host's counters, as the PLAY RECAP prints them.
///
/// `skipped`, `rescued` and `ignored` are `None` when the Ansible that ran did not print them
/// (older versions), or for ad-hoc runs where they do not apply (`rescued`, `ignored`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStats {
    /// Tasks that ran fine (changed ones included).
    pub ok: u64,
    /// Tasks that changed something.
    pub changed: u64,
    /// Connection failures.
    pub unreachable: u64,
    /// Tasks that failed (not rescued, not ignored).
    pub failed: u64,
    /// Tasks skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u64>,
    /// Failures handled by a `rescue` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescued: Option<u64>,
    /// Failures ignored (`ignore_errors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<u64>,
}

/// What happened to one task on one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Ran, changed nothing.
    Ok,
    /// Ran and changed something.
    Changed,
    /// Skipped (a `when` was false).
    Skipped,
    /// Failed.
    Failed,
    /// Failed, and the failure was ignored (`ignore_errors`).
    Ignored,
    /// The host could not be reached.
    Unreachable,
}

/// One task result line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The play it ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play: Option<String>,
    /// The task's name (`None` for ad-hoc runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The host.
    pub host: String,
    /// What happened.
    pub status: TaskStatus,
    /// The loop item, for a result of one loop iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The result's `msg`, when Ansible printed one on the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Which output form to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    Playbook,
    Adhoc,
}

/// What has been read of one run's output.
#[derive(Debug)]
pub(crate) struct OutputParser {
    form: Form,
    redactor: Redactor,
    play: Option<String>,
    task: Option<String>,
    in_recap: bool,
    pub(crate) recap: BTreeMap<String, HostStats>,
    /// Counters built from the result lines (used when there is no recap).
    pub(crate) counted: BTreeMap<String, HostStats>,
    pub(crate) tasks: Vec<TaskResult>,
    pub(crate) tasks_left_out: u64,
    last_failed: Option<usize>,
}

impl OutputParser {
    pub(crate) fn new(form: Form, redactor: Redactor) -> OutputParser {
        OutputParser {
            form,
            redactor,
            play: None,
            task: None,
            in_recap: false,
            recap: BTreeMap::new(),
            counted: BTreeMap::new(),
            tasks: Vec::new(),
            tasks_left_out: 0,
            last_failed: None,
        }
    }

    /// Reads one line of standard output.
    pub(crate) fn line(&mut self, raw: &str) {
        let line = self.redactor.scrub(raw);
        let line = line.trim_end();
        match self.form {
            Form::Playbook => self.playbook_line(line),
            Form::Adhoc => {
                if let Some((host, status, rest)) = parse_adhoc(line) {
                    let message = json_message(rest);
                    self.result(host, status, None, message);
                }
            }
        }
    }

    /// The per-host counters: the recap's when Ansible printed one, else counted from lines.
    pub(crate) fn hosts(&self) -> &BTreeMap<String, HostStats> {
        if self.recap.is_empty() {
            &self.counted
        } else {
            &self.recap
        }
    }

    fn playbook_line(&mut self, line: &str) {
        if let Some(title) = header(line, "PLAY RECAP") {
            let _ = title;
            self.in_recap = true;
            return;
        }
        if let Some(name) = header(line, "PLAY") {
            self.in_recap = false;
            self.play = Some(name);
            self.task = None;
            return;
        }
        if let Some(name) = header(line, "TASK").or_else(|| header(line, "RUNNING HANDLER")) {
            self.task = Some(name);
            self.last_failed = None;
            return;
        }
        if self.in_recap {
            if let Some((host, stats)) = parse_recap(line) {
                self.recap.insert(host, stats);
            }
            return;
        }
        if line == "...ignoring" {
            if let Some(i) = self.last_failed.take() {
                let host = self.tasks.get(i).map(|t| t.host.clone());
                if let Some(t) = self.tasks.get_mut(i) {
                    t.status = TaskStatus::Ignored;
                }
                if let Some(s) = host.and_then(|h| self.counted.get_mut(&h)) {
                    s.failed = s.failed.saturating_sub(1);
                    s.ignored = Some(s.ignored.unwrap_or(0) + 1);
                }
            }
            return;
        }
        if let Some((status, host, rest)) = parse_result(line) {
            let item = loop_item(rest);
            let message = json_message(rest);
            self.result(host, status, item, message);
        }
    }

    fn result(
        &mut self,
        host: &str,
        status: TaskStatus,
        item: Option<String>,
        message: Option<String>,
    ) {
        let stats = self.counted.entry(host.to_owned()).or_default();
        match status {
            TaskStatus::Ok => stats.ok += 1,
            TaskStatus::Changed => {
                stats.ok += 1;
                stats.changed += 1;
            }
            TaskStatus::Skipped => stats.skipped = Some(stats.skipped.unwrap_or(0) + 1),
            TaskStatus::Failed => stats.failed += 1,
            TaskStatus::Ignored => stats.ignored = Some(stats.ignored.unwrap_or(0) + 1),
            TaskStatus::Unreachable => stats.unreachable += 1,
        }
        if self.tasks.len() >= MAX_TASK_RESULTS {
            self.tasks_left_out += 1;
            self.last_failed = None;
            return;
        }
        self.tasks.push(TaskResult {
            play: self.play.clone(),
            task: self.task.clone(),
            host: host.to_owned(),
            status,
            item,
            message,
        });
        self.last_failed = (status == TaskStatus::Failed).then(|| self.tasks.len() - 1);
    }
}

/// The name in a `WORD [name] ****` header line.
fn header(line: &str, word: &str) -> Option<String> {
    let rest = line.strip_prefix(word)?;
    if word == "PLAY RECAP" {
        return rest.starts_with(" *").then(String::new);
    }
    let rest = rest.strip_prefix(" [")?;
    let end = rest.rfind("] ")?;
    rest[end + 2..]
        .starts_with('*')
        .then(|| rest[..end].to_owned())
}

/// `host : ok=1 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0`.
pub(crate) fn parse_recap(line: &str) -> Option<(String, HostStats)> {
    let (host, counters) = line.split_once(" : ")?;
    let host = host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let mut values = BTreeMap::new();
    for pair in counters.split_whitespace() {
        let (key, value) = pair.split_once('=')?;
        values.insert(key, value.parse::<u64>().ok()?);
    }
    let stats = HostStats {
        ok: *values.get("ok")?,
        changed: *values.get("changed")?,
        unreachable: *values.get("unreachable")?,
        failed: *values.get("failed")?,
        skipped: values.get("skipped").copied(),
        rescued: values.get("rescued").copied(),
        ignored: values.get("ignored").copied(),
    };
    Some((host.to_owned(), stats))
}

/// `ok: [host]…`, `changed: [host -> delegate]…`, `fatal: [host]: FAILED! => {…}`, …
fn parse_result(line: &str) -> Option<(TaskStatus, &str, &str)> {
    let (word, rest) = line.split_once(": [")?;
    let mut status = match word {
        "ok" => TaskStatus::Ok,
        "changed" => TaskStatus::Changed,
        "skipping" => TaskStatus::Skipped,
        "fatal" | "failed" => TaskStatus::Failed,
        "unreachable" => TaskStatus::Unreachable,
        _ => return None,
    };
    let (host, rest) = rest.split_once(']')?;
    let host = host.split(" -> ").next().unwrap_or(host).trim();
    if host.is_empty() {
        return None;
    }
    if rest.starts_with(": UNREACHABLE!") {
        status = TaskStatus::Unreachable;
    }
    Some((status, host, rest))
}

/// `host | CHANGED | rc=0 >>`, `host | SUCCESS => {`, `host | FAILED! => {…}`, …
fn parse_adhoc(line: &str) -> Option<(&str, TaskStatus, &str)> {
    let (host, rest) = line.split_once(" | ")?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let word = rest.split(' ').next().unwrap_or_default();
    let status = match word {
        "SUCCESS" => TaskStatus::Ok,
        "CHANGED" => TaskStatus::Changed,
        "FAILED!" | "FAILED" => TaskStatus::Failed,
        "UNREACHABLE!" => TaskStatus::Unreachable,
        "SKIPPED" => TaskStatus::Skipped,
        _ => return None,
    };
    Some((host, status, rest))
}

/// The item of `… => (item=x)` or `… (item=x) => {…}`.
fn loop_item(rest: &str) -> Option<String> {
    let start = rest.find("(item=")? + "(item=".len();
    let tail = &rest[start..];
    let end = match tail.find(") => {") {
        Some(e) => e,
        None => tail.rfind(')')?,
    };
    Some(tail[..end].to_owned())
}

/// The `msg` of a one-line JSON result after `=> `.
fn json_message(rest: &str) -> Option<String> {
    let start = rest.find("=> {")? + 3;
    let value: serde_json::Value = serde_json::from_str(&rest[start..]).ok()?;
    let mut msg = match value.get("msg")? {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    history::event::limits::truncate(&mut msg, MAX_MESSAGE_CHARS);
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(form: Form, text: &str) -> OutputParser {
        let mut p = OutputParser::new(form, Redactor::new(["s3cr3t"]));
        for line in text.lines() {
            p.line(line);
        }
        p
    }

    #[test]
    fn reads_recap_with_and_without_the_newer_counters() {
        let (h, s) = parse_recap(
            "localhost                  : ok=4    changed=1    unreachable=0    failed=0    skipped=1    rescued=1    ignored=1   ",
        )
        .unwrap();
        assert_eq!(h, "localhost");
        assert_eq!(
            (s.ok, s.changed, s.skipped, s.rescued, s.ignored),
            (4, 1, Some(1), Some(1), Some(1))
        );
        let (_, old) = parse_recap("web1 : ok=2 changed=0 unreachable=0 failed=1").unwrap();
        assert_eq!(
            (old.failed, old.skipped, old.rescued, old.ignored),
            (1, None, None, None)
        );
        assert!(parse_recap("web1 : ok=2 changed=x").is_none());
        assert!(parse_recap("not a recap line").is_none());
    }

    #[test]
    fn reads_task_results() {
        let p = feed(
            Form::Playbook,
            r#"
PLAY [demo] ********************************************************************

TASK [write file] **************************************************************
fatal: [badhost]: UNREACHABLE! => {"changed": false, "msg": "connect refused", "unreachable": true}
changed: [localhost]

TASK [loop] ********************************************************************
ok: [localhost] => (item=a)
failed: [localhost] (item=b (x)) => {"changed": false, "msg": "bad s3cr3t"}

TASK [fail ignored] ************************************************************
fatal: [localhost]: FAILED! => {"changed": false, "msg": "ignored failure"}
...ignoring

TASK [skip me] *****************************************************************
skipping: [localhost]

PLAY RECAP *********************************************************************
badhost                    : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
localhost                  : ok=3    changed=1    unreachable=0    failed=1    skipped=1    rescued=0    ignored=1
"#,
        );
        let t = &p.tasks;
        assert_eq!(t.len(), 6);
        assert_eq!(
            (t[0].host.as_str(), t[0].status),
            ("badhost", TaskStatus::Unreachable)
        );
        assert_eq!(t[0].message.as_deref(), Some("connect refused"));
        assert_eq!(t[1].status, TaskStatus::Changed);
        assert_eq!(t[2].item.as_deref(), Some("a"));
        assert_eq!(t[3].item.as_deref(), Some("b (x)"));
        assert_eq!(t[3].message.as_deref(), Some("bad [redacted]"));
        assert_eq!(t[4].status, TaskStatus::Ignored);
        assert_eq!(t[4].task.as_deref(), Some("fail ignored"));
        assert_eq!(t[5].status, TaskStatus::Skipped);
        assert_eq!(t[0].play.as_deref(), Some("demo"));
        assert_eq!(p.hosts()["localhost"].ignored, Some(1));
        assert_eq!(p.hosts()["badhost"].unreachable, 1);
        assert_eq!(p.counted["localhost"].ignored, Some(1));
        assert_eq!(p.counted["localhost"].failed, 1);
    }

    #[test]
    fn reads_adhoc_results() {
        let p = feed(
            Form::Adhoc,
            "badhost | UNREACHABLE! => {\n    \"changed\": false\n}\nlocalhost | CHANGED | rc=0 >>\nhi\nweb | FAILED | rc=1 >>\nnon-zero return code\n",
        );
        let h = p.hosts();
        assert_eq!(h["badhost"].unreachable, 1);
        assert_eq!((h["localhost"].ok, h["localhost"].changed), (1, 1));
        assert_eq!(h["web"].failed, 1);
        assert_eq!(p.tasks.len(), 3);
    }
}
