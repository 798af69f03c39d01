//! Core Case simulator: cases, tasks, evidence documents, notes, history, resolutions and
//! the change feed under `/api/v2`, plus the `/__sim/scenarios` routes that act as a
//! case worker would.
//!
//! The event feed starts empty: seeded history is not replayed, and every write (API
//! or scenario) appends events (`case.created`, `case.status_changed`, ...) whose
//! `data` carries the records concerned as the API answers them. Each event is also
//! sent as a webhook when a target is configured.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{
    self, content, created, is_unknown, json_body, lock, paginate, valid_id, ApiError, Common,
    Kind, Params,
};
use super::webhook::Outbox;
use super::world::{sha256_hex, team_lead, World};
use super::{idempotency, Platform, SimOptions};
use crate::upstream::core_case::wire as cc;
use crate::upstream::trading_grid::wire as tg;

const P: Platform = Platform::CoreCase;
const MAX_IDS: usize = 50;

type ApiResult = Result<Response, ApiError>;

fn err(kind: Kind, msg: impl Into<String>) -> ApiError {
    ApiError::new(P, kind, msg)
}

fn not_found(what: &str, id: &str) -> ApiError {
    err(Kind::NotFound, format!("{what} {id} not found"))
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn status_word(s: cc::CaseStatus) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

pub(crate) struct CcApp {
    common: Arc<Common>,
    data: Mutex<CcData>,
}

struct CcData {
    cases: Vec<cc::Case>,
    tasks: Vec<cc::Task>,
    documents: Vec<cc::CaseDocument>,
    bytes: HashMap<String, Bytes>,
    notes: Vec<cc::Note>,
    history: Vec<cc::HistoryEntry>,
    resolutions: Vec<cc::Resolution>,
    events: Vec<cc::Event>,
    next_case: usize,
    next_task: usize,
    next_document: usize,
    next_note: usize,
    next_history: usize,
    next_resolution: usize,
    outbox: Arc<Outbox>,
    /// `Idempotency-Key` of the API request holding the lock, echoed in the events
    /// it causes (reset whenever the lock is taken).
    request_key: Option<String>,
}

impl cc::Case {
    /// A change to the record: a new `updated_at` and the next version.
    fn touch(&mut self, at: DateTime<Utc>) {
        self.updated_at = at;
        self.version += 1;
    }
}

impl CcData {
    fn from_world(w: World, outbox: Arc<Outbox>) -> Self {
        Self {
            next_case: w.cases.len() + 1,
            next_task: w.tasks.len() + 1,
            next_document: w.case_documents.len() + 1,
            next_note: w.notes.len() + 1,
            next_history: w.history.len() + 1,
            next_resolution: w.resolutions.len() + 1,
            cases: w.cases,
            tasks: w.tasks,
            documents: w.case_documents,
            bytes: w
                .case_document_bytes
                .into_iter()
                .map(|(k, v)| (k, Bytes::from(v)))
                .collect(),
            notes: w.notes,
            history: w.history,
            resolutions: w.resolutions,
            events: Vec::new(),
            outbox,
            request_key: None,
        }
    }

    fn case_index(&self, id: &str) -> Result<usize, ApiError> {
        self.cases
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| not_found("case", id))
    }

    /// Append to the feed and hand the event to the webhook sender, under the data
    /// lock so deliveries go out in feed order.
    fn emit(&mut self, event_type: &str, case_id: &str, at: DateTime<Utc>, data: Value) {
        let sequence = self.events.len() as u64 + 1;
        let event = cc::Event {
            id: format!("EVT-{sequence:07}"),
            sequence,
            event_type: event_type.into(),
            occurred_at: at,
            case_id: case_id.into(),
            data,
            idempotency_key: self.request_key.clone(),
        };
        match serde_json::to_vec(&event) {
            Ok(body) => self.outbox.publish(&event.id, Bytes::from(body)),
            Err(e) => tracing::warn!(event_id = %event.id, "event not serializable: {e}"),
        }
        self.events.push(event);
    }

    /// Move case `i` to `to`, as `PATCH` does: `resolved_at` follows, the move is
    /// recorded and `case.status_changed` emitted. No-op when the case is already there.
    fn move_case(
        &mut self,
        i: usize,
        to: cc::CaseStatus,
        actor: cc::UserRef,
        at: DateTime<Utc>,
    ) -> bool {
        let from = self.cases[i].status;
        if from == to {
            return false;
        }
        let c = &mut self.cases[i];
        c.status = to;
        if is_open(to) {
            c.resolved_at = None;
        } else if c.resolved_at.is_none() {
            c.resolved_at = Some(at);
        }
        c.touch(at);
        let case = c.clone();
        self.record(
            &case.id,
            at,
            actor,
            "status_changed",
            Some(from),
            Some(to),
            None,
        );
        self.emit(
            "case.status_changed",
            &case.id,
            at,
            json!({"from": status_word(from), "to": status_word(to), "case": case}),
        );
        true
    }

    /// Everything `PUT /api/v2/cases/{id}/resolution` does after validation.
    fn resolve(
        &mut self,
        id: &str,
        nr: cc::NewResolution,
        actor: cc::UserRef,
    ) -> Result<cc::Resolution, ApiError> {
        if nr.summary.trim().is_empty() {
            return Err(err(Kind::Invalid, "summary must not be empty"));
        }
        let i = self.case_index(id)?;
        let at = now();
        let existing = self.resolutions.iter().position(|r| r.case_id == id);
        let rid = match existing {
            Some(j) => self.resolutions[j].id.clone(),
            None => {
                let rid = format!("RES-{:06}", self.next_resolution);
                self.next_resolution += 1;
                rid
            }
        };
        let res = cc::Resolution {
            id: rid.clone(),
            case_id: id.to_string(),
            summary: nr.summary,
            root_cause: nr.root_cause,
            corrective_actions: nr.corrective_actions,
            resolved_by: actor.clone(),
            resolved_at: at,
            shared_with_partner: nr.shared_with_partner,
        };
        match existing {
            Some(j) => self.resolutions[j] = res.clone(),
            None => self.resolutions.push(res.clone()),
        }
        let from = self.cases[i].status;
        {
            let c = &mut self.cases[i];
            c.status = cc::CaseStatus::Resolved;
            c.resolved_at = Some(at);
            c.touch(at);
        }
        let case = self.cases[i].clone();
        self.record(
            id,
            at,
            actor,
            "resolved",
            Some(from),
            Some(cc::CaseStatus::Resolved),
            Some(format!("Resolution {rid} recorded")),
        );
        self.emit(
            "case.resolved",
            id,
            at,
            json!({"resolution": res, "case": case}),
        );
        Ok(res)
    }

    /// Everything `POST /api/v2/cases/{id}/notes` does after validation.
    fn add_note(
        &mut self,
        i: usize,
        author: cc::UserRef,
        body: String,
        at: DateTime<Utc>,
    ) -> cc::Note {
        let nid = format!("NOTE-{:06}", self.next_note);
        self.next_note += 1;
        let case_id = self.cases[i].id.clone();
        let note = cc::Note {
            id: nid,
            case_id: case_id.clone(),
            author,
            body,
            created_at: at,
        };
        self.notes.push(note.clone());
        self.cases[i].touch(at);
        self.emit("case.note_added", &case_id, at, json!({"note": note}));
        note
    }

    /// Who works a case: its assignee, else the lead of its team.
    fn case_worker(&self, i: usize) -> cc::UserRef {
        let c = &self.cases[i];
        c.assignee.clone().unwrap_or_else(|| team_lead(c.team))
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        case_id: &str,
        at: DateTime<Utc>,
        actor: cc::UserRef,
        action: &str,
        from: Option<cc::CaseStatus>,
        to: Option<cc::CaseStatus>,
        detail: Option<String>,
    ) {
        let id = format!("HIS-{:07}", self.next_history);
        self.next_history += 1;
        self.history.push(cc::HistoryEntry {
            id,
            case_id: case_id.into(),
            at,
            actor,
            action: action.into(),
            from_status: from,
            to_status: to,
            detail,
        });
    }
}

