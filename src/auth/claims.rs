//! Which claims of a verified token say who the caller is. Identity providers name
//! them differently (a `role` string, a `roles` or `groups` array, a `scope` or
//! `scp` string of space-separated scopes; the partner id in a custom claim), so
//! the claim names and the values that mean each role are configuration.

use serde_json::{Map, Value};

use super::{Principal, Role, TokenError};
use crate::domain::PartnerId;

/// The longest `sub` accepted (it keys idempotency and the activity log).
const MAX_SUBJECT_LEN: usize = 256;

/// Where the role and the partner id are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The claim holding the role: a string (split on whitespace, as scopes are)
    /// or an array of strings. A name with dots (`realm_access.roles`) is also
    /// looked up as a path into nested objects when no claim has the whole name.
    pub role_claim: String,
    /// The claim holding a partner's id (same lookup as `role_claim`).
    pub partner_claim: String,
    /// Claim value → role. The most privileged role found wins.
    pub role_values: Vec<(String, Role)>,
}

impl Default for ClaimMapping {
    /// The gateway's own tokens: `role` = partner | agent | admin, `partner_id`.
    fn default() -> Self {
        Self {
            role_claim: "role".into(),
            partner_claim: "partner_id".into(),
            role_values: vec![
                ("partner".into(), Role::Partner),
                ("agent".into(), Role::Agent),
                ("admin".into(), Role::Admin),
            ],
        }
    }
}

impl ClaimMapping {
    /// The principal a verified token's claims describe.
    pub(crate) fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, TokenError> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= MAX_SUBJECT_LEN)
            .ok_or(TokenError::BadSubject)?
            .to_owned();
        let role = self.role(claims).ok_or(TokenError::NoRole)?;
        Ok(match role {
            Role::Partner => {
                let partner = lookup(claims, &self.partner_claim)
                    .and_then(Value::as_str)
                    .and_then(|p| PartnerId::parse(p).ok())
                    .ok_or(TokenError::PartnerWithoutPartnerId)?;
                Principal::Partner { subject, partner }
            }
            Role::Agent => Principal::Agent { subject },
            Role::Admin => Principal::Admin { subject },
        })
    }

    fn role(&self, claims: &Map<String, Value>) -> Option<Role> {
        let values: Vec<&str> = match lookup(claims, &self.role_claim)? {
            Value::String(s) => s.split_whitespace().collect(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        values
            .iter()
            .filter_map(|v| {
                self.role_values
                    .iter()
                    .find(|(name, _)| name == v)
                    .map(|(_, r)| *r)
            })
            .max_by_key(|r| match r {
                Role::Partner => 0,
                Role::Agent => 1,
                Role::Admin => 2,
            })
    }
}

/// A claim by its full name, else by a dotted path into nested objects (custom
/// claims are often URLs, which contain dots themselves).
fn lookup<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn default_mapping_reads_the_gateways_own_claims() {
        let m = ClaimMapping::default();
        let p = m
            .principal(&claims(
                json!({"sub": "u1", "role": "partner", "partner_id": "TP-0003"}),
            ))
            .unwrap();
        assert_eq!(p.partner().map(|p| p.as_str()), Some("TP-0003"));
        assert_eq!(
            m.principal(&claims(json!({"sub": "u2", "role": "agent"})))
                .unwrap(),
            Principal::Agent {
                subject: "u2".into()
            }
        );
        assert!(matches!(
            m.principal(&claims(json!({"sub": "u3", "role": "superuser"}))),
            Err(TokenError::NoRole)
        ));
        assert!(matches!(
            m.principal(&claims(json!({"sub": "", "role": "agent"}))),
            Err(TokenError::BadSubject)
        ));
    }

    #[test]
    fn scopes_arrays_and_nested_paths_map_to_roles_and_partners() {
        let m = ClaimMapping {
            role_claim: "scp".into(),
            partner_claim: "ext.partner".into(),
            role_values: vec![
                ("gridcase.partner".into(), Role::Partner),
                ("gridcase.agent".into(), Role::Agent),
            ],
        };
        let p = m
            .principal(&claims(json!({
                "sub": "u1",
                "scp": "openid gridcase.partner profile",
                "ext": {"partner": "TP-0009"}
            })))
            .unwrap();
        assert_eq!(p.partner().map(|p| p.as_str()), Some("TP-0009"));

        let groups = ClaimMapping {
            role_claim: "groups".into(),
            role_values: vec![
                ("Gridcase Agents".into(), Role::Agent),
                ("Gridcase Admins".into(), Role::Admin),
            ],
            ..ClaimMapping::default()
        };
        let p = groups
            .principal(&claims(json!({
                "sub": "u2",
                "groups": ["Everyone", "Gridcase Agents", "Gridcase Admins"]
            })))
            .unwrap();
        assert_eq!(
            p.role(),
            Role::Admin,
            "the most privileged mapped value wins"
        );
        assert!(matches!(
            groups.principal(&claims(json!({"sub": "u3", "groups": ["Everyone"]}))),
            Err(TokenError::NoRole)
        ));
    }

    #[test]
    fn a_claim_named_like_a_url_is_read_whole() {
        let m = ClaimMapping {
            partner_claim: "https://gridcase.example/partner".into(),
            ..ClaimMapping::default()
        };
        let p = m
            .principal(&claims(json!({
                "sub": "u1", "role": "partner",
                "https://gridcase.example/partner": "TP-0002"
            })))
            .unwrap();
        assert_eq!(p.partner().map(|p| p.as_str()), Some("TP-0002"));
        assert!(matches!(
            m.principal(&claims(
                json!({"sub": "u1", "role": "partner", "partner_id": "TP-0002"})
            )),
            Err(TokenError::PartnerWithoutPartnerId)
        ));
    }
}
