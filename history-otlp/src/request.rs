//! A batch of events as one OTLP `ExportLogsServiceRequest`: redacted, grouped by resource
//! (the events' service and host), encoded as protobuf.

use std::sync::Arc;
use std::time::SystemTime;

use history::redact::RedactionPolicy;
use history::Event;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::log_record::{kv, kv_owned, log_record, string};

/// The instrumentation scope named in every request.
pub const SCOPE_NAME: &str = "history";

/// The `service.name` of events that name no service (the OpenTelemetry convention).
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Turns batches of events into request bodies.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    policy: RedactionPolicy,
    /// Resource attributes added to every resource, after `service.name` and `host.name`.
    resource: Vec<KeyValue>,
}

impl Encoder {
    pub(crate) fn new(policy: RedactionPolicy, resource: Vec<(String, String)>) -> Encoder {
        let resource = resource
            .into_iter()
            .map(|(k, v)| kv_owned(k, string(v)))
            .collect();
        Encoder { policy, resource }
    }

    /// The request for `events`, each redacted under the policy first.
    pub(crate) fn request(&self, events: &[Arc<Event>]) -> ExportLogsServiceRequest {
        let observed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        // Usually one (service, host) per recorder: a short list beats a map.
        let mut groups: Vec<(Option<&str>, Option<&str>, Vec<_>)> = Vec::new();
        for shared in events {
            let mut event = Event::clone(shared);
            self.policy.redact_event(&mut event);
            let record = log_record(&event, observed);
            let key = (shared.service.as_deref(), shared.host.as_deref());
            match groups.iter_mut().find(|(s, h, _)| (*s, *h) == key) {
                Some((_, _, records)) => records.push(record),
                None => groups.push((key.0, key.1, vec![record])),
            }
        }
        let resource_logs = groups
            .into_iter()
            .map(|(service, host, log_records)| ResourceLogs {
                resource: Some(self.resource(service, host)),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        ExportLogsServiceRequest { resource_logs }
    }

    /// The protobuf body of the request for `events`.
    pub(crate) fn encode(&self, events: &[Arc<Event>]) -> Vec<u8> {
        self.request(events).encode_to_vec()
    }

    fn resource(&self, service: Option<&str>, host: Option<&str>) -> Resource {
        let mut attributes = Vec::with_capacity(2 + self.resource.len());
        let service = service.unwrap_or(UNKNOWN_SERVICE);
        attributes.push(kv("service.name", string(service.to_owned())));
        if let Some(host) = host {
            attributes.push(kv("host.name", string(host.to_owned())));
        }
        attributes.extend(self.resource.iter().cloned());
        Resource {
            attributes,
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::EventType;

    #[test]
    fn events_of_two_services_go_under_two_resources_in_order() {
        let mut a = Event::new(EventType::VmCreate, "a");
        a.service = Some("api".into());
        a.host = Some("h1".into());
        let mut b = a.clone();
        b.service = Some("worker".into());
        let events: Vec<Arc<Event>> = vec![a.clone().into(), b.into(), a.into()];
        let request = Encoder::new(RedactionPolicy::default(), vec![]).request(&events);
        assert_eq!(request.resource_logs.len(), 2);
        let counts: Vec<usize> = request
            .resource_logs
            .iter()
            .map(|r| r.scope_logs[0].log_records.len())
            .collect();
        assert_eq!(counts, [2, 1]);
    }
}