impl CcApp {
    fn data(&self) -> MutexGuard<'_, CcData> {
        let mut d = lock(&self.data);
        d.request_key = None;
        d
    }

    /// The data, for an API write whose events carry its `Idempotency-Key`.
    fn data_for(&self, headers: &HeaderMap) -> MutexGuard<'_, CcData> {
        let mut d = self.data();
        d.request_key = headers
            .get(idempotency::HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        d
    }
}

pub(crate) fn router(world: World, opts: &SimOptions) -> Router {
    let common = Arc::new(Common::new(P, opts));
    let app = Arc::new(CcApp {
        common: common.clone(),
        data: Mutex::new(CcData::from_world(world, common.outbox.clone())),
    });
    let scenarios = Router::new()
        .route(
            "/__sim/scenarios/case-worker-moves-case",
            post(scenario_moves_case),
        )
        .route(
            "/__sim/scenarios/case-worker-requests-documents",
            post(scenario_requests_documents),
        )
        .route(
            "/__sim/scenarios/case-worker-resolves-case",
            post(scenario_resolves_case),
        )
        .with_state(app.clone());
    // Only writes go through the Idempotency-Key layer: reads stay as lean as before.
    let keyed = middleware::from_fn_with_state(common.clone(), idempotency::layer);
    let api = Router::new()
        .route(
            "/api/v2/cases",
            get(list_cases).merge(post(create_case).route_layer(keyed.clone())),
        )
        .route(
            "/api/v2/cases/{id}",
            get(get_case).merge(patch(patch_case).route_layer(keyed.clone())),
        )
        .route(
            "/api/v2/cases/{id}/tasks",
            get(list_case_tasks).merge(post(create_task).route_layer(keyed.clone())),
        )
        .route("/api/v2/tasks", get(list_tasks))
        .route(
            "/api/v2/cases/{id}/documents",
            get(list_case_documents).merge(post(attach_document).route_layer(keyed.clone())),
        )
        .route("/api/v2/case-documents", get(list_documents))
        .route(
            "/api/v2/case-documents/{id}/content",
            get(get_document_content),
        )
        .route(
            "/api/v2/cases/{id}/notes",
            get(list_case_notes).merge(post(create_note).route_layer(keyed.clone())),
        )
        .route("/api/v2/notes", get(list_notes))
        .route("/api/v2/cases/{id}/history", get(list_case_history))
        .route("/api/v2/history", get(list_history))
        .route(
            "/api/v2/cases/{id}/resolution",
            get(get_resolution).merge(put(put_resolution).route_layer(keyed)),
        )
        .route("/api/v2/resolutions", get(list_resolutions))
        .route("/api/v2/events", get(list_events))
        .with_state(app);
    Router::new()
        .merge(api)
        .merge(common::token_router(common.clone()))
        .route_layer(middleware::from_fn_with_state(common.clone(), common::gate))
        .merge(common::sim_router(common))
        .merge(scenarios)
        .fallback(|| async { err(Kind::NotFound, "no such route").into_response() })
}

