//! The reconciler: converge, don't only retry. A lost webhook, a lost outbox
//! entry or a wiped Redis leaves the two platforms disagreeing; this background
//! task walks recent state on both (over their REST APIs) and repairs what
//! disagrees, idempotently — every repair is a workflow step keyed by what it
//! is, so repairing twice writes once.
//!
//! What it repairs, for records changed within the look-back window:
//! - a discussion the rules would escalate that has no case: the case is opened;
//! - a failed or rejected transaction without an open case: the exception case;
//! - a case opened for a discussion but not linked back, or whose partner was
//!   never told it was received: the escalation's remaining steps;
//! - a case whose latest milestone change the partner was never told: announced;
//! - a document the partner posted while the case awaits documents, not linked:
//!   linked as evidence.
//!
//! Whether the partner was told is read from the platform (a message of the
//! gateway in the discussion after the change), not from the store, so it holds
//! after the store was lost. What the store holds (applied versions, the outbox)
//! only spares the platforms a look; the case's activity is written here for
//! people to read, never read to decide. One replica sweeps at a time (a store lease); each
//! case is repaired under the same hold its announcements take. Repairs are
//! recorded in the case's activity and counted in `/metrics`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::escalate::escalation_workflow;
use super::{case_hold, opened_by_gateway};
use super::{occurrence, EscalateInput, Result, Workflows};
use crate::config::Rules;
use crate::domain::*;

const ACTOR: &str = "reconciler";
/// The store lease one replica sweeps under.
const LEASE: &str = "reconciler";
/// Records of one kind looked at per sweep, at most.
const MAX_ITEMS: usize = 500;
const PAGE: usize = 100;

pub struct Reconciler {
    wf: Arc<Workflows>,
    rules: Rules,
    holder: String,
}

impl Reconciler {
    pub fn new(wf: Arc<Workflows>, rules: Rules) -> Self {
        Self {
            wf,
            rules,
            holder: format!("replica-{}", occurrence()),
        }
    }

    /// Sweep at start and then every `every`, while this replica holds the
    /// reconciler lease, until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        every: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        // Held across the pause between sweeps, so one replica keeps the job; a
        // dead holder's lease runs out and another replica takes over.
        let lease = every * 2 + Duration::from_secs(10);
        let name = [LEASE.to_owned()];
        loop {
            match self.wf.store.lease_all(&name, &self.holder, lease).await {
                Ok(held) if held.is_empty() => {
                    let result = match self.sweep().await {
                        Ok(_) => "done",
                        Err(e) => {
                            tracing::warn!(error = %e, "reconciliation sweep failed");
                            "failed"
                        }
                    };
                    self.wf
                        .metrics
                        .inc("gridcase_reconcile_sweeps_total", &[("result", result)]);
                }
                Ok(_) => {} // another replica reconciles
                Err(e) => tracing::warn!(error = %e, "could not take the reconciler lease"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {
                    let _ = self.wf.store.lease_release(&name, &self.holder).await;
                    return;
                }
            }
        }
    }

    /// One pass over both platforms. Returns how many repairs it made. A record
    /// that cannot be repaired now is logged and left for the next sweep.
    pub async fn sweep(&self) -> Result<usize> {
        let lookback = chrono::Duration::from_std(self.rules.reconcile_lookback)
            .unwrap_or_else(|_| chrono::Duration::days(1));
        let since = Utc::now() - lookback;
        let mut repairs = self.discussions(since).await?;
        repairs += self.transactions(since).await?;
        repairs += self.cases(since).await?;
        Ok(repairs)
    }

    fn repaired(&self, what: &'static str) {
        self.wf
            .metrics
            .inc("gridcase_reconcile_repairs_total", &[("repair", what)]);
    }

