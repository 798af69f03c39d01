//! Publishing to the partner (jobs 2 and 7): a case's milestone, a recorded
//! resolution, and the rules that announce a case worker's changes on Core Case
//! once per change, in order, and not again when they echo the gateway's own
//! write.

use super::*;

/// Whether a platform event is the echo of a gateway action that announced itself.
fn own_write(cause: Option<&str>) -> bool {
    cause.is_some_and(|k| SELF_ANNOUNCING.iter().any(|p| k.starts_with(p)))
}

/// What tells one status change from another: the case version it produced.
pub(crate) fn change_key(case: &Case, event_id: &str) -> String {
    if case.version > 0 {
        format!("v{}", case.version)
    } else {
        event_id.to_owned()
    }
}

impl Workflows {
    /// Job 2: publish the case's partner-safe milestone to its community and the bus.
    pub async fn publish_status(
        &self,
        actor: &str,
        case_id: &CaseId,
        expected: Option<Milestone>,
        message: Option<&str>,
    ) -> Result<Outcome> {
        if message.is_some_and(|m| m.len() > 4000) {
            return Err(bad("`message` is at most 4000 characters"));
        }
        self.store_ready().await?;
        let case = self.case(case_id).await?;
        let milestone = case.status.milestone();
        if let Some(m) = expected.filter(|m| *m != milestone) {
            return Err(bad(format!(
                "case {case_id} is at {}, not {}",
                milestone_name(milestone),
                milestone_name(m)
            )));
        }
        let pending = self
            .announce(actor, &case, message.map(str::to_owned), &occurrence())
            .await?;
        Ok(Outcome {
            case,
            created: false,
            pending,
            also: vec![],
        })
    }

    /// Post the case's milestone (with an optional note) and publish it on the bus.
    /// `occurrence` tells this announcement from others of the same milestone.
    pub(crate) async fn announce(
        &self,
        actor: &str,
        case: &Case,
        message: Option<String>,
        occurrence: &str,
    ) -> Result<Vec<PendingStep>> {
        let view = PartnerCaseView::from(case);
        let body = partner_view::milestone_message(&view, message.as_deref());
        let workflow = format!("status:{}:{occurrence}", case.id);
        let mut steps = vec![];
        if let Some(d) = self.discussion_of(case).await? {
            steps.push((
                "message".into(),
                Step::PostMessage {
                    discussion_id: d.clone(),
                    body,
                },
            ));
        }
        steps.push(self.milestone_step(case, view.milestone, message));
        self.run(case.id.as_str(), actor, &workflow, steps).await
    }

    /// Job 7: record the resolution, tell the partner, mark the case resolved.
    pub async fn publish_resolution(
        &self,
        actor: &str,
        case_id: &CaseId,
        summary: &str,
        root_cause: &str,
        corrective_actions: &[String],
    ) -> Result<Outcome> {
        for (name, v) in [("summary", summary), ("rootCause", root_cause)] {
            if v.trim().is_empty() || v.len() > 4000 {
                return Err(bad(format!("`{name}` must have 1 to 4000 characters")));
            }
        }
        if corrective_actions.len() > 20
            || corrective_actions
                .iter()
                .any(|a| a.trim().is_empty() || a.len() > 1000)
        {
            return Err(bad(
                "`correctiveActions`: up to 20 non-empty entries of at most 1000 characters",
            ));
        }
        self.store_ready().await?;
        let case = self.case(case_id).await?;
        let resolution = NewResolution {
            summary: summary.trim().to_owned(),
            root_cause: root_cause.trim().to_owned(),
            corrective_actions: corrective_actions
                .iter()
                .map(|a| a.trim().to_owned())
                .collect(),
            shared_with_partner: true,
        };
        let key = format!(
            "resolution:{}:{}",
            case.id,
            digest(&[
                &resolution.summary,
                &resolution.root_cause,
                &resolution.corrective_actions.join("\n")
            ])
        );
        // Recorded first and synchronously: without it there is nothing to publish.
        let recorded = self
            .cc
            .put_resolution(&case.id, &resolution, &format!("{key}/record"))
            .await?;
        self.audit(
            case.id.as_str(),
            actor,
            "resolution_recorded",
            vec![format!("core-case:{}", recorded.id)],
            None,
        )
        .await;
        let case = self.case(case_id).await?;
        let pending = self.share_resolution(actor, &case, &recorded).await?;
        Ok(Outcome {
            case,
            created: false,
            pending,
            also: vec![],
        })
    }

