//! `Document`: a community document on Trading Grid, or a document uploaded to a Core Case case.

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};

use super::{Case, PartnerIssue, TradingPartner};
use crate::domain::{self, DocumentId, DocumentKind, Platform};
use crate::graphql::loaders::EvidenceOfDocument;
use crate::graphql::{fetch, scope, services};

/// A business document: invoice, packing list, proof of delivery, certificate…
/// Its bytes are served by the gateway at `downloadUrl`.
pub(crate) struct Document(pub domain::Document);

/// A business document: invoice, packing list, proof of delivery, certificate…
/// Its bytes are served by the gateway at `downloadUrl`.
#[Object]
impl Document {
    /// Document id: `DOC-…` for community documents, `EV-…` for documents uploaded to a case.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.as_str().to_owned())
    }
    /// File name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What kind of business document it is.
    async fn kind(&self) -> DocumentKind {
        self.0.kind
    }
    /// MIME type of the bytes.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size of the bytes.
    async fn size_bytes(&self) -> u64 {
        self.0.size_bytes
    }
    /// Lower-case hex SHA-256 of the bytes; the same bytes have the same hash on both platforms.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// When it was shared or uploaded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The platform holding the bytes.
    async fn source(&self) -> Platform {
        self.0.platform()
    }
    /// Where to download the bytes from the gateway, with the same bearer token.
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let base = &services(ctx)?.public_url;
        Ok(format!("{base}/documents/{}/content", self.0.id.as_str()))
    }
    /// The partner the document belongs to.
    async fn partner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TradingPartner>> {
        fetch::partner(ctx, &self.0.partner_id).await
    }
    /// The issue the document was shared in, if any.
    async fn issue(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PartnerIssue>> {
        match &self.0.issue_id {
            Some(id) => fetch::issue(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Cases holding this document as evidence.
    async fn cases(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Case>>> {
        let s = scope(ctx)?;
        let case_ids = match &self.0.id {
            DocumentId::TradingGrid(id) => {
                let entries = s
                    .loaders
                    .cc
                    .load_one(EvidenceOfDocument(id.clone()))
                    .await?
                    .unwrap_or_default();
                let mut seen = std::collections::HashSet::new();
                entries
                    .into_iter()
                    .map(|e| e.case_id)
                    .filter(|id| seen.insert(id.clone()))
                    .collect::<Vec<_>>()
            }
            DocumentId::CoreCase(_) => self.0.case_id.iter().cloned().collect(),
        };
        let found = s.loaders.cc.load_many(case_ids.iter().cloned()).await?;
        let cases = case_ids
            .iter()
            .filter_map(|id| found.get(id).cloned())
            .collect();
        fetch::visible_cases(ctx, cases).map(Some)
    }
}
