//! Trusted documents: with a manifest configured, the callers it applies to
//! (partners by default, or everyone) may run only the operations in it.
//!
//! A client names an operation by its id in `extensions.persistedQuery.sha256Hash`
//! (what Apollo Client's persisted-queries link sends), with or without the
//! text; or sends the text alone, which is accepted when it is, byte for byte,
//! a document of the manifest. Anything else is refused before it is parsed:
//! an unknown id with `PERSISTED_QUERY_NOT_IN_LIST`, other text with
//! `QUERY_NOT_IN_SAFELIST` — so a partner cannot run, or register, an operation
//! the portal's build did not ship.
//!
//! Manifest formats read:
//! - Apollo's persisted query manifest: `{"format":
//!   "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
//!   "name", "type", "body"}]}`;
//! - a flat map of id to document, `{"<id>": "<document>"}`, as GraphQL Code
//!   Generator's client preset and Relay write it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::{Principal, Role};
use crate::config::TrustedFor;

/// An id the manifest does not hold.
pub(crate) const PERSISTED_QUERY_NOT_IN_LIST: &str = "PERSISTED_QUERY_NOT_IN_LIST";
/// Operation text that is not a document of the manifest.
pub(crate) const QUERY_NOT_IN_SAFELIST: &str = "QUERY_NOT_IN_SAFELIST";

/// Most operations a manifest may hold.
const MAX_OPERATIONS: usize = 10_000;
/// Longest id and longest document a manifest may hold.
const MAX_ID: usize = 128;
const MAX_DOCUMENT: usize = 64 * 1024;

/// The operations a manifest allows.
#[derive(Debug)]
pub struct TrustedDocuments {
    by_id: HashMap<String, Arc<str>>,
    /// SHA-256 of each document, for text sent without an id.
    by_digest: HashMap<[u8; 32], Arc<str>>,
    applies_to: TrustedFor,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Manifest {
    Apollo {
        format: String,
        version: u32,
        operations: Vec<Operation>,
    },
    Flat(HashMap<String, String>),
}

#[derive(Deserialize)]
struct Operation {
    id: String,
    body: String,
}

impl TrustedDocuments {
    /// Read the manifest at `path`; every problem names what is wrong with it.
    pub fn load(path: &Path, applies_to: TrustedFor) -> Result<Self, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Bounded before it is read: ids and documents are bounded too.
        let limit = (MAX_OPERATIONS * (MAX_ID + MAX_DOCUMENT)) as u64;
        if meta.len() > limit {
            return Err(format!(
                "{}: {} bytes, over the {limit} a manifest may have",
                path.display(),
                meta.len()
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, applies_to).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str, applies_to: TrustedFor) -> Result<Self, String> {
        let manifest: Manifest = serde_json::from_str(text).map_err(|e| {
            format!("not a persisted query manifest (Apollo's format, or a JSON object of id to document): {e}")
        })?;
        let operations: Vec<(String, String)> = match manifest {
            Manifest::Apollo {
                format,
                version,
                operations,
            } => {
                if format != "apollo-persisted-query-manifest" || version != 1 {
                    return Err(format!(
                        "format `{format}` version {version}: expected apollo-persisted-query-manifest version 1"
                    ));
                }
                operations.into_iter().map(|op| (op.id, op.body)).collect()
            }
            Manifest::Flat(map) => map.into_iter().collect(),
        };
        if operations.is_empty() {
            return Err("holds no operations (every request would be refused)".into());
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(format!(
                "{} operations, over the {MAX_OPERATIONS} a manifest may hold",
                operations.len()
            ));
        }
        let mut by_id = HashMap::new();
        let mut by_digest = HashMap::new();
        for (id, body) in operations {
            if id.is_empty() || id.len() > MAX_ID {
                return Err(format!(
                    "operation id `{id}` must be 1 to {MAX_ID} characters"
                ));
            }
            if body.trim().is_empty() || body.len() > MAX_DOCUMENT {
                return Err(format!(
                    "operation `{id}`: its document must be 1 to {MAX_DOCUMENT} bytes"
                ));
            }
            if let Err(e) = async_graphql::parser::parse_query(&body) {
                return Err(format!("operation `{id}` is not a GraphQL document: {e}"));
            }
            let body: Arc<str> = body.into();
            by_digest.insert(Sha256::digest(body.as_bytes()).into(), body.clone());
            if by_id.insert(id.clone(), body).is_some() {
                return Err(format!("operation id `{id}` appears twice"));
            }
        }
        Ok(Self {
            by_id,
            by_digest,
            applies_to,
        })
    }

    /// Whether `principal` is bound by the manifest.
    pub(crate) fn binds(&self, principal: &Principal) -> bool {
        match self.applies_to {
            TrustedFor::Everyone => true,
            TrustedFor::Partners => principal.role() == Role::Partner,
        }
    }

    /// The document with this id (the id as sent; hex digests are matched
    /// whatever their case).
    pub(crate) fn by_id(&self, id: &str) -> Option<&Arc<str>> {
        self.by_id
            .get(id)
            .or_else(|| self.by_id.get(&id.to_ascii_lowercase()))
    }

    /// Whether `text` is one of the manifest's documents.
    pub(crate) fn contains(&self, text: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        self.by_digest
            .get(&digest)
            .is_some_and(|body| **body == *text)
    }

    /// Operations held (never zero: an empty manifest is refused).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DASH: &str = "query Dash { partnerIssues(first: 5) { edges { node { id } } } }";

    fn digest(s: &str) -> String {
        hex::encode(Sha256::digest(s.as_bytes()))
    }

    #[test]
    fn reads_apollo_manifests_and_flat_maps() {
        let apollo = serde_json::json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": digest(DASH), "name": "Dash", "type": "query", "body": DASH }],
        });
        let t = TrustedDocuments::parse(&apollo.to_string(), TrustedFor::Partners).unwrap();
        assert_eq!(t.by_id(&digest(DASH)).map(|b| &**b), Some(DASH));
        assert_eq!(
            t.by_id(&digest(DASH).to_ascii_uppercase()).map(|b| &**b),
            Some(DASH)
        );
        assert!(t.contains(DASH));
        assert!(!t.contains(&format!("{DASH} ")), "byte for byte");