    /// Discussions the rules would escalate that have no case.
    async fn discussions(&self, since: DateTime<Utc>) -> Result<usize> {
        let filter = IssueFilter {
            created_after: Some(since),
            ..Default::default()
        };
        let mut issues = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .wf
                .tg
                .list_issues(
                    &filter,
                    PageRequest {
                        limit: PAGE,
                        cursor,
                    },
                )
                .await?;
            issues.extend(page.items);
            cursor = page.next_cursor;
            if cursor.is_none() || issues.len() >= MAX_ITEMS {
                break;
            }
        }
        let mut n = 0;
        for i in issues.into_iter().filter(|i| {
            i.case_id.is_none()
                && i.status == IssueStatus::Open
                && crate::rules::wants_case(&self.rules, i, true)
        }) {
            let input = EscalateInput {
                issue_id: Some(i.id.clone()),
                ..Default::default()
            };
            match self.wf.escalate(ACTOR, input, None).await {
                Ok(o) if o.created => {
                    self.wf
                        .audit(
                            o.case.id.as_str(),
                            ACTOR,
                            "reconciled",
                            vec![format!("trading-grid:{}", i.id)],
                            Some(format!(
                                "opened for discussion {} (its event was missed)",
                                i.id
                            )),
                        )
                        .await;
                    self.repaired("case_opened");
                    n += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, issue = %i.id, "reconciler could not escalate")
                }
            }
        }
        Ok(n)
    }

    /// Failed or rejected transactions without an open case.
    async fn transactions(&self, since: DateTime<Utc>) -> Result<usize> {
        if !self.rules.transaction_exceptions {
            return Ok(0);
        }
        let filter = TransactionFilter {
            statuses: vec![TransactionStatus::Failed, TransactionStatus::Rejected],
            updated_after: Some(since),
            ..Default::default()
        };
        let mut txs = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .wf
                .tg
                .list_transactions(
                    &filter,
                    PageRequest {
                        limit: PAGE,
                        cursor,
                    },
                )
                .await?;
            txs.extend(page.items);
            cursor = page.next_cursor;
            if cursor.is_none() || txs.len() >= MAX_ITEMS {
                break;
            }
        }
        let mut covered: HashSet<TransactionId> = HashSet::new();
        for chunk in txs.chunks(crate::upstream::core_case::MAX_IDS) {
            let ids: Vec<TransactionId> = chunk.iter().map(|t| t.id.clone()).collect();
            for c in self.wf.cc.cases_by_transactions(&ids).await? {
                if !matches!(c.status, CaseStatus::Resolved | CaseStatus::Closed) {
                    covered.extend(c.transaction_ids);
                }
            }
        }
        let mut n = 0;
        for t in txs.iter().filter(|t| !covered.contains(&t.id)) {
            let input = EscalateInput {
                transaction_ids: vec![t.id.clone()],
                ..Default::default()
            };
            match self.wf.escalate(ACTOR, input, None).await {
                Ok(o) if o.created => {
                    self.wf
                        .audit(
                            o.case.id.as_str(),
                            ACTOR,
                            "reconciled",
                            vec![format!("trading-grid:{}", t.id)],
                            Some(format!("exception case for failed transaction {}", t.id)),
                        )
                        .await;
                    self.repaired("exception_case_opened");
                    n += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, transaction = %t.id, "reconciler could not escalate")
                }
            }
        }
        Ok(n)
    }

    /// Cases changed recently: escalation steps, milestones, awaited documents.
    async fn cases(&self, since: DateTime<Utc>) -> Result<usize> {
        let filter = CaseFilter {
            updated_after: Some(since),
            ..Default::default()
        };
        let mut cases = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .wf
                .cc
                .list_cases(
                    &filter,
                    PageRequest {
                        limit: PAGE,
                        cursor,
                    },
                )
                .await?;
            cases.extend(page.items);
            cursor = page.next_cursor;
            if cursor.is_none() || cases.len() >= MAX_ITEMS {
                break;
            }
        }
        let mut history: HashMap<CaseId, Vec<HistoryEntry>> = HashMap::new();
        for chunk in cases.chunks(crate::upstream::core_case::MAX_IDS) {
            let ids: Vec<CaseId> = chunk.iter().map(|c| c.id.clone()).collect();
            for h in self.wf.cc.history_of(&ids).await? {
                history.entry(h.case_id.clone()).or_default().push(h);
            }
        }
        let mut n = 0;
        for case in &cases {
            let h = history.remove(&case.id).unwrap_or_default();
            match self.case(case, &h, since).await {
                Ok(k) => n += k,
                Err(e) => {
                    tracing::warn!(error = %e, case = %case.id, "reconciler could not repair a case")
                }
            }
        }
        Ok(n)
    }

    /// The store shows the case's escalation written down and through: the
    /// gateway recorded the case (`applied`, its version, is written once the
    /// escalation's steps are in the outbox) and none of those steps is left in
    /// the outbox, pending or given up. Without that record (another system's
    /// case, or a wiped store) the platforms are asked instead.
    async fn escalation_settled(&self, case: &Case, applied: Option<u64>) -> Result<bool> {
        if applied.is_none() {
            return Ok(false);
        }
        let workflow = escalation_workflow(case);
        Ok(!self
            .wf
            .store
            .outbox_pending(case.id.as_str())
            .await?
            .iter()
            .any(|e| e.workflow == workflow))
    }

    /// One case, under its hold (no announcement of it runs meanwhile).
    async fn case(
        &self,
        case: &Case,
        history: &[HistoryEntry],
        since: DateTime<Utc>,
    ) -> Result<usize> {
        let applied = self.wf.store.case_applied(case.id.as_str()).await?;
        let fresh = applied.is_none_or(|v| v < case.version);
        let ours = opened_by_gateway(case);
        let open = !matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed);
        let awaiting = case.status == CaseStatus::WaitingOnPartner;
        // An escalation the store shows settled needs no look upstream; one it
        // knows nothing of (another system's case, or a wiped store) does.
        let recent_escalation = ours
            && open
            && case.opened_at >= since
            && !self.escalation_settled(case, applied).await?;
        if !fresh && !recent_escalation && !awaiting {
            return Ok(0);
        }
        let Some(discussion) = self.wf.discussion_of(case).await? else {
            return Ok(0);
        };
        let hold = self.wf.hold(vec![case_hold(&case.id)]).await?;
        let done = self
            .case_held(
                case,
                &discussion,
                history,
                since,
                fresh,
                recent_escalation,
                awaiting,
            )
            .await;
        hold.release().await;
        done
    }

    #[allow(clippy::too_many_arguments)]
    async fn case_held(
        &self,
        case: &Case,
        discussion: &IssueId,
        history: &[HistoryEntry],
        since: DateTime<Utc>,
        fresh: bool,
        recent_escalation: bool,
        awaiting: bool,
    ) -> Result<usize> {
        let wf = &self.wf;
        let issue = wf.tg.issues(std::slice::from_ref(discussion)).await?.pop();
        let Some(issue) = issue else {
            return Ok(0);
        };
        // What the gateway told the partner, by when: its own messages.
        let told: Vec<DateTime<Utc>> = wf
            .tg
            .messages_of(std::slice::from_ref(discussion))
            .await?
            .into_iter()
            .filter(|m| m.author_role == AuthorRole::Operator && m.author_name == wf.poster.name)
            .map(|m| m.created_at)
            .collect();
        let told_since = |at: DateTime<Utc>| told.iter().any(|t| *t >= at);
        let mut n = 0;

        // An escalation cut off before the discussion was linked or the partner told.
        if recent_escalation
            && (issue.case_id.as_ref() != Some(&case.id) || !told_since(case.opened_at))
        {
            let steps = wf.escalation_steps(case, discussion, &[], None);
            wf.run(case.id.as_str(), ACTOR, &escalation_workflow(case), steps)
                .await?;
            wf.audit(
                case.id.as_str(),
                ACTOR,
                "reconciled",
                vec![format!("trading-grid:{discussion}")],
                Some(
                    "completed an interrupted escalation (link, received message, milestone)"
                        .into(),
                ),
            )
            .await;
            self.repaired("escalation_completed");
            n += 1;
        }

        // The latest milestone change, unless the partner has heard since.
        let changes = |status: Option<CaseStatus>| {
            history
                .iter()
                .filter(|h| match (h.from_status, h.to_status) {
                    (Some(f), Some(t)) => {
                        f.milestone() != t.milestone() && status.is_none_or(|s| s == t)
                    }
                    _ => false,
                })
                .max_by_key(|h| h.at)
        };
        let resolved = matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed);
        let announced = if resolved {
            self.rules.resolutions
        } else {
            self.rules.milestones
        };
        if fresh && announced {
            let applied = wf.store.case_applied(case.id.as_str()).await?;
            if applied.is_none_or(|v| v < case.version) {
                if let Some(change) = changes(None).filter(|h| {
                    h.at >= since
                        && h.to_status.map(|t| t.milestone()) == Some(case.status.milestone())
                        && !told_since(h.at)
                }) {
                    self.announce(case, change).await?;
                    n += 1;
                }
                wf.store
                    .case_advance(case.id.as_str(), case.version)
                    .await?;
            }
        }

        // Documents the partner posted since the case started awaiting them.
        if awaiting && self.rules.auto_link_documents {
            if let Some(asked) = changes(Some(CaseStatus::WaitingOnPartner)) {
                let linked: HashSet<TgDocumentId> = wf
                    .cc
                    .evidence_of(std::slice::from_ref(&case.id))
                    .await?
                    .into_iter()
                    .filter_map(|e| e.source)
                    .collect();
                let missing: Vec<TgDocumentId> = wf
                    .tg
                    .documents_of(std::slice::from_ref(discussion))
                    .await?
                    .into_iter()
                    .filter(|d| d.created_at >= asked.at && d.partner_id == case.partner_id)
                    .filter_map(|d| match d.id {
                        DocumentId::TradingGrid(id) if !linked.contains(&id) => Some(id),
                        _ => None,
                    })
                    .collect();
                if !missing.is_empty() {
                    wf.link_evidence(ACTOR, &case.id, &missing).await?;
                    wf.audit(
                        case.id.as_str(),
                        ACTOR,
                        "reconciled",
                        missing
                            .iter()
                            .map(|d| format!("trading-grid:{d}"))
                            .collect(),
                        Some(
                            "linked documents the partner posted while the case awaited them"
                                .into(),
                        ),
                    )
                    .await;
                    self.repaired("evidence_linked");
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Tell the partner the case's milestone: a shared resolution with its text,
    /// anything else as the milestone.
    async fn announce(&self, case: &Case, change: &HistoryEntry) -> Result<()> {
        let wf = &self.wf;
        let resolution = if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
            wf.cc
                .resolutions_of(std::slice::from_ref(&case.id))
                .await?
                .pop()
                .filter(|r| r.shared_with_partner)
        } else {
            None
        };
        match resolution {
            Some(r) => {
                wf.share_resolution(ACTOR, case, &r).await?;
            }
            None => {
                wf.announce(ACTOR, case, None, &format!("v{}", case.version))
                    .await?;
            }
        }
        wf.audit(
            case.id.as_str(),
            ACTOR,
            "reconciled",
            vec![format!("core-case:{}", change.id)],
            Some(format!(
                "announced milestone {} (its change was not announced)",
                super::steps::milestone_name(case.status.milestone())
            )),
        )
        .await;
        self.repaired("milestone_announced");
        Ok(())
    }
}
