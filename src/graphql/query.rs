//! The root `Query`: entry points into both platforms. Lists are Relay connections
//! over the platforms' own pagination; single lookups go through the loaders.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object, SimpleObject, ID};

use super::connection::PageArgs;
use super::errors::{bad_input, forbidden, invalid_id, FetchError};
use super::types::*;
use super::{fetch, scope, services};
use crate::auth::{policy, Role};
use crate::domain::{
    self, CaseFilter, CaseId, CaseStatus, DocumentId, InvalidId, IssueFilter, IssueId, NodeId,
    PartnerId, Platform, ResolutionFilter, TransactionFilter, TransactionId,
};

type Result<T> = async_graphql::Result<T>;

/// Read access to partner issues, cases, documents, transactions and resolutions
/// across Trading Grid and Core Case.
pub struct Query;

/// The caller, as the gateway sees them.
#[derive(SimpleObject)]
struct Viewer {
    /// Subject of the bearer token.
    subject: String,
    /// What the caller may see and do.
    role: Role,
    /// The partner a partner-role caller is confined to.
    partner_id: Option<ID>,
}

fn parse_id<T>(id: &ID, parse: fn(&str) -> std::result::Result<T, InvalidId>) -> Result<T> {
    parse(id.as_str()).map_err(invalid_id)
}

/// The partner a list may show: a partner caller only ever its own; asking for
/// another partner is refused rather than silently answered with nothing.
pub(crate) fn scope_partner(ctx: &Context<'_>, asked: Option<&ID>) -> Result<Option<PartnerId>> {
    let s = scope(ctx)?;
    let asked = asked.map(|id| parse_id(id, PartnerId::parse)).transpose()?;
    match (s.principal.partner(), asked) {
        (Some(own), Some(asked)) if &asked != own => Err(forbidden(
            "partners can only list their own partner's records",
        )),
        (Some(own), _) => Ok(Some(own.clone())),
        (None, asked) => Ok(asked),
    }
}

/// A connection's cost: what one item costs, times the items `first` asks for
/// (20 by default), so `first: 100` weighs five times the default page.
fn list_cost(first: Option<i32>, child_complexity: usize) -> usize {
    (first.unwrap_or(20).clamp(1, 100) as usize).saturating_mul(child_complexity.max(1))
}

/// A list page's upstream call, counted as in flight so no batch of the request
/// goes out before its items have asked for their keys.
/// Its failure comes back as a [`FetchError`], so `?` gives the coded error.
fn track<'a, T: 'a>(
    ctx: &Context<'a>,
    call: impl std::future::Future<Output = std::result::Result<T, crate::upstream::UpstreamError>> + 'a,
) -> Result<impl std::future::Future<Output = std::result::Result<T, FetchError>> + 'a> {
    let dispatch = scope(ctx)?.loaders.dispatch.clone();
    Ok(async move { dispatch.track(call).await.map_err(FetchError::from) })
}

/// Which partner's cached lists a list page belongs to (evicted together).
fn list_scope(partner: Option<&PartnerId>) -> String {
    partner.map_or_else(|| "all".to_owned(), |p| p.to_string())
}

fn page_args(ctx: &Context<'_>, first: Option<i32>, after: Option<String>) -> Result<PageArgs> {
    PageArgs::parse(first, after, services(ctx)?.max_page_size)
}

pub(crate) async fn partner_issues(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<PartnerIssueFilter>,
) -> Result<Connection<String, PartnerIssue>> {
    let args = page_args(ctx, first, after)?;
    let f = filter.unwrap_or_default();
    let filter = IssueFilter {
        partner_id: scope_partner(ctx, f.partner_id.as_ref())?,
        kinds: f.kinds.unwrap_or_default(),
        statuses: f.statuses.unwrap_or_default(),
        tag: f.tag,
        created_after: f.created_after,
        created_before: f.created_before,
    };
    let svc = services(ctx)?;
    let req = args.request(svc.max_page_size);
    let list = svc.cache.page(
        Platform::TradingGrid,
        "issue-list",
        list_scope(filter.partner_id.as_ref()),
        format!("{filter:?}{req:?}"),
        svc.tg.list_issues(&filter, req.clone()),
    );
    let page = track(ctx, list)?.await?;
    let principal = &scope(ctx)?.principal;
    Ok(args.connection(page, |i| {
        policy::can_see_partner(principal, &i.partner_id).then_some(PartnerIssue(i))
    }))
}