fn params(q: &Option<String>) -> Result<Params, ApiError> {
    Params::parse(P, q.as_deref())
}

fn page<T: serde::Serialize>(items: Vec<T>, p: &Params) -> ApiResult {
    let size = p.size("page_size")?;
    let offset = p.offset("page_token")?;
    let total = items.len() as u64;
    let (data, next_page_token) = paginate(items, offset, size);
    Ok(Json(cc::Page {
        data,
        next_page_token,
        total,
    })
    .into_response())
}

fn set(v: Option<Vec<String>>) -> Option<HashSet<String>> {
    v.map(|v| v.into_iter().collect())
}

fn is_open(s: cc::CaseStatus) -> bool {
    !matches!(s, cc::CaseStatus::Resolved | cc::CaseStatus::Closed)
}

// ---------------------------------------------------------------------------
// Cases

async fn list_cases(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids = set(p.list("ids", MAX_IDS)?);
    let partners = set(p.list("partner_id", MAX_IDS)?);
    let statuses = p.enums::<cc::CaseStatus>("status")?;
    let types = p.enums::<cc::CaseType>("type")?;
    let ext_system = p.get("external_system").map(str::to_string);
    let ext_kind = p.get("external_kind").map(str::to_string);
    let ext_id = p.get("external_id").map(str::to_string);
    let txs = set(p.list("transaction_ids", MAX_IDS)?);
    let after = p.date("opened_after")?;
    let before = p.date("opened_before")?;
    let updated = p.date("updated_after")?;
    p.size("page_size")?;
    p.offset("page_token")?;
    let ext = |c: &cc::Case, want: &Option<String>, f: fn(&cc::ExternalRef) -> &str| match want {
        None => true,
        Some(w) => c.external_ref.as_ref().is_some_and(|r| f(r) == w),
    };
    let mut items: Vec<cc::Case> = app
        .data()
        .cases
        .iter()
        .filter(|c| ids.as_ref().is_none_or(|s| s.contains(&c.id)))
        .filter(|c| partners.as_ref().is_none_or(|s| s.contains(&c.partner_id)))
        .filter(|c| statuses.as_ref().is_none_or(|s| s.contains(&c.status)))
        .filter(|c| types.as_ref().is_none_or(|s| s.contains(&c.case_type)))
        .filter(|c| ext(c, &ext_system, |r| &r.system))
        .filter(|c| ext(c, &ext_kind, |r| &r.kind))
        .filter(|c| ext(c, &ext_id, |r| &r.id))
        .filter(|c| {
            txs.as_ref()
                .is_none_or(|s| c.transaction_ids.iter().any(|t| s.contains(t)))
        })
        .filter(|c| after.is_none_or(|a| c.opened_at >= a))
        .filter(|c| before.is_none_or(|b| c.opened_at < b))
        .filter(|c| updated.is_none_or(|u| c.updated_at >= u))
        .cloned()
        .collect();
    items.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then(b.id.cmp(&a.id)));
    page(items, &p)
}

