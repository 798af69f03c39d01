//! The GraphQL API: schema assembly, per-request context, and the helpers every
//! resolver goes through to load records *and* apply the policy table.

mod connection;
pub mod errors;
mod fetch;
mod loaders;
mod mutation;
mod persisted;
mod query;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::{Context, Schema};

use crate::auth::Principal;
use crate::config::Limits;
use crate::upstream::{CoreCase, TradingGrid};

pub(crate) use loaders::Loaders;
pub use mutation::Mutation;
pub(crate) use persisted::ViaGet;
pub use query::Query;
pub use subscription::Subscription;

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

pub(crate) fn build(services: Services, limits: &Limits) -> GatewaySchema {
    let cache = services.cache.clone();
    Schema::build(Query, Mutation, Subscription)
        .data(services)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(loaders::PlannedBatching)
        .extension(persisted::PersistedQueries(cache))
        .finish()
}
