//! Automatic persisted queries (Apollo's protocol): a client sends
//! `extensions.persistedQuery.sha256Hash` without the query; the gateway answers
//! from the query text stored under that hash, or with `PersistedQueryNotFound`
//! (`extensions.code` `PERSISTED_QUERY_NOT_FOUND`), after which the client sends
//! hash and query together once and the gateway stores it. Query texts live in the
//! entity cache's backend (shared by replicas with Redis), under the `query` TTL.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{ErrorExtensionValues, Request, ServerError, ServerResult};
use sha2::{Digest, Sha256};

use crate::cache::EntityCache;
use crate::graphql::errors::code;

pub(crate) const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

/// Longest query text the gateway stores.
const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Marks a request that came as `GET`: a stored mutation is not run from it.
pub(crate) struct ViaGet;

pub(crate) struct PersistedQueries(pub Arc<EntityCache>);

impl ExtensionFactory for PersistedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PersistedQueries(self.0.clone()))
    }
}

fn refusal(message: &str, code: &str) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

fn is_mutation(query: &str) -> bool {
    async_graphql::parser::parse_query(query).is_ok_and(|doc| {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Mutation)
    })
}

#[async_trait::async_trait]
impl Extension for PersistedQueries {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return next.run(ctx, request).await;
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
        let key = self.0.query_key(&hash);
        if request.query.is_empty() {
            let stored = self.0.get(std::slice::from_ref(&key)).await.pop().flatten();
            let Some(text) = stored.and_then(|b| String::from_utf8(b).ok()) else {
                return Err(refusal("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND));
            };
            if request
                .data
                .get(&std::any::TypeId::of::<ViaGet>())
                .is_some()
                && is_mutation(&text)
            {
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
                self.0
                    .put_query(key, request.query.as_bytes().to_vec())
                    .await;
            }
        }
        next.run(ctx, request).await
    }
}
