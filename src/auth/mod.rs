//! Who is asking: bearer JWT → [`Principal`], and the policy table that decides
//! what each principal may see.
//!
//! - `jwt`    — the verifier (pinned algorithms, `exp`/`nbf`/`iss`/`aud`), signing
//! - `keys`   — verification keys and which algorithms each kind may verify
//! - `jwks`   — an identity provider's key set: cached, refreshed, refetched on new `kid`s
//! - `claims` — which claims carry the role and the partner id

mod claims;
pub mod fields;
mod jwks;
mod jwt;
mod keys;
pub mod policy;

pub use claims::ClaimMapping;
pub use jwks::MIN_REFETCH as JWKS_MIN_REFETCH;
pub use jwt::{
    sign, sign_with_private_key, Claims, JwtVerifier, KeyError, TokenError, Verified, LEEWAY_SECS,
};
pub use keys::KeyKind;
pub(crate) use keys::VerificationKey;

use crate::domain::PartnerId;

/// The three roles the gateway knows.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    async_graphql::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// A person at one trading partner: sees only that partner's data, partner-safe fields only.
    Partner,
    /// An operations team member: all partners, internal case fields, the use-case mutations.
    Agent,
    /// An agent who also sees operational fields.
    Admin,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "partner" => Ok(Role::Partner),
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role `{other}` (partner, agent or admin)")),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Partner { subject: String, partner: PartnerId },
    Agent { subject: String },
    Admin { subject: String },
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::Partner { .. } => Role::Partner,
            Principal::Agent { .. } => Role::Agent,
            Principal::Admin { .. } => Role::Admin,
        }
    }

    pub fn subject(&self) -> &str {
        match self {
            Principal::Partner { subject, .. }
            | Principal::Agent { subject }
            | Principal::Admin { subject } => subject,
        }
    }

    /// The partner this principal is confined to, if any.
    pub fn partner(&self) -> Option<&PartnerId> {
        match self {
            Principal::Partner { partner, .. } => Some(partner),
            _ => None,
        }
    }
}
