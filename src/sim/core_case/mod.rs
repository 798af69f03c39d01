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
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{
    self, content, created, is_unknown, json_body, lock, not_found, now, paginate, set, valid_id,
    ApiError, Common, Kind, Params,
};
use super::webhook::Outbox;
use super::world::{sha256_hex, team_lead, Change, World};
use super::{idempotency, Platform, SimOptions};
use crate::upstream::core_case::wire as cc;
use crate::upstream::trading_grid::wire as tg;

mod routes;
mod scenarios;

use routes::*;
use scenarios::*;

const P: Platform = Platform::CoreCase;
const MAX_IDS: usize = 50;

type ApiResult = Result<Response, ApiError>;

fn err(kind: Kind, msg: impl Into<String>) -> ApiError {
    ApiError::new(P, kind, msg)
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
            .ok_or_else(|| not_found(P, "case", id))
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
        self.record(Change {
            case_id: &case.id,
            at,
            actor,
            action: "status_changed",
            from: Some(from),
            to: Some(to),
            detail: None,
        });
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
        self.record(Change {
            case_id: id,
            at,
            actor,
            action: "resolved",
            from: Some(from),
            to: Some(cc::CaseStatus::Resolved),
            detail: Some(format!("Resolution {rid} recorded")),
        });
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

    fn record(&mut self, change: Change) {
        let entry = change.entry(self.next_history);
        self.next_history += 1;
        self.history.push(entry);
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

fn is_open(s: cc::CaseStatus) -> bool {
    !matches!(s, cc::CaseStatus::Resolved | cc::CaseStatus::Closed)
}

// ---------------------------------------------------------------------------
// Cases
