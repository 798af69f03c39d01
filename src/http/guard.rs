//! Request guards that run before any parsing: a bounded body read with a
//! deadline (413 / 408), and CSRF prevention for `/graphql` — a request a browser
//! could send cross-site without a CORS preflight is refused, so a page on another
//! origin can never make a signed-in browser run an operation.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

use super::{error_response, AppState};
use crate::graphql::errors::code;

/// Read the whole body within `max` bytes and `deadline`, then hand the request
/// on with the bytes in memory. Past the size: 413, before any parsing or HMAC
/// work; past the deadline (a body trickled in): 408.
pub(crate) async fn bounded_body(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let max = state.http.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(max);
    }
    let (parts, body) = req.into_parts();
    let read = http_body_util::Limited::new(body, max).collect();
    let bytes = match tokio::time::timeout(state.http.body_timeout, read).await {
        Err(_) => return too_slow(state.http.body_timeout),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(max),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "request body could not be read");
            return error_response(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "the request body could not be read",
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large(max: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        code::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than {max} bytes"),
    )
}

fn too_slow(deadline: Duration) -> Response {
    error_response(
        StatusCode::REQUEST_TIMEOUT,
        code::REQUEST_TIMEOUT,
        &format!(
            "the request body did not arrive within {} ms",
            deadline.as_millis()
        ),
    )
}

/// Headers a browser only sends cross-site after a CORS preflight.
const PREFLIGHT_HEADERS: [&str; 3] = [
    "x-requested-with",
    "apollo-require-preflight",
    "x-apollo-operation-name",
];

/// `/graphql`: POST must say `Content-Type: application/json` (a `text/plain`,
/// form or multipart body — which a browser sends cross-site without asking — is
/// refused, never parsed); GET must carry `Content-Type: application/json` or one
/// of [`PREFLIGHT_HEADERS`]. Browsers asking for HTML (GraphiQL) pass: that page
/// runs nothing by itself.
pub(crate) async fn csrf(req: Request, next: Next) -> Response {
    if let Some(refusal) = csrf_refusal(req.method(), req.headers()) {
        return refusal;
    }
    next.run(req).await
}

fn csrf_refusal(method: &Method, headers: &HeaderMap) -> Option<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let is_json = content_type.as_deref() == Some("application/json");
    if *method == Method::POST {
        if is_json {
            return None;
        }
        let simple = matches!(
            content_type.as_deref(),
            None | Some("text/plain")
                | Some("application/x-www-form-urlencoded")
                | Some("multipart/form-data")
        );
        return Some(if simple {
            error_response(
                StatusCode::BAD_REQUEST,
                code::CSRF_REFUSED,
                "this request could have been sent by a page on another site; \
                 send the operation as JSON with `Content-Type: application/json`",
            )
        } else {
            error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::BAD_USER_INPUT,
                "send the operation as JSON with `Content-Type: application/json`",
            )
        });
    }
    if *method == Method::GET {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        let preflighted = is_json || PREFLIGHT_HEADERS.iter().any(|h| headers.contains_key(*h));
        if !wants_html && !preflighted {
            return Some(error_response(
                StatusCode::BAD_REQUEST,
                code::CSRF_REFUSED,
                "this request could have been sent by a page on another site; add the header \
                 `Apollo-Require-Preflight: true` (or `X-Requested-With`, or \
                 `Content-Type: application/json`) to a GET request",
            ));
        }
    }
    None
}

/// CORS for the configured origins only (none: no cross-origin access at all).
pub(crate) fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::HeaderName::from_static("apollo-require-preflight"),
                header::HeaderName::from_static("x-requested-with"),
                header::HeaderName::from_static("x-apollo-operation-name"),
                header::HeaderName::from_static("last-event-id"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn status(method: Method, pairs: &[(&'static str, &'static str)]) -> Option<StatusCode> {
        csrf_refusal(&method, &headers(pairs)).map(|r| r.status())
    }

    #[test]
    fn posts_a_browser_can_send_without_preflight_are_refused() {
        let bad = Some(StatusCode::BAD_REQUEST);
        assert_eq!(status(Method::POST, &[]), bad);
        assert_eq!(status(Method::POST, &[("content-type", "text/plain")]), bad);
        assert_eq!(
            status(
                Method::POST,
                &[("content-type", "text/plain;charset=UTF-8")]
            ),
            bad
        );
        assert_eq!(
            status(
                Method::POST,
                &[("content-type", "application/x-www-form-urlencoded")]
            ),
            bad
        );
        assert_eq!(
            status(
                Method::POST,
                &[("content-type", "multipart/form-data; boundary=x")]
            ),
            bad
        );
        // A preflight header does not make a text body JSON.
        assert_eq!(
            status(
                Method::POST,
                &[
                    ("content-type", "text/plain"),
                    ("apollo-require-preflight", "1")
                ]
            ),
            bad
        );
        assert_eq!(
            status(Method::POST, &[("content-type", "application/xml")]),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }

    #[test]
    fn json_posts_pass() {
        assert_eq!(
            status(Method::POST, &[("content-type", "application/json")]),
            None
        );
        assert_eq!(
            status(
                Method::POST,
                &[("content-type", "Application/JSON; charset=utf-8")]
            ),
            None
        );
    }

    #[test]
    fn gets_need_a_preflight_header_unless_they_ask_for_html() {
        let bad = Some(StatusCode::BAD_REQUEST);
        assert_eq!(status(Method::GET, &[]), bad);
        assert_eq!(status(Method::GET, &[("content-type", "text/plain")]), bad);
        assert_eq!(
            status(Method::GET, &[("apollo-require-preflight", "true")]),
            None
        );
        assert_eq!(
            status(Method::GET, &[("x-requested-with", "XMLHttpRequest")]),
            None
        );
        assert_eq!(
            status(Method::GET, &[("x-apollo-operation-name", "Q")]),
            None
        );
        assert_eq!(
            status(Method::GET, &[("content-type", "application/json")]),
            None
        );
        assert_eq!(status(Method::GET, &[("accept", "text/html")]), None);
    }
}
