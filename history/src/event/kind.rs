//! What an event is about and where it stands: [`EventType`], [`EventStatus`],
//! [`TerraformStatus`]. Each is `snake_case` on the wire and parses back from its string form.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::limits;
use crate::Error;

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),* $(,)? }
        field = $field:literal;
        $(legacy = { $($old:literal => $oldvariant:ident),* $(,)? };)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name { $( $(#[$vmeta])* $variant ),* }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The `snake_case` wire name.
            pub const fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $wire),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($wire => Ok($name::$variant),)*
                    $($($old => Ok($name::$oldvariant),)*)?
                    other => Err(Error::invalid(
                        $field,
                        format!("must be one of {} (got {other:?})", [$($wire),*].join(", ")),
                    )),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = Cow::<'de, str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

wire_enum! {
    /// Where an event stands.
    ///
    /// `InProgress` → one of the terminal states. `Interrupted` is set by crash recovery for
    /// an event whose process died while it was in progress.
    ///
    /// `"pending"`, a status earlier versions declared but never set, still parses (from
    /// stored rows, spill files or JSON) and reads as `InProgress`.
    pub enum EventStatus {
        /// Started, not finished.
        InProgress => "in_progress",
        /// Finished without error.
        Success => "success",
        /// Finished with an error (or a panic).
        Failed => "failed",
        /// Stopped before it finished: its future was dropped, or it was killed or timed out.
        Cancelled => "cancelled",
        /// Its process died while it was in progress (set by crash recovery).
        Interrupted => "interrupted",
    }
    field = "status";
    legacy = { "pending" => InProgress };
}

impl EventStatus {
    /// Whether the event has finished (success, failed, cancelled or interrupted).
    pub const fn is_terminal(&self) -> bool {
        !matches!(self, EventStatus::InProgress)
    }
}

wire_enum! {
    /// The lifecycle of a Terraform run, kept alongside [`EventStatus`].
    pub enum TerraformStatus {
        /// The command is about to start.
        Initiated => "initiated",
        /// The command is running (plans being made, resources being changed).
        Provisioning => "provisioning",
        /// The command finished successfully.
        Completed => "completed",
        /// The command failed.
        Failed => "failed",
    }
    field = "terraform_status";
}

/// The operation an event records.
///
/// The well-known operations of infrastructure automation have variants; anything else is
/// [`EventType::Custom`]. Build a custom type with [`EventType::custom`] (or `"name".parse()`),
/// which maps well-known names back to their variants so that equal names compare equal.
///
/// ```
/// use history::EventType;
/// assert_eq!("vm_create".parse::<EventType>().unwrap(), EventType::VmCreate);
/// assert_eq!(EventType::custom("backup_run").unwrap().as_str(), "backup_run");
/// assert!(EventType::custom("").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventType {
    /// A VM was created.
    VmCreate,
    /// A VM was started.
    VmStart,
    /// A VM was stopped.
    VmStop,
    /// A VM was restarted.
    VmRestart,
    /// A VM was deleted.
    VmDelete,
    /// A VM was changed.
    VmUpdate,
    /// A credential was created.
    CredentialCreate,
    /// A credential was changed.
    CredentialUpdate,
    /// A credential was deleted.
    CredentialDelete,
    /// A credential was checked against its provider.
    CredentialValidate,
    /// An API request was served.
    ApiRequest,
    /// `terraform init`.
    TerraformInit,
    /// `terraform plan`.
    TerraformPlan,
    /// `terraform apply`.
    TerraformApply,
    /// `terraform destroy`.
    TerraformDestroy,
    /// An Ansible playbook run.
    PlaybookRun,
    /// An Ansible ad-hoc command.
    AdhocRun,
    /// Any other operation, by name: 1–100 characters of `a-z`, `0-9`, `_`, `.`, `-`, `:`.
    Custom(String),
}

const KNOWN_TYPES: &[(EventType, &str)] = &[
    (EventType::VmCreate, "vm_create"),
    (EventType::VmStart, "vm_start"),
    (EventType::VmStop, "vm_stop"),
    (EventType::VmRestart, "vm_restart"),
    (EventType::VmDelete, "vm_delete"),
    (EventType::VmUpdate, "vm_update"),
    (EventType::CredentialCreate, "credential_create"),
    (EventType::CredentialUpdate, "credential_update"),
    (EventType::CredentialDelete, "credential_delete"),
    (EventType::CredentialValidate, "credential_validate"),
    (EventType::ApiRequest, "api_request"),
    (EventType::TerraformInit, "terraform_init"),
    (EventType::TerraformPlan, "terraform_plan"),
    (EventType::TerraformApply, "terraform_apply"),
    (EventType::TerraformDestroy, "terraform_destroy"),
    (EventType::PlaybookRun, "playbook_run"),
    (EventType::AdhocRun, "adhoc_run"),
];

impl EventType {
    /// Every well-known type (not `Custom`).
    pub fn known() -> impl Iterator<Item = &'static EventType> {
        KNOWN_TYPES.iter().map(|(t, _)| t)
    }

    /// A type by name: a well-known name gives its variant, any other valid name `Custom`.
    pub fn custom(name: impl Into<String>) -> Result<EventType, Error> {
        let name = name.into();
        if let Some((t, _)) = KNOWN_TYPES.iter().find(|(_, n)| *n == name) {
            return Ok(t.clone());
        }
        limits::check_name("event_type", &name)?;
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-:".contains(*c)))
        {
            return Err(Error::invalid(
                "event_type",
                format!("may hold only a-z, 0-9, '_', '.', '-', ':' (got {bad:?} in {name:?})"),
            ));
        }
        Ok(EventType::Custom(name))
    }

    /// The `snake_case` wire name.
    pub fn as_str(&self) -> &str {
        match self {
            EventType::Custom(name) => name,
            known => KNOWN_TYPES
                .iter()
                .find(|(t, _)| t == known)
                .map(|(_, n)| *n)
                .unwrap_or("unknown"),
        }
    }

    /// Whether this is one of the Terraform types.
    pub fn is_terraform(&self) -> bool {
        matches!(
            self,
            EventType::TerraformInit
                | EventType::TerraformPlan
                | EventType::TerraformApply
                | EventType::TerraformDestroy
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = Error;
    /// A well-known name without allocating; any other name as [`EventType::custom`].
    fn from_str(s: &str) -> Result<Self, Error> {
        match KNOWN_TYPES.iter().find(|(_, n)| *n == s) {
            Some((t, _)) => Ok(t.clone()),
            None => EventType::custom(s),
        }
    }
}

impl TryFrom<&str> for EventType {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        s.parse()
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        EventType::custom(s.into_owned()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_round_trips() {
        for t in EventType::known() {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), *t);
            let wire = serde_json::to_string(t).unwrap();
            assert_eq!(serde_json::from_str::<EventType>(&wire).unwrap(), *t);
        }
        assert_eq!(EventType::known().count(), KNOWN_TYPES.len());
    }

    #[test]
    fn custom_names_are_checked() {
        assert_eq!(EventType::custom("vm_start").unwrap(), EventType::VmStart);
        assert!(EventType::custom("Has Space").is_err());
        let long = "x".repeat(101);
        let err = EventType::custom(long).unwrap_err().to_string();
        assert!(err.contains("event_type") && err.contains("100"), "{err}");
    }

    #[test]
    fn the_old_pending_status_reads_as_in_progress_and_is_never_written() {
        assert_eq!(
            "pending".parse::<EventStatus>().unwrap(),
            EventStatus::InProgress
        );
        assert_eq!(
            serde_json::from_str::<EventStatus>("\"pending\"").unwrap(),
            EventStatus::InProgress
        );
        assert!(EventStatus::ALL.iter().all(|s| s.as_str() != "pending"));
    }

    #[test]
    fn statuses_round_trip() {
        for s in EventStatus::ALL {
            assert_eq!(s.as_str().parse::<EventStatus>().unwrap(), *s);
        }
        for s in TerraformStatus::ALL {
            assert_eq!(s.as_str().parse::<TerraformStatus>().unwrap(), *s);
        }
        let err = "done".parse::<EventStatus>().unwrap_err().to_string();
        assert!(err.contains("status"), "{err}");
    }
}
