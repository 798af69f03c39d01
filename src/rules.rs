//! Platform events → workflows: the use cases running by themselves. Events come
//! from webhooks or from polling the events feeds; each event is handled once
//! (by id, across both sources and all replicas sharing the store).

use std::sync::Arc;
use std::time::Duration;

use crate::config::Rules;
use crate::domain::*;
use crate::store::Claim;
use crate::workflows::{EscalateInput, WorkflowError, Workflows};

const ACTOR: &str = "rules";

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Processed,
    /// Seen before: acknowledged, nothing done.
    Duplicate,
    /// Another delivery of the same event is being processed right now.
    InProgress,
}

/// Whether the rules open a case for this discussion (`opened`: it is new).
pub(crate) fn wants_case(r: &Rules, i: &Issue, opened: bool) -> bool {
    let dispute = matches!(
        i.kind,
        IssueKind::ShipmentDiscrepancy
            | IssueKind::InvoiceDiscrepancy
            | IssueKind::OrderDiscrepancy
    ) && r.disputes;
    let review = i.kind == IssueKind::ComplianceQuestion && r.compliance_reviews;
    let tagged = i.tags.iter().any(|t| t == "escalate") && r.escalation_tag;
    (opened && (dispute || review)) || tagged
}

pub struct RuleEngine {
    workflows: Arc<Workflows>,
    rules: Rules,
}

impl RuleEngine {
    pub fn new(workflows: Arc<Workflows>, rules: Rules) -> Self {
        Self { workflows, rules }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Handle one event at most once. A failure releases it, so a redelivery (or
    /// the next poll) tries again instead of losing it.
    pub async fn handle(&self, event: PlatformEvent) -> Result<Handled, WorkflowError> {
        let platform = event.platform;
        let handled = self.handle_once(event).await;
        let result = match &handled {
            Ok(Handled::Processed) => "processed",
            Ok(Handled::Duplicate) => "duplicate",
            Ok(Handled::InProgress) => "in_progress",
            Err(_) => "failed",
        };
        self.workflows.metrics().inc(
            "gridcase_events_total",
            &[("platform", platform.slug()), ("result", result)],
        );
        handled
    }

    async fn handle_once(&self, event: PlatformEvent) -> Result<Handled, WorkflowError> {
        let key = format!("event:{}:{}", event.platform, event.id);
        let store = self.workflows.store();
        match store
            .idem_begin(&key, "event", Duration::from_secs(60))
            .await?
        {
            Claim::Done(_) | Claim::Conflict => return Ok(Handled::Duplicate),
            Claim::InProgress => return Ok(Handled::InProgress),
            Claim::Claimed => {}
        }
        match self.dispatch(&event).await {
            Ok(()) => {
                store
                    .idem_finish(&key, "event", "done", Duration::from_secs(7 * 24 * 3600))
                    .await?;
                Ok(Handled::Processed)
            }
            Err(WorkflowError::BadInput(why)) => {
                // Nothing a retry would change (e.g. the record vanished): done.
                tracing::info!(event = %event.id, %why, "event ignored");
                store
                    .idem_finish(&key, "event", "ignored", Duration::from_secs(7 * 24 * 3600))
                    .await?;
                Ok(Handled::Processed)
            }
            Err(e) => {
                store.idem_release(&key).await?;
                Err(e)
            }
        }
    }

    async fn dispatch(&self, event: &PlatformEvent) -> Result<(), WorkflowError> {
        let r = &self.rules;
        let wf = &self.workflows;
        let escalate_issue = |issue: &Issue| EscalateInput {
            issue_id: Some(issue.id.clone()),
            ..Default::default()
        };
        match &event.kind {
            EventKind::TransactionFailed(t) if r.transaction_exceptions => {
                let input = EscalateInput {
                    transaction_ids: vec![t.id.clone()],
                    ..Default::default()
                };
                wf.escalate(ACTOR, input, None).await.map(|_| ())
            }
            EventKind::IssueOpened(i) | EventKind::IssueUpdated(i) if i.case_id.is_none() => {
                let opened = matches!(event.kind, EventKind::IssueOpened(_));
                if wants_case(r, i, opened) {
                    wf.escalate(ACTOR, escalate_issue(i), None)
                        .await
                        .map(|_| ())
                } else {
                    Ok(())
                }
            }
            EventKind::DocumentShared(d) if r.auto_link_documents => {
                wf.on_document_shared(ACTOR, d).await
            }
            EventKind::CaseStatusChanged { case, from, to } if r.milestones => {
                let cause = event.idempotency_key.as_deref();
                wf.on_status_change(ACTOR, &event.id, cause, case, *from, *to)
                    .await
            }
            EventKind::CaseResolved { case, resolution } if r.resolutions => {
                let cause = event.idempotency_key.as_deref();
                wf.on_resolved(ACTOR, &event.id, cause, case, resolution)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Follow one platform's events feed (for platforms that cannot send
    /// webhooks), until `shutdown`.
    pub async fn poll(
        self: Arc<Self>,
        platform: Platform,
        tg: Arc<dyn crate::upstream::TradingGrid>,
        cc: Arc<dyn crate::upstream::CoreCase>,
        every: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let name = format!("feed:{platform}");
        loop {
            if let Err(e) = self.poll_once(platform, &name, &tg, &cc).await {
                tracing::warn!(error = %e, %platform, "polling the events feed failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn poll_once(
        &self,
        platform: Platform,
        name: &str,
        tg: &Arc<dyn crate::upstream::TradingGrid>,
        cc: &Arc<dyn crate::upstream::CoreCase>,
    ) -> Result<(), WorkflowError> {
        let store = self.workflows.store();
        let cursor = store.cursor_get(name).await?;
        let events = match platform {
            Platform::TradingGrid => tg.events_after(cursor.unwrap_or(0)).await?,
            Platform::CoreCase => cc.events_after(cursor.unwrap_or(0)).await?,
        };
        // Without a cursor (first start, or the store was lost) old history is not
        // replayed: only what the reconciler's look-back covers too.
        let horizon = chrono::Utc::now()
            - chrono::Duration::from_std(self.rules.reconcile_lookback)
                .unwrap_or_else(|_| chrono::Duration::days(1));
        for event in events {
            let sequence = event.sequence;
            if cursor.is_none() && event.occurred_at < horizon {
                store.cursor_set(name, sequence).await?;
                continue;
            }
            match self.handle(event).await? {
                // Another replica has it; come back to it on the next poll.
                Handled::InProgress => return Ok(()),
                Handled::Processed | Handled::Duplicate => {
                    store.cursor_set(name, sequence).await?;
                }
            }
        }
        Ok(())
    }
}
