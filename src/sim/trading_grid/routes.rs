//! The Trading Grid API routes under `/v1`: partners, communities, discussions,
//! messages, documents, transactions and the change feed.

use super::*;

// ---------------------------------------------------------------------------
// Partners and communities

pub(super) async fn list_partners(
    State(app): State<Arc<TgApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn get_partner(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    let x = d.partner(&id).ok_or_else(|| not_found(P, "partner", &id))?;
    Ok(Json(x).into_response())
}

pub(super) async fn list_communities(
    State(app): State<Arc<TgApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn get_community(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    let x = d
        .communities
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| not_found(P, "community", &id))?;
    Ok(Json(x).into_response())
}

// ---------------------------------------------------------------------------
// Discussions and messages

pub(super) async fn list_discussions(
    State(app): State<Arc<TgApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn get_discussion(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    let i = d
        .discussion_index(&id)
        .ok_or_else(|| not_found(P, "discussion", &id))?;
    Ok(Json(&d.discussions[i]).into_response())
}

pub(super) async fn create_discussion(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
    let nd: tg::NewDiscussion = json_body(P, &body)?;
    let disc = app.data().open_discussion(nd)?;
    Ok(created(Some(format!("/v1/discussions/{}", disc.id)), &disc))
}

pub(super) async fn patch_discussion(
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
        .ok_or_else(|| not_found(P, "discussion", &id))?;
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

pub(super) async fn list_discussion_messages(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&q)?;
    p.size("limit")?;
    p.offset("cursor")?;
    let d = app.data();
    d.discussion_index(&id)
        .ok_or_else(|| not_found(P, "discussion", &id))?;
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

pub(super) async fn list_messages(
    State(app): State<Arc<TgApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn post_message(
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

pub(super) async fn list_documents(
    State(app): State<Arc<TgApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn get_document(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    let x = d
        .documents
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| not_found(P, "document", &id))?;
    Ok(Json(x).into_response())
}

pub(super) async fn get_document_content(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    let x = d
        .documents
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| not_found(P, "document", &id))?;
    let bytes = d.bytes.get(&id).cloned().unwrap_or_default();
    Ok(content(bytes, &x.content_type, &x.sha256))
}

pub(super) async fn post_document(State(app): State<Arc<TgApp>>, body: Bytes) -> ApiResult {
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

pub(super) async fn list_transactions(
    State(app): State<Arc<TgApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn get_transaction(
    State(app): State<Arc<TgApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    let i = d
        .tx_index
        .get(&id)
        .copied()
        .ok_or_else(|| not_found(P, "transaction", &id))?;
    Ok(Json(&d.transactions[i]).into_response())
}

pub(super) async fn list_events(State(app): State<Arc<TgApp>>, RawQuery(q): RawQuery) -> ApiResult {
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