async fn get_case(State(app): State<Arc<CcApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let i = d.case_index(&id)?;
    Ok(Json(&d.cases[i]).into_response())
}

async fn create_case(State(app): State<Arc<CcApp>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let nc: cc::NewCase = json_body(P, &body)?;
    if is_unknown(&nc.case_type) || is_unknown(&nc.priority) || is_unknown(&nc.team) {
        return Err(err(
            Kind::Invalid,
            "type, priority and team must be known values",
        ));
    }
    if nc.title.trim().is_empty() {
        return Err(err(Kind::Invalid, "title must not be empty"));
    }
    if !valid_id(&nc.partner_id) {
        return Err(err(Kind::Invalid, "partner_id must be a valid id"));
    }
    if let Some(t) = nc.transaction_ids.iter().find(|t| !valid_id(t)) {
        return Err(err(
            Kind::Invalid,
            format!("transaction id {t:?} is not valid"),
        ));
    }
    if let Some(r) = &nc.external_ref {
        if r.system.trim().is_empty() || r.kind.trim().is_empty() || r.id.trim().is_empty() {
            return Err(err(Kind::Invalid, "external_ref needs system, kind and id"));
        }
    }
    let actor = app.common.client_user();
    // Duplicate check and insert under one lock, so two concurrent creators for the
    // same external reference get one case and one 409.
    let mut d = app.data_for(&headers);
    if let Some(r) = &nc.external_ref {
        if let Some(existing) = d
            .cases
            .iter()
            .find(|c| is_open(c.status) && c.external_ref.as_ref() == Some(r))
        {
            return Err(err(
                Kind::Conflict,
                format!(
                    "an open case already exists for {}/{}/{}: {}",
                    r.system, r.kind, r.id, existing.id
                ),
            )
            .with_details(json!({"existing_case_id": existing.id})));
        }
    }
    let at = now();
    let n = d.next_case;
    d.next_case += 1;
    let id = format!("CASE-{n:06}");
    let number = format!("CC-{}-{n:06}", at.format("%Y"));
    let sla_hours = match nc.priority {
        cc::Priority::Critical => 8,
        cc::Priority::High => 48,
        cc::Priority::Medium => 120,
        _ => 240,
    };
    let case = cc::Case {
        id: id.clone(),
        number: number.clone(),
        case_type: nc.case_type,
        status: cc::CaseStatus::New,
        priority: nc.priority,
        title: nc.title,
        description: nc.description,
        assignee: None,
        team: nc.team,
        sla_due_at: Some(at + Duration::hours(sla_hours)),
        partner_id: nc.partner_id,
        external_ref: nc.external_ref,
        transaction_ids: nc.transaction_ids,
        opened_at: at,
        updated_at: at,
        resolved_at: None,
        version: 1,
    };
    d.cases.push(case.clone());
    d.record(
        &id,
        at,
        actor,
        "created",
        None,
        Some(cc::CaseStatus::New),
        Some(format!("Case {number} created")),
    );
    d.emit("case.created", &id, at, json!({"case": case}));
    Ok(created(Some(format!("/api/v2/cases/{id}")), &case))
}

