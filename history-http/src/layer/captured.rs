//! What an event keeps of a request and its response (allowed query parameters and headers,
//! secrets redacted), serialised straight into the event's JSON text: no tree of values is
//! built on the way.
//!
//! Object members are written in name order, as a `serde_json::Map` would write them, so the
//! text is the same whichever way it was made.

use std::borrow::Cow;

use history::redact::{is_secret_name, scrub_url_credentials, REDACTED};
use history::Json;
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
use http::{HeaderMap, HeaderName};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A request's parameters: `client_addr`, `headers`, `method`, `path`, `query`, `route`.
pub(crate) struct RequestParams<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) route: Option<&'a str>,
    pub(crate) query: Option<AllowedQuery<'a>>,
    pub(crate) headers: AllowedHeaders<'a>,
    pub(crate) client_addr: Option<&'a str>,
}

impl RequestParams<'_> {
    /// The parameters as the event keeps them.
    pub(crate) fn to_json(&self) -> Json {
        json(self)
    }
}

impl Serialize for RequestParams<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(addr) = self.client_addr {
            map.serialize_entry("client_addr", &*scrub_url_credentials(addr))?;
        }
        if !self.headers.is_empty() {
            map.serialize_entry("headers", &self.headers)?;
        }
        map.serialize_entry("method", self.method)?;
        map.serialize_entry("path", &*scrub_url_credentials(self.path))?;
        if let Some(query) = self.query.as_ref().filter(|q| !q.is_empty()) {
            map.serialize_entry("query", query)?;
        }
        if let Some(route) = self.route {
            map.serialize_entry("route", route)?;
        }
        map.end()
    }
}

/// A response's result: `headers`, `status`.
pub(crate) struct ResponseResult<'a> {
    pub(crate) status: u16,
    pub(crate) headers: AllowedHeaders<'a>,
}

impl ResponseResult<'_> {
    /// The result as the event keeps it.
    pub(crate) fn to_json(&self) -> Json {
        json(self)
    }
}

impl Serialize for ResponseResult<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if !self.headers.is_empty() {
            map.serialize_entry("headers", &self.headers)?;
        }
        map.serialize_entry("status", &self.status)?;
        map.end()
    }
}

/// Serialises `value`; these types cannot fail, `{}` if one ever did.
fn json<T: Serialize>(value: &T) -> Json {
    Json::from_serialize(value).unwrap_or_default()
}

/// A header the layer records, and whether it always holds a secret (then its value is
/// recorded as `"[redacted]"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowedHeader {
    pub(crate) name: HeaderName,
    pub(crate) secret: bool,
}

impl AllowedHeader {
    pub(crate) fn new(name: HeaderName) -> AllowedHeader {
        let secret = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, SET_COOKIE].contains(&name)
            || is_secret_name(name.as_str());
        AllowedHeader { name, secret }
    }
}

/// The allowed headers of a request or response, as an object: secret ones redacted,
/// repeated ones joined with `", "`, values that are not text noted as such, URL passwords
/// scrubbed. `allowed` is sorted and without repeats.
#[derive(Clone, Copy)]
pub(crate) struct AllowedHeaders<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) allowed: &'a [AllowedHeader],
}

impl AllowedHeaders<'_> {
    fn is_empty(&self) -> bool {
        !self
            .allowed
            .iter()
            .any(|a| self.headers.contains_key(&a.name))
    }

    /// The value kept for the header `name`, if the request or response has it.
    fn value(&self, allowed: &AllowedHeader) -> Option<Cow<'_, str>> {
        let mut values = self.headers.get_all(&allowed.name).iter();
        let first = values.next()?;
        if allowed.secret {
            return Some(Cow::Borrowed(REDACTED));
        }
        let mut value = header_value(first);
        for next in values {
            let joined = value.to_mut();
            joined.push_str(", ");
            joined.push_str(&header_value(next));
        }
        Some(value)
    }
}

impl Serialize for AllowedHeaders<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for allowed in self.allowed {
            if let Some(value) = self.value(allowed) {
                map.serialize_entry(allowed.name.as_str(), &*value)?;
            }
        }
        map.end()
    }
}

/// A header value as recorded: its text with URL passwords scrubbed, or a note of its size.
fn header_value(v: &http::HeaderValue) -> Cow<'_, str> {
    match v.to_str() {
        Ok(s) => scrub_url_credentials(s),
        Err(_) => Cow::Owned(format!("[not text: {} bytes]", v.len())),
    }
}

