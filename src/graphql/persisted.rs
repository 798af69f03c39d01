//! Automatic persisted queries (Apollo's protocol): a client sends
//! `extensions.persistedQuery.sha256Hash` without the query; the gateway answers
//! from the query text stored under that hash, or with `PersistedQueryNotFound`
//! (`extensions.code` `PERSISTED_QUERY_NOT_FOUND`), after which the client sends
//! hash and query together once and the gateway stores it. Query texts live in the
//! entity cache's backend (shared by replicas with Redis), under the `query` TTL.
//!
//! With trusted documents configured ([`super::trusted`]), callers bound by the
//! manifest run only its operations and cannot register others.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, Request, ServerError, ServerResult};
use sha2::{Digest, Sha256};

use super::trusted::{TrustedDocuments, PERSISTED_QUERY_NOT_IN_LIST, QUERY_NOT_IN_SAFELIST};
use super::RequestScope;
use crate::cache::EntityCache;
use crate::graphql::errors::code;

pub(crate) const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

/// Longest query text the gateway stores.
const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Marks a request that came as `GET`: a stored mutation is not run from it.
pub(crate) struct ViaGet;

#[derive(Clone)]
pub(crate) struct PersistedQueries {
    pub cache: Arc<EntityCache>,
    pub trusted: Option<Arc<TrustedDocuments>>,
}

fn refusal(message: &str, code: &str) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

fn via_get(request: &Request) -> bool {
    request
        .data
        .get(&std::any::TypeId::of::<ViaGet>())
        .is_some()
}

/// Run only what the manifest holds: by id, or as its exact text.
fn trusted_only(trusted: &TrustedDocuments, mut request: Request) -> ServerResult<Request> {
    match request.extensions.remove("persistedQuery") {
        Some(value) => {
            let json = value.into_json().unwrap_or_default();
            let Some(body) = json["sha256Hash"].as_str().and_then(|id| trusted.by_id(id)) else {
                return Err(refusal(
                    "PersistedQueryNotInList",
                    PERSISTED_QUERY_NOT_IN_LIST,
                ));
            };
            if !request.query.is_empty() && *request.query != **body {
                return Err(refusal(
                    "the query is not the trusted document of that id",
                    code::BAD_USER_INPUT,
                ));
            }
            if via_get(&request) && is_mutation(body) {
                return Err(refusal(
                    "mutations must be sent with POST",
                    code::BAD_USER_INPUT,
                ));
            }
            request.query = body.to_string();
        }
        None if trusted.contains(&request.query) => {}
        None => {
            return Err(refusal(
                "only the operations of the trusted documents manifest are accepted",
                QUERY_NOT_IN_SAFELIST,
            ))
        }
    }
    Ok(request)
}

fn is_mutation(query: &str) -> bool {
    async_graphql::parser::parse_query(query).is_ok_and(|doc| {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Mutation)
    })
}

impl PersistedQueries {
    /// The request with the query its `persistedQuery` extension stands for (or
    /// a refusal); with trusted documents, only what the manifest holds.
    pub(crate) async fn resolve(&self, mut request: Request) -> ServerResult<Request> {
        if let Some(trusted) = &self.trusted {
            // A request without a principal cannot be told apart: bound.
            let bound = request
                .data
                .get(&std::any::TypeId::of::<RequestScope>())
                .and_then(|d| d.downcast_ref::<RequestScope>())
                .is_none_or(|scope| trusted.binds(&scope.principal));
            if bound {
                return trusted_only(trusted, request);
            }
        }
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return Ok(request);
        };
        let json = value.into_json().unwrap_or_default();
        let hash = json["sha256Hash"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if json["version"] != 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(refusal(
                "`persistedQuery` must be {version: 1, sha256Hash: <64 hex digits>}",
                code::BAD_USER_INPUT,
            ));
        }
        let key = self.cache.query_key(&hash);
        if request.query.is_empty() {
            let stored = self
                .cache
                .get(std::slice::from_ref(&key))
                .await
                .pop()
                .flatten();
            let Some(text) = stored.and_then(|hit| String::from_utf8(hit.bytes.to_vec()).ok())
            else {
                return Err(refusal("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND));
            };
            if via_get(&request) && is_mutation(&text) {
                return Err(refusal(
                    "mutations must be sent with POST",
                    code::BAD_USER_INPUT,
                ));
            }
            request.query = text;
        } else {
            if hex::encode(Sha256::digest(request.query.as_bytes())) != hash {
                return Err(refusal(
                    "`sha256Hash` is not the SHA-256 of the query",
                    code::BAD_USER_INPUT,
                ));
            }
            if request.query.len() <= MAX_QUERY_BYTES {
                self.cache
                    .put_query(key, request.query.as_bytes().to_vec())
                    .await;
            }
        }
        Ok(request)
    }
}
