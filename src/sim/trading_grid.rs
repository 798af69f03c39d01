//! Trading Grid / Active Community simulator: partners, communities, discussions,
//! messages, documents, transactions and the change feed under `/v1`, plus the
//! `/__sim/scenarios` routes that act as a partner (or the platform) would.
//!
//! The event feed starts empty: seeded history is not replayed, and every write (API
//! or scenario) appends one event per record created or changed, whose `data` is the
//! record as the API answers it. Each event is also sent as a webhook when a target
//! is configured.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::common::{
    self, content, created, is_unknown, json_body, lock, paginate, valid_id, ApiError, Common,
    Kind, Params,
};
use super::webhook::Outbox;
use super::world::{errors_for, sha256_hex, World};
use super::{idempotency, Platform, SimOptions};
use crate::upstream::trading_grid::wire as tg;

const P: Platform = Platform::TradingGrid;
const MAX_IDS: usize = 100;

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

pub(crate) struct TgApp {
    data: Mutex<TgData>,
}

struct TgData {
    partners: Vec<tg::Partner>,
    communities: Vec<tg::Community>,
    discussions: Vec<tg::Discussion>,
    messages: Vec<tg::Message>,
    documents: Vec<tg::Document>,
    bytes: HashMap<String, Bytes>,
    /// Newest first, as the list route answers; the set never changes.
    transactions: Vec<tg::Transaction>,
    tx_index: HashMap<String, usize>,
    events: Vec<tg::Event>,
    next_discussion: usize,
    next_message: usize,
    next_document: usize,
    outbox: Arc<Outbox>,
}

impl TgData {
    fn from_world(w: World, outbox: Arc<Outbox>) -> Self {
        let mut transactions = w.transactions;
        transactions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let tx_index = transactions
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        Self {
            next_discussion: w.discussions.len() + 1,
            next_message: w.messages.len() + 1,
            next_document: w.documents.len() + 1,
            partners: w.partners,
            communities: w.communities,
            discussions: w.discussions,
            messages: w.messages,
            documents: w.documents,
            bytes: w
                .document_bytes
                .into_iter()
                .map(|(k, v)| (k, Bytes::from(v)))
                .collect(),
            transactions,
            tx_index,
            events: Vec::new(),
            outbox,
        }
    }

    /// Append to the feed and hand the event to the webhook sender, under the data
    /// lock so deliveries go out in feed order.
    fn emit<T: Serialize>(&mut self, event_type: &str, at: DateTime<Utc>, data: &T) {
        let sequence = self.events.len() as u64 + 1;
        let event = tg::Event {
            id: format!("EVT-{sequence:07}"),
            sequence,
            event_type: event_type.into(),
            occurred_at: at,
            data: serde_json::to_value(data).unwrap_or_else(|_| json!({})),
        };
        match serde_json::to_vec(&event) {
            Ok(body) => self.outbox.publish(&event.id, Bytes::from(body)),
            Err(e) => tracing::warn!(event_id = %event.id, "event not serializable: {e}"),
        }
        self.events.push(event);
    }

    fn partner(&self, id: &str) -> Option<&tg::Partner> {
        self.partners.iter().find(|p| p.id == id)
    }

    fn discussion_index(&self, id: &str) -> Option<usize> {
        self.discussions.iter().position(|d| d.id == id)
    }

    /// A person at the partner: one who already wrote in the partner's threads, else
    /// the partner's B2B contact.
    fn partner_person(&self, partner_id: &str) -> Option<tg::Author> {
        let partner = self.partner(partner_id)?;
        let of_partner: HashSet<&str> = self
            .discussions
            .iter()
            .filter(|d| d.partner_id == partner_id)
            .map(|d| d.id.as_str())
            .collect();
        let known = self
            .discussions
            .iter()
            .filter(|d| d.partner_id == partner_id)
            .map(|d| &d.created_by)
            .chain(
                self.messages
                    .iter()
                    .filter(|m| of_partner.contains(m.discussion_id.as_str()))
                    .map(|m| &m.author),
            )
            .find(|a| a.role == tg::AuthorRole::Partner)
            .cloned();
        Some(known.unwrap_or_else(|| tg::Author {
            id: format!("pc-{}", partner.id.to_ascii_lowercase()),
            name: format!("{} B2B desk", partner.name),
            role: tg::AuthorRole::Partner,
        }))
    }

