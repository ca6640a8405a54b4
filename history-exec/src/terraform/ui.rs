//! Parsing Terraform's machine-readable UI stream (`-json`): one JSON message per line, each
//! with `@level`, `@message`, `@module`, `@timestamp` and a `type` that says how to read the
//! rest. The first message is `version`, whose `ui` field gives the schema version: minor
//! versions only add, a new major version may break. A stream of a newer major version is still
//! read as far as it can be (messages in the known shapes are interpreted, the others kept by
//! their `@message`), and the parse is marked degraded with notes saying why: the run itself is
//! never stopped because of its output format.

use std::collections::BTreeMap;

use serde_json::Value;

use super::run::{
    ChangeSummary, Diagnostic, OutputValue, ParseStatus, ResourceChange, ResourceStatus,
    UnknownMessage,
};
use crate::{LineAction, Redactor};

/// The newest major version of the UI schema this parser knows; a newer one is read as far as
/// possible and the parse marked [degraded](ParseStatus::Degraded).
pub const SUPPORTED_UI_MAJOR: u64 = 1;

/// At most this many diagnostics and unknown messages are kept (each); resources, 10,000.
const MAX_KEPT: usize = 100;
const MAX_RESOURCES: usize = 10_000;

/// Message types that are known and need nothing from us beyond their `@message`.
const KNOWN_QUIET: &[&str] = &[
    "log",
    "resource_drift",
    "provision_start",
    "provision_progress",
    "provision_complete",
    "provision_errored",
    "refresh_start",
    "refresh_complete",
    "ephemeral_op_start",
    "ephemeral_op_progress",
    "ephemeral_op_complete",
    "ephemeral_op_errored",
    "init_output",
    "test_abstract",
    "test_file",
    "test_run",
    "test_cleanup",
    "test_summary",
    "test_plan",
    "test_state",
    "test_interrupt",
];

/// What has been read so far of one run's stream.
#[derive(Debug, Default)]
pub(crate) struct UiState {
    redactor: Redactor,
    pub(crate) terraform_version: Option<String>,
    pub(crate) ui_version: Option<String>,
    pub(crate) change_summary: Option<ChangeSummary>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) outputs: BTreeMap<String, OutputValue>,
    pub(crate) resources: Vec<ResourceChange>,
    resource_index: BTreeMap<String, usize>,
    pub(crate) unknown_messages: Vec<UnknownMessage>,
    /// Why the parse is degraded (empty: it is complete).
    pub(crate) parse_notes: Vec<String>,
}

impl UiState {
    pub(crate) fn new(redactor: Redactor) -> UiState {
        UiState {
            redactor,
            ..UiState::default()
        }
    }

