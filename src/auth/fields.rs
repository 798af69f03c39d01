//! The field table: every field of the public schema and who may read it. The
//! record-level rules (whose records, which documents and resolutions) are in
//! [`super::policy`]; this table says which *fields* are staff material at all.
//! Resolvers enforce it (`InternalOnly` guards, the mutations' staff check); a
//! test walks the served schema by introspection and fails for any field missing
//! here, and checks every staff field against a partner token.

/// Who may read a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldAccess {
    /// Any authenticated caller (records still filtered by the policy).
    Everyone,
    /// Agents and admins only; partners get `FORBIDDEN`.
    Staff,
}

/// Types whose every field is staff material (they are only reachable through
/// staff fields or mutations).
const STAFF_TYPES: &[&str] = &[
    "Mutation",
    "CaseActionPayload",
    "PendingStep",
    "CaseTask",
    "CaseNote",
    "CaseHistoryEntry",
    "ActivityEntry",
];

const TABLE: &[(&str, FieldAccess, &[&str])] = {
    use FieldAccess::*;
    &[
        (
            "Query",
            Everyone,
            &[
                "node",
                "me",
                "partnerIssue",
                "partnerIssues",
                "case",
                "cases",
                "transaction",
                "transactions",
                "document",
                "tradingPartner",
                "tradingPartners",
                "resolutions",
            ],
        ),
        // Federation: `_entities` resolves through the same loaders and policy as
        // `node`; `_service` is the schema itself, so it follows introspection
        // (partners get it only when introspection is on).
        ("Query", Everyone, &["_entities"]),
        ("Query", Staff, &["_service"]),
        ("_Service", Staff, &["sdl"]),
        ("Subscription", Everyone, &["caseMilestones"]),
        (
            "Case",
            Everyone,
            &[
                "id",
                "number",
                "type",
                "milestone",
                "openedAt",
                "updatedAt",
                "resolvedAt",
                "partner",
                "issue",
                "transactions",
                "evidence",
                "resolution",
            ],
        ),
        (
            "Case",
            Staff,
            &[
                "status",
                "priority",
                "title",
                "description",
                "assignee",
                "team",
                "slaDueAt",
                "tasks",
                "notes",
                "activity",
                "history",
            ],
        ),
        (
            "PartnerIssue",
            Everyone,
            &[
                "id",
                "title",
                "kind",
                "status",
                "tags",
                "messageCount",
                "createdAt",
                "updatedAt",
                "partner",
                "messages",
                "documents",
                "transactions",
                "case",
            ],
        ),
        (
            "Message",
            Everyone,
            &["id", "author", "body", "createdAt", "documents"],
        ),
        ("MessageAuthor", Everyone, &["name", "role"]),
        (
            "Document",
            Everyone,
            &[
                "id",
                "name",
                "kind",
                "contentType",
                "sizeBytes",
                "sha256",
                "createdAt",
                "source",
                "downloadUrl",
                "partner",
                "issue",
                "cases",
            ],
        ),
        (
            "Transaction",
            Everyone,
            &[
                "id",
                "standard",
                "documentType",
                "direction",
                "controlNumber",
                "status",
                "errors",
                "poNumber",
                "invoiceNumber",
                "shipmentId",
                "createdAt",
                "updatedAt",
                "acknowledgedAt",
                "partner",
                "issues",
                "cases",
            ],
        ),
        (
            "TransactionErrorDetail",
            Everyone,
            &["code", "message", "segment"],
        ),
        (
            "TradingPartner",
            Everyone,
            &[
                "id",
                "name",
                "tier",
                "country",
                "communityId",
                "contactEmail",
                "createdAt",
                "issues",
                "cases",
                "transactions",
            ],
        ),
        (
            "Resolution",
            Everyone,
            &[
                "id",
                "summary",
                "rootCause",
                "correctiveActions",
                "resolvedAt",
                "sharedWithPartner",
                "case",
            ],
        ),
        (
            "CaseMilestoneEvent",
            Everyone,
            &[
                "cursor",
                "caseId",
                "caseNumber",
                "partnerId",
                "milestone",
                "message",
                "at",
            ],
        ),
        ("Viewer", Everyone, &["subject", "role", "partnerId"]),
        (
            "PageInfo",
            Everyone,
            &["hasPreviousPage", "hasNextPage", "startCursor", "endCursor"],
        ),
    ]
};

/// Relay wrappers carry whatever their items carry.
fn is_connection_wrapper(type_name: &str) -> bool {
    type_name.ends_with("Connection") || type_name.ends_with("Edge")
}

/// Who may read `type_name.field`; `None` for a field the table does not know
/// (which the schema test refuses).
pub fn field_access(type_name: &str, field: &str) -> Option<FieldAccess> {
    if type_name.starts_with("__") || field.starts_with("__") {
        return Some(FieldAccess::Everyone);
    }
    if STAFF_TYPES.contains(&type_name) {
        return Some(FieldAccess::Staff);
    }
    if is_connection_wrapper(type_name)
        && matches!(field, "pageInfo" | "edges" | "nodes" | "node" | "cursor")
    {
        return Some(FieldAccess::Everyone);
    }
    TABLE
        .iter()
        .find(|(t, _, fields)| *t == type_name && fields.contains(&field))
        .map(|(_, access, _)| *access)
}

/// Every `(type, field)` the table marks as staff material, for tests that try
/// each one with a partner token.
pub fn staff_fields() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE
        .iter()
        .filter(|(_, access, _)| *access == FieldAccess::Staff)
        .flat_map(|(t, _, fields)| fields.iter().map(move |f| (*t, *f)))
}