    /// Everything `POST /v1/discussions` does after parsing the body.
    fn open_discussion(&mut self, nd: tg::NewDiscussion) -> Result<tg::Discussion, ApiError> {
        if is_unknown(&nd.kind) {
            return Err(err(Kind::Invalid, "kind is not a known discussion kind"));
        }
        if nd.title.trim().is_empty() || nd.body.trim().is_empty() {
            return Err(err(Kind::Invalid, "title and body must not be empty"));
        }
        check_author(&nd.author)?;
        let community_id = self
            .partner(&nd.partner_id)
            .map(|p| p.community_id.clone())
            .ok_or_else(|| not_found("partner", &nd.partner_id))?;
        for t in &nd.transaction_ids {
            match self.tx_index.get(t).map(|&i| &self.transactions[i]) {
                Some(tx) if tx.partner_id == nd.partner_id => {}
                Some(_) => {
                    return Err(err(
                        Kind::Invalid,
                        format!(
                            "transaction {t} does not belong to partner {}",
                            nd.partner_id
                        ),
                    ))
                }
                None => {
                    return Err(err(
                        Kind::Invalid,
                        format!("transaction {t} does not exist"),
                    ))
                }
            }
        }
        let at = now();
        let id = format!("DSC-{:06}", self.next_discussion);
        self.next_discussion += 1;
        let mid = format!("MSG-{:07}", self.next_message);
        self.next_message += 1;
        let disc = tg::Discussion {
            id: id.clone(),
            community_id,
            partner_id: nd.partner_id.clone(),
            title: nd.title,
            kind: nd.kind,
            status: tg::DiscussionStatus::Open,
            tags: nd.tags,
            transaction_ids: nd.transaction_ids,
            linked_case_id: None,
            message_count: 1,
            created_by: nd.author.clone(),
            created_at: at,
            updated_at: at,
        };
        let msg = tg::Message {
            id: mid,
            discussion_id: id,
            author: nd.author,
            body: nd.body,
            document_ids: Vec::new(),
            created_at: at,
        };
        self.messages.push(msg.clone());
        self.discussions.push(disc.clone());
        self.emit("discussion.created", at, &disc);
        self.emit("message.created", at, &msg);
        Ok(disc)
    }

    /// Everything `POST /v1/discussions/{id}/messages` does after parsing the body.
    fn post_message(&mut self, id: &str, nm: tg::NewMessage) -> Result<tg::Message, ApiError> {
        check_author(&nm.author)?;
        if nm.body.trim().is_empty() {
            return Err(err(Kind::Invalid, "body must not be empty"));
        }
        let i = self
            .discussion_index(id)
            .ok_or_else(|| not_found("discussion", id))?;
        for doc in &nm.document_ids {
            if !self.documents.iter().any(|x| &x.id == doc) {
                return Err(err(Kind::Invalid, format!("document {doc} does not exist")));
            }
        }
        let at = now();
        let mid = format!("MSG-{:07}", self.next_message);
        self.next_message += 1;
        let msg = tg::Message {
            id: mid,
            discussion_id: id.to_string(),
            author: nm.author,
            body: nm.body,
            document_ids: nm.document_ids,
            created_at: at,
        };
        self.messages.push(msg.clone());
        let disc = &mut self.discussions[i];
        disc.message_count += 1;
        disc.updated_at = at;
        self.emit("message.created", at, &msg);
        Ok(msg)
    }

