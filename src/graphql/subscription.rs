//! `caseMilestones`: partner-safe milestones streamed as workflows publish them,
//! over `/graphql/ws`. Every event is checked against the policy table before it
//! is sent, so a partner's stream only ever carries its own cases.

use async_graphql::{Context, Result, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::errors::{bad_input, invalid_id};
use super::query::scope_partner;
use super::{scope, services};
use crate::auth::policy;
use crate::domain::{CaseId, Milestone};
use crate::events::MilestoneEvent;

/// Live updates.
pub struct Subscription;

/// A cursor the transport asks to resume after (SSE `Last-Event-ID`); it wins
/// over the `after` argument, which names where the stream first began.
pub(crate) struct ResumeAfter(pub String);

/// A case reached a milestone (partner-safe: nothing internal is in here).
#[derive(SimpleObject)]
struct CaseMilestoneEvent {
    /// Position in the stream; pass as `after` to resume after this event.
    cursor: String,
    /// The case.
    case_id: ID,
    /// Its human-facing number.
    case_number: String,
    /// The partner the case is about.
    partner_id: ID,
    /// Where the case now stands.
    milestone: Milestone,
    /// What the operations team wrote for the partner, if anything.
    message: Option<String>,
    /// When it was published.
    at: DateTime<Utc>,
}

impl From<MilestoneEvent> for CaseMilestoneEvent {
    fn from(e: MilestoneEvent) -> Self {
        Self {
            cursor: e.cursor,
            case_id: ID(e.case_id.to_string()),
            case_number: e.case_number,
            partner_id: ID(e.partner_id.to_string()),
            milestone: e.milestone,
            message: e.message,
            at: e.at,
        }
    }
}

#[Subscription]
impl Subscription {
    /// Milestones of cases as they are published: all cases, one partner's, or one
    /// case. Partners receive only their own partner's. With `after` (a `cursor` you
    /// received), events published since then are replayed first.
    async fn case_milestones(
        &self,
        ctx: &Context<'_>,
        case_id: Option<ID>,
        partner_id: Option<ID>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = CaseMilestoneEvent>> {
        let after = ctx.data_opt::<ResumeAfter>().map(|r| r.0.clone()).or(after);
        let principal = scope(ctx)?.principal.clone();
        let partner = scope_partner(ctx, partner_id.as_ref())?;
        let case = case_id
            .map(|id| CaseId::parse(id.as_str()).map_err(invalid_id))
            .transpose()?;
        let resuming = after.is_some();
        let bus = services(ctx)?.workflows.bus().clone();
        let events = bus.subscribe(after).await.map_err(|e| {
            if resuming {
                bad_input("`after` is not a cursor of this stream")
            } else {
                tracing::error!(error = %e, "milestone subscription failed");
                super::errors::internal()
            }
        })?;
        Ok(events
            .filter(move |e| {
                let keep = policy::can_see_partner(&principal, &e.partner_id)
                    && partner.as_ref().is_none_or(|p| *p == e.partner_id)
                    && case.as_ref().is_none_or(|c| *c == e.case_id);
                async move { keep }
            })
            .map(CaseMilestoneEvent::from))
    }
}