        let flat = serde_json::json!({ "dash-v3": DASH });
        let t = TrustedDocuments::parse(&flat.to_string(), TrustedFor::Everyone).unwrap();
        assert!(t.by_id("dash-v3").is_some());
        assert!(t.by_id("dash-v2").is_none());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn refuses_manifests_it_cannot_trust() {
        let cases = [
            ("[]", "not a persisted query manifest"),
            ("{}", "holds no operations"),
            (
                r#"{"a": "query {"}"#,
                "operation `a` is not a GraphQL document",
            ),
            (r#"{"a": "  "}"#, "operation `a`: its document must be"),
            (
                r#"{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}"#,
                "expected apollo-persisted-query-manifest version 1",
            ),
        ];
        for (text, expected) in cases {
            let e = TrustedDocuments::parse(text, TrustedFor::Partners).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
        }
        let long_id = format!(r#"{{"{}": "{{ __typename }}"}}"#, "x".repeat(MAX_ID + 1));
        assert!(TrustedDocuments::parse(&long_id, TrustedFor::Partners)
            .unwrap_err()
            .contains("must be 1 to"));
    }

    #[test]
    fn binds_partners_only_unless_told_everyone() {
        let t =
            TrustedDocuments::parse(r#"{"a": "{ __typename }"}"#, TrustedFor::Partners).unwrap();
        let partner = Principal::Partner {
            subject: "p".into(),
            partner: crate::domain::PartnerId::parse("TP-0001").unwrap(),
        };
        let agent = Principal::Agent {
            subject: "a".into(),
        };
        assert!(t.binds(&partner));
        assert!(!t.binds(&agent));
        let t =
            TrustedDocuments::parse(r#"{"a": "{ __typename }"}"#, TrustedFor::Everyone).unwrap();
        assert!(t.binds(&agent));
    }
}
