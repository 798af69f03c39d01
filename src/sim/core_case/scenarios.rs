//! `/__sim/scenarios` on Core Case: what a case worker does on their own (moves a
//! case, asks the partner for documents, resolves a case).

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MovesCase {
    case_id: String,
    status: cc::CaseStatus,
}

pub(super) async fn scenario_moves_case(State(app): State<Arc<CcApp>>, body: Bytes) -> ApiResult {
    let s: MovesCase = json_body(P, &body)?;
    if is_unknown(&s.status) {
        return Err(err(Kind::Invalid, "status must be a known case status"));
    }
    let mut d = app.data();
    let i = d.case_index(&s.case_id)?;
    let actor = d.case_worker(i);
    d.move_case(i, s.status, actor, now());
    Ok(Json(&d.cases[i]).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RequestsDocuments {
    case_id: String,
    /// Trading Grid document kinds the partner is asked for.
    kinds: Vec<String>,
    message: String,
}

pub(super) async fn scenario_requests_documents(
    State(app): State<Arc<CcApp>>,
    body: Bytes,
) -> ApiResult {
    let s: RequestsDocuments = json_body(P, &body)?;
    if s.kinds.is_empty() {
        return Err(err(
            Kind::Invalid,
            "kinds must name at least one document kind",
        ));
    }
    // The partner answers on Trading Grid, so the kinds are Trading Grid's.
    if let Some(bad) = s
        .kinds
        .iter()
        .find(|k| common::parse_enum::<tg::DocumentKind>(k).is_none())
    {
        return Err(err(
            Kind::Invalid,
            format!("{bad:?} is not a Trading Grid document kind"),
        ));
    }
    if s.message.trim().is_empty() {
        return Err(err(Kind::Invalid, "message must not be empty"));
    }
    let mut d = app.data();
    let i = d.case_index(&s.case_id)?;
    let actor = d.case_worker(i);
    let at = now();
    d.move_case(i, cc::CaseStatus::WaitingOnPartner, actor.clone(), at);
    let kinds = s.kinds.join(", ");
    d.record(Change {
        case_id: &s.case_id,
        at,
        actor: actor.clone(),
        action: "documents_requested",
        from: None,
        to: None,
        detail: Some(format!("Requested from partner: {kinds}")),
    });
    d.add_note(
        i,
        actor,
        format!(
            "[internal] Asked the partner for: {kinds}. Message sent: {}",
            s.message
        ),
        at,
    );
    let case = d.cases[i].clone();
    d.emit(
        "case.documents_requested",
        &s.case_id,
        at,
        json!({"kinds": s.kinds, "message": s.message, "case": case}),
    );
    Ok(Json(case).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResolvesCase {
    case_id: String,
    summary: String,
    root_cause: String,
    corrective_actions: Vec<String>,
    shared_with_partner: bool,
}

pub(super) async fn scenario_resolves_case(
    State(app): State<Arc<CcApp>>,
    body: Bytes,
) -> ApiResult {
    let s: ResolvesCase = json_body(P, &body)?;
    let mut d = app.data();
    let i = d.case_index(&s.case_id)?;
    let actor = d.case_worker(i);
    let res = d.resolve(
        &s.case_id,
        cc::NewResolution {
            summary: s.summary,
            root_cause: s.root_cause,
            corrective_actions: s.corrective_actions,
            shared_with_partner: s.shared_with_partner,
        },
        actor,
    )?;
    Ok(Json(res).into_response())
}
