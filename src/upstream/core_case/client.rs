//! The HTTP implementation of [`CoreCase`] against the contract in
//! `openapi/core-case.yaml`.

use async_trait::async_trait;
use reqwest::Method;

use super::{map, wire, CoreCase, MAX_IDS};
use crate::domain::*;
use crate::upstream::http::{any_of, rfc3339, Paging, WirePage};
use crate::upstream::{Content, Result, UpstreamError, UpstreamHttp};

/// Core Case pages hold at most 100 records.
const MAX_PAGE: usize = 100;

pub(crate) struct CoreCaseClient {
    http: UpstreamHttp,
}

impl CoreCaseClient {
    pub fn new(settings: crate::upstream::HttpSettings) -> Self {
        Self {
            http: UpstreamHttp::new(
                settings,
                map::error,
                Paging {
                    limit_param: "page_size",
                    cursor_param: "page_token",
                    max_page: MAX_PAGE,
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
        (self.data, self.next_page_token)
    }
}

#[async_trait]
impl CoreCase for CoreCaseClient {
    #[tracing::instrument(skip_all, fields(platform = "core-case", n = ids.len()))]
    async fn cases(&self, ids: &[CaseId]) -> Result<Vec<Case>> {
        let items: Vec<wire::Case> = self
            .by_ids("list_cases", "/api/v2/cases", "ids", ids)
            .await?;
        Ok(items.into_iter().map(map::case).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case"))]
    async fn list_cases(&self, filter: &CaseFilter, page: PageRequest) -> Result<Page<Case>> {
        let mut q = Vec::new();
        if let Some(p) = &filter.partner_id {
            q.push(("partner_id", p.to_string()));
        }
        if !any_of(&mut q, "status", &filter.statuses, map::status_param) {
            return Ok(Page::empty());
        }
        if !any_of(&mut q, "type", &filter.types, map::type_param) {
            return Ok(Page::empty());
        }
        if let Some(t) = filter.opened_after {
            q.push(("opened_after", rfc3339(t)));
        }
        if let Some(t) = filter.opened_before {
            q.push(("opened_before", rfc3339(t)));
        }
        if let Some(t) = filter.updated_after {
            q.push(("updated_after", rfc3339(t)));
        }
        let page: Page<wire::Case> = self.page("list_cases", "/api/v2/cases", q, page).await?;
        Ok(Page {
            items: page.items.into_iter().map(map::case).collect(),
            next_cursor: page.next_cursor,
        })
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = ids.len()))]
    async fn cases_by_transactions(&self, ids: &[TransactionId]) -> Result<Vec<Case>> {
        let items: Vec<wire::Case> = self
            .by_ids("list_cases", "/api/v2/cases", "transaction_ids", ids)
            .await?;
        Ok(items.into_iter().map(map::case).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = ids.len()))]
    async fn evidence(&self, ids: &[EvidenceId]) -> Result<Vec<Evidence>> {
        let items: Vec<wire::CaseDocument> = self
            .by_ids("list_case_documents", "/api/v2/case-documents", "ids", ids)
            .await?;
        Ok(items.into_iter().map(map::evidence).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = cases.len()))]
    async fn evidence_of(&self, cases: &[CaseId]) -> Result<Vec<Evidence>> {
        let items: Vec<wire::CaseDocument> = self
            .by_ids(
                "list_case_documents",
                "/api/v2/case-documents",
                "case_ids",
                cases,
            )
            .await?;
        Ok(items.into_iter().map(map::evidence).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = documents.len()))]
    async fn evidence_by_source(&self, documents: &[TgDocumentId]) -> Result<Vec<Evidence>> {
        let items: Vec<wire::CaseDocument> = self
            .by_ids(
                "list_case_documents",
                "/api/v2/case-documents",
                "source_document_ids",
                documents,
            )
            .await?;
        Ok(items.into_iter().map(map::evidence).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = cases.len()))]
    async fn tasks_of(&self, cases: &[CaseId]) -> Result<Vec<Task>> {
        let items: Vec<wire::Task> = self
            .by_ids("list_tasks", "/api/v2/tasks", "case_ids", cases)
            .await?;
        Ok(items.into_iter().map(map::task).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = cases.len()))]
    async fn notes_of(&self, cases: &[CaseId]) -> Result<Vec<Note>> {
        let items: Vec<wire::Note> = self
            .by_ids("list_notes", "/api/v2/notes", "case_ids", cases)
            .await?;
        Ok(items.into_iter().map(map::note).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = cases.len()))]
    async fn history_of(&self, cases: &[CaseId]) -> Result<Vec<HistoryEntry>> {
        let items: Vec<wire::HistoryEntry> = self
            .by_ids("list_history", "/api/v2/history", "case_ids", cases)
            .await?;
        Ok(items.into_iter().map(map::history).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", n = cases.len()))]
    async fn resolutions_of(&self, cases: &[CaseId]) -> Result<Vec<Resolution>> {
        let items: Vec<wire::Resolution> = self
            .by_ids("list_resolutions", "/api/v2/resolutions", "case_ids", cases)
            .await?;
        Ok(items.into_iter().map(map::resolution).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case"))]
    async fn search_resolutions(
        &self,
        filter: &ResolutionFilter,
        page: PageRequest,
    ) -> Result<Page<Resolution>> {
        let mut q = vec![("q", filter.search.clone())];
        if let Some(p) = &filter.partner_id {
            q.push(("partner_id", p.to_string()));
        }
        if filter.shared_only {
            q.push(("shared_with_partner", "true".to_owned()));
        }
        let page: Page<wire::Resolution> = self
            .page("list_resolutions", "/api/v2/resolutions", q, page)
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(map::resolution).collect(),
            next_cursor: page.next_cursor,
        })
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", id = %id))]
    async fn evidence_content(&self, id: &EvidenceId) -> Result<Content> {
        self.http
            .get_content(
                "get_case_document_content",
                &format!("/api/v2/case-documents/{id}/content"),
            )
            .await
    }

    async fn cases_by_origin(&self, origin: &CaseOrigin) -> Result<Vec<Case>> {
        let Some(r) = map::external_ref(origin) else {
            return Ok(vec![]);
        };
        let items: Vec<wire::Case> = self
            .all(
                "list_cases",
                "/api/v2/cases",
                vec![
                    ("external_system", r.system),
                    ("external_kind", r.kind),
                    ("external_id", r.id),
                ],
            )
            .await?;
        Ok(items.into_iter().map(map::case).collect())
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", key))]
    async fn create_case(&self, case: &NewCase, key: &str) -> Result<CaseCreation> {
        let created: Result<wire::Case> = self
            .http
            .send_json(
                "create_case",
                Method::POST,
                "/api/v2/cases",
                &map::new_case(case),
                key,
            )
            .await;
        match created {
            Ok(c) => Ok(CaseCreation::Created(Box::new(map::case(c)))),
            // An open case with the same origin exists: the platform names it.
            Err(UpstreamError::Status { status: 409, .. }) => {
                let existing = self.cases_by_origin(&case.origin).await?;
                existing
                    .into_iter()
                    .find(|c| !matches!(c.status, CaseStatus::Resolved | CaseStatus::Closed))
                    .map(|c| CaseCreation::Exists(c.id))
                    .ok_or_else(|| UpstreamError::Decode {
                        platform: crate::domain::Platform::CoreCase,
                        operation: "create_case",
                        detail: "409 without an open case of the same origin".into(),
                    })
            }
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", id = %id, key))]
    async fn set_case_status(&self, id: &CaseId, status: CaseStatus, key: &str) -> Result<Case> {
        let c: wire::Case = self
            .http
            .send_json(
                "update_case",
                Method::PATCH,
                &format!("/api/v2/cases/{id}"),
                &wire::CasePatch {
                    status: map::status_wire(status),
                    ..Default::default()
                },
                key,
            )
            .await?;
        Ok(map::case(c))
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", case = %case, key))]
    async fn create_task(&self, case: &CaseId, title: &str, team: Team, key: &str) -> Result<Task> {
        let t: wire::Task = self
            .http
            .send_json(
                "create_task",
                Method::POST,
                &format!("/api/v2/cases/{case}/tasks"),
                &wire::NewTask {
                    title: title.to_owned(),
                    team: map::team_wire(team),
                    due_at: None,
                },
                key,
            )
            .await?;
        Ok(map::task(t))
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", case = %case, key))]
    async fn add_note(&self, case: &CaseId, body: &str, key: &str) -> Result<Note> {
        let n: wire::Note = self
            .http
            .send_json(
                "create_note",
                Method::POST,
                &format!("/api/v2/cases/{case}/notes"),
                &wire::NewNote {
                    body: body.to_owned(),
                },
                key,
            )
            .await?;
        Ok(map::note(n))
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", case = %case, key))]
    async fn link_evidence(
        &self,
        case: &CaseId,
        link: &EvidenceLink,
        key: &str,
    ) -> Result<Evidence> {
        let d: wire::CaseDocument = self
            .http
            .send_json(
                "create_case_document",
                Method::POST,
                &format!("/api/v2/cases/{case}/documents"),
                &wire::NewCaseDocument {
                    name: link.name.clone(),
                    content_type: link.content_type.clone(),
                    size_bytes: link.size_bytes,
                    sha256: link.sha256.clone(),
                    source: Some(wire::DocumentSource {
                        system: "trading-grid".into(),
                        document_id: link.document_id.clone(),
                    }),
                    content_base64: None,
                },
                key,
            )
            .await?;
        Ok(map::evidence(d))
    }

    #[tracing::instrument(skip_all, fields(platform = "core-case", case = %case, key))]
    async fn put_resolution(
        &self,
        case: &CaseId,
        r: &NewResolution,
        key: &str,
    ) -> Result<Resolution> {
        let r: wire::Resolution = self
            .http
            .send_json(
                "put_resolution",
                Method::PUT,
                &format!("/api/v2/cases/{case}/resolution"),
                &wire::NewResolution {
                    summary: r.summary.clone(),
                    root_cause: r.root_cause.clone(),
                    corrective_actions: r.corrective_actions.clone(),
                    shared_with_partner: r.shared_with_partner,
                },
                key,
            )
            .await?;
        Ok(map::resolution(r))
    }

    async fn events_after(&self, sequence: u64) -> Result<Vec<PlatformEvent>> {
        let page: wire::Page<wire::Event> = self
            .http
            .get_json(
                "list_events",
                "/api/v2/events",
                &[("after", sequence.to_string()), ("page_size", "100".into())],
            )
            .await?;
        // An unreadable event stops the feed there (retried, logged) rather than
        // being skipped.
        page.data
            .into_iter()
            .map(map::event)
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|detail| UpstreamError::Decode {
                platform: crate::domain::Platform::CoreCase,
                operation: "list_events",
                detail,
            })
    }

    async fn check(&self) -> Result<()> {
        let _: wire::Page<wire::Case> = self
            .http
            .get_json("list_cases", "/api/v2/cases", &[("page_size", "1".into())])
            .await?;
        Ok(())
    }
}
