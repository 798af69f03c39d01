//! Bearer tokens: verification for requests (an HMAC secret, a public key, or an
//! identity provider's JWKS), signing for `gridcase token` and tests.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, decode_header, encode, Algorithm, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jwks::{Jwks, JwksError};
use super::keys::VerificationKey;
use super::{ClaimMapping, Principal, Role};
use crate::config::{AuthConfig, KeySource, Secret};

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;
/// Longer bearer tokens are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The claims `gridcase token` writes.
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

impl Claims {
    /// Claims valid from now for `ttl`.
    pub fn new(
        role: Role,
        partner: Option<&str>,
        subject: &str,
        ttl: Duration,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Self {
        let now = now_secs();
        Self {
            sub: subject.to_owned(),
            role,
            partner_id: partner.map(str::to_owned),
            exp: now + ttl.as_secs(),
            iat: now,
            iss: issuer.map(str::to_owned),
            aud: audience.map(str::to_owned),
        }
    }
}

/// Why a bearer token was refused (answered as 401 with a fixed message; this
/// detail is only logged, and never contains the token).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("the token's algorithm is not one the gateway accepts")]
    AlgorithmNotAccepted,
    #[error("the token names no key the gateway knows")]
    UnknownKey,
    #[error("the token's algorithm does not fit the key it names")]
    KeyMismatch,
    #[error("invalid token: {}", describe(.0))]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("the token's `sub` is missing, empty or too long")]
    BadSubject,
    #[error("the token carries no role the gateway maps")]
    NoRole,
    #[error("a partner token must carry a valid partner id")]
    PartnerWithoutPartnerId,
}

/// Why the verifier could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("GRIDCASE_JWT_PUBLIC_KEY: {0}")]
    PublicKey(String),
    #[error("GRIDCASE_JWKS_URL: {0}")]
    Jwks(#[from] JwksError),
}

/// A verified token: who is calling and until when the token is good.
#[derive(Debug, Clone)]
pub struct Verified {
    pub principal: Principal,
    /// The token's `exp`. (Requests are still accepted for [`LEEWAY_SECS`] after
    /// it, for clock skew; long-lived connections should end at this instant.)
    pub expires_at: SystemTime,
}