async fn patch_case(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let patch: cc::CasePatch = json_body(P, &body)?;
    if patch.status.as_ref().is_some_and(is_unknown)
        || patch.priority.as_ref().is_some_and(is_unknown)
        || patch.team.as_ref().is_some_and(is_unknown)
    {
        return Err(err(
            Kind::Invalid,
            "status, priority and team must be known values",
        ));
    }
    if let Some(a) = &patch.assignee {
        if a.id.trim().is_empty() || a.name.trim().is_empty() {
            return Err(err(Kind::Invalid, "assignee needs id and name"));
        }
    }
    let actor = app.common.client_user();
    let mut d = app.data_for(&headers);
    let i = d.case_index(&id)?;
    let at = now();
    let before = d.cases[i].clone();
    let mut changed = Vec::new();
    {
        let c = &mut d.cases[i];
        if let Some(p) = patch.priority.filter(|p| *p != before.priority) {
            c.priority = p;
            changed.push("priority");
        }
        if let Some(t) = patch.team.filter(|t| *t != before.team) {
            c.team = t;
            changed.push("team");
        }
        if let Some(a) = patch.assignee.clone() {
            if before.assignee.as_ref().map(|b| &b.id) != Some(&a.id) {
                c.assignee = Some(a);
                changed.push("assignee");
            }
        }
        if !changed.is_empty() {
            c.touch(at);
        }
    }
    // The status moves last so the case in its event carries the other changes too.
    if let Some(s) = patch.status {
        d.move_case(i, s, actor.clone(), at);
    }
    let after = d.cases[i].clone();
    if let Some(a) = after
        .assignee
        .as_ref()
        .filter(|_| changed.contains(&"assignee"))
    {
        d.record(
            &id,
            at,
            actor,
            "assigned",
            None,
            None,
            Some(format!("Assigned to {}", a.name)),
        );
    }
    if !changed.is_empty() {
        d.emit(
            "case.updated",
            &id,
            at,
            json!({"changed": changed, "case": after}),
        );
    }
    Ok(Json(after).into_response())
}

// ---------------------------------------------------------------------------
// Tasks

async fn list_case_tasks(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&q)?;
    let d = app.data();
    d.case_index(&id)?;
    let mut items: Vec<cc::Task> = d
        .tasks
        .iter()
        .filter(|t| t.case_id == id)
        .cloned()
        .collect();
    drop(d);
    items.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    page(items, &p)
}

async fn list_tasks(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids: HashSet<String> = p.required_list("case_ids", MAX_IDS)?.into_iter().collect();
    let mut items: Vec<cc::Task> = app
        .data()
        .tasks
        .iter()
        .filter(|t| ids.contains(&t.case_id))
        .cloned()
        .collect();
    items.sort_by(|a, b| (&a.case_id, a.created_at, &a.id).cmp(&(&b.case_id, b.created_at, &b.id)));
    page(items, &p)
}