    /// Everything `POST /v1/documents` does once the bytes are decoded.
    fn store_document(
        &mut self,
        nd: tg::NewDocument,
        bytes: Vec<u8>,
    ) -> Result<tg::Document, ApiError> {
        if is_unknown(&nd.kind) {
            return Err(err(Kind::Invalid, "kind is not a known document kind"));
        }
        if nd.name.trim().is_empty() || nd.content_type.trim().is_empty() {
            return Err(err(Kind::Invalid, "name and content_type are required"));
        }
        check_author(&nd.uploaded_by)?;
        if self.partner(&nd.partner_id).is_none() {
            return Err(not_found("partner", &nd.partner_id));
        }
        if let Some(did) = &nd.discussion_id {
            let i = self
                .discussion_index(did)
                .ok_or_else(|| not_found("discussion", did))?;
            if self.discussions[i].partner_id != nd.partner_id {
                return Err(err(
                    Kind::Invalid,
                    format!(
                        "discussion {did} is not a discussion of partner {}",
                        nd.partner_id
                    ),
                ));
            }
        }
        let at = now();
        let id = format!("DOC-{:06}", self.next_document);
        self.next_document += 1;
        let doc = tg::Document {
            id: id.clone(),
            partner_id: nd.partner_id,
            discussion_id: nd.discussion_id,
            name: nd.name,
            kind: nd.kind,
            content_type: nd.content_type,
            size_bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            uploaded_by: nd.uploaded_by,
            created_at: at,
        };
        self.bytes.insert(id, Bytes::from(bytes));
        self.documents.push(doc.clone());
        self.emit("document.created", at, &doc);
        Ok(doc)
    }
}

impl TgApp {
    fn data(&self) -> MutexGuard<'_, TgData> {
        lock(&self.data)
    }
}

pub(crate) fn router(world: World, opts: &SimOptions) -> Router {
    let common = Arc::new(Common::new(P, opts));
    let app = Arc::new(TgApp {
        data: Mutex::new(TgData::from_world(world, common.outbox.clone())),
    });
    let scenarios = Router::new()
        .route(
            "/__sim/scenarios/partner-opens-discussion",
            post(scenario_opens_discussion),
        )
        .route(
            "/__sim/scenarios/partner-posts-message",
            post(scenario_posts_message),
        )
        .route(
            "/__sim/scenarios/partner-posts-document",
            post(scenario_posts_document),
        )
        .route(
            "/__sim/scenarios/transaction-fails",
            post(scenario_transaction_fails),
        )
        .with_state(app.clone());
    // Only writes go through the Idempotency-Key layer: reads stay as lean as before.
    let keyed = middleware::from_fn_with_state(common.clone(), idempotency::layer);
    let api = Router::new()
        .route("/v1/partners", get(list_partners))
        .route("/v1/partners/{id}", get(get_partner))
        .route("/v1/communities", get(list_communities))
        .route("/v1/communities/{id}", get(get_community))
        .route(
            "/v1/discussions",
            get(list_discussions).merge(post(create_discussion).route_layer(keyed.clone())),
        )
        .route(
            "/v1/discussions/{id}",
            get(get_discussion).merge(patch(patch_discussion).route_layer(keyed.clone())),
        )
        .route(
            "/v1/discussions/{id}/messages",
            get(list_discussion_messages).merge(post(post_message).route_layer(keyed.clone())),
        )
        .route("/v1/messages", get(list_messages))
        .route(
            "/v1/documents",
            get(list_documents).merge(post(post_document).route_layer(keyed)),
        )
        .route("/v1/documents/{id}", get(get_document))
        .route("/v1/documents/{id}/content", get(get_document_content))
        .route("/v1/transactions", get(list_transactions))
        .route("/v1/transactions/{id}", get(get_transaction))
        .route("/v1/events", get(list_events))
        .with_state(app);
    Router::new()
        .merge(api)
        .merge(common::token_router(common.clone()))
        .route_layer(middleware::from_fn_with_state(common.clone(), common::gate))
        .merge(common::sim_router(common))
        .merge(scenarios)
        .fallback(|| async { err(Kind::NotFound, "no such route").into_response() })
}