    /// Post a recorded resolution to the partner's community and the bus. Keyed by
    /// the resolution's content, so the mutation and the rule reacting to the
    /// platform's `case.resolved` event post (and publish) it once.
    pub async fn share_resolution(
        &self,
        actor: &str,
        case: &Case,
        r: &Resolution,
    ) -> Result<Vec<PendingStep>> {
        if !r.shared_with_partner {
            return Ok(vec![]);
        }
        let view = PartnerCaseView::from(case);
        let body = partner_view::resolution_message(
            &view,
            &r.summary,
            &r.root_cause,
            &r.corrective_actions,
        );
        let workflow = format!(
            "resolution:{}:{}",
            case.id,
            digest(&[&r.summary, &r.root_cause, &r.corrective_actions.join("\n")])
        );
        let mut steps = vec![];
        if let Some(d) = self.discussion_of(case).await? {
            steps.push((
                "message".into(),
                Step::PostMessage {
                    discussion_id: d.clone(),
                    body,
                },
            ));
            steps.push((
                "discussion-resolved".into(),
                Step::SetDiscussionStatus {
                    discussion_id: d.clone(),
                    status: IssueStatus::Resolved,
                },
            ));
        }
        steps.push(self.milestone_step(case, Milestone::Resolved, Some(r.summary.clone())));
        self.run(case.id.as_str(), actor, &workflow, steps).await
    }

    /// Rule: Core Case reports a status change. Applied only when newer than what
    /// was applied for the case (events arrive out of order), and announced once
    /// per change: the announcement is keyed by the case version the change
    /// produced, whichever way (webhook, feed, reconciler) it arrives. The echo of
    /// this gateway's own action (`cause`, the write's idempotency key) is not
    /// announced again: that action told the partner itself.
    pub async fn on_status_change(
        &self,
        actor: &str,
        event_id: &str,
        cause: Option<&str>,
        case: &Case,
        from: CaseStatus,
        to: CaseStatus,
    ) -> Result<()> {
        let hold = self.hold(vec![case_hold(&case.id)]).await?;
        let done = async {
            if !self.advance(case).await? || own_write(cause) {
                return Ok(());
            }
            if from.milestone() == to.milestone() {
                return Ok(());
            }
            let reopened = matches!(from, CaseStatus::Resolved | CaseStatus::Closed)
                && !matches!(to, CaseStatus::Resolved | CaseStatus::Closed);
            let message = reopened.then(|| partner_view::reopened_note().to_owned());
            self.announce(actor, case, message, &change_key(case, event_id))
                .await
                .map(|_| ())
        }
        .await;
        hold.release().await;
        done
    }

    /// Rule: a case worker resolved the case on Core Case. A shared resolution is
    /// posted with its text (once, by content); an unshared one still tells the
    /// partner the case is resolved (once, by the change).
    pub async fn on_resolved(
        &self,
        actor: &str,
        event_id: &str,
        cause: Option<&str>,
        case: &Case,
        r: &Resolution,
    ) -> Result<()> {
        let hold = self.hold(vec![case_hold(&case.id)]).await?;
        let done = async {
            if !self.advance(case).await? {
                return Ok(());
            }
            if r.shared_with_partner {
                return self.share_resolution(actor, case, r).await.map(|_| ());
            }
            if own_write(cause) {
                return Ok(());
            }
            self.announce(actor, case, None, &change_key(case, event_id))
                .await
                .map(|_| ())
        }
        .await;
        hold.release().await;
        done
    }

    /// Record the case's version as applied; `false` for a late (older) one.
    pub(crate) async fn advance(&self, case: &Case) -> Result<bool> {
        if case.version == 0 {
            // A platform without versions: apply in arrival order.
            return Ok(true);
        }
        let fresh = match self.store.case_applied(case.id.as_str()).await? {
            Some(_) => {
                self.store
                    .case_advance(case.id.as_str(), case.version)
                    .await?
            }
            // Nothing recorded: a case not seen before, or a store that lost its
            // data. The platform says whether this change is still what the
            // partner should see: superseded by a later move to another
            // milestone, it is a stale redelivery.
            None => {
                let current = self.case(&case.id).await?;
                self.store
                    .case_advance(case.id.as_str(), case.version)
                    .await?
                    && !(current.version > case.version
                        && current.status.milestone() != case.status.milestone())
            }
        };
        if !fresh {
            tracing::info!(case = %case.id, version = case.version, "late case event not applied");
            self.metrics.inc("gridcase_case_events_late_total", &[]);
        }
        Ok(fresh)
    }
}
