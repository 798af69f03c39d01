//! The Core Case API routes under `/api/v2`: cases, tasks, evidence documents,
//! notes, history, resolutions and the change feed.

use super::*;

pub(super) async fn list_cases(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
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

pub(super) async fn get_case(State(app): State<Arc<CcApp>>, Path(id): Path<String>) -> ApiResult {
    let d = app.data();
    let i = d.case_index(&id)?;
    Ok(Json(&d.cases[i]).into_response())
}

pub(super) async fn create_case(
    State(app): State<Arc<CcApp>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
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
    d.record(Change {
        case_id: &id,
        at,
        actor,
        action: "created",
        from: None,
        to: Some(cc::CaseStatus::New),
        detail: Some(format!("Case {number} created")),
    });
    d.emit("case.created", &id, at, json!({"case": case}));
    Ok(created(Some(format!("/api/v2/cases/{id}")), &case))
}

pub(super) async fn patch_case(
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
        d.record(Change {
            case_id: &id,
            at,
            actor,
            action: "assigned",
            from: None,
            to: None,
            detail: Some(format!("Assigned to {}", a.name)),
        });
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

pub(super) async fn list_case_tasks(
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

pub(super) async fn list_tasks(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
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

pub(super) async fn create_task(
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
    d.record(Change {
        case_id: &id,
        at,
        actor,
        action: "task_created",
        from: None,
        to: None,
        detail: Some(format!("Task {tid}: {}", task.title)),
    });
    d.emit("case.task_created", &id, at, json!({"task": task}));
    Ok(created(None, &task))
}

// ---------------------------------------------------------------------------
// Evidence documents

pub(super) async fn list_case_documents(
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

pub(super) async fn list_documents(
    State(app): State<Arc<CcApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

pub(super) async fn attach_document(
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
    d.record(Change {
        case_id: &id,
        at,
        actor,
        action: "document_linked",
        from: None,
        to: None,
        detail: Some(format!("{} ({})", doc.name, eid)),
    });
    d.emit("case.document_linked", &id, at, json!({"document": doc}));
    Ok(created(None, &doc))
}

pub(super) async fn get_document_content(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    let doc = d
        .documents
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| not_found(P, "case document", &id))?;
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

pub(super) async fn list_case_notes(
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

pub(super) async fn list_notes(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
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

pub(super) async fn create_note(
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

pub(super) async fn list_case_history(
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

pub(super) async fn list_history(
    State(app): State<Arc<CcApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn get_resolution(
    State(app): State<Arc<CcApp>>,
    Path(id): Path<String>,
) -> ApiResult {
    let d = app.data();
    d.case_index(&id)?;
    let r = d
        .resolutions
        .iter()
        .find(|r| r.case_id == id)
        .ok_or_else(|| err(Kind::NotFound, format!("case {id} has no resolution")))?;
    Ok(Json(r).into_response())
}

pub(super) async fn put_resolution(
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

pub(super) async fn list_resolutions(
    State(app): State<Arc<CcApp>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
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

pub(super) async fn list_events(State(app): State<Arc<CcApp>>, RawQuery(q): RawQuery) -> ApiResult {
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
