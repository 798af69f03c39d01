//! Escalation (jobs 1, 4, 5, 6): open the Core Case case for a partner's
//! discussion or for failed transactions, once per origin, with what the case
//! worker needs in its description, then link the discussion, evidence and
//! review tasks and tell the partner. A repeat returns the same case and
//! finishes what an interrupted earlier run left undone.

use std::time::Duration;

use super::evidence::link_of;
use super::*;

/// Defaults per kind of escalation: what kind of case, how urgent, which team.
fn defaults(kind: Option<IssueKind>) -> (CaseType, Priority, Team) {
    match kind {
        Some(IssueKind::ShipmentDiscrepancy) => {
            (CaseType::Dispute, Priority::Medium, Team::Operations)
        }
        Some(IssueKind::InvoiceDiscrepancy) => (CaseType::Dispute, Priority::Medium, Team::Finance),
        Some(IssueKind::OrderDiscrepancy) => {
            (CaseType::Dispute, Priority::Medium, Team::CustomerService)
        }
        Some(IssueKind::ComplianceQuestion) => (
            CaseType::ComplianceReview,
            Priority::Medium,
            Team::Compliance,
        ),
        Some(IssueKind::Support) | Some(IssueKind::Other) => (
            CaseType::SupportEscalation,
            Priority::High,
            Team::CustomerService,
        ),
        None => (
            CaseType::TransactionException,
            Priority::High,
            Team::Operations,
        ),
    }
}

/// Compliance reviews route to these teams.
const REVIEW_TASKS: [(Team, &str); 3] = [
    (Team::Legal, "Legal review of the compliance question"),
    (
        Team::Compliance,
        "Assess against policy and decide on the exception",
    ),
    (
        Team::Operations,
        "Confirm operational impact and affected shipments",
    ),
];

