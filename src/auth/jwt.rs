//! HS256 bearer tokens: verification for requests, signing for `gridcase token`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{Principal, Role};
use crate::config::{AuthConfig, Secret};
use crate::domain::PartnerId;

/// The claims gridcase reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Why a bearer token was refused (answered as 401; the detail is only logged).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("a partner token must carry a valid partner_id")]
    PartnerWithoutPartnerId,
}

/// Verifies bearer tokens against the configured secret, issuer and audience.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    pub fn new(config: &AuthConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &config.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &config.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Self {
            key: DecodingKey::from_secret(config.jwt_secret.expose().as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = decode::<Claims>(token, &self.key, &self.validation)?.claims;
        let subject = claims.sub;
        Ok(match claims.role {
            Role::Partner => {
                let partner = claims
                    .partner_id
                    .as_deref()
                    .and_then(|p| PartnerId::parse(p).ok())
                    .ok_or(TokenError::PartnerWithoutPartnerId)?;
                Principal::Partner { subject, partner }
            }
            Role::Agent => Principal::Agent { subject },
            Role::Admin => Principal::Admin { subject },
        })
    }
}

/// Sign a token (for `gridcase token` and tests).
pub fn sign(
    secret: &Secret,
    role: Role,
    partner: Option<&str>,
    subject: &str,
    ttl: Duration,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = Claims {
        sub: subject.to_owned(),
        role,
        partner_id: partner.map(str::to_owned),
        exp: now + ttl.as_secs(),
        iat: now,
        iss: issuer.map(str::to_owned),
        aud: audience.map(str::to_owned),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            jwt_secret: Secret::new("test-secret-test-secret-test-secret"),
            issuer: Some("gridcase-test".into()),
            audience: None,
        }
    }

    fn token(secret: &str, role: Role, partner: Option<&str>, iss: Option<&str>) -> String {
        sign(
            &Secret::new(secret),
            role,
            partner,
            "someone",
            Duration::from_secs(60),
            iss,
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_partner_token_becomes_a_partner_principal() {
        let v = JwtVerifier::new(&config());
        let t = token(
            config().jwt_secret.expose(),
            Role::Partner,
            Some("TP-0001"),
            Some("gridcase-test"),
        );
        assert_eq!(
            v.verify(&t).unwrap().partner().map(|p| p.as_str()),
            Some("TP-0001")
        );
    }

    #[test]
    fn tokens_with_the_wrong_secret_issuer_or_no_partner_are_refused() {
        let v = JwtVerifier::new(&config());
        let s = config().jwt_secret.expose().to_owned();
        assert!(v
            .verify(&token(
                "another-secret-another-secret-xx",
                Role::Agent,
                None,
                Some("gridcase-test")
            ))
            .is_err());
        assert!(v
            .verify(&token(&s, Role::Agent, None, Some("elsewhere")))
            .is_err());
        assert!(matches!(
            v.verify(&token(&s, Role::Partner, None, Some("gridcase-test"))),
            Err(TokenError::PartnerWithoutPartnerId)
        ));
        assert!(v.verify("not.a.jwt").is_err());
    }
}