async fn create_task(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let nt: cc::NewTask = json_body(P, &body)?;
    if nt.title.trim().is_empty() {
        return Err(err(Kind::Invalid, "title must not be empty"));
    }
    if is_unknown(&nt.team) {
        return Err(err(Kind::Invalid, "team must be a known value"));
    }
    let actor = app.common.client_user();
    let mut d = app.data();
    let i = d.case_index(&id)?;
    let at = now();
    let tid = format!("TSK-{:06}", d.next_task);
    d.next_task += 1;
    let task = cc::Task {
        id: tid.clone(),
        case_id: id.clone(),
        title: nt.title,
        team: nt.team,
        state: cc::TaskState::Open,
        assignee: None,
        due_at: nt.due_at,
        created_at: at,
    };
    d.tasks.push(task.clone());
    d.cases[i].touch(at);
    d.record(
        &id,
        at,
        actor,
        "task_created",
        None,
        None,
        Some(format!("Task {tid}: {}", task.title)),
    );
    d.emit("case.task_created", &id, at, json!({"task": task}));
    Ok(created(None, &task))
}

// ---------------------------------------------------------------------------
// Evidence documents

async fn list_case_documents(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&q)?;
    let d = app.data();
    d.case_index(&id)?;
    let mut items: Vec<cc::CaseDocument> = d
        .documents
        .iter()
        .filter(|x| x.case_id == id)
        .cloned()
        .collect();
    drop(d);
    items.sort_by(|a, b| a.linked_at.cmp(&b.linked_at).then(a.id.cmp(&b.id)));
    page(items, &p)
}

async fn list_documents(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids = set(p.list("ids", MAX_IDS)?);
    let cases = set(p.list("case_ids", MAX_IDS)?);
    let sources = set(p.list("source_document_ids", MAX_IDS)?);
    let mut items: Vec<cc::CaseDocument> = app
        .data()
        .documents
        .iter()
        .filter(|x| ids.as_ref().is_none_or(|s| s.contains(&x.id)))
        .filter(|x| cases.as_ref().is_none_or(|s| s.contains(&x.case_id)))
        .filter(|x| {
            sources.as_ref().is_none_or(|s| {
                x.source
                    .as_ref()
                    .is_some_and(|src| s.contains(&src.document_id))
            })
        })
        .cloned()
        .collect();
    items.sort_by(|a, b| (&a.case_id, a.linked_at, &a.id).cmp(&(&b.case_id, b.linked_at, &b.id)));
    page(items, &p)
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

async fn attach_document(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let nd: cc::NewCaseDocument = json_body(P, &body)?;
    if nd.name.trim().is_empty() || nd.content_type.trim().is_empty() {
        return Err(err(Kind::Invalid, "name and content_type are required"));
    }
    if !is_sha256_hex(&nd.sha256) {
        return Err(err(
            Kind::Invalid,
            "sha256 must be 64 lower-case hex characters",
        ));
    }
    if let Some(src) = &nd.source {
        if src.system.trim().is_empty() || !valid_id(&src.document_id) {
            return Err(err(
                Kind::Invalid,
                "source needs a system and a valid document_id",
            ));
        }
    }
    let bytes = match &nd.content_base64 {
        Some(b64) => {
            let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned)
                .map_err(|_| err(Kind::Invalid, "content_base64 is not valid standard base64"))?;
            if bytes.len() as u64 != nd.size_bytes {
                return Err(err(
                    Kind::Invalid,
                    format!(
                        "size_bytes is {} but the content has {} bytes",
                        nd.size_bytes,
                        bytes.len()
                    ),
                ));
            }
            if sha256_hex(&bytes) != nd.sha256 {
                return Err(err(
                    Kind::Invalid,
                    "sha256 does not match the uploaded content",
                ));
            }
            Some(bytes)
        }
        None if nd.source.is_none() => {
            return Err(err(
                Kind::Invalid,
                "either source (link) or content_base64 (upload) is required",
            ))
        }
        None => None,
    };
    let actor = app.common.client_user();
    let mut d = app.data();
    let i = d.case_index(&id)?;
    if let Some(existing) = d
        .documents
        .iter()
        .find(|x| x.case_id == id && x.sha256 == nd.sha256)
    {
        // Same bytes are already evidence on this case: answer the existing entry.
        return Ok(Json(existing).into_response());
    }
    let at = now();
    let eid = format!("EV-{:06}", d.next_document);
    d.next_document += 1;
    let doc = cc::CaseDocument {
        id: eid.clone(),
        case_id: id.clone(),
        name: nd.name,
        content_type: nd.content_type,
        size_bytes: nd.size_bytes,
        sha256: nd.sha256,
        source: nd.source,
        linked_by: actor.clone(),
        linked_at: at,
    };
    if let Some(b) = bytes {
        d.bytes.insert(eid.clone(), Bytes::from(b));
    }
    d.documents.push(doc.clone());
    d.cases[i].touch(at);
    d.record(
        &id,
        at,
        actor,
        "document_linked",
        None,
        None,
        Some(format!("{} ({})", doc.name, eid)),
    );
    d.emit("case.document_linked", &id, at, json!({"document": doc}));
    Ok(created(None, &doc))
}

