//! GraphQL object types. Each wraps a domain record; relations load through
//! `graphql::fetch`, which applies the policy table.

mod case;
mod document;
mod issue;
mod partner;
mod transaction;

pub(crate) use case::{Case, CaseFilterInput, Resolution};
pub(crate) use document::Document;
pub(crate) use issue::{PartnerIssue, PartnerIssueFilter};
pub(crate) use partner::TradingPartner;
pub(crate) use transaction::{Transaction, TransactionFilterInput};

use async_graphql::{Context, Guard, Interface, ID};

use super::errors::forbidden;
use super::scope;
use crate::auth::policy;

/// Anything with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Globally unique id; its prefix names the kind."
))]
pub(crate) enum Node {
    TradingPartner(TradingPartner),
    PartnerIssue(PartnerIssue),
    Document(Document),
    Transaction(Transaction),
    Case(Case),
}

/// Guards internal fields: staff only; partners get `FORBIDDEN`.
pub(crate) struct InternalOnly;

impl Guard for InternalOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let s = scope(ctx)?;
        if policy::can_see_internal(&s.principal) {
            Ok(())
        } else {
            Err(forbidden("this field is internal to the operations team"))
        }
    }
}
