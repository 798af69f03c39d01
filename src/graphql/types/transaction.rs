//! `Transaction`: one EDI/B2B interchange with a partner on Trading Grid.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{Case, PartnerIssue, TradingPartner};
use crate::domain::{self, Direction, EdiStandard, TransactionStatus};
use crate::graphql::loaders::{CasesOfTransaction, IssuesOfTransaction};
use crate::graphql::{fetch, scope};

/// A B2B transaction (an X12 or EDIFACT interchange) exchanged with a partner.
pub(crate) struct Transaction(pub domain::Transaction);

/// A B2B transaction (an X12 or EDIFACT interchange) exchanged with a partner.
#[Object]
impl Transaction {
    /// Trading Grid transaction id, e.g. `TX-0000001`.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// EDI standard.
    async fn standard(&self) -> EdiStandard {
        self.0.standard
    }
    /// Document type: `850`, `810`, `856`, `997` (X12) or `ORDERS`, `INVOIC`, `DESADV`, `CONTRL` (EDIFACT).
    async fn document_type(&self) -> &str {
        &self.0.document_type
    }
    /// Which way it travelled.
    async fn direction(&self) -> Direction {
        self.0.direction
    }
    /// Interchange control number.
    async fn control_number(&self) -> &str {
        &self.0.control_number
    }
    /// Delivery status.
    async fn status(&self) -> TransactionStatus {
        self.0.status
    }
    /// What went wrong, for failed and rejected transactions.
    async fn errors(&self) -> Vec<TransactionErrorDetail> {
        self.0
            .errors
            .iter()
            .map(|e| TransactionErrorDetail {
                code: e.code.clone(),
                message: e.message.clone(),
                segment: e.segment.clone(),
            })
            .collect()
    }
    /// Purchase order number it refers to.
    async fn po_number(&self) -> Option<&str> {
        self.0.po_number.as_deref()
    }
    /// Invoice number it refers to.
    async fn invoice_number(&self) -> Option<&str> {
        self.0.invoice_number.as_deref()
    }
    /// Shipment it refers to.
    async fn shipment_id(&self) -> Option<&str> {
        self.0.shipment_id.as_deref()
    }
    /// When it was sent or received.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last status change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When the functional acknowledgement arrived, if it did.
    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.0.acknowledged_at
    }
    /// The partner on the other end.
    async fn partner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TradingPartner>> {
        fetch::partner(ctx, &self.0.partner_id).await
    }
    /// Issues (community discussions) that reference this transaction.
    async fn issues(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<PartnerIssue>>> {
        let s = scope(ctx)?;
        let issues = s
            .loaders
            .tg
            .load_one(IssuesOfTransaction(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        fetch::visible_issues(ctx, issues).map(Some)
    }
    /// Cases covering this transaction.
    async fn cases(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Case>>> {
        let s = scope(ctx)?;
        let cases = s
            .loaders
            .cc
            .load_one(CasesOfTransaction(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        fetch::visible_cases(ctx, cases).map(Some)
    }
}

/// One error the platform or the partner reported on a transaction.
#[derive(SimpleObject)]
pub(crate) struct TransactionErrorDetail {
    /// Error code, e.g. `X12-810-BIG02`.
    code: String,
    /// What is wrong.
    message: String,
    /// The EDI segment the error points at, e.g. `BIG*02`.
    segment: Option<String>,
}

/// Filters on transactions; all given conditions must hold.
#[derive(InputObject, Default)]
#[graphql(name = "TransactionFilter")]
pub(crate) struct TransactionFilterInput {
    /// Only this partner's transactions. Partners are always limited to their own.
    pub partner_id: Option<ID>,
    /// Any of these statuses.
    pub statuses: Option<Vec<TransactionStatus>>,
    /// This document type, e.g. `810`.
    pub document_type: Option<String>,
    /// Created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this time.
    pub created_before: Option<DateTime<Utc>>,
}
