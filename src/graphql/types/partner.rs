//! `TradingPartner`: a company exchanging documents and transactions with us on Trading Grid.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};

use super::{
    Case, CaseFilterInput, PartnerIssue, PartnerIssueFilter, Transaction, TransactionFilterInput,
};
use crate::domain::{self, PartnerTier};
use crate::graphql::query;

/// A trading partner on Trading Grid.
pub(crate) struct TradingPartner(pub domain::Partner);

/// A trading partner on Trading Grid.
#[Object]
impl TradingPartner {
    /// Trading Grid partner id, e.g. `TP-0001`.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Company name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Commercial tier.
    async fn tier(&self) -> PartnerTier {
        self.0.tier
    }
    /// ISO 3166-1 alpha-2 country code.
    async fn country(&self) -> &str {
        &self.0.country
    }
    /// The Trading Grid community the partner belongs to.
    async fn community_id(&self) -> &str {
        &self.0.community_id
    }
    /// Where to reach the partner's operations contact.
    async fn contact_email(&self) -> &str {
        &self.0.contact_email
    }
    /// When the partner joined Trading Grid.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The partner's issues (community discussions), newest first.
    async fn issues(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<PartnerIssueFilter>,
    ) -> async_graphql::Result<Connection<String, PartnerIssue>> {
        let mut filter = filter.unwrap_or_default();
        filter.partner_id = Some(ID(self.0.id.to_string()));
        query::partner_issues(ctx, first, after, Some(filter)).await
    }
    /// The partner's cases, most recently opened first.
    async fn cases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<CaseFilterInput>,
    ) -> async_graphql::Result<Connection<String, Case>> {
        let mut filter = filter.unwrap_or_default();
        filter.partner_id = Some(ID(self.0.id.to_string()));
        query::cases(ctx, first, after, Some(filter)).await
    }
    /// The partner's B2B transactions, newest first.
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TransactionFilterInput>,
    ) -> async_graphql::Result<Connection<String, Transaction>> {
        let mut filter = filter.unwrap_or_default();
        filter.partner_id = Some(ID(self.0.id.to_string()));
        query::transactions(ctx, first, after, Some(filter)).await
    }
}
