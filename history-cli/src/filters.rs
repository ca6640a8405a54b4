//! Filter flags shared by the commands, and the values they take: times (`24h` ago, a date,
//! RFC 3339), durations, subject ids, labels.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use history::{EventId, EventStatus, EventType, Filter, SubjectId, W3cSpanId, W3cTraceId};

/// Every condition of the library's filter, as flags.
#[derive(Debug, Default, Args)]
pub(crate) struct FilterArgs {
    /// Only this event type (repeat for several), e.g. vm_create, terraform_apply.
    #[arg(long = "type", short = 't', value_name = "TYPE", value_parser = parse_type)]
    pub(crate) event_type: Vec<EventType>,
    /// Only this status (repeat for several): in_progress, success, failed, cancelled,
    /// interrupted.
    #[arg(long, short = 's', value_name = "STATUS", value_parser = parse_status)]
    pub(crate) status: Vec<EventStatus>,
    /// Only this user's events.
    #[arg(long, short = 'u', value_name = "ID", value_parser = parse_subject)]
    pub(crate) user: Option<SubjectId>,
    /// Only this VM's events.
    #[arg(long, value_name = "ID", value_parser = parse_subject)]
    pub(crate) vm: Option<SubjectId>,
    /// Only this credential's events.
    #[arg(long, value_name = "ID", value_parser = parse_subject)]
    pub(crate) credential: Option<SubjectId>,
    /// Only this organization's events.
    #[arg(long, value_name = "ID", value_parser = parse_subject)]
    pub(crate) organization: Option<SubjectId>,
    /// Only events with this label value (repeat for several).
    #[arg(long, short = 'l', value_name = "KEY=VALUE", value_parser = parse_label)]
    pub(crate) label: Vec<(String, String)>,
    /// Only events recorded on this host.
    #[arg(long, value_name = "NAME")]
    pub(crate) host: Option<String>,
    /// Only events recorded by this service.
    #[arg(long, value_name = "NAME")]
    pub(crate) service: Option<String>,
    /// Only this operation (e.g. `vm_service::create`).
    #[arg(long, value_name = "NAME")]
    pub(crate) operation: Option<String>,
    /// Only events whose error (or one of its causes) contains this text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) error: Option<String>,
    /// Only events that started since: an age (`30m`, `24h`, `7d`), a date (`2026-11-30`,
    /// UTC) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub(crate) since: Option<DateTime<Utc>>,
    /// Only events that started before: an age, a date or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub(crate) until: Option<DateTime<Utc>>,
    /// Only events that took at least this long (e.g. `500ms`, `2s`, `5m`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) min_duration: Option<Duration>,
    /// Only events that took at most this long.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) max_duration: Option<Duration>,
    /// Only events of this trace.
    #[arg(long, value_name = "ID")]
    pub(crate) trace: Option<EventId>,
    /// Only direct children of this event.
    #[arg(long, value_name = "ID")]
    pub(crate) parent: Option<EventId>,
    /// Only events with this correlation id.
    #[arg(long, value_name = "ID")]
    pub(crate) correlation: Option<String>,
    /// Only events that ran in this distributed trace: its W3C trace id (32 hex digits, as
    /// OpenTelemetry and a `traceparent` header give it).
    #[arg(long, value_name = "HEX")]
    pub(crate) external_trace: Option<W3cTraceId>,
    /// Only events that ran in this span of a distributed trace: its W3C span id (16 hex
    /// digits).
    #[arg(long, value_name = "HEX")]
    pub(crate) external_span: Option<W3cSpanId>,
}

impl FilterArgs {
    /// The library's filter.
    pub(crate) fn to_filter(&self) -> Filter {
        let mut f = Filter::new();
        f.event_types = self.event_type.clone();
        f.statuses = self.status.clone();
        f.user_id = self.user.clone();
        f.vm_id = self.vm.clone();
        f.credential_id = self.credential.clone();
        f.organization_id = self.organization.clone();
        f.labels = self.label.iter().cloned().collect();
        f.operation = self.operation.clone();
        f.host = self.host.clone();
        f.service = self.service.clone();
        f.error_contains = self.error.clone();
        f.since = self.since;
        f.until = self.until;
        f.min_duration = self.min_duration;
        f.max_duration = self.max_duration;
        f.trace_id = self.trace;
        f.parent_id = self.parent;
        f.correlation_id = self.correlation.clone();
        f.external_trace_id = self.external_trace;
        f.external_span_id = self.external_span;
        f
    }
}

fn parse_type(s: &str) -> Result<EventType, String> {
    s.parse::<EventType>().map_err(|e| e.to_string())
}

fn parse_status(s: &str) -> Result<EventStatus, String> {
    s.parse::<EventStatus>().map_err(|e| e.to_string())
}

/// An integer id stays an integer (`7`), anything else is text (`i-0abc`).
pub(crate) fn parse_subject(s: &str) -> Result<SubjectId, String> {
    if s.is_empty() {
        return Err("an id cannot be empty".into());
    }
    Ok(match s.parse::<i64>() {
        Ok(n) => SubjectId::from(n),
        Err(_) => SubjectId::from(s),
    })
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// An age before now (`24h`, `7d`, `90m`), a date (midnight UTC) or an RFC 3339 time.
pub(crate) fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    parse_when_at(s, history::now())
}

fn parse_when_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    let age = humantime::parse_duration(s).map_err(|_| {
        format!(
            "expected an age (30m, 24h, 7d), a date (2026-11-30) or an RFC 3339 time, got {s:?}"
        )
    })?;
    let age = chrono::TimeDelta::from_std(age).map_err(|_| format!("{s:?} is too long ago"))?;
    now.checked_sub_signed(age)
        .ok_or_else(|| format!("{s:?} is too long ago"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ages_dates_or_rfc3339() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s| parse_when_at(s, now).map(|t| t.to_rfc3339());
        assert_eq!(at("24h").unwrap(), "2026-11-30T12:00:00+00:00");
        assert_eq!(at("7d").unwrap(), "2026-11-24T12:00:00+00:00");
        assert_eq!(at("2026-11-30").unwrap(), "2026-11-30T00:00:00+00:00");
        assert_eq!(
            at("2026-11-30T10:00:00+02:00").unwrap(),
            "2026-11-30T08:00:00+00:00"
        );
        assert!(at("yesterday").unwrap_err().contains("expected an age"));
    }

    #[test]
    fn subjects_keep_integers_as_integers() {
        assert_eq!(parse_subject("7").unwrap(), SubjectId::from(7));
        assert_eq!(parse_subject("i-0abc").unwrap(), SubjectId::from("i-0abc"));
        assert!(parse_subject("").is_err());
        assert_eq!(parse_label("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_label("=x").is_err());
    }
}
