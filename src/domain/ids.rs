//! Identifier newtypes. Each parses from client input and rejects what cannot be an
//! id of that kind, so a malformed id is a `BAD_USER_INPUT` before any upstream call.
//!
//! Upstream ids carry a kind prefix (`TP-`, `DSC-`, `DOC-`, …); that prefix is how
//! `node(id:)` and `/documents/{id}/content` know which platform owns an id.

use std::fmt;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected {expected})")]
pub struct InvalidId {
    pub kind: &'static str,
    pub expected: &'static str,
    pub value: String,
}

/// Ids are short and plain: anything else is refused before it reaches a URL.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// Parse client input into this id kind.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let value = value.trim();
                if is_plain(value) && value.starts_with($prefix) && value.len() > $prefix.len() {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId {
                        kind: $kind,
                        expected: concat!("`", $prefix, "…`"),
                        value: value.chars().take(80).collect(),
                    })
                }
            }

            /// Wrap an id an upstream sent. Upstream ids are trusted as they are.
            pub fn from_upstream(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A Trading Grid trading partner, e.g. `TP-0001`.
    PartnerId, "trading partner", "TP-"
);
id_type!(
    /// A Trading Grid community discussion, e.g. `DSC-000001`.
    IssueId, "partner issue", "DSC-"
);
id_type!(
    /// A Trading Grid community document, e.g. `DOC-000001`.
    TgDocumentId, "document", "DOC-"
);
id_type!(
    /// A Core Case case document (evidence entry), e.g. `EV-000001`.
    EvidenceId, "document", "EV-"
);
id_type!(
    /// A Trading Grid B2B transaction, e.g. `TX-0000001`.
    TransactionId, "transaction", "TX-"
);
id_type!(
    /// A Core Case case, e.g. `CASE-000001`.
    CaseId, "case", "CASE-"
);

/// A document lives on one of the platforms; its id says which.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DocumentId {
    TradingGrid(TgDocumentId),
    CoreCase(EvidenceId),
}

impl DocumentId {
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        if let Ok(id) = TgDocumentId::parse(value) {
            return Ok(Self::TradingGrid(id));
        }
        EvidenceId::parse(value)
            .map(Self::CoreCase)
            .map_err(|_| InvalidId {
                kind: "document",
                expected: "`DOC-…` or `EV-…`",
                value: value.chars().take(80).collect(),
            })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::TradingGrid(id) => id.as_str(),
            Self::CoreCase(id) => id.as_str(),
        }
    }
}

/// Any id `node(id:)` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeId {
    Partner(PartnerId),
    Issue(IssueId),
    Document(DocumentId),
    Transaction(TransactionId),
    Case(CaseId),
}

impl NodeId {
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        let v = value.trim();
        let parsed = if v.starts_with(PartnerId::PREFIX) {
            PartnerId::parse(v).map(Self::Partner)
        } else if v.starts_with(IssueId::PREFIX) {
            IssueId::parse(v).map(Self::Issue)
        } else if v.starts_with(TgDocumentId::PREFIX) || v.starts_with(EvidenceId::PREFIX) {
            DocumentId::parse(v).map(Self::Document)
        } else if v.starts_with(TransactionId::PREFIX) {
            TransactionId::parse(v).map(Self::Transaction)
        } else if v.starts_with(CaseId::PREFIX) {
            CaseId::parse(v).map(Self::Case)
        } else {
            Err(InvalidId {
                kind: "node",
                expected: "an id starting TP-, DSC-, DOC-, EV-, TX- or CASE-",
                value: v.chars().take(80).collect(),
            })
        };
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_their_own_kind() {
        assert!(CaseId::parse("CASE-000001").is_ok());
        assert!(CaseId::parse("DSC-000001").is_err());
        assert!(CaseId::parse("CASE-").is_err());
        assert!(PartnerId::parse(" TP-0001 ").is_ok());
    }

    #[test]
    fn ids_refuse_characters_that_could_change_an_upstream_url() {
        for bad in ["TP-1/../x", "TP-1?ids=TP-2", "TP-1 2", "TP-%2F", ""] {
            assert!(PartnerId::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(PartnerId::parse(&format!("TP-{}", "1".repeat(80))).is_err());
    }

    #[test]
    fn node_ids_are_routed_by_prefix() {
        assert!(matches!(NodeId::parse("TX-1"), Ok(NodeId::Transaction(_))));
        assert!(matches!(
            NodeId::parse("EV-1"),
            Ok(NodeId::Document(DocumentId::CoreCase(_)))
        ));
        assert!(NodeId::parse("RES-1").is_err());
    }
}
