//! The HTTP implementation of [`TradingGrid`] against the contract in
//! `openapi/trading-grid.yaml`.

use async_trait::async_trait;
use reqwest::Method;

use super::{map, wire, TradingGrid, MAX_IDS};
use crate::domain::*;
use crate::upstream::http::{any_of, rfc3339, Paging, WirePage};
use crate::upstream::{Content, Result, UpstreamError, UpstreamHttp};

pub(crate) struct TradingGridClient {
    http: UpstreamHttp,
}

impl TradingGridClient {
    pub fn new(settings: crate::upstream::HttpSettings) -> Self {
        Self {
            http: UpstreamHttp::new(
                settings,
                map::error,
                Paging {
                    limit_param: "limit",
                    cursor_param: "cursor",
                    max_page: MAX_IDS,
                    max_ids: MAX_IDS,
                },
            ),
        }
    }

    async fn all<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<Vec<T>> {
        self.http
            .all::<T, wire::Page<T>>(operation, path, query)
            .await
    }

    async fn by_ids<T: serde::de::DeserializeOwned, I: AsRef<str>>(
        &self,
        operation: &'static str,
        path: &str,
        param: &'static str,
        ids: &[I],
    ) -> Result<Vec<T>> {
        self.http
            .by_ids::<T, wire::Page<T>, I>(operation, path, param, ids)
            .await
    }

    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
        page: PageRequest,
    ) -> Result<Page<T>> {
        self.http
            .page::<T, wire::Page<T>>(operation, path, query, page)
            .await
    }
}

impl<T: serde::de::DeserializeOwned> WirePage<T> for wire::Page<T> {
    fn into_parts(self) -> (Vec<T>, Option<String>) {
        (self.items, self.next_cursor)
    }
}

fn map_page<W, D>(page: Page<W>, f: fn(W) -> D) -> Page<D> {
    Page {
        items: page.items.into_iter().map(f).collect(),
        next_cursor: page.next_cursor,
    }
}

