//! `GET /documents/{id}/content`: a document's bytes, streamed from the platform
//! that holds them after the same authorization as the GraphQL field, so portals
//! never need platform credentials.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{error_response, AppState, Authenticated};
use crate::auth::{policy, Principal};
use crate::domain::{DocumentId, EvidenceId, TgDocumentId};
use crate::graphql::errors::code;
use crate::upstream::{Content, UpstreamError};

pub(crate) async fn content(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> Response {
    let id = match DocumentId::parse(&id) {
        Ok(id) => id,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                &e.to_string(),
            )
        }
    };
    let result = match &id {
        DocumentId::TradingGrid(id) => community_document(&state, &principal, id).await,
        DocumentId::CoreCase(id) => case_document(&state, &principal, id).await,
    };
    match result {
        Ok(Some((name, content))) => stream(name, content),
        // Unknown and not-yours look the same, so ids cannot be probed.
        Ok(None) => error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "no such document"),
        Err(e) => {
            tracing::warn!(error = %e, "document download failed");
            error_response(
                StatusCode::BAD_GATEWAY,
                code::UPSTREAM_UNAVAILABLE,
                &format!("{} is unavailable", e.platform()),
            )
        }
    }
}

async fn community_document(
    state: &AppState,
    principal: &Principal,
    id: &TgDocumentId,
) -> Result<Option<(String, Content)>, UpstreamError> {
    let Some(doc) = state.tg.documents(std::slice::from_ref(id)).await?.pop() else {
        return Ok(None);
    };
    if !policy::can_see_document(principal, &doc) {
        return Ok(None);
    }
    match state.tg.document_content(id).await {
        Ok(content) => Ok(Some((doc.name, content))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

async fn case_document(
    state: &AppState,
    principal: &Principal,
    id: &EvidenceId,
) -> Result<Option<(String, Content)>, UpstreamError> {
    if !policy::can_see_internal(principal) {
        return Ok(None);
    }
    let Some(entry) = state.cc.evidence(std::slice::from_ref(id)).await?.pop() else {
        return Ok(None);
    };
    // Linked evidence has no bytes on Core Case: they live with the community document.
    if let Some(source) = &entry.source {
        return community_document(state, principal, source).await;
    }
    match state.cc.evidence_content(id).await {
        Ok(content) => Ok(Some((entry.name, content))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn stream(name: String, content: Content) -> Response {
    let mut resp = Body::from_stream(content.body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(len) = content.length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if let Some(etag) = content.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        h.insert(header::ETAG, etag);
    }
    // Only characters that cannot break out of the quoted header value.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}