fn page<T: serde::Serialize>(items: Vec<T>, p: &Params) -> ApiResult {
    let size = p.size("limit")?;
    let offset = p.offset("cursor")?;
    let (items, next_cursor) = paginate(items, offset, size);
    Ok(Json(tg::Page { items, next_cursor }).into_response())
}

fn params(q: &Option<String>) -> Result<Params, ApiError> {
    Params::parse(P, q.as_deref())
}

fn check_author(a: &tg::Author) -> Result<(), ApiError> {
    if a.id.trim().is_empty() || a.name.trim().is_empty() {
        return Err(err(Kind::Invalid, "author.id and author.name are required"));
    }
    if is_unknown(&a.role) {
        return Err(err(
            Kind::Invalid,
            "author.role must be partner, operator or system",
        ));
    }
    Ok(())
}

fn set(v: Option<Vec<String>>) -> Option<HashSet<String>> {
    v.map(|v| v.into_iter().collect())
}

// ---------------------------------------------------------------------------
// Partners and communities

async fn list_partners(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids = set(p.list("ids", MAX_IDS)?);
    let communities = set(p.list("community_id", MAX_IDS)?);
    let tiers = p.enums::<tg::PartnerTier>("tier")?;
    p.size("limit")?;
    let d = app.data();
    let items: Vec<tg::Partner> = d
        .partners
        .iter()
        .filter(|x| ids.as_ref().is_none_or(|s| s.contains(&x.id)))
        .filter(|x| {
            communities
                .as_ref()
                .is_none_or(|s| s.contains(&x.community_id))
        })
        .filter(|x| tiers.as_ref().is_none_or(|s| s.contains(&x.tier)))
        .cloned()
        .collect();
    drop(d);
    page(items, &p)
}

async fn get_partner(State(app): State<Arc<TgApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let x = d.partner(&id).ok_or_else(|| not_found("partner", &id))?;
    Ok(Json(x).into_response())
}

async fn list_communities(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids = set(p.list("ids", MAX_IDS)?);
    let items: Vec<tg::Community> = app
        .data()
        .communities
        .iter()
        .filter(|x| ids.as_ref().is_none_or(|s| s.contains(&x.id)))
        .cloned()
        .collect();
    page(items, &p)
}

async fn get_community(State(app): State<Arc<TgApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let x = d
        .communities
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| not_found("community", &id))?;
    Ok(Json(x).into_response())
}

// ---------------------------------------------------------------------------
// Discussions and messages

async fn list_discussions(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids = set(p.list("ids", MAX_IDS)?);
    let partners = set(p.list("partner_id", MAX_IDS)?);
    let kinds = p.enums::<tg::DiscussionKind>("kind")?;
    let statuses = p.enums::<tg::DiscussionStatus>("status")?;
    let tags = set(p.list("tag", MAX_IDS)?);
    let txs = set(p.list("transaction_ids", MAX_IDS)?);
    let cases = set(p.list("linked_case_ids", MAX_IDS)?);
    let after = p.date("created_after")?;
    let before = p.date("created_before")?;
    p.size("limit")?;
    p.offset("cursor")?;
    let mut items: Vec<tg::Discussion> = app
        .data()
        .discussions
        .iter()
        .filter(|x| ids.as_ref().is_none_or(|s| s.contains(&x.id)))
        .filter(|x| partners.as_ref().is_none_or(|s| s.contains(&x.partner_id)))
        .filter(|x| kinds.as_ref().is_none_or(|s| s.contains(&x.kind)))
        .filter(|x| statuses.as_ref().is_none_or(|s| s.contains(&x.status)))
        .filter(|x| {
            tags.as_ref()
                .is_none_or(|s| x.tags.iter().any(|t| s.contains(t)))
        })
        .filter(|x| {
            txs.as_ref()
                .is_none_or(|s| x.transaction_ids.iter().any(|t| s.contains(t)))
        })
        .filter(|x| {
            cases
                .as_ref()
                .is_none_or(|s| x.linked_case_id.as_ref().is_some_and(|c| s.contains(c)))
        })
        .filter(|x| after.is_none_or(|a| x.created_at >= a))
        .filter(|x| before.is_none_or(|b| x.created_at < b))
        .cloned()
        .collect();
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    page(items, &p)
}

