//! Evidence (job 3): link community documents to a case, ask the partner for
//! more through the community, and the rule linking what a partner posts while
//! the case awaits documents.

use super::*;

pub(super) fn link_of(d: &Document) -> Option<EvidenceLink> {
    match &d.id {
        DocumentId::TradingGrid(id) => Some(EvidenceLink {
            document_id: id.to_string(),
            name: d.name.clone(),
            content_type: d.content_type.clone(),
            size_bytes: d.size_bytes,
            sha256: d.sha256.clone(),
        }),
        DocumentId::CoreCase(_) => None,
    }
}

impl Workflows {
    /// Job 3: link community documents to a case (the same bytes once).
    pub async fn link_evidence(
        &self,
        actor: &str,
        case_id: &CaseId,
        documents: &[TgDocumentId],
    ) -> Result<Outcome> {
        if documents.is_empty() || documents.len() > 50 {
            return Err(bad("give 1 to 50 `documentIds`"));
        }
        self.store_ready().await?;
        let case = self.case(case_id).await?;
        let found = self.tg.documents(documents).await?;
        let mut steps = Vec::new();
        for id in documents {
            let doc = found
                .iter()
                .find(|d| matches!(&d.id, DocumentId::TradingGrid(x) if x == id))
                .ok_or_else(|| bad(format!("no document {id}")))?;
            if doc.partner_id != case.partner_id {
                return Err(bad(format!(
                    "document {id} belongs to another partner than case {case_id}"
                )));
            }
            if let Some(link) = link_of(doc) {
                steps.push((
                    id.to_string(),
                    Step::LinkEvidence {
                        case_id: case.id.clone(),
                        link,
                    },
                ));
            }
        }
        // Keyed by case and document: linking a document again is the same write;
        // Core Case itself keeps one entry per content (sha256).
        let pending = self
            .run(
                case.id.as_str(),
                actor,
                &format!("evidence:{}", case.id),
                steps,
            )
            .await?;
        Ok(Outcome {
            case: self.case(case_id).await?,
            created: false,
            pending,
            also: vec![],
        })
    }

    /// Job 3: ask the partner for documents through the community.
    pub async fn request_documents(
        &self,
        actor: &str,
        case_id: &CaseId,
        kinds: &[DocumentKind],
        message: &str,
    ) -> Result<Outcome> {
        if kinds.is_empty() {
            return Err(bad("name at least one document kind"));
        }
        if message.trim().is_empty() || message.len() > 4000 {
            return Err(bad("`message` must have 1 to 4000 characters"));
        }
        self.store_ready().await?;
        let case = self.case(case_id).await?;
        if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
            return Err(bad(format!("case {case_id} is resolved")));
        }
        let discussion = self.discussion_of(&case).await?.ok_or_else(|| {
            bad(format!(
                "case {case_id} has no community discussion to ask in"
            ))
        })?;
        let mut view = PartnerCaseView::from(&case);
        view.milestone = Milestone::AwaitingDocuments;
        let body = partner_view::documents_requested_message(&view, kinds, message);
        // This message is the announcement of AWAITING_DOCUMENTS: the platform's echo
        // of the status change carries this workflow's key, and is not announced again.
        let steps = vec![
            (
                "status".into(),
                Step::SetCaseStatus {
                    case_id: case.id.clone(),
                    status: CaseStatus::WaitingOnPartner,
                },
            ),
            (
                "message".into(),
                Step::PostMessage {
                    discussion_id: discussion.clone(),
                    body,
                },
            ),
            self.milestone_step(
                &case,
                Milestone::AwaitingDocuments,
                Some(message.trim().to_owned()),
            ),
        ];
        let workflow = format!("request-documents:{}:{}", case.id, occurrence());
        let pending = self.run_held(&case, actor, &workflow, steps).await?;
        Ok(Outcome {
            case: self.case(case_id).await?,
            created: false,
            pending,
            also: vec![],
        })
    }

    /// Rule: a partner posted a document in a discussion whose case awaits documents.
    pub async fn on_document_shared(&self, actor: &str, doc: &Document) -> Result<()> {
        let (Some(issue_id), DocumentId::TradingGrid(doc_id)) = (&doc.issue_id, &doc.id) else {
            return Ok(());
        };
        let Some(issue) = self.tg.issues(std::slice::from_ref(issue_id)).await?.pop() else {
            return Ok(());
        };
        let Some(case_id) = issue.case_id else {
            return Ok(());
        };
        let case = self.case(&case_id).await?;
        if case.status != CaseStatus::WaitingOnPartner {
            return Ok(());
        }
        self.link_evidence(actor, &case_id, std::slice::from_ref(doc_id))
            .await
            .map(|_| ())
    }
}
