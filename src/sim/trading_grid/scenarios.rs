//! `/__sim/scenarios` on Trading Grid: what a partner, or the platform itself, does
//! on its own (opens a discussion, posts a message or a document, fails a transaction).

use super::*;

// ---------------------------------------------------------------------------
// Scenarios: what a partner, or the platform itself, does on its own

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OpensDiscussion {
    partner_id: String,
    kind: tg::DiscussionKind,
    title: String,
    body: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    transaction_ids: Vec<String>,
}

pub(super) async fn scenario_opens_discussion(
    State(app): State<Arc<TgApp>>,
    body: Bytes,
) -> ApiResult {
    let s: OpensDiscussion = json_body(P, &body)?;
    let mut d = app.data();
    let author = d
        .partner_person(&s.partner_id)
        .ok_or_else(|| not_found(P, "partner", &s.partner_id))?;
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
pub(super) struct PostsMessage {
    discussion_id: String,
    body: String,
}

/// The partner of a discussion and a person speaking for it.
pub(super) fn discussion_partner(
    d: &TgData,
    discussion_id: &str,
) -> Result<(String, tg::Author), ApiError> {
    let i = d
        .discussion_index(discussion_id)
        .ok_or_else(|| not_found(P, "discussion", discussion_id))?;
    let partner_id = d.discussions[i].partner_id.clone();
    let author = d
        .partner_person(&partner_id)
        .ok_or_else(|| not_found(P, "partner", &partner_id))?;
    Ok((partner_id, author))
}

pub(super) async fn scenario_posts_message(
    State(app): State<Arc<TgApp>>,
    body: Bytes,
) -> ApiResult {
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
pub(super) struct PostsDocument {
    discussion_id: String,
    name: String,
    kind: tg::DocumentKind,
    content_type: String,
    /// UTF-8 text used as the document's bytes.
    content: String,
}

pub(super) async fn scenario_posts_document(
    State(app): State<Arc<TgApp>>,
    body: Bytes,
) -> ApiResult {
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
pub(super) struct TransactionFails {
    transaction_id: String,
    status: tg::TransactionStatus,
    #[serde(default)]
    errors: Option<Vec<tg::TransactionError>>,
}

pub(super) async fn scenario_transaction_fails(
    State(app): State<Arc<TgApp>>,
    body: Bytes,
) -> ApiResult {
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
        .ok_or_else(|| not_found(P, "transaction", &s.transaction_id))?;
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