async fn get_discussion(State(app): State<Arc<TgApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let i = d
        .discussion_index(&id)
        .ok_or_else(|| not_found("discussion", &id))?;
    Ok(Json(&d.discussions[i]).into_response())
}

async fn create_discussion(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
    let nd: tg::NewDiscussion = json_body(P, &body)?;
    let disc = app.data().open_discussion(nd)?;
    Ok(created(Some(format!("/v1/discussions/{}", disc.id)), &disc))
}

async fn patch_discussion(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let patch: tg::DiscussionPatch = json_body(P, &body)?;
    if patch.status.as_ref().is_some_and(is_unknown) {
        return Err(err(
            Kind::Invalid,
            "status is not a known discussion status",
        ));
    }
    if let Some(c) = &patch.linked_case_id {
        if !c.is_empty() && !valid_id(c) {
            return Err(err(Kind::Invalid, "linked_case_id is not a valid id"));
        }
    }
    let mut d = app.data();
    let i = d
        .discussion_index(&id)
        .ok_or_else(|| not_found("discussion", &id))?;
    let at = now();
    let disc = &mut d.discussions[i];
    if let Some(s) = patch.status {
        disc.status = s;
    }
    if let Some(t) = patch.tags {
        disc.tags = t;
    }
    if let Some(c) = patch.linked_case_id {
        // An empty string unlinks: the wire patch cannot express null-versus-absent.
        disc.linked_case_id = (!c.is_empty()).then_some(c);
    }
    disc.updated_at = at;
    let out = disc.clone();
    d.emit("discussion.updated", at, &out);
    Ok(Json(out).into_response())
}

async fn list_discussion_messages(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&q)?;
    p.size("limit")?;
    p.offset("cursor")?;
    let d = app.data();
    d.discussion_index(&id)
        .ok_or_else(|| not_found("discussion", &id))?;
    let mut items: Vec<tg::Message> = d
        .messages
        .iter()
        .filter(|m| m.discussion_id == id)
        .cloned()
        .collect();
    drop(d);
    items.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    page(items, &p)
}

async fn list_messages(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids: HashSet<String> = p
        .required_list("discussion_ids", MAX_IDS)?
        .into_iter()
        .collect();
    p.size("limit")?;
    p.offset("cursor")?;
    let mut items: Vec<tg::Message> = app
        .data()
        .messages
        .iter()
        .filter(|m| ids.contains(&m.discussion_id))
        .cloned()
        .collect();
    items.sort_by(|a, b| {
        a.discussion_id
            .cmp(&b.discussion_id)
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    page(items, &p)
}

async fn post_message(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let nm: tg::NewMessage = json_body(P, &body)?;
    let msg = app.data().post_message(&id, nm)?;
    Ok(created(None, &msg))
}

// ---------------------------------------------------------------------------
// Documents

async fn list_documents(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids = set(p.list("ids", MAX_IDS)?);
    let partners = set(p.list("partner_id", MAX_IDS)?);
    let discussions = set(p.list("discussion_ids", MAX_IDS)?);
    let kinds = p.enums::<tg::DocumentKind>("kind")?;
    let shas: Option<HashSet<String>> = p
        .list("sha256", MAX_IDS)?
        .map(|v| v.into_iter().map(|s| s.to_ascii_lowercase()).collect());
    p.size("limit")?;
    p.offset("cursor")?;
    let items: Vec<tg::Document> = app
        .data()
        .documents
        .iter()
        .filter(|x| ids.as_ref().is_none_or(|s| s.contains(&x.id)))
        .filter(|x| partners.as_ref().is_none_or(|s| s.contains(&x.partner_id)))
        .filter(|x| {
            discussions
                .as_ref()
                .is_none_or(|s| x.discussion_id.as_ref().is_some_and(|d| s.contains(d)))
        })
        .filter(|x| kinds.as_ref().is_none_or(|s| s.contains(&x.kind)))
        .filter(|x| shas.as_ref().is_none_or(|s| s.contains(&x.sha256)))
        .cloned()
        .collect();
    page(items, &p)
}

async fn get_document(State(app): State<Arc<TgApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let x = d
        .documents
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| not_found("document", &id))?;
    Ok(Json(x).into_response())
}

async fn get_document_content(State(app): State<Arc<TgApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let x = d
        .documents
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| not_found("document", &id))?;
    let bytes = d.bytes.get(&id).cloned().unwrap_or_default();
    Ok(content(bytes, &x.content_type, &x.sha256))
}

