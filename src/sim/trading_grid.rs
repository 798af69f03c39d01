//! Trading Grid / Active Community simulator: partners, communities, discussions,
//! messages, documents, transactions and the change feed under `/v1`.
//!
//! The event feed starts empty: seeded history is not replayed, and every write made
//! through the API appends one event per record created or changed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};

use super::common::{
    self, content, created, is_unknown, json_body, lock, paginate, valid_id, ApiError, Common,
    Kind, Params,
};
use super::world::{sha256_hex, World};
use super::{Platform, SimOptions};
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
}

impl TgData {
    fn from_world(w: World) -> Self {
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
        }
    }

    fn emit(&mut self, event_type: &str, at: DateTime<Utc>, data: Value) {
        let sequence = self.events.len() as u64 + 1;
        self.events.push(tg::Event {
            id: format!("EVT-{sequence:07}"),
            sequence,
            event_type: event_type.into(),
            occurred_at: at,
            data,
        });
    }

    fn partner(&self, id: &str) -> Option<&tg::Partner> {
        self.partners.iter().find(|p| p.id == id)
    }

    fn discussion_index(&self, id: &str) -> Option<usize> {
        self.discussions.iter().position(|d| d.id == id)
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
        data: Mutex::new(TgData::from_world(world)),
    });
    let api = Router::new()
        .route("/v1/partners", get(list_partners))
        .route("/v1/partners/{id}", get(get_partner))
        .route("/v1/communities", get(list_communities))
        .route("/v1/communities/{id}", get(get_community))
        .route(
            "/v1/discussions",
            get(list_discussions).post(create_discussion),
        )
        .route(
            "/v1/discussions/{id}",
            get(get_discussion).patch(patch_discussion),
        )
        .route(
            "/v1/discussions/{id}/messages",
            get(list_discussion_messages).post(post_message),
        )
        .route("/v1/messages", get(list_messages))
        .route("/v1/documents", get(list_documents).post(post_document))
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
    if is_unknown(&nd.kind) {
        return Err(err(Kind::Invalid, "kind is not a known discussion kind"));
    }
    if nd.title.trim().is_empty() || nd.body.trim().is_empty() {
        return Err(err(Kind::Invalid, "title and body must not be empty"));
    }
    check_author(&nd.author)?;
    let mut d = app.data();
    let community_id = d
        .partner(&nd.partner_id)
        .map(|p| p.community_id.clone())
        .ok_or_else(|| not_found("partner", &nd.partner_id))?;
    for t in &nd.transaction_ids {
        match d.tx_index.get(t).map(|&i| &d.transactions[i]) {
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
    let id = format!("DSC-{:06}", d.next_discussion);
    d.next_discussion += 1;
    let mid = format!("MSG-{:07}", d.next_message);
    d.next_message += 1;
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
    d.messages.push(tg::Message {
        id: mid.clone(),
        discussion_id: id.clone(),
        author: nd.author,
        body: nd.body,
        document_ids: Vec::new(),
        created_at: at,
    });
    d.discussions.push(disc.clone());
    d.emit(
        "discussion.created",
        at,
        json!({"discussion_id": id, "partner_id": disc.partner_id}),
    );
    d.emit(
        "message.created",
        at,
        json!({"message_id": mid, "discussion_id": id, "partner_id": disc.partner_id}),
    );
    Ok(created(Some(format!("/v1/discussions/{id}")), &disc))
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
    let mut changed = Vec::new();
    let disc = &mut d.discussions[i];
    if let Some(s) = patch.status {
        disc.status = s;
        changed.push("status");
    }
    if let Some(t) = patch.tags {
        disc.tags = t;
        changed.push("tags");
    }
    if let Some(c) = patch.linked_case_id {
        // An empty string unlinks: the wire patch cannot express null-versus-absent.
        disc.linked_case_id = (!c.is_empty()).then_some(c);
        changed.push("linked_case_id");
    }
    disc.updated_at = at;
    let out = disc.clone();
    d.emit(
        "discussion.updated",
        at,
        json!({"discussion_id": id, "partner_id": out.partner_id, "changed": changed}),
    );
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
    check_author(&nm.author)?;
    if nm.body.trim().is_empty() {
        return Err(err(Kind::Invalid, "body must not be empty"));
    }
    let mut d = app.data();
    let i = d
        .discussion_index(&id)
        .ok_or_else(|| not_found("discussion", &id))?;
    for doc in &nm.document_ids {
        if !d.documents.iter().any(|x| &x.id == doc) {
            return Err(err(Kind::Invalid, format!("document {doc} does not exist")));
        }
    }
    let at = now();
    let mid = format!("MSG-{:07}", d.next_message);
    d.next_message += 1;
    let msg = tg::Message {
        id: mid.clone(),
        discussion_id: id.clone(),
        author: nm.author,
        body: nm.body,
        document_ids: nm.document_ids,
        created_at: at,
    };
    d.messages.push(msg.clone());
    let disc = &mut d.discussions[i];
    disc.message_count += 1;
    disc.updated_at = at;
    let partner_id = disc.partner_id.clone();
    d.emit(
        "message.created",
        at,
        json!({"message_id": mid, "discussion_id": id, "partner_id": partner_id}),
    );
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
    if is_unknown(&nd.kind) {
        return Err(err(Kind::Invalid, "kind is not a known document kind"));
    }
    if nd.name.trim().is_empty() || nd.content_type.trim().is_empty() {
        return Err(err(Kind::Invalid, "name and content_type are required"));
    }
    check_author(&nd.uploaded_by)?;
    let cleaned: String = nd
        .content_base64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| err(Kind::Invalid, "content_base64 is not valid standard base64"))?;
    let mut d = app.data();
    if d.partner(&nd.partner_id).is_none() {
        return Err(not_found("partner", &nd.partner_id));
    }
    if let Some(did) = &nd.discussion_id {
        let i = d
            .discussion_index(did)
            .ok_or_else(|| not_found("discussion", did))?;
        if d.discussions[i].partner_id != nd.partner_id {
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
    let id = format!("DOC-{:06}", d.next_document);
    d.next_document += 1;
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
    d.bytes.insert(id.clone(), Bytes::from(bytes));
    d.documents.push(doc.clone());
    d.emit(
        "document.created",
        at,
        json!({"document_id": id, "partner_id": doc.partner_id, "discussion_id": doc.discussion_id}),
    );
    Ok(created(Some(format!("/v1/documents/{id}")), &doc))
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