fn transcript(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| {
            format!(
                "[{}] {} ({:?}): {}",
                m.created_at.format("%Y-%m-%d %H:%M"),
                m.author_name,
                m.author_role,
                m.body
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tx_summary(txs: &[Transaction]) -> String {
    txs.iter()
        .map(|t| {
            let errors: Vec<String> = t
                .errors
                .iter()
                .map(|e| {
                    format!(
                        "{} {}{}",
                        e.code,
                        e.message,
                        e.segment
                            .as_ref()
                            .map(|s| format!(" @{s}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            format!(
                "{} {:?} {} control {} status {:?}{}{}",
                t.id,
                t.standard,
                t.document_type,
                t.control_number,
                t.status,
                t.po_number
                    .as_ref()
                    .map(|p| format!(" PO {p}"))
                    .unwrap_or_default(),
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(" errors: {}", errors.join("; "))
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An internal note, keyed by its text: the same note twice is one note.
fn note_step(case: &Case, note: &str) -> (String, Step) {
    (
        format!("note-{}", digest(&[note])),
        Step::AddNote {
            case_id: case.id.clone(),
            body: note.to_owned(),
        },
    )
}

/// The escalation steps of a case share one key space, whichever way the case
/// was reached (its issue, or a transaction it covers).
pub(crate) fn escalation_workflow(case: &Case) -> String {
    format!("escalation:{}", case.id)
}

/// Wait out another holder of `key`: `Some(result)` once it finished, `None` when
/// the key became ours.
async fn claim_or_wait(
    store: &dyn crate::store::Store,
    key: &str,
    fingerprint: &str,
) -> Result<Option<String>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match store.idem_begin(key, fingerprint, CLAIM_LEASE).await? {
            Claim::Claimed => return Ok(None),
            Claim::Done(result) => return Ok(Some(result)),
            Claim::Conflict => return Err(WorkflowError::IdempotencyConflict),
            Claim::InProgress => {
                if tokio::time::Instant::now() > deadline {
                    return Err(WorkflowError::Busy);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
}

impl Workflows {
    /// Jobs 1, 4, 5, 6: open the Core Case case for an issue or failed
    /// transactions, once. A repeat returns the same case (and finishes whatever an
    /// interrupted earlier run left undone).
    pub async fn escalate(
        &self,
        actor: &str,
        input: EscalateInput,
        idempotency_key: Option<&str>,
    ) -> Result<Outcome> {
        let origin = match (&input.issue_id, input.transaction_ids.is_empty()) {
            (Some(id), true) => CaseOrigin::Issue(id.clone()),
            (None, false) => {
                if input.transaction_ids.len() > 20 {
                    return Err(bad("at most 20 transactions per escalation"));
                }
                let mut ids = input.transaction_ids.clone();
                ids.sort();
                ids.dedup();
                CaseOrigin::Transactions(ids)
            }
            _ => return Err(bad("give exactly one of `issueId` or `transactionIds`")),
        };
        if input.note.as_ref().is_some_and(|n| n.len() > 4000) {
            return Err(bad("`note` is at most 4000 characters"));
        }
        self.store_ready().await?;
        let natural = match &origin {
            CaseOrigin::Issue(id) => format!("escalate:{id}"),
            CaseOrigin::Transactions(ids) => {
                let ids: Vec<&str> = ids.iter().map(|t| t.as_str()).collect();
                format!("escalate:{}", ids.join("."))
            }
            CaseOrigin::Other => return Err(bad("nothing to escalate")),
        };
        let fingerprint = digest(&[
            &natural,
            &format!("{:?}{:?}{:?}", input.case_type, input.priority, input.team),
            input.note.as_deref().unwrap_or(""),
        ]);

        // The caller's key: the same key with another input is a mistake worth saying;
        // while another call holds it, wait for its answer.
        let Some(key) = idempotency_key else {
            return self.escalate_once(actor, &origin, &natural, &input).await;
        };
        let key = format!("idem:escalate:{key}");
        if let Some(case) = claim_or_wait(self.store.as_ref(), &key, &fingerprint).await? {
            return self.existing(&CaseId::from_upstream(case)).await;
        }
        let outcome = self.escalate_once(actor, &origin, &natural, &input).await;
        match &outcome {
            Ok(o) => {
                self.store
                    .idem_finish(&key, &fingerprint, o.case.id.as_str(), REMEMBER)
                    .await?
            }
            Err(_) => self.store.idem_release(&key).await?,
        }
        outcome
    }

    async fn existing(&self, id: &CaseId) -> Result<Outcome> {
        Ok(Outcome {
            case: self.case(id).await?,
            created: false,
            pending: self.pending(id).await?,
            also: vec![],
        })
    }

    /// An existing case, with the caller's note appended (a note is never dropped:
    /// a resolved case refuses it with the reason).
    async fn existing_noted(
        &self,
        actor: &str,
        id: &CaseId,
        note: Option<&str>,
    ) -> Result<Outcome> {
        let case = self.case(id).await?;
        let pending = self.append_note(actor, &case, note).await?;
        Ok(Outcome {
            case,
            created: false,
            pending,
            also: vec![],
        })
    }

    /// Append `note` to an existing case (once per text); the case's pending steps.
    async fn append_note(
        &self,
        actor: &str,
        case: &Case,
        note: Option<&str>,
    ) -> Result<Vec<PendingStep>> {
        let Some(note) = note.filter(|n| !n.trim().is_empty()) else {
            return self.pending(&case.id).await;
        };
        if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
            return Err(bad(format!(
                "case {} is already resolved; the note was not added",
                case.id
            )));
        }
        self.run(
            case.id.as_str(),
            actor,
            &escalation_workflow(case),
            vec![note_step(case, note)],
        )
        .await?;
        self.pending(&case.id).await
    }

    /// Transactions, held by the caller: a transaction belongs to at most one open
    /// case. Already covered ones answer with their case(s); the rest get a new case.
    async fn escalate_transactions(
        &self,
        actor: &str,
        ids: &[TransactionId],
        input: &EscalateInput,
    ) -> Result<Outcome> {
        let covering: Vec<Case> = self
            .cc
            .cases_by_transactions(ids)
            .await?
            .into_iter()
            .filter(|c| !matches!(c.status, CaseStatus::Resolved | CaseStatus::Closed))
            .collect();
        let rest: Vec<TransactionId> = ids
            .iter()
            .filter(|t| !covering.iter().any(|c| c.transaction_ids.contains(t)))
            .cloned()
            .collect();
        let covers_all = |c: &Case| ids.iter().all(|t| c.transaction_ids.contains(t));
        if rest.is_empty() && !covering.iter().any(covers_all) {
            // Covered piecewise by several cases: the note goes to each.
            let mut outcome = None;
            let mut also = vec![];
            for c in &covering {
                let pending = self.append_note(actor, c, input.note.as_deref()).await?;
                if outcome.is_none() {
                    outcome = Some(Outcome {
                        case: c.clone(),
                        created: false,
                        pending,
                        also: vec![],
                    });
                } else {
                    also.push(c.clone());
                }
            }
            return outcome
                .map(|o| Outcome { also, ..o })
                .ok_or_else(|| bad("nothing to escalate"));
        }
        let todo = if rest.is_empty() { ids.to_vec() } else { rest };
        let origin = CaseOrigin::Transactions(todo.clone());
        let ids_key: Vec<&str> = todo.iter().map(|t| t.as_str()).collect();
        let natural = format!("escalate:{}", ids_key.join("."));
        let mut outcome = self
            .escalate_claimed(actor, &origin, &natural, input)
            .await?;
        outcome.also = covering
            .into_iter()
            .filter(|c| c.id != outcome.case.id)
            .collect();
        Ok(outcome)
    }

    /// One escalation per origin at a time: concurrent callers in this gateway (or
    /// any replica sharing the store) wait for the first; the platform's external
    /// reference (409 on a duplicate) holds even when the store was lost.
    async fn escalate_once(
        &self,
        actor: &str,
        origin: &CaseOrigin,
        natural: &str,
        input: &EscalateInput,
    ) -> Result<Outcome> {
        if let CaseOrigin::Transactions(ids) = origin {
            // Each transaction is held, not the set: overlapping sets wait for each
            // other, and the second sees what the first opened.
            let hold = self
                .hold(ids.iter().map(|t| format!("tx:{t}")).collect())
                .await?;
            let outcome = self.escalate_transactions(actor, ids, input).await;
            hold.release().await;
            return outcome;
        }
        if let Some(case) = claim_or_wait(self.store.as_ref(), natural, "escalate").await? {
            return self
                .existing_noted(actor, &CaseId::from_upstream(case), input.note.as_deref())
                .await;
        }
        let outcome = self.escalate_claimed(actor, origin, natural, input).await;
        match &outcome {
            Ok(o) => {
                self.store
                    .idem_finish(natural, "escalate", o.case.id.as_str(), REMEMBER)
                    .await?
            }
            Err(_) => self.store.idem_release(natural).await?,
        }
        outcome
    }

    /// An open case already tracking this origin (or these transactions).
    async fn open_case_for(
        &self,
        origin: &CaseOrigin,
        issue: Option<&Issue>,
    ) -> Result<Option<CaseId>> {
        if let Some(case) = issue.and_then(|i| i.case_id.clone()) {
            return Ok(Some(case));
        }
        let open = |c: &Case| !matches!(c.status, CaseStatus::Resolved | CaseStatus::Closed);
        if let Some(c) = self
            .cc
            .cases_by_origin(origin)
            .await?
            .into_iter()
            .find(open)
        {
            return Ok(Some(c.id));
        }
        // A failed transaction already covered by an open case (e.g. a dispute about
        // it) gets no second case.
        if let CaseOrigin::Transactions(ids) = origin {
            if let Some(c) = self
                .cc
                .cases_by_transactions(ids)
                .await?
                .into_iter()
                .find(|c| open(c) && ids.iter().all(|t| c.transaction_ids.contains(t)))
            {
                return Ok(Some(c.id));
            }
        }
        Ok(None)
    }

    async fn escalate_claimed(
        &self,
        actor: &str,
        origin: &CaseOrigin,
        natural: &str,
        input: &EscalateInput,
    ) -> Result<Outcome> {
        let issue = match origin {
            CaseOrigin::Issue(id) => Some(
                self.tg
                    .issues(std::slice::from_ref(id))
                    .await?
                    .pop()
                    .ok_or_else(|| bad(format!("no partner issue {id}")))?,
            ),
            _ => None,
        };
        let documents = match &issue {
            Some(i) => self.tg.documents_of(std::slice::from_ref(&i.id)).await?,
            None => vec![],
        };

        // Already escalated (by an earlier run, a case worker, another replica).
        // If this gateway opened it (the case says so, see [`opened_by_gateway`])
        // and it is still open, finish what an interrupted
        // run may have left undone: steps are keyed by case and what they are, so
        // what was done is not done again. Cases opened elsewhere are left alone.
        if let Some(case_id) = self.open_case_for(origin, issue.as_ref()).await? {
            return self
                .continue_escalation(actor, origin, &case_id, issue.as_ref(), &documents, input)
                .await;
        }

        // Read what the case record needs, before writing anything.
        let (partner_id, transaction_ids) = self.escalation_subject(origin, issue.as_ref()).await?;
        let partner = self
            .tg
            .partners(std::slice::from_ref(&partner_id))
            .await?
            .pop()
            .ok_or_else(|| bad(format!("no trading partner {partner_id}")))?;
        let transactions = if transaction_ids.is_empty() {
            vec![]
        } else {
            self.tg.transactions(&transaction_ids).await?
        };
        let messages = match &issue {
            Some(i) => self.tg.messages_of(std::slice::from_ref(&i.id)).await?,
            None => vec![],
        };

        let (mut case_type, mut priority, mut team) = defaults(issue.as_ref().map(|i| i.kind));
        case_type = input.case_type.unwrap_or(case_type);
        priority = input.priority.unwrap_or(priority);
        team = input.team.unwrap_or(team);

        // A transaction exception talks to the partner in a discussion of its own.
        let discussion = match &issue {
            Some(i) => i.id.clone(),
            None => {
                self.exception_discussion(&partner_id, &transaction_ids, &transactions, natural)
                    .await?
            }
        };

        let title = match &issue {
            Some(i) => i.title.clone(),
            None => format!(
                "Transaction exception for {} ({} transaction(s))",
                partner.name,
                transactions.len()
            ),
        };
        let description =
            case_description(&partner, &discussion, &transactions, &messages, &documents);
        let new_case = NewCase {
            case_type,
            priority,
            team,
            title,
            description,
            partner_id: partner_id.clone(),
            origin: origin.clone(),
            transaction_ids: transaction_ids.clone(),
        };
        let (case, created) = match self
            .cc
            .create_case(&new_case, &format!("{natural}/case"))
            .await?
        {
            CaseCreation::Created(c) => (*c, true),
            CaseCreation::Exists(id) => (self.case(&id).await?, false),
        };
        if created {
            self.audit(
                case.id.as_str(),
                actor,
                "case_created",
                vec![
                    format!("core-case:{}", case.id),
                    format!("trading-grid:{discussion}"),
                ],
                Some(format!("escalated {natural}")),
            )
            .await;
        }
        let steps = self.escalation_steps(&case, &discussion, &documents, input.note.as_deref());
        let hold = self.hold(vec![case_hold(&case.id)]).await?;
        let done = async {
            let pending = self
                .run(case.id.as_str(), actor, &escalation_workflow(&case), steps)
                .await?;
            if created {
                // Its later status events are ordered against this first version
                // (they wait for the hold). Recorded once the steps are in the
                // outbox: a case of the gateway's without it is one whose
                // escalation may not have been written down, which the reconciler
                // then checks on the platforms.
                self.store
                    .case_advance(case.id.as_str(), case.version)
                    .await?;
            }
            Ok::<_, WorkflowError>(pending)
        }
        .await;
        hold.release().await;
        let pending = done?;
        Ok(Outcome {
            case,
            created,
            pending,
            also: vec![],
        })
    }

    /// A transaction exception talks to the partner in a discussion of its own,
    /// opened once per escalation (keyed by what is escalated).
    async fn exception_discussion(
        &self,
        partner_id: &PartnerId,
        transaction_ids: &[TransactionId],
        transactions: &[Transaction],
        natural: &str,
    ) -> Result<IssueId> {
        let title = partner_view::exception_discussion_title(transactions);
        let body = partner_view::exception_discussion_body(transactions);
        let opened = self
            .tg
            .open_issue(
                &NewIssue {
                    partner_id: partner_id.clone(),
                    title,
                    kind: IssueKind::Support,
                    tags: vec!["transaction-exception".into()],
                    transaction_ids: transaction_ids.to_vec(),
                    body,
                    author: self.poster.clone(),
                },
                &format!("{natural}/discussion"),
            )
            .await?;
        Ok(opened.id)
    }

    /// The origin is escalated already (by an earlier run, a case worker, another
    /// replica). A case this gateway opened that is still open gets what an
    /// interrupted run may have left undone (steps are keyed by case and what
    /// they do, so nothing is done twice); any other gets the note only.
    async fn continue_escalation(
        &self,
        actor: &str,
        origin: &CaseOrigin,
        case_id: &CaseId,
        issue: Option<&Issue>,
        documents: &[Document],
        input: &EscalateInput,
    ) -> Result<Outcome> {
        let case = self.case(case_id).await?;
        let open = !matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed);
        let ours = opened_by_gateway(&case);
        let discussion = match issue {
            Some(i) => Some(i.id.clone()),
            None => self.discussion_of(&case).await?,
        };
        let pending = match discussion {
            Some(d) if open && ours => {
                let docs = if case.origin == *origin {
                    documents
                } else {
                    &[]
                };
                let steps = self.escalation_steps(&case, &d, docs, input.note.as_deref());
                self.run_held(&case, actor, &escalation_workflow(&case), steps)
                    .await?
            }
            _ => {
                self.append_note(actor, &case, input.note.as_deref())
                    .await?
            }
        };
        Ok(Outcome {
            case,
            created: false,
            pending,
            also: vec![],
        })
    }

    /// Whose case it will be and which transactions it covers, checked before
    /// anything is written: transactions must exist, have failed, and belong to
    /// one partner.
    async fn escalation_subject(
        &self,
        origin: &CaseOrigin,
        issue: Option<&Issue>,
    ) -> Result<(PartnerId, Vec<TransactionId>)> {
        match (origin, issue) {
            (CaseOrigin::Issue(_), Some(i)) => {
                Ok((i.partner_id.clone(), i.transaction_ids.clone()))
            }
            (CaseOrigin::Transactions(ids), _) => {
                let found = self.tg.transactions(ids).await?;
                if found.len() != ids.len() {
                    return Err(bad("some of `transactionIds` do not exist"));
                }
                if let Some(ok) = found
                    .iter()
                    .find(|t| t.status == TransactionStatus::Delivered)
                {
                    return Err(bad(format!(
                    "transaction {} was delivered; exception cases are for failed, rejected or unacknowledged ones",
                    ok.id
                )));
                }
                let partner = found[0].partner_id.clone();
                if found.iter().any(|t| t.partner_id != partner) {
                    return Err(bad("`transactionIds` must all belong to one partner"));
                }
                Ok((partner, ids.clone()))
            }
            _ => Err(bad("nothing to escalate")),
        }
    }

    /// What an escalation does once the case exists, each step keyed by what it is
    /// (not by position), so a repeat finds the same keys even if documents were added.
    pub(crate) fn escalation_steps(
        &self,
        case: &Case,
        discussion: &IssueId,
        documents: &[Document],
        note: Option<&str>,
    ) -> Vec<(String, Step)> {
        let mut steps: Vec<(String, Step)> = documents
            .iter()
            .filter_map(link_of)
            .map(|link| {
                (
                    format!("evidence-{}", link.document_id),
                    Step::LinkEvidence {
                        case_id: case.id.clone(),
                        link,
                    },
                )
            })
            .collect();
        if case.case_type == CaseType::ComplianceReview {
            steps.extend(REVIEW_TASKS.iter().map(|(team, title)| {
                (
                    format!("task-{}", team_name(*team)),
                    Step::CreateTask {
                        case_id: case.id.clone(),
                        title: (*title).into(),
                        team: *team,
                    },
                )
            }));
        }
        if let Some(note) = note.filter(|n| !n.trim().is_empty()) {
            steps.push(note_step(case, note));
        }
        steps.push((
            "link-discussion".into(),
            Step::LinkDiscussion {
                discussion_id: discussion.clone(),
                case_id: case.id.clone(),
            },
        ));
        let mut view = PartnerCaseView::from(case);
        view.milestone = Milestone::Received;
        steps.push((
            "received".into(),
            Step::PostMessage {
                discussion_id: discussion.clone(),
                body: partner_view::received_message(&view),
            },
        ));
        steps.push(self.milestone_step(case, Milestone::Received, None));
        steps
    }
}

/// What the case worker reads first: the partner, the discussion, the
/// transactions, the conversation so far and the documents shared.
fn case_description(
    partner: &Partner,
    discussion: &IssueId,
    transactions: &[Transaction],
    messages: &[Message],
    documents: &[Document],
) -> String {
    format!(
        "Partner: {} ({}, tier {:?}, {}, {})\nCommunity discussion: {}\n\nTransactions:\n{}\n\nConversation:\n{}\n\nDocuments:\n{}",
        partner.name,
        partner.id,
        partner.tier,
        partner.country,
        partner.contact_email,
        discussion,
        if transactions.is_empty() { "(none)".into() } else { tx_summary(transactions) },
        if messages.is_empty() { "(none)".into() } else { transcript(messages) },
        documents
            .iter()
            .map(|d| format!("{} {} sha256 {}", d.id.as_str(), d.name, d.sha256))
            .collect::<Vec<_>>()
            .join("\n")
    )
}
