//! Loading records for resolvers. Every function here returns only what the
//! request's principal may see (see `auth::policy`), so a resolver that goes
//! through them cannot leak another partner's data, however deeply nested.

use async_graphql::Context;

use super::loaders::*;
use super::scope;
use super::types::*;
use crate::auth::policy;
use crate::domain::{
    self, CaseId, DocumentId, DocumentKind, IssueId, PartnerId, TgDocumentId, TransactionId,
};

type Result<T> = async_graphql::Result<T>;

pub(crate) async fn partner(ctx: &Context<'_>, id: &PartnerId) -> Result<Option<TradingPartner>> {
    let s = scope(ctx)?;
    if !policy::can_see_partner(&s.principal, id) {
        return Ok(None);
    }
    let p = s.loaders.tg.load_one(id.clone()).await?;
    Ok(p.map(TradingPartner))
}

pub(crate) async fn issue(ctx: &Context<'_>, id: &IssueId) -> Result<Option<PartnerIssue>> {
    let s = scope(ctx)?;
    let i = s.loaders.tg.load_one(id.clone()).await?;
    Ok(
        i.filter(|i| policy::can_see_partner(&s.principal, &i.partner_id))
            .map(PartnerIssue),
    )
}

pub(crate) fn visible_issues(
    ctx: &Context<'_>,
    issues: Vec<domain::Issue>,
) -> Result<Vec<PartnerIssue>> {
    let s = scope(ctx)?;
    Ok(issues
        .into_iter()
        .filter(|i| policy::can_see_partner(&s.principal, &i.partner_id))
        .map(PartnerIssue)
        .collect())
}

pub(crate) async fn case(ctx: &Context<'_>, id: &CaseId) -> Result<Option<Case>> {
    let s = scope(ctx)?;
    let c = s.loaders.cc.load_one(id.clone()).await?;
    Ok(
        c.filter(|c| policy::can_see_partner(&s.principal, &c.partner_id))
            .map(Case),
    )
}

pub(crate) fn visible_cases(ctx: &Context<'_>, cases: Vec<domain::Case>) -> Result<Vec<Case>> {
    let s = scope(ctx)?;
    Ok(cases
        .into_iter()
        .filter(|c| policy::can_see_partner(&s.principal, &c.partner_id))
        .map(Case)
        .collect())
}

pub(crate) async fn transaction(
    ctx: &Context<'_>,
    id: &TransactionId,
) -> Result<Option<Transaction>> {
    let s = scope(ctx)?;
    let t = s.loaders.tg.load_one(id.clone()).await?;
    Ok(
        t.filter(|t| policy::can_see_partner(&s.principal, &t.partner_id))
            .map(Transaction),
    )
}

/// Several transactions, in the order asked, skipping unknown and invisible ones.
pub(crate) async fn transactions(
    ctx: &Context<'_>,
    ids: &[TransactionId],
) -> Result<Vec<Transaction>> {
    let s = scope(ctx)?;
    let mut found = s.loaders.tg.load_many(ids.iter().cloned()).await?;
    Ok(ids
        .iter()
        .filter_map(|id| found.remove(id))
        .filter(|t| policy::can_see_partner(&s.principal, &t.partner_id))
        .map(Transaction)
        .collect())
}

/// Community documents by id, in the order asked, visible ones only.
pub(crate) async fn tg_documents(ctx: &Context<'_>, ids: &[TgDocumentId]) -> Result<Vec<Document>> {
    let s = scope(ctx)?;
    let mut found = s.loaders.tg.load_many(ids.iter().cloned()).await?;
    Ok(ids
        .iter()
        .filter_map(|id| found.remove(id))
        .filter(|d| policy::can_see_document(&s.principal, d))
        .map(Document)
        .collect())
}

/// A Core Case evidence entry seen as a document: the community document it links
/// to, or the uploaded bytes as a Core Case document of the case's partner.
fn uploaded_document(e: &domain::Evidence, partner: &PartnerId) -> domain::Document {
    domain::Document {
        id: DocumentId::CoreCase(e.id.clone()),
        partner_id: partner.clone(),
        issue_id: None,
        case_id: Some(e.case_id.clone()),
        name: e.name.clone(),
        kind: DocumentKind::Other,
        content_type: e.content_type.clone(),
        size_bytes: e.size_bytes,
        sha256: e.sha256.clone(),
        created_at: e.linked_at,
    }
}

/// The documents behind evidence entries of cases of `partner`, in entry order.
pub(crate) async fn evidence_documents(
    ctx: &Context<'_>,
    entries: &[domain::Evidence],
    partner: &PartnerId,
) -> Result<Vec<Document>> {
    let s = scope(ctx)?;
    let linked: Vec<TgDocumentId> = entries.iter().filter_map(|e| e.source.clone()).collect();
    let mut found = if linked.is_empty() {
        Default::default()
    } else {
        s.loaders.tg.load_many(linked).await?
    };
    let mut seen = std::collections::HashSet::new();
    Ok(entries
        .iter()
        .filter_map(|e| match &e.source {
            Some(id) => found.remove(id),
            None => Some(uploaded_document(e, partner)),
        })
        // One document linked twice shows once.
        .filter(|d| seen.insert(d.id.clone()))
        .filter(|d| policy::can_see_document(&s.principal, d))
        .map(Document)
        .collect())
}

/// Any document by id.
pub(crate) async fn document(ctx: &Context<'_>, id: &DocumentId) -> Result<Option<Document>> {
    match id {
        DocumentId::TradingGrid(id) => Ok(tg_documents(ctx, std::slice::from_ref(id)).await?.pop()),
        DocumentId::CoreCase(id) => {
            let s = scope(ctx)?;
            if !policy::can_see_internal(&s.principal) {
                return Ok(None);
            }
            let Some(entry) = s.loaders.cc.load_one(id.clone()).await? else {
                return Ok(None);
            };
            let Some(case) = s.loaders.cc.load_one(entry.case_id.clone()).await? else {
                return Ok(None);
            };
            Ok(evidence_documents(ctx, &[entry], &case.partner_id)
                .await?
                .pop())
        }
    }
}

/// Documents shared in an issue; also primes the by-id cache so evidence that
/// links those same documents needs no further call.
pub(crate) async fn documents_of_issue(
    ctx: &Context<'_>,
    issue: &IssueId,
) -> Result<Vec<Document>> {
    let s = scope(ctx)?;
    let docs = s
        .loaders
        .tg
        .load_one(DocsOfIssue(issue.clone()))
        .await?
        .unwrap_or_default();
    s.loaders
        .tg
        .feed_many(docs.iter().filter_map(|d| match &d.id {
            DocumentId::TradingGrid(id) => Some((id.clone(), d.clone())),
            DocumentId::CoreCase(_) => None,
        }))
        .await;
    Ok(docs
        .into_iter()
        .filter(|d| policy::can_see_document(&s.principal, d))
        .map(Document)
        .collect())
}
