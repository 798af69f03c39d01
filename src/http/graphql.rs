//! GraphQL over HTTP: POST and GET, `application/graphql-response+json` or
//! `application/json`, GraphiQL for browsers.

use async_graphql::Value;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::GraphQLRequest;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AppState, Authenticated};
use crate::graphql::errors::code;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

pub(crate) async fn post_graphql(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    headers: HeaderMap,
    req: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    match req {
        Ok(req) => execute(state, principal, &headers, req, false).await,
        Err(rejection) => {
            tracing::info!(error = ?rejection.0, "unreadable GraphQL request");
            super::error_response(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "the body is not a GraphQL request (expected JSON with a `query` string)",
            )
        }
    }
}

pub(crate) async fn get_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Result<Authenticated, Response>,
    req: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && state.http.graphiql {
        return super::graphiql::page(&state);
    }
    let principal = match auth {
        Ok(Authenticated(p)) => p,
        Err(rejection) => return rejection,
    };
    let Ok(req) = req else {
        return super::error_response(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            "expected ?query=… (GraphiQL is served to browsers)",
        );
    };
    execute(state, principal, &headers, req, true).await
}

async fn execute(
    state: AppState,
    principal: crate::auth::Principal,
    headers: &HeaderMap,
    req: GraphQLRequest,
    via_get: bool,
) -> Response {
    let request = req.into_inner();
    if via_get && is_mutation(&request.query, &state.limits) {
        return super::error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            code::BAD_USER_INPUT,
            "mutations must be sent with POST",
        );
    }
    let mut request = request;
    if via_get {
        request = request.data(crate::graphql::ViaGet);
    }
    let response = state.schema.execute(principal, request).await;
    // Errors without a path are about the request itself (unparsable, invalid);
    // a failing upstream under a non-null root field is not the client's fault.
    let request_error = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    // An operation over a limit is refused as a bad request whatever was asked
    // to accept.
    let over_limit = request_error
        && response.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .is_some_and(
                    |c| matches!(c, Value::String(c) if crate::graphql::limits::is_limit_code(c)),
                )
        });
    let wants_graphql_response = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(GRAPHQL_RESPONSE));
    let status = if over_limit || (request_error && wants_graphql_response) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = match serde_json::to_vec(&response) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "could not serialise a GraphQL response");
            return super::error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL,
                "internal error",
            );
        }
    };
    let content_type = if wants_graphql_response {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    let retry_later = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == Value::from(code::RETRY_LATER))
    });
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if retry_later {
        // A busy or unavailable store: worth retrying in a second.
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// Whether a document has a mutation. A document over the limits is not parsed
/// here (the schema refuses it with its code).
fn is_mutation(query: &str, limits: &crate::graphql::limits::OperationLimits) -> bool {
    if crate::graphql::limits::scan(query, limits).is_err() {
        return false;
    }
    match async_graphql::parser::parse_query(query) {
        Ok(doc) => doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Mutation),
        Err(_) => false,
    }
}