impl Verified {
    /// Time left until [`Verified::expires_at`] (zero once past).
    pub fn expires_in(&self) -> Duration {
        self.expires_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

enum Keys {
    One(Arc<VerificationKey>),
    Set(Arc<Jwks>),
}

/// Verifies bearer tokens: the accepted algorithms are pinned by configuration,
/// the key is chosen by configuration (or by `kid` within the configured key
/// set), and a token whose `alg` does not fit that key is refused.
pub struct JwtVerifier {
    keys: Keys,
    /// One validation per accepted algorithm.
    validations: Vec<(Algorithm, Validation)>,
    claims: ClaimMapping,
}

impl JwtVerifier {
    /// Build from configuration; with a JWKS URL this fetches the key set (and
    /// fails if it cannot) and starts refreshing it in the background.
    pub async fn from_config(config: &AuthConfig) -> Result<Self, KeyError> {
        let keys = match &config.keys {
            KeySource::Secret(s) => {
                Keys::One(Arc::new(VerificationKey::secret(s.expose().as_bytes())))
            }
            KeySource::PublicKey(pem) => Keys::One(Arc::new(
                VerificationKey::from_public_pem(pem).map_err(KeyError::PublicKey)?,
            )),
            KeySource::Jwks { url, refresh } => {
                Keys::Set(Jwks::start(url.clone(), *refresh, config.algorithms.clone()).await?)
            }
        };
        let validations = config
            .algorithms
            .iter()
            .map(|alg| (*alg, validation(config, *alg)))
            .collect();
        Ok(Self {
            keys,
            validations,
            claims: config.claims.clone(),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let header = decode_header(token)?;
        let validation = self
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or(TokenError::AlgorithmNotAccepted)?;
        let key = match &self.keys {
            Keys::One(k) => k.clone(),
            Keys::Set(set) => set
                .key(header.kid.as_deref())
                .await
                .ok_or(TokenError::UnknownKey)?,
        };
        if !key.accepts(header.alg) {
            return Err(TokenError::KeyMismatch);
        }
        let claims = decode::<Map<String, Value>>(token, &key.key, validation)?.claims;
        let principal = self.claims.principal(&claims)?;
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        Ok(Verified {
            principal,
            expires_at: UNIX_EPOCH + Duration::from_secs(exp),
        })
    }
}

/// A refusal reason for the log: decoding errors are named by kind only, since
/// their messages can quote parts of the token.
fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::Json(_) => "the header or claims are not the expected JSON".into(),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) => "not base64url-encoded JSON".into(),
        _ => e.to_string(),
    }
}

fn validation(config: &AuthConfig, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    match &config.issuer {
        Some(iss) => {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        None => v.iss = None,
    }
    match &config.audience {
        Some(aud) => {
            v.set_audience(&[aud]);
            required.push("aud");
        }
        None => v.validate_aud = false,
    }
    v.set_required_spec_claims(&required);
    v
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sign an HS256 token with the shared secret (for `gridcase token` and tests).
pub fn sign(
    secret: &Secret,
    role: Role,
    partner: Option<&str>,
    subject: &str,
    ttl: Duration,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims::new(role, partner, subject, ttl, issuer, audience);
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
}

/// Sign a token with a private key PEM, as an identity provider would: RS256 for
/// an RSA key, ES256 for an EC P-256 key (or `alg` when given), with `kid` in the
/// header when given. For `gridcase token --private-key` and tests.
pub fn sign_with_private_key(
    pem: &[u8],
    alg: Option<Algorithm>,
    kid: Option<&str>,
    claims: &impl Serialize,
) -> Result<String, jsonwebtoken::errors::Error> {
    let (key, default_alg) = match EncodingKey::from_rsa_pem(pem) {
        Ok(k) => (k, Algorithm::RS256),
        Err(_) => (EncodingKey::from_ec_pem(pem)?, Algorithm::ES256),
    };
    let mut header = Header::new(alg.unwrap_or(default_alg));
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "test-secret-test-secret-test-secret";
    const RSA_A_KEY: &str = include_str!("../../tests/fixtures/jwt/rsa-a.key.pem");
    const RSA_A_PUB: &str = include_str!("../../tests/fixtures/jwt/rsa-a.pub.pem");
    const RSA_B_KEY: &str = include_str!("../../tests/fixtures/jwt/rsa-b.key.pem");
    const EC_KEY: &str = include_str!("../../tests/fixtures/jwt/ec-p256.key.pem");
    const EC_PUB: &str = include_str!("../../tests/fixtures/jwt/ec-p256.pub.pem");

    fn config() -> AuthConfig {
        AuthConfig {
            issuer: Some("gridcase-test".into()),
            ..AuthConfig::with_secret(Secret::new(SECRET))
        }
    }

    fn public_key(pem: &str, algorithms: &[Algorithm]) -> AuthConfig {
        AuthConfig {
            keys: KeySource::PublicKey(pem.into()),
            algorithms: algorithms.to_vec(),
            ..AuthConfig::with_secret(Secret::new(SECRET))
        }
    }

    async fn verifier(config: &AuthConfig) -> JwtVerifier {
        JwtVerifier::from_config(config).await.unwrap()
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

    fn hs256(claims: Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    /// Agent claims valid for a minute, with `extra` merged in (null removes).
    fn claims(extra: Value) -> Value {
        let now = now_secs();
        let mut c = json!({"sub": "someone", "role": "agent", "exp": now + 60, "iat": now});
        for (k, v) in extra.as_object().unwrap() {
            match v {
                Value::Null => c.as_object_mut().unwrap().remove(k),
                v => c.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        c
    }

    #[tokio::test]
    async fn a_partner_token_becomes_a_partner_principal_with_its_expiry() {
        let v = verifier(&config()).await;
        let t = token(
            SECRET,
            Role::Partner,
            Some("TP-0001"),
            Some("gridcase-test"),
        );
        let verified = v.verify(&t).await.unwrap();
        assert_eq!(
            verified.principal.partner().map(|p| p.as_str()),
            Some("TP-0001")
        );
        let left = verified.expires_in();
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));
    }

    #[tokio::test]
    async fn tokens_with_the_wrong_secret_issuer_or_no_partner_are_refused() {
        let v = verifier(&config()).await;
        let other = "another-secret-another-secret-xx";
        let wrong_secret = token(other, Role::Agent, None, Some("gridcase-test"));
        assert!(v.verify(&wrong_secret).await.is_err());
        let wrong_issuer = token(SECRET, Role::Agent, None, Some("elsewhere"));
        assert!(v.verify(&wrong_issuer).await.is_err());
        assert!(matches!(
            v.verify(&token(SECRET, Role::Partner, None, Some("gridcase-test")))
                .await,
            Err(TokenError::PartnerWithoutPartnerId)
        ));
        assert!(v.verify("not.a.jwt").await.is_err());
        let odd = hs256(claims(json!({"exp": "secret-looking-value"})));
        let logged = v.verify(&odd).await.unwrap_err().to_string();
        assert!(!logged.contains("secret-looking-value"), "{logged}");
        assert!(matches!(
            v.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)).await,
            Err(TokenError::TooLong)
        ));
    }

    #[tokio::test]
    async fn an_hs256_token_keyed_with_the_rsa_public_key_is_refused() {
        // The classic confusion: the attacker uses the (public) PEM as an HMAC secret.
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &claims(json!({"role": "admin"})),
            &EncodingKey::from_secret(RSA_A_PUB.as_bytes()),
        )
        .unwrap();
        let pinned = verifier(&public_key(RSA_A_PUB, &[Algorithm::RS256])).await;
        assert!(matches!(
            pinned.verify(&forged).await,
            Err(TokenError::AlgorithmNotAccepted)
        ));
        // Even if HS256 were (wrongly) listed, an RSA key never verifies HMAC.
        let careless = verifier(&public_key(
            RSA_A_PUB,
            &[Algorithm::RS256, Algorithm::HS256],
        ))
        .await;
        assert!(matches!(
            careless.verify(&forged).await,
            Err(TokenError::KeyMismatch)
        ));
    }

    #[tokio::test]
    async fn rs256_and_es256_tokens_verify_with_their_public_keys_only() {
        let rsa = verifier(&public_key(RSA_A_PUB, &[Algorithm::RS256])).await;
        let ok =
            sign_with_private_key(RSA_A_KEY.as_bytes(), None, None, &claims(json!({}))).unwrap();
        assert_eq!(rsa.verify(&ok).await.unwrap().principal.role(), Role::Agent);
        let other_key =
            sign_with_private_key(RSA_B_KEY.as_bytes(), None, None, &claims(json!({}))).unwrap();
        assert!(rsa.verify(&other_key).await.is_err());
        let ps256 = sign_with_private_key(
            RSA_A_KEY.as_bytes(),
            Some(Algorithm::PS256),
            None,
            &claims(json!({})),
        )
        .unwrap();
        assert!(
            matches!(
                rsa.verify(&ps256).await,
                Err(TokenError::AlgorithmNotAccepted)
            ),
            "an algorithm that is not pinned is refused even with the right key"
        );

        let ec = verifier(&public_key(EC_PUB, &[Algorithm::ES256])).await;
        let es = sign_with_private_key(EC_KEY.as_bytes(), None, None, &claims(json!({}))).unwrap();
        assert!(ec.verify(&es).await.is_ok());
        assert!(ec.verify(&ok).await.is_err(), "an RS256 token on an EC key");
    }

    #[tokio::test]
    async fn nbf_is_checked_with_a_minute_of_leeway() {
        let v = verifier(&AuthConfig::with_secret(Secret::new(SECRET))).await;
        let now = now_secs();
        let tomorrow = hs256(claims(json!({"nbf": now + 86_400, "exp": now + 90_000})));
        assert!(v.verify(&tomorrow).await.is_err());
        let skewed = hs256(claims(json!({"nbf": now + 30})));
        assert!(
            v.verify(&skewed).await.is_ok(),
            "30 s of clock skew is tolerated"
        );
        let later = hs256(claims(json!({"nbf": now + 120})));
        assert!(v.verify(&later).await.is_err());
    }

    #[tokio::test]
    async fn exp_is_required_and_checked_with_a_minute_of_leeway() {
        let v = verifier(&AuthConfig::with_secret(Secret::new(SECRET))).await;
        let now = now_secs();
        let just_expired = hs256(claims(json!({"exp": now - 30})));
        assert!(v.verify(&just_expired).await.is_ok());
        let expired = hs256(claims(json!({"exp": now - 120})));
        assert!(v.verify(&expired).await.is_err());
        let forever = hs256(claims(json!({"exp": null})));
        assert!(v.verify(&forever).await.is_err());
        let nobody = hs256(claims(json!({"sub": null})));
        assert!(v.verify(&nobody).await.is_err());
    }

    #[tokio::test]
    async fn configured_issuer_and_audience_must_be_present_and_match() {
        let v = verifier(&AuthConfig {
            issuer: Some("https://idp.example".into()),
            audience: Some("gridcase".into()),
            ..AuthConfig::with_secret(Secret::new(SECRET))
        })
        .await;
        let both = json!({"iss": "https://idp.example", "aud": "gridcase"});
        assert!(v.verify(&hs256(claims(both))).await.is_ok());
        let aud_list = json!({"iss": "https://idp.example", "aud": ["other", "gridcase"]});
        assert!(v.verify(&hs256(claims(aud_list))).await.is_ok());
        for bad in [
            json!({"aud": "gridcase"}),
            json!({"iss": "https://idp.example"}),
            json!({"iss": "https://idp.example", "aud": "someone-else"}),
            json!({"iss": "https://evil.example", "aud": "gridcase"}),
        ] {
            assert!(
                v.verify(&hs256(claims(bad.clone()))).await.is_err(),
                "accepted {bad}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_key_set_at_start_is_an_error_naming_the_setting() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = AuthConfig {
            keys: KeySource::Jwks {
                url: format!("http://127.0.0.1:{port}/jwks").parse().unwrap(),
                refresh: Duration::from_secs(300),
            },
            algorithms: vec![Algorithm::RS256],
            ..AuthConfig::with_secret(Secret::new(SECRET))
        };
        let err = JwtVerifier::from_config(&config).await.err().unwrap();
        assert!(err.to_string().starts_with("GRIDCASE_JWKS_URL"), "{err}");
    }

    #[tokio::test]
    async fn a_token_with_alg_none_is_refused() {
        let v = verifier(&AuthConfig::with_secret(Secret::new(SECRET))).await;
        use base64::Engine;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims(json!({"role": "admin"})))
        );
        assert!(v.verify(&unsigned).await.is_err());
    }

    #[tokio::test]
    async fn the_claim_mapping_decides_role_and_partner() {
        let v = verifier(&AuthConfig {
            claims: ClaimMapping {
                role_claim: "roles".into(),
                partner_claim: "ext.partner".into(),
                role_values: vec![
                    ("Gridcase.Partner".into(), Role::Partner),
                    ("Gridcase.Agent".into(), Role::Agent),
                ],
            },
            ..AuthConfig::with_secret(Secret::new(SECRET))
        })
        .await;
        let partner = hs256(claims(json!({
            "role": null, "roles": ["Gridcase.Partner"], "ext": {"partner": "TP-0004"}
        })));
        let p = v.verify(&partner).await.unwrap().principal;
        assert_eq!(p.partner().map(|p| p.as_str()), Some("TP-0004"));
        let todays_claims = hs256(claims(json!({"role": "admin"})));
        assert!(
            matches!(v.verify(&todays_claims).await, Err(TokenError::NoRole)),
            "only the mapped claim counts"
        );
    }
}
