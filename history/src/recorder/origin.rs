//! Where events ran: the host and service a recorder sets on every event that has none.

use crate::event::{limits, Event};

/// The host and service a recorder stamps on the events it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Origin {
    pub host: Option<String>,
    pub service: Option<String>,
}

impl Origin {
    /// This machine's host name and this program's name, when they can be found (and fit
    /// the limits of an id).
    pub(super) fn detect() -> Origin {
        Origin {
            host: fitting(this_host()),
            service: fitting(this_program()),
        }
    }

    /// Sets the host and service on every event of `batch` that has none; events that carry
    /// their own keep them.
    pub(super) fn stamp(&self, batch: &mut [Event]) {
        for event in batch {
            if event.host.is_none() {
                event.host.clone_from(&self.host);
            }
            if event.service.is_none() {
                event.service.clone_from(&self.service);
            }
        }
    }
}

fn fitting(name: Option<String>) -> Option<String> {
    name.map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty() && n.chars().count() <= limits::MAX_ID_CHARS)
}

/// The machine's host name.
fn this_host() -> Option<String> {
    #[cfg(unix)]
    {
        let uname = rustix::system::uname();
        Some(uname.nodename().to_string_lossy().into_owned())
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").ok()
    }
}

/// The program's file name without its extension (`billing-api`).
fn this_program() -> Option<String> {
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
    from_exe.or_else(|| {
        let arg0 = std::env::args_os().next()?;
        let path = std::path::PathBuf::from(arg0);
        Some(path.file_stem()?.to_string_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventType;

    #[test]
    fn detects_this_machine_and_program() {
        let origin = Origin::detect();
        assert!(origin.host.as_deref().is_some_and(|h| !h.is_empty()));
        assert!(origin.service.as_deref().is_some_and(|s| !s.is_empty()));
    }

    #[test]
    fn stamps_only_events_without_their_own() {
        let origin = Origin {
            host: Some("h1".into()),
            service: Some("svc".into()),
        };
        let mut own = Event::new(EventType::VmCreate, "op");
        own.host = Some("elsewhere".into());
        let mut batch = vec![own, Event::new(EventType::VmCreate, "op")];
        origin.stamp(&mut batch);
        assert_eq!(batch[0].host.as_deref(), Some("elsewhere"));
        assert_eq!(batch[0].service.as_deref(), Some("svc"));
        assert_eq!(batch[1].host.as_deref(), Some("h1"));
    }
}