pub(crate) async fn cases(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<CaseFilterInput>,
) -> Result<Connection<String, Case>> {
    let args = page_args(ctx, first, after)?;
    let f = filter.unwrap_or_default();
    let principal = &scope(ctx)?.principal;
    if f.statuses.is_some() && !policy::can_see_internal(principal) {
        return Err(forbidden(
            "filtering by internal status is for the operations team; filter by milestone",
        ));
    }
    // Milestones and statuses both narrow the set of internal statuses asked for.
    let mut statuses: Option<Vec<CaseStatus>> = f.statuses;
    if let Some(milestones) = f.milestones {
        let from_milestones: Vec<CaseStatus> =
            milestones.iter().flat_map(|m| m.statuses()).collect();
        statuses = Some(match statuses {
            Some(s) => s
                .into_iter()
                .filter(|s| from_milestones.contains(s))
                .collect(),
            None => from_milestones,
        });
    }
    if statuses.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Connection::new(false, false));
    }
    let filter = CaseFilter {
        partner_id: scope_partner(ctx, f.partner_id.as_ref())?,
        statuses: statuses.unwrap_or_default(),
        types: f.types.unwrap_or_default(),
        opened_after: f.opened_after,
        opened_before: f.opened_before,
        updated_after: None,
    };
    let svc = services(ctx)?;
    let req = args.request(svc.max_page_size);
    let list = svc.cache.page(
        Platform::CoreCase,
        "case-list",
        list_scope(filter.partner_id.as_ref()),
        format!("{filter:?}{req:?}"),
        svc.cc.list_cases(&filter, req.clone()),
    );
    let page = track(ctx, list)?.await?;
    Ok(args.connection(page, |c| {
        policy::can_see_partner(principal, &c.partner_id).then_some(Case(c))
    }))
}

pub(crate) async fn transactions(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<TransactionFilterInput>,
) -> Result<Connection<String, Transaction>> {
    let args = page_args(ctx, first, after)?;
    let f = filter.unwrap_or_default();
    let filter = TransactionFilter {
        partner_id: scope_partner(ctx, f.partner_id.as_ref())?,
        statuses: f.statuses.unwrap_or_default(),
        document_type: f.document_type,
        created_after: f.created_after,
        created_before: f.created_before,
        updated_after: None,
    };
    let svc = services(ctx)?;
    let req = args.request(svc.max_page_size);
    let list = svc.cache.page(
        Platform::TradingGrid,
        "transaction-list",
        list_scope(filter.partner_id.as_ref()),
        format!("{filter:?}{req:?}"),
        svc.tg.list_transactions(&filter, req.clone()),
    );
    let page = track(ctx, list)?.await?;
    let principal = &scope(ctx)?.principal;
    Ok(args.connection(page, |t| {
        policy::can_see_partner(principal, &t.partner_id).then_some(Transaction(t))
    }))
}