#[async_trait]
impl TradingGrid for TradingGridClient {
    #[tracing::instrument(skip_all, fields(platform = "trading-grid", n = ids.len()))]
    async fn partners(&self, ids: &[PartnerId]) -> Result<Vec<Partner>> {
        let items: Vec<wire::Partner> = self
            .by_ids("list_partners", "/v1/partners", "ids", ids)
            .await?;
        Ok(items.into_iter().map(map::partner).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid"))]
    async fn list_partners(&self, page: PageRequest) -> Result<Page<Partner>> {
        let page = self
            .page("list_partners", "/v1/partners", vec![], page)
            .await?;
        Ok(map_page(page, map::partner))
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", n = ids.len()))]
    async fn issues(&self, ids: &[IssueId]) -> Result<Vec<Issue>> {
        let items: Vec<wire::Discussion> = self
            .by_ids("list_discussions", "/v1/discussions", "ids", ids)
            .await?;
        Ok(items.into_iter().map(map::issue).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid"))]
    async fn list_issues(&self, filter: &IssueFilter, page: PageRequest) -> Result<Page<Issue>> {
        let mut q = Vec::new();
        if let Some(p) = &filter.partner_id {
            q.push(("partner_id", p.to_string()));
        }
        if !any_of(&mut q, "kind", &filter.kinds, map::issue_kind_param) {
            return Ok(Page::empty());
        }
        if !any_of(&mut q, "status", &filter.statuses, map::issue_status_param) {
            return Ok(Page::empty());
        }
        if let Some(tag) = &filter.tag {
            q.push(("tag", tag.clone()));
        }
        if let Some(t) = filter.created_after {
            q.push(("created_after", rfc3339(t)));
        }
        if let Some(t) = filter.created_before {
            q.push(("created_before", rfc3339(t)));
        }
        let page = self
            .page("list_discussions", "/v1/discussions", q, page)
            .await?;
        Ok(map_page(page, map::issue))
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", n = ids.len()))]
    async fn issues_by_transactions(&self, ids: &[TransactionId]) -> Result<Vec<Issue>> {
        let items: Vec<wire::Discussion> = self
            .by_ids(
                "list_discussions",
                "/v1/discussions",
                "transaction_ids",
                ids,
            )
            .await?;
        Ok(items.into_iter().map(map::issue).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", n = issues.len()))]
    async fn messages_of(&self, issues: &[IssueId]) -> Result<Vec<Message>> {
        let items: Vec<wire::Message> = self
            .by_ids("list_messages", "/v1/messages", "discussion_ids", issues)
            .await?;
        Ok(items.into_iter().map(map::message).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", n = ids.len()))]
    async fn documents(&self, ids: &[TgDocumentId]) -> Result<Vec<Document>> {
        let items: Vec<wire::Document> = self
            .by_ids("list_documents", "/v1/documents", "ids", ids)
            .await?;
        Ok(items.into_iter().map(map::document).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", n = issues.len()))]
    async fn documents_of(&self, issues: &[IssueId]) -> Result<Vec<Document>> {
        let items: Vec<wire::Document> = self
            .by_ids("list_documents", "/v1/documents", "discussion_ids", issues)
            .await?;
        Ok(items.into_iter().map(map::document).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", n = ids.len()))]
    async fn transactions(&self, ids: &[TransactionId]) -> Result<Vec<Transaction>> {
        let items: Vec<wire::Transaction> = self
            .by_ids("list_transactions", "/v1/transactions", "ids", ids)
            .await?;
        Ok(items.into_iter().map(map::transaction).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid"))]
    async fn list_transactions(
        &self,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> Result<Page<Transaction>> {
        let mut q = Vec::new();
        if let Some(p) = &filter.partner_id {
            q.push(("partner_id", p.to_string()));
        }
        if !any_of(
            &mut q,
            "status",
            &filter.statuses,
            map::transaction_status_param,
        ) {
            return Ok(Page::empty());
        }
        if let Some(d) = &filter.document_type {
            q.push(("document_type", d.clone()));
        }
        if let Some(t) = filter.created_after {
            q.push(("created_after", rfc3339(t)));
        }
        if let Some(t) = filter.created_before {
            q.push(("created_before", rfc3339(t)));
        }
        if let Some(t) = filter.updated_after {
            q.push(("updated_after", rfc3339(t)));
        }
        let page = self
            .page("list_transactions", "/v1/transactions", q, page)
            .await?;
        Ok(map_page(page, map::transaction))
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", id = %id))]
    async fn document_content(&self, id: &TgDocumentId) -> Result<Content> {
        self.http
            .get_content(
                "get_document_content",
                &format!("/v1/documents/{id}/content"),
            )
            .await
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", case = %case))]
    async fn issues_of_case(&self, case: &CaseId) -> Result<Vec<Issue>> {
        let items: Vec<wire::Discussion> = self
            .all(
                "list_discussions",
                "/v1/discussions",
                vec![("linked_case_ids", case.to_string())],
            )
            .await?;
        Ok(items.into_iter().map(map::issue).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", key))]
    async fn open_issue(&self, issue: &NewIssue, key: &str) -> Result<Issue> {
        let d: wire::Discussion = self
            .http
            .send_json(
                "create_discussion",
                Method::POST,
                "/v1/discussions",
                &map::new_discussion(issue),
                key,
            )
            .await?;
        Ok(map::issue(d))
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", id = %id, key))]
    async fn update_issue(&self, id: &IssueId, patch: &IssuePatch, key: &str) -> Result<Issue> {
        let d: wire::Discussion = self
            .http
            .send_json(
                "update_discussion",
                Method::PATCH,
                &format!("/v1/discussions/{id}"),
                &map::discussion_patch(patch),
                key,
            )
            .await?;
        Ok(map::issue(d))
    }

    #[tracing::instrument(skip_all, fields(platform = "trading-grid", issue = %issue, key))]
    async fn post_message(
        &self,
        issue: &IssueId,
        body: &str,
        author: &Poster,
        key: &str,
    ) -> Result<Message> {
        let m: wire::Message = self
            .http
            .send_json(
                "create_message",
                Method::POST,
                &format!("/v1/discussions/{issue}/messages"),
                &wire::NewMessage {
                    author: map::author(author),
                    body: body.to_owned(),
                    document_ids: vec![],
                },
                key,
            )
            .await?;
        Ok(map::message(m))
    }

    async fn events_after(&self, sequence: u64) -> Result<Vec<PlatformEvent>> {
        let page: wire::Page<wire::Event> = self
            .http
            .get_json(
                "list_events",
                "/v1/events",
                &[("after", sequence.to_string()), ("limit", "100".into())],
            )
            .await?;
        // An unreadable event stops the feed there (retried, logged) rather than
        // being skipped.
        page.items
            .into_iter()
            .map(map::event)
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|detail| UpstreamError::Decode {
                platform: crate::domain::Platform::TradingGrid,
                operation: "list_events",
                detail,
            })
    }

    async fn check(&self) -> Result<()> {
        let _: wire::Page<wire::Partner> = self
            .http
            .get_json("list_partners", "/v1/partners", &[("limit", "1".into())])
            .await?;
        Ok(())
    }
}