async fn post_document(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
    let nd: tg::NewDocument = json_body(P, &body)?;
    let cleaned: String = nd
        .content_base64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| err(Kind::Invalid, "content_base64 is not valid standard base64"))?;
    let doc = app.data().store_document(nd, bytes)?;
    Ok(created(Some(format!("/v1/documents/{}", doc.id)), &doc))
}

// ---------------------------------------------------------------------------
// Transactions and events

async fn list_transactions(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let ids = set(p.list("ids", MAX_IDS)?);
    let partners = set(p.list("partner_id", MAX_IDS)?);
    let statuses = p.enums::<tg::TransactionStatus>("status")?;
    let types = set(p.list("document_type", MAX_IDS)?);
    let after = p.date("created_after")?;
    let before = p.date("created_before")?;
    let updated = p.date("updated_after")?;
    p.size("limit")?;
    p.offset("cursor")?;
    let d = app.data();
    let items: Vec<tg::Transaction> = match &ids {
        // Batch lookups by id are the hot path for the gateway: use the index.
        Some(s) => {
            let mut idx: Vec<usize> = s
                .iter()
                .filter_map(|i| d.tx_index.get(i).copied())
                .collect();
            idx.sort();
            idx.into_iter()
                .map(|i| &d.transactions[i])
                .cloned()
                .collect()
        }
        None => d.transactions.clone(),
    };
    drop(d);
    let items: Vec<tg::Transaction> = items
        .into_iter()
        .filter(|x| partners.as_ref().is_none_or(|s| s.contains(&x.partner_id)))
        .filter(|x| statuses.as_ref().is_none_or(|s| s.contains(&x.status)))
        .filter(|x| types.as_ref().is_none_or(|s| s.contains(&x.document_type)))
        .filter(|x| after.is_none_or(|a| x.created_at >= a))
        .filter(|x| before.is_none_or(|b| x.created_at < b))
        .filter(|x| updated.is_none_or(|u| x.updated_at >= u))
        .collect();
    page(items, &p)
}

async fn get_transaction(State(app): State<Arc<TgApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let i = d
        .tx_index
        .get(&id)
        .copied()
        .ok_or_else(|| not_found("transaction", &id))?;
    Ok(Json(&d.transactions[i]).into_response())
}

async fn list_events(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
    let p = params(&q)?;
    let after = match p.u64("after")? {
        Some(a) => a,
        // `next_cursor` of this feed is the last sequence, so a cursor works as `after`.
        None => p.u64("cursor")?.unwrap_or(0),
    };
    let size = p.size("limit")?;
    let d = app.data();
    let rest: Vec<&tg::Event> = d.events.iter().filter(|e| e.sequence > after).collect();
    let items: Vec<tg::Event> = rest.iter().take(size).map(|e| (*e).clone()).collect();
    let next_cursor = (rest.len() > size)
        .then(|| items.last().map(|e| e.sequence.to_string()))
        .flatten();
    Ok(Json(tg::Page { items, next_cursor }).into_response())
}

// ---------------------------------------------------------------------------
// Scenarios: what a partner, or the platform itself, does on its own

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpensDiscussion {
    partner_id: String,
    kind: tg::DiscussionKind,
    title: String,
    body: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    transaction_ids: Vec<String>,
}

