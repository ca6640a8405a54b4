//! The web page: the event list with filters that updates live, an event's detail (fields,
//! parameters, result, error chain, a Terraform/Ansible run's summary and output, its trace as
//! a tree, its differences from the previous successful run) and statistics with charts.
//!
//! Three small files embedded in the binary (no build step): `index.html`, `app.js`,
//! `app.css`. Every response carries a strict Content-Security-Policy (scripts and styles from
//! the page's own origin only, no inline script, no framing); the script builds the page with
//! `textContent`, so stored strings are shown as text, never run as markup.

use axum::extract::OriginalUri;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// The Content-Security-Policy of the page and its assets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'self'; \
     form-action 'none'; frame-ancestors 'none'";

/// The page's routes: `/` (the page), `/assets/app.js`, `/assets/app.css`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route(
            "/assets/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
}

/// Headers every page response carries.
fn secure(mut res: Response, content_type: &'static str) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    secure(body.into_response(), content_type)
}

/// The page, its assets linked under where the router is nested (the script finds the API
/// the same way, from the page's own path).
async fn index(OriginalUri(uri): OriginalUri) -> Response {
    let base = format!("{}/", uri.path().trim_end_matches('/'));
    let page = INDEX.replace("{{BASE}}", &escape_attr(&base));
    secure(page.into_response(), "text/html; charset=utf-8")
}

/// Escapes text for an HTML attribute value in double quotes.
fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_escaped() {
        assert_eq!(escape_attr("/a\"><script>/"), "/a&quot;&gt;&lt;script&gt;/");
    }

    #[test]
    fn no_inline_script_or_style_and_no_inner_html() {
        // Every <script> has a src; no on* attributes; no style attributes.
        for (i, _) in INDEX.match_indices("<script") {
            let tag = &INDEX[i..INDEX[i..].find('>').map_or(INDEX.len(), |e| i + e)];
            assert!(tag.contains(" src="), "inline script: {tag}");
        }
        assert!(
            !INDEX.contains(" onclick=")
                && !INDEX.contains(" onload=")
                && !INDEX.contains(" style=")
        );
        assert!(!APP_JS.contains("innerHTML") && !APP_JS.contains("outerHTML"));
        assert!(!APP_JS.contains("insertAdjacentHTML") && !APP_JS.contains("document.write"));
        assert!(!APP_JS.contains("eval("));
    }
}