async fn get_document_content(State(app): State<Arc<CcApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let doc = d
        .documents
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| not_found("case document", &id))?;
    match d.bytes.get(&id) {
        Some(b) => Ok(content(b.clone(), &doc.content_type, &doc.sha256)),
        None => {
            let (system, source_id) = doc
                .source
                .as_ref()
                .map(|s| (s.system.as_str(), s.document_id.as_str()))
                .unwrap_or(("another system", "unknown"));
            Err(err(
                Kind::NotFound,
                format!(
                    "case document {id} is linked, not uploaded: its bytes live at the source system ({system} document {source_id})"
                ),
            ))
        }
    }
}

// ---------------------------------------------------------------------------
// Notes and history

async fn list_case_notes(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&q)?;
    let d = app.data();
    d.case_index(&id)?;
    let mut items: Vec<cc::Note> = d
        .notes
        .iter()
        .filter(|x| x.case_id == id)
        .cloned()
        .collect();
    drop(d);
    items.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    page(items, &p)
}

async fn list_notes(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids: HashSet<String> = p.required_list("case_ids", MAX_IDS)?.into_iter().collect();
    let mut items: Vec<cc::Note> = app
        .data()
        .notes
        .iter()
        .filter(|x| ids.contains(&x.case_id))
        .cloned()
        .collect();
    items.sort_by(|a, b| (&a.case_id, a.created_at, &a.id).cmp(&(&b.case_id, b.created_at, &b.id)));
    page(items, &p)
}

async fn create_note(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let nn: cc::NewNote = json_body(P, &body)?;
    if nn.body.trim().is_empty() {
        return Err(err(Kind::Invalid, "body must not be empty"));
    }
    let actor = app.common.client_user();
    let mut d = app.data();
    let i = d.case_index(&id)?;
    let note = d.add_note(i, actor, nn.body, now());
    Ok(created(None, &note))
}

async fn list_case_history(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&q)?;
    let d = app.data();
    d.case_index(&id)?;
    let mut items: Vec<cc::HistoryEntry> = d
        .history
        .iter()
        .filter(|x| x.case_id == id)
        .cloned()
        .collect();
    drop(d);
    items.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    page(items, &p)
}

async fn list_history(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids: HashSet<String> = p.required_list("case_ids", MAX_IDS)?.into_iter().collect();
    let mut items: Vec<cc::HistoryEntry> = app
        .data()
        .history
        .iter()
        .filter(|x| ids.contains(&x.case_id))
        .cloned()
        .collect();
    items.sort_by(|a, b| (&a.case_id, a.at, &a.id).cmp(&(&b.case_id, b.at, &b.id)));
    page(items, &p)
}