/// Read access to partner issues, cases, documents, transactions and resolutions
/// across Trading Grid and Core Case.
#[Object]
impl Query {
    /// Any object by its global id (`TP-…`, `DSC-…`, `DOC-…`, `EV-…`, `TX-…`, `CASE-…`).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        Ok(match NodeId::parse(id.as_str()).map_err(invalid_id)? {
            NodeId::Partner(id) => fetch::partner(ctx, &id).await?.map(Node::TradingPartner),
            NodeId::Issue(id) => fetch::issue(ctx, &id).await?.map(Node::PartnerIssue),
            // An `EV-` id of linked evidence names the community document it links;
            // a node answers only for its own id.
            NodeId::Document(asked) => fetch::document(ctx, &asked)
                .await?
                .filter(|d| d.0.id == asked)
                .map(Node::Document),
            NodeId::Transaction(id) => fetch::transaction(ctx, &id).await?.map(Node::Transaction),
            NodeId::Case(id) => fetch::case(ctx, &id).await?.map(Node::Case),
        })
    }

    /// Who the gateway thinks the caller is.
    async fn me(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let p = &scope(ctx)?.principal;
        Ok(Viewer {
            subject: p.subject().to_owned(),
            role: p.role(),
            partner_id: p.partner().map(|p| ID(p.to_string())),
        })
    }

    /// One partner issue by id; null when unknown or not visible to the caller.
    async fn partner_issue(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PartnerIssue>> {
        fetch::issue(ctx, &parse_id(&id, IssueId::parse)?).await
    }

    /// Partner issues (community discussions), newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn partner_issues(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        filter: Option<PartnerIssueFilter>,
    ) -> Result<Connection<String, PartnerIssue>> {
        partner_issues(ctx, first, after, filter).await
    }

    /// One case by id; null when unknown or not visible to the caller.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Case>> {
        fetch::case(ctx, &parse_id(&id, CaseId::parse)?).await
    }

    /// Cases, most recently opened first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn cases(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        filter: Option<CaseFilterInput>,
    ) -> Result<Connection<String, Case>> {
        cases(ctx, first, after, filter).await
    }

    /// One transaction by id; null when unknown or not visible to the caller.
    async fn transaction(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Transaction>> {
        fetch::transaction(ctx, &parse_id(&id, TransactionId::parse)?).await
    }

    /// B2B transactions, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        filter: Option<TransactionFilterInput>,
    ) -> Result<Connection<String, Transaction>> {
        transactions(ctx, first, after, filter).await
    }

    /// One document by id (`DOC-…` or `EV-…`); null when unknown or not visible to the caller.
    async fn document(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Document>> {
        fetch::document(ctx, &parse_id(&id, DocumentId::parse)?).await
    }

    /// One trading partner by id; null when unknown or not visible to the caller.
    async fn trading_partner(&self, ctx: &Context<'_>, id: ID) -> Result<Option<TradingPartner>> {
        fetch::partner(ctx, &parse_id(&id, PartnerId::parse)?).await
    }

    /// Trading partners by id. A partner caller sees only itself.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn trading_partners(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
    ) -> Result<Connection<String, TradingPartner>> {
        let args = page_args(ctx, first, after)?;
        let s = scope(ctx)?;
        if let Some(own) = s.principal.partner() {
            let mut conn = Connection::new(false, false);
            if args.at == Default::default() {
                if let Some(p) = fetch::partner(ctx, own).await? {
                    conn.edges.push(async_graphql::connection::Edge::new(
                        super::connection::Position {
                            upstream: None,
                            skip: 1,
                        }
                        .encode(),
                        p,
                    ));
                }
            }
            return Ok(conn);
        }
        let svc = services(ctx)?;
        let req = args.request(svc.max_page_size);
        let list = svc.cache.page(
            Platform::TradingGrid,
            "partner-list",
            "all".to_owned(),
            format!("{req:?}"),
            svc.tg.list_partners(req.clone()),
        );
        let page = track(ctx, list)?.await?;
        Ok(args.connection(page, |p| Some(TradingPartner(p))))
    }

    /// Search resolutions (summary, root cause, corrective actions): every word must match.
    /// Partners find only their own cases' resolutions that were shared with them.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn resolutions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Words to find.")] search: String,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
    ) -> Result<Connection<String, Resolution>> {
        let search = search.trim().to_owned();
        if search.is_empty() || search.len() > 200 {
            return Err(bad_input("`search` must have 1–200 characters"));
        }
        let args = page_args(ctx, first, after)?;
        let s = scope(ctx)?;
        let internal = policy::can_see_internal(&s.principal);
        let svc = services(ctx)?;
        // Partners' searches are confined upstream, so paging and `hasNextPage`
        // count only what they may see; the checks below stay as a second line.
        let filter = ResolutionFilter {
            search,
            partner_id: s.principal.partner().cloned(),
            shared_only: !internal,
        };
        let req = args.request(svc.max_page_size);
        let list = svc.cache.page(
            Platform::CoreCase,
            "resolution-search",
            list_scope(filter.partner_id.as_ref()),
            format!("{filter:?}{req:?}"),
            svc.cc.search_resolutions(&filter, req.clone()),
        );
        let page = track(ctx, list)?.await?;
        // Resolutions do not name their partner; their cases do.
        let visible_cases: std::collections::HashSet<CaseId> = if internal {
            Default::default()
        } else {
            let ids: Vec<CaseId> = page.items.iter().map(|r| r.case_id.clone()).collect();
            s.loaders
                .cc
                .load_many(ids)
                .await?
                .into_values()
                .filter(|c| policy::can_see_partner(&s.principal, &c.partner_id))
                .map(|c| c.id)
                .collect()
        };
        Ok(args.connection(page, |r: domain::Resolution| {
            (internal
                || (visible_cases.contains(&r.case_id)
                    && policy::can_see_resolution(&s.principal, &r)))
            .then_some(Resolution(r))
        }))
    }
    // Apollo Federation entity resolvers (`_entities`); see `graphql::federation`.
    #[graphql(entity)]
    async fn find_partner_issue_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<PartnerIssue>> {
        super::federation::partner_issue(ctx, &id).await
    }
    #[graphql(entity)]
    async fn find_case_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Case>> {
        super::federation::case(ctx, &id).await
    }
    #[graphql(entity)]
    async fn find_document_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Document>> {
        super::federation::document(ctx, &id).await
    }
    #[graphql(entity)]
    async fn find_transaction_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<Transaction>> {
        super::federation::transaction(ctx, &id).await
    }
    #[graphql(entity)]
    async fn find_trading_partner_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<TradingPartner>> {
        super::federation::trading_partner(ctx, &id).await
    }
}
