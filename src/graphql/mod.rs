//! The GraphQL API: schema assembly, per-request context, and the helpers every
//! resolver goes through to load records *and* apply the policy table.

mod connection;
pub mod errors;
mod execute;
mod federation;
mod fetch;
pub(crate) mod limits;
mod loaders;
mod mutation;
mod persisted;
mod query;
pub(crate) mod shared;
mod subscription;
mod trusted;
mod types;

use std::sync::Arc;

use async_graphql::{Context, Schema};

use crate::auth::Principal;
use crate::config::Limits;
use crate::upstream::{CoreCase, TradingGrid};

pub(crate) use execute::Executor;
pub(crate) use loaders::Loaders;
pub use mutation::Mutation;
pub(crate) use persisted::ViaGet;
pub use query::Query;
pub(crate) use subscription::ResumeAfter;
pub use subscription::Subscription;
pub(crate) use trusted::TrustedDocuments;

pub type GatewaySchema = Schema<Query, Mutation, Subscription>;

/// Long-lived services every request shares (schema data).
pub(crate) struct Services {
    pub tg: Arc<dyn TradingGrid>,
    pub cc: Arc<dyn CoreCase>,
    /// Prefix for absolute links (`downloadUrl`); empty = relative links.
    pub public_url: String,
    pub max_page_size: usize,
    pub workflows: Arc<crate::workflows::Workflows>,
    /// Upstream records shared across requests (policy still runs on every read).
    pub cache: Arc<crate::cache::EntityCache>,
    /// With a manifest: the only operations the callers it binds may run.
    pub trusted: Option<Arc<TrustedDocuments>>,
}

/// What one request carries: who asks, and its own loaders.
pub(crate) struct RequestScope {
    pub principal: Principal,
    pub loaders: Loaders,
}

impl RequestScope {
    pub fn new(principal: Principal, services: &Services) -> Self {
        Self {
            principal,
            loaders: Loaders::new(services.tg.clone(), services.cc.clone(), &services.cache),
        }
    }
}

pub(crate) fn services<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Services> {
    ctx.data::<Services>().map_err(|_| errors::internal())
}

pub(crate) fn scope<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a RequestScope> {
    ctx.data::<RequestScope>().map_err(|_| errors::internal())
}

/// The schema without any services: enough to print the SDL.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}

impl From<&Limits> for limits::OperationLimits {
    fn from(l: &Limits) -> Self {
        Self {
            max_tokens: l.max_tokens,
            max_nesting: l.max_nesting,
            max_aliases: l.max_aliases,
            max_root_fields: l.max_root_fields,
            max_depth: l.max_depth,
        }
    }
}

/// The subgraph SDL for Apollo Federation v2 (`@key` on the entities, `@link`),
/// what `_service { sdl }` answers.
pub fn federation_sdl() -> String {
    federated()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().federation())
}

fn federated() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation, Subscription).enable_federation()
}

/// The executable schema. Every bound in `limits` is checked before any resolver
/// runs; `introspection` off also turns off "did you mean" suggestions, which
/// would otherwise leak the schema field by field.
pub(crate) fn build(
    services: Services,
    limits: &Limits,
    introspection: bool,
    metrics: Arc<crate::metrics::Metrics>,
) -> Executor {
    let persisted = persisted::PersistedQueries {
        cache: services.cache.clone(),
        trusted: services.trusted.clone(),
    };
    // No extension: each would put every field through async-graphql's
    // extension chain (see `execute`).
    let builder = federated()
        .data(services)
        .limit_complexity(limits.max_complexity)
        .limit_directives(limits.max_directives);
    let schema = if introspection {
        builder.finish()
    } else {
        builder
            .disable_introspection()
            .disable_suggestions()
            .finish()
    };
    let shared = shared::Hub::new(metrics);
    Executor::new(schema, persisted, limits.into(), introspection, shared)
}
