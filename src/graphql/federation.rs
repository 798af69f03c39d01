//! Apollo Federation v2: gridcase as a subgraph of a company's supergraph.
//! `PartnerIssue`, `Case`, `Document`, `Transaction` and `TradingPartner` are
//! entities keyed by `id` (the `#[graphql(entity)]` resolvers on `Query` call
//! these). `_entities` resolves representations through the same loaders as every
//! other path (so a list of representations is a batch of upstream calls) and the
//! same policy as `node(id:)`: another partner's entity resolves to null for a
//! partner caller.

use async_graphql::{Context, ID};

use super::errors::invalid_id;
use super::fetch;
use super::types::{Case, Document, PartnerIssue, TradingPartner, Transaction};
use crate::domain::{CaseId, DocumentId, InvalidId, IssueId, PartnerId, TransactionId};

type Result<T> = async_graphql::Result<T>;

fn parse<T>(id: &ID, parse: fn(&str) -> std::result::Result<T, InvalidId>) -> Result<T> {
    parse(id.as_str()).map_err(invalid_id)
}

pub(crate) async fn partner_issue(ctx: &Context<'_>, id: &ID) -> Result<Option<PartnerIssue>> {
    fetch::issue(ctx, &parse(id, IssueId::parse)?).await
}

pub(crate) async fn case(ctx: &Context<'_>, id: &ID) -> Result<Option<Case>> {
    fetch::case(ctx, &parse(id, CaseId::parse)?).await
}

pub(crate) async fn document(ctx: &Context<'_>, id: &ID) -> Result<Option<Document>> {
    let asked = parse(id, DocumentId::parse)?;
    // An `EV-` id of linked evidence names the community document it links; an
    // entity answers only for its own id.
    Ok(fetch::document(ctx, &asked)
        .await?
        .filter(|d| d.0.id == asked))
}

pub(crate) async fn transaction(ctx: &Context<'_>, id: &ID) -> Result<Option<Transaction>> {
    fetch::transaction(ctx, &parse(id, TransactionId::parse)?).await
}

pub(crate) async fn trading_partner(ctx: &Context<'_>, id: &ID) -> Result<Option<TradingPartner>> {
    fetch::partner(ctx, &parse(id, PartnerId::parse)?).await
}
