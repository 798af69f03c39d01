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
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::common::{
    self, content, created, is_unknown, json_body, lock, not_found, now, paginate, set, valid_id,
    ApiError, Common, Kind, Params,
};
use super::webhook::Outbox;
use super::world::{errors_for, sha256_hex, World};
use super::{idempotency, Platform, SimOptions};
use crate::upstream::trading_grid::wire as tg;

mod routes;
mod scenarios;

use routes::*;
use scenarios::*;

const P: Platform = Platform::TradingGrid;
const MAX_IDS: usize = 100;

type ApiResult = Result<Response, ApiError>;

fn err(kind: Kind, msg: impl Into<String>) -> ApiError {
    ApiError::new(P, kind, msg)
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
            .ok_or_else(|| not_found(P, "partner", &nd.partner_id))?;
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
            .ok_or_else(|| not_found(P, "discussion", id))?;
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
            return Err(not_found(P, "partner", &nd.partner_id));
        }
        if let Some(did) = &nd.discussion_id {
            let i = self
                .discussion_index(did)
                .ok_or_else(|| not_found(P, "discussion", did))?;
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