/// The allowed parameters of a query string, as an object: secret ones redacted, URL
/// passwords scrubbed, a repeated one kept as an array of its values. `allowed` is sorted
/// and without repeats.
#[derive(Clone, Copy)]
pub(crate) struct AllowedQuery<'a> {
    pub(crate) query: &'a str,
    pub(crate) allowed: &'a [String],
}

impl AllowedQuery<'_> {
    fn pairs(&self) -> form_urlencoded::Parse<'_> {
        form_urlencoded::parse(self.query.as_bytes())
    }

    fn is_empty(&self) -> bool {
        !self
            .pairs()
            .any(|(name, _)| self.allowed.iter().any(|a| *a == name))
    }
}

impl Serialize for AllowedQuery<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for name in self.allowed {
            let values = || self.pairs().filter(|(n, _)| n == name).map(|(_, v)| v);
            let mut found = values();
            let Some(first) = found.next() else { continue };
            let secret = is_secret_name(name);
            let keep = |v: &str| -> String {
                if secret {
                    REDACTED.to_owned()
                } else {
                    scrub_url_credentials(v).into_owned()
                }
            };
            if found.next().is_none() {
                map.serialize_entry(name, &keep(&first))?;
            } else {
                let all: Vec<String> = values().map(|v| keep(&v)).collect();
                map.serialize_entry(name, &all)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn value<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn query_allow_list_and_secrets() {
        let allowed = ["api_key".to_owned(), "page".to_owned(), "tag".to_owned()];
        let q = AllowedQuery {
            query: "page=2&api_key=s3cr3t&other=x&tag=a&tag=b",
            allowed: &allowed,
        };
        assert!(!q.is_empty());
        assert_eq!(
            value(&q),
            json!({"page": "2", "api_key": "[redacted]", "tag": ["a", "b"]})
        );
        let none = AllowedQuery {
            query: "other=x",
            allowed: &allowed,
        };
        assert!(none.is_empty());
    }

    #[test]
    fn header_allow_list_and_secrets() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        h.insert("cookie", "sid=1".parse().unwrap());
        h.insert("x-api-key", "k".parse().unwrap());
        h.insert("user-agent", "curl".parse().unwrap());
        h.insert("x-other", "o".parse().unwrap());
        h.insert("referer", "https://u:pw@example.com/".parse().unwrap());
        h.append("accept", "text/html".parse().unwrap());
        h.append("accept", "application/json".parse().unwrap());
        let allowed: Vec<AllowedHeader> = [
            "accept",
            "authorization",
            "cookie",
            "referer",
            "user-agent",
            "x-api-key",
        ]
        .iter()
        .map(|n| AllowedHeader::new(HeaderName::from_static(n)))
        .collect();
        let out = AllowedHeaders {
            headers: &h,
            allowed: &allowed,
        };
        assert_eq!(
            value(&out),
            json!({
                "authorization": "[redacted]", "cookie": "[redacted]", "x-api-key": "[redacted]",
                "user-agent": "curl", "referer": "https://u:[redacted]@example.com/",
                "accept": "text/html, application/json"
            })
        );
        assert!(AllowedHeaders {
            headers: &HeaderMap::new(),
            allowed: &allowed
        }
        .is_empty());
    }

    #[test]
    fn the_text_is_what_a_json_map_would_write() {
        let mut h = HeaderMap::new();
        h.insert("user-agent", "curl".parse().unwrap());
        let allowed = [AllowedHeader::new(HeaderName::from_static("user-agent"))];
        let query = ["page".to_owned()];
        let params = RequestParams {
            method: "GET",
            path: "/vms/42",
            route: Some("/vms/{id}"),
            query: Some(AllowedQuery {
                query: "page=2",
                allowed: &query,
            }),
            headers: AllowedHeaders {
                headers: &h,
                allowed: &allowed,
            },
            client_addr: Some("127.0.0.1:5000"),
        };
        let tree = value(&params);
        assert_eq!(params.to_json().as_str(), tree.to_string());
        let result = ResponseResult {
            status: 201,
            headers: AllowedHeaders {
                headers: &h,
                allowed: &allowed,
            },
        };
        assert_eq!(result.to_json().as_str(), value(&result).to_string());
    }
}