async fn scenario_opens_discussion(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
    let s: OpensDiscussion = json_body(P, &body)?;
    let mut d = app.data();
    let author = d
        .partner_person(&s.partner_id)
        .ok_or_else(|| not_found("partner", &s.partner_id))?;
    let disc = d.open_discussion(tg::NewDiscussion {
        partner_id: s.partner_id,
        title: s.title,
        kind: s.kind,
        tags: s.tags,
        transaction_ids: s.transaction_ids,
        body: s.body,
        author,
    })?;
    Ok(created(Some(format!("/v1/discussions/{}", disc.id)), &disc))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostsMessage {
    discussion_id: String,
    body: String,
}

/// The partner of a discussion and a person speaking for it.
fn discussion_partner(d: &TgData, discussion_id: &str) -> Result<(String, tg::Author), ApiError> {
    let i = d
        .discussion_index(discussion_id)
        .ok_or_else(|| not_found("discussion", discussion_id))?;
    let partner_id = d.discussions[i].partner_id.clone();
    let author = d
        .partner_person(&partner_id)
        .ok_or_else(|| not_found("partner", &partner_id))?;
    Ok((partner_id, author))
}

async fn scenario_posts_message(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
    let s: PostsMessage = json_body(P, &body)?;
    let mut d = app.data();
    let (_, author) = discussion_partner(&d, &s.discussion_id)?;
    let msg = d.post_message(
        &s.discussion_id,
        tg::NewMessage {
            author,
            body: s.body,
            document_ids: Vec::new(),
        },
    )?;
    Ok(created(None, &msg))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostsDocument {
    discussion_id: String,
    name: String,
    kind: tg::DocumentKind,
    content_type: String,
    /// UTF-8 text used as the document's bytes.
    content: String,
}

async fn scenario_posts_document(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
    let s: PostsDocument = json_body(P, &body)?;
    let mut d = app.data();
    let (partner_id, author) = discussion_partner(&d, &s.discussion_id)?;
    let name = s.name.clone();
    let doc = d.store_document(
        tg::NewDocument {
            partner_id,
            discussion_id: Some(s.discussion_id.clone()),
            name: s.name,
            kind: s.kind,
            content_type: s.content_type,
            content_base64: String::new(),
            uploaded_by: author.clone(),
        },
        s.content.into_bytes(),
    )?;
    let msg = d.post_message(
        &s.discussion_id,
        tg::NewMessage {
            author,
            body: format!("Please find {name} attached."),
            document_ids: vec![doc.id.clone()],
        },
    )?;
    Ok(created(
        Some(format!("/v1/documents/{}", doc.id)),
        &json!({"document": doc, "message": msg}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionFails {
    transaction_id: String,
    status: tg::TransactionStatus,
    #[serde(default)]
    errors: Option<Vec<tg::TransactionError>>,
}

async fn scenario_transaction_fails(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
    let s: TransactionFails = json_body(P, &body)?;
    let event_type = match s.status {
        tg::TransactionStatus::Failed => "transaction.failed",
        tg::TransactionStatus::Rejected => "transaction.rejected",
        tg::TransactionStatus::AckOverdue => "transaction.ack_overdue",
        _ => {
            return Err(err(
                Kind::Invalid,
                "status must be failed, rejected or ack_overdue",
            ))
        }
    };
    if let Some(errors) = &s.errors {
        if errors
            .iter()
            .any(|e| e.code.trim().is_empty() || e.message.trim().is_empty())
        {
            return Err(err(Kind::Invalid, "every error needs a code and a message"));
        }
    }
    let mut d = app.data();
    let i = d
        .tx_index
        .get(&s.transaction_id)
        .copied()
        .ok_or_else(|| not_found("transaction", &s.transaction_id))?;
    let at = now();
    let tx = &mut d.transactions[i];
    let errors = s.errors.unwrap_or_else(|| errors_for(tx, s.status));
    tx.status = s.status;
    tx.errors = errors;
    // Only a delivered interchange carries an acknowledgement.
    tx.acknowledged_at = None;
    tx.updated_at = at;
    let out = tx.clone();
    d.emit(event_type, at, &out);
    Ok(Json(out).into_response())
}