    /// Reads one line. Lines that are not JSON objects are kept as they are; JSON messages
    /// are kept as their `@message`.
    pub(crate) fn line(&mut self, line: &str) -> LineAction {
        if !line.trim_start().starts_with('{') {
            return LineAction::Keep;
        }
        let mut msg: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            _ => return LineAction::Keep,
        };
        self.redactor.scrub_value(&mut msg);
        let text = str_at(&msg, "@message").map(str::to_owned);
        let kind = str_at(&msg, "type").unwrap_or_default().to_owned();
        if let Some(note) = self.message(&kind, &msg) {
            self.note(note);
        }
        match text {
            Some(text) => LineAction::Replace(text),
            None => LineAction::Replace(self.redactor.scrub(line).into_owned()),
        }
    }

    /// How far the stream could be read.
    pub(crate) fn parse_status(&self) -> ParseStatus {
        if self.parse_notes.is_empty() {
            ParseStatus::Complete
        } else {
            ParseStatus::Degraded
        }
    }

    /// Marks the parse degraded, saying why (at most [`MAX_KEPT`] notes).
    fn note(&mut self, note: String) {
        if self.parse_notes.len() < MAX_KEPT {
            self.parse_notes.push(note);
        }
    }

    /// Interprets one message; returns a note when it could not be read as its type says.
    fn message(&mut self, kind: &str, msg: &Value) -> Option<String> {
        match kind {
            "version" => {
                self.terraform_version = str_at(msg, "terraform").map(str::to_owned);
                let ui = str_at(msg, "ui").unwrap_or_default().to_owned();
                self.ui_version = Some(ui.clone());
                let major = ui.split('.').next().and_then(|m| m.parse::<u64>().ok());
                match major {
                    Some(m) if m <= SUPPORTED_UI_MAJOR => None,
                    _ => Some(format!(
                        "machine-readable UI version {ui:?} is newer than this version knows \
                         (major versions up to {SUPPORTED_UI_MAJOR}): messages were read as far \
                         as their shape is known"
                    )),
                }
            }
            "planned_change" => {
                let change = &msg["change"];
                let action = str_at(change, "action").unwrap_or("unknown").to_owned();
                if str_at(&change["resource"], "addr").is_none() {
                    return unreadable(kind, "no change.resource.addr");
                }
                if let Some(r) = self.resource(&change["resource"]) {
                    r.action = action;
                }
                None
            }
            "change_summary" => match serde_json::from_value(msg["changes"].clone()) {
                Ok(summary) => {
                    self.change_summary = Some(summary);
                    None
                }
                Err(e) => unreadable(kind, &e.to_string()),
            },
            "apply_start" | "apply_progress" | "apply_complete" | "apply_errored" => {
                let hook = &msg["hook"];
                let action = str_at(hook, "action").map(str::to_owned);
                let elapsed = hook.get("elapsed_seconds").and_then(Value::as_u64);
                let id_key = str_at(hook, "id_key").map(str::to_owned);
                let id = str_at(hook, "id_value").map(str::to_owned);
                if str_at(&hook["resource"], "addr").is_none() {
                    return unreadable(kind, "no hook.resource.addr");
                }
                if let Some(r) = self.resource(&hook["resource"]) {
                    if let Some(action) = action {
                        r.action = action;
                    }
                    r.status = match kind {
                        "apply_complete" => ResourceStatus::Complete,
                        "apply_errored" => ResourceStatus::Errored,
                        _ => ResourceStatus::Applying,
                    };
                    if elapsed.is_some() {
                        r.elapsed_seconds = elapsed;
                    }
                    if id.is_some() {
                        r.id_key = id_key;
                        r.id = id;
                    }
                }
                None
            }
            "diagnostic" => {
                if self.diagnostics.len() >= MAX_KEPT {
                    return None;
                }
                match serde_json::from_value::<Diagnostic>(msg["diagnostic"].clone()) {
                    Ok(d) => {
                        self.diagnostics.push(d);
                        None
                    }
                    Err(e) => unreadable(kind, &e.to_string()),
                }
            }
            "outputs" => {
                let Some(map) = msg["outputs"].as_object() else {
                    return unreadable(kind, "no outputs object");
                };
                for (name, o) in map {
                    // Only a value marked not sensitive is kept (a stream that does not say is
                    // taken as sensitive).
                    let sensitive = o.get("sensitive").and_then(Value::as_bool) != Some(false);
                    let value = if sensitive {
                        None
                    } else {
                        o.get("value").cloned()
                    };
                    self.outputs.insert(
                        name.clone(),
                        OutputValue {
                            sensitive,
                            value,
                            value_type: o.get("type").cloned(),
                            action: str_at(o, "action").map(str::to_owned),
                        },
                    );
                }
                None
            }
            k if KNOWN_QUIET.contains(&k) => None,
            other => {
                if self.unknown_messages.len() < MAX_KEPT {
                    self.unknown_messages.push(UnknownMessage {
                        message_type: other.to_owned(),
                        level: str_at(msg, "@level").unwrap_or_default().to_owned(),
                        message: str_at(msg, "@message").unwrap_or_default().to_owned(),
                    });
                }
                None
            }
        }
    }

    /// The entry for the resource a `resource` object names, created when first seen.
    fn resource(&mut self, resource: &Value) -> Option<&mut ResourceChange> {
        let address = str_at(resource, "addr")?.to_owned();
        let index = match self.resource_index.get(&address) {
            Some(&i) => i,
            None => {
                if self.resources.len() >= MAX_RESOURCES {
                    return None;
                }
                self.resources.push(ResourceChange {
                    address: address.clone(),
                    action: "unknown".into(),
                    status: ResourceStatus::Planned,
                    elapsed_seconds: None,
                    id_key: None,
                    id: None,
                });
                self.resource_index
                    .insert(address, self.resources.len() - 1);
                self.resources.len() - 1
            }
        };
        self.resources.get_mut(index)
    }
}

