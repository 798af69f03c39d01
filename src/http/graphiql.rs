//! GraphiQL, served whole by the gateway: its scripts and styles come from the npm
//! packages in package-lock.json, compiled into the binary (see `build.rs`), so it
//! works on networks without a public CDN. [`page`] is the one place that answers a
//! browser on `/graphql`.
//!
//! Subscriptions in GraphiQL go over `/graphql/stream` (SSE) with the same headers
//! as queries. In sandbox mode the page opens with the sample agent token in its
//! headers, the README's dashboard query, and a link to the portal as the sample
//! partner.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// The README's dashboard query, which sandbox mode opens with.
const DASHBOARD: &str = "query Dashboard { partnerIssues(first: 50) { edges { node {
  id title kind partner { id name }
  documents { id name kind sha256 }
  transactions { id documentType status }
  case { id number milestone evidence { id name } resolution { summary } }
} } } }
";

const INIT: &str = include_str!("../../web/graphiql/init.js");
const STYLE: &str = include_str!("../../web/graphiql/page.css");

#[cfg(graphiql_assets)]
mod assets {
    macro_rules! npm {
        ($path:literal) => {
            include_bytes!(concat!(env!("GRIDCASE_NODE_MODULES"), "/", $path)).as_slice()
        };
    }
    pub(super) const REACT: &[u8] = npm!("react/umd/react.production.min.js");
    pub(super) const REACT_DOM: &[u8] = npm!("react-dom/umd/react-dom.production.min.js");
    pub(super) const GRAPHIQL_JS: &[u8] = npm!("graphiql/graphiql.min.js");
    pub(super) const GRAPHIQL_CSS: &[u8] = npm!("graphiql/graphiql.min.css");
}

/// An embedded asset by its file name: content type and bytes.
fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    const JS: &str = "text/javascript; charset=utf-8";
    const CSS: &str = "text/css; charset=utf-8";
    match name {
        "init.js" => Some((JS, INIT.as_bytes())),
        "page.css" => Some((CSS, STYLE.as_bytes())),
        #[cfg(graphiql_assets)]
        "react.production.min.js" => Some((JS, assets::REACT)),
        #[cfg(graphiql_assets)]
        "react-dom.production.min.js" => Some((JS, assets::REACT_DOM)),
        #[cfg(graphiql_assets)]
        "graphiql.min.js" => Some((JS, assets::GRAPHIQL_JS)),
        #[cfg(graphiql_assets)]
        "graphiql.min.css" => Some((CSS, assets::GRAPHIQL_CSS)),
        _ => None,
    }
}

/// `/graphiql/{asset}`: the page's scripts and styles.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/graphiql/{asset}", get(serve_asset))
}

async fn serve_asset(Path(name): Path<String>) -> Response {
    let Some((content_type, body)) = asset(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

/// The GraphiQL page for a browser asking `GET /graphql`.
pub(crate) fn page(state: &AppState) -> Response {
    if asset("graphiql.min.js").is_none() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "GraphiQL's assets were not built into this gateway: run `npm ci`, then build again. \
             The API itself answers POST /graphql.",
        )
            .into_response();
    }
    let config = match &state.sandbox {
        Some(s) => serde_json::json!({
            "headers": serde_json::to_string_pretty(&serde_json::json!({
                "Authorization": format!("Bearer {}", s.agent_token),
            }))
            .unwrap_or_default(),
            "query": DASHBOARD,
            "portal": "/portal#sample-partner",
            "partner": super::portal::SAMPLE_PARTNER,
        }),
        None => serde_json::json!({}),
    };
    // JSON inside a <script> element: `<` escaped so no value can close it.
    let config = config.to_string().replace('<', "\\u003c");
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>gridcase · GraphiQL</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/graphiql/graphiql.min.css">
  <link rel="stylesheet" href="/graphiql/page.css">
  <script type="application/json" id="gridcase-config">{config}</script>
  <script src="/graphiql/react.production.min.js" defer></script>
  <script src="/graphiql/react-dom.production.min.js" defer></script>
  <script src="/graphiql/graphiql.min.js" defer></script>
  <script src="/graphiql/init.js" defer></script>
</head>
<body>
  <header id="sandbox" class="sandbox" hidden></header>
  <main id="graphiql"><noscript>GraphiQL needs JavaScript.</noscript></main>
</body>
</html>
"#
    );
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        // GraphiQL sets inline styles and its fonts are data: URLs.
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