// ---------------------------------------------------------------------------
// Resolutions

async fn get_resolution(State(app): State<Arc<CcApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    d.case_index(&id)?;
    let r = d
        .resolutions
        .iter()
        .find(|r| r.case_id == id)
        .ok_or_else(|| err(Kind::NotFound, format!("case {id} has no resolution")))?;
    Ok(Json(r).into_response())
}

async fn put_resolution(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let nr: cc::NewResolution = json_body(P, &body)?;
    let actor = app.common.client_user();
    let res = app.data_for(&headers).resolve(&id, nr, actor)?;
    Ok(Json(res).into_response())
}

async fn list_resolutions(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let cases = set(p.list("case_ids", MAX_IDS)?);
    let words: Vec<String> = p
        .get("q")
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let shared = p.bool("shared_with_partner")?;
    let partners = set(p.list("partner_id", MAX_IDS)?);
    let matches = |r: &cc::Resolution| {
        if words.is_empty() {
            return true;
        }
        let text = format!(
            "{}\n{}\n{}",
            r.summary,
            r.root_cause,
            r.corrective_actions.join("\n")
        )
        .to_lowercase();
        words.iter().all(|w| text.contains(w.as_str()))
    };
    let data = app.data();
    // Resolutions name their case; the case names the partner.
    let of_partner = |r: &cc::Resolution| {
        partners.as_ref().is_none_or(|ps| {
            data.cases
                .iter()
                .any(|c| c.id == r.case_id && ps.contains(&c.partner_id))
        })
    };
    let mut items: Vec<cc::Resolution> = data
        .resolutions
        .iter()
        .filter(|r| cases.as_ref().is_none_or(|s| s.contains(&r.case_id)))
        .filter(|r| of_partner(r))
        .filter(|r| shared.is_none_or(|s| r.shared_with_partner == s))
        .filter(|r| matches(r))
        .cloned()
        .collect();
    items.sort_by(|a, b| b.resolved_at.cmp(&a.resolved_at).then(b.id.cmp(&a.id)));
    page(items, &p)
}

// ---------------------------------------------------------------------------
// Events

async fn list_events(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let after = match p.u64("after")? {
        Some(a) => a,
        // `next_page_token` of this feed is the last sequence, so it works as `after`.
        None => p.u64("page_token")?.unwrap_or(0),
    };
    let size = p.size("page_size")?;
    let d = app.data();
    let rest: Vec<&cc::Event> = d.events.iter().filter(|e| e.sequence > after).collect();
    let total = rest.len() as u64;
    let data: Vec<cc::Event> = rest.iter().take(size).map(|e| (*e).clone()).collect();
    let next_page_token = (rest.len() > size)
        .then(|| data.last().map(|e| e.sequence.to_string()))
        .flatten();
    Ok(Json(cc::Page {
        data,
        next_page_token,
        total,
    })
    .into_response())
}

// ---------------------------------------------------------------------------
// Scenarios: what a case worker does in the Core Case UI

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MovesCase {
    case_id: String,
    status: cc::CaseStatus,
}

async fn scenario_moves_case(State(app): State<Arc<CcApp>>, body: Bytes) -> ApiResult {
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
struct RequestsDocuments {
    case_id: String,
    /// Trading Grid document kinds the partner is asked for.
    kinds: Vec<String>,
    message: String,
}

async fn scenario_requests_documents(State(app): State<Arc<CcApp>>, body: Bytes) -> ApiResult {
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
    d.record(
        &s.case_id,
        at,
        actor.clone(),
        "documents_requested",
        None,
        None,
        Some(format!("Requested from partner: {kinds}")),
    );
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
struct ResolvesCase {
    case_id: String,
    summary: String,
    root_cause: String,
    corrective_actions: Vec<String>,
    shared_with_partner: bool,
}

async fn scenario_resolves_case(State(app): State<Arc<CcApp>>, body: Bytes) -> ApiResult {
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