/// The note for a message of a known type that is not in the shape this version knows.
fn unreadable(kind: &str, why: &str) -> Option<String> {
    Some(format!("a {kind} message could not be read ({why})"))
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RES: &str = r#""resource":{"addr":"random_pet.animal","module":"","resource":"random_pet.animal","implied_provider":"random","resource_type":"random_pet","resource_name":"animal","resource_key":null}"#;

    fn feed(state: &mut UiState, lines: &[String]) -> Vec<LineAction> {
        lines.iter().map(|l| state.line(l)).collect()
    }

    #[test]
    fn reads_a_plan_and_apply_stream() {
        let mut s = UiState::new(Redactor::new(["hunter22"]));
        let lines = vec![
            r#"{"@level":"info","@message":"Terraform 1.9.0","@module":"terraform.ui","@timestamp":"2024-01-01T00:00:00Z","terraform":"1.9.0","type":"version","ui":"1.2"}"#.to_owned(),
            format!(r#"{{"@level":"info","@message":"random_pet.animal: Plan to create","type":"planned_change","change":{{{RES},"action":"create"}}}}"#),
            format!(r#"{{"@level":"info","@message":"random_pet.animal: Creating...","type":"apply_start","hook":{{{RES},"action":"create"}}}}"#),
            format!(r#"{{"@level":"info","@message":"done","type":"apply_complete","hook":{{{RES},"action":"create","id_key":"id","id_value":"smart-lizard","elapsed_seconds":3}}}}"#),
            r#"{"@level":"info","@message":"Apply complete!","type":"change_summary","changes":{"add":1,"change":0,"import":0,"remove":0,"operation":"apply"}}"#.to_owned(),
            r#"{"@level":"info","@message":"Outputs: 2","type":"outputs","outputs":{"pet":{"sensitive":false,"type":"string","value":"smart-lizard"},"pw":{"sensitive":true,"type":"string","value":"hunter22"}}}"#.to_owned(),
            "not json at all".to_owned(),
        ];
        let actions = feed(&mut s, &lines);
        assert_eq!(actions[0], LineAction::Replace("Terraform 1.9.0".into()));
        assert_eq!(actions[6], LineAction::Keep);
        assert_eq!(s.terraform_version.as_deref(), Some("1.9.0"));
        let summary = s.change_summary.clone().unwrap();
        assert_eq!((summary.add, summary.operation.as_str()), (1, "apply"));
        assert_eq!(s.resources.len(), 1);
        let r = &s.resources[0];
        assert_eq!(r.status, ResourceStatus::Complete);
        assert_eq!(
            (r.id.as_deref(), r.elapsed_seconds),
            (Some("smart-lizard"), Some(3))
        );
        assert_eq!(s.outputs["pet"].value, Some(Value::from("smart-lizard")));
        assert!(s.outputs["pw"].sensitive && s.outputs["pw"].value.is_none());
        assert!(s.unknown_messages.is_empty());
    }

    #[test]
    fn reads_an_unknown_major_version_as_far_as_it_can_and_says_so() {
        let mut s = UiState::new(Redactor::default());
        let a = s.line(r#"{"@message":"m","type":"something_new","@level":"info"}"#);
        assert_eq!(a, LineAction::Replace("m".into()));
        assert_eq!(s.unknown_messages[0].message_type, "something_new");
        assert_eq!(s.parse_status(), ParseStatus::Complete);
        let a = s.line(r#"{"@message":"Terraform 9","type":"version","ui":"2.0"}"#);
        assert_eq!(a, LineAction::Replace("Terraform 9".into()));
        assert_eq!(s.parse_status(), ParseStatus::Degraded);
        assert!(s.parse_notes[0].contains("\"2.0\""), "{:?}", s.parse_notes);
        s.line(r#"{"@message":"Plan","type":"change_summary","changes":{"add":5}}"#);
        assert_eq!(s.change_summary.as_ref().map(|c| c.add), Some(5));
        s.line(r#"{"@message":"Plan","type":"change_summary","changes":"5 to add"}"#);
        assert!(
            s.parse_notes[1].contains("change_summary"),
            "{:?}",
            s.parse_notes
        );
        // An output whose sensitivity is not said is taken as sensitive.
        s.line(r#"{"@message":"o","type":"outputs","outputs":{"pw":{"value":"x","secret":true}}}"#);
        assert!(s.outputs["pw"].sensitive && s.outputs["pw"].value.is_none());
        let mut old = UiState::new(Redactor::default());
        old.line(r#"{"type":"version","ui":"0.1.0"}"#);
        assert_eq!(old.parse_status(), ParseStatus::Complete);
    }

    #[test]
    fn diagnostics_are_parsed_and_scrubbed() {
        let mut s = UiState::new(Redactor::new(["s3cret-pw"]));
        s.line(r#"{"@level":"error","@message":"Error: bad s3cret-pw","type":"diagnostic","diagnostic":{"severity":"error","summary":"bad s3cret-pw","detail":"more","address":"aws_instance.a","range":{"filename":"main.tf","start":{"line":3,"column":1,"byte":20},"end":{"line":3,"column":9,"byte":28}}}}"#);
        let d = &s.diagnostics[0];
        assert!(d.is_error());
        assert_eq!(d.summary, "bad [redacted]");
        assert_eq!(d.range.as_ref().unwrap().start.line, 3);
    }
}
