//! Verification keys: what kind each key is and which `alg`s it may verify, read
//! from a secret, a public key PEM or a JWK. The kind is decided by the key, never
//! by a token, so a token cannot choose how it is checked (no HS256 token verified
//! with an RSA public key's bytes as the HMAC secret).

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// What a key is; decides the algorithms it verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A shared secret (HS256/384/512).
    Hmac,
    /// An RSA public key (RS256/384/512, PS256/384/512).
    Rsa,
    /// An EC public key on P-256 (ES256).
    EcP256,
    /// An EC public key on P-384 (ES384).
    EcP384,
    /// An Ed25519 public key (EdDSA).
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind may verify a token signed with `alg`.
    pub fn verifies(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Hmac => matches!(alg, HS256 | HS384 | HS512),
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => alg == ES256,
            KeyKind::EcP384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }

    /// The algorithm accepted when none is configured.
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            KeyKind::Hmac => Algorithm::HS256,
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::EcP256 => Algorithm::ES256,
            KeyKind::EcP384 => Algorithm::ES384,
            KeyKind::Ed25519 => Algorithm::EdDSA,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Hmac => "an HMAC secret",
            KeyKind::Rsa => "an RSA key",
            KeyKind::EcP256 => "an EC P-256 key",
            KeyKind::EcP384 => "an EC P-384 key",
            KeyKind::Ed25519 => "an Ed25519 key",
        }
    }
}

/// One key tokens are verified with.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    /// The JWK `kid`, for keys from a key set.
    pub kid: Option<String>,
    pub kind: KeyKind,
    /// The JWK `alg`, when the key set pins one for this key.
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl VerificationKey {
    pub fn secret(secret: &[u8]) -> Self {
        Self {
            kid: None,
            kind: KeyKind::Hmac,
            alg: None,
            key: DecodingKey::from_secret(secret),
        }
    }

    /// A public key in PEM (`-----BEGIN PUBLIC KEY-----`, or `RSA PUBLIC KEY`).
    /// Private keys are refused: the gateway only ever needs the public half.
    pub fn from_public_pem(pem: &str) -> Result<Self, String> {
        if pem.contains("PRIVATE KEY-----") {
            return Err("this is a private key; give the identity provider's public key".into());
        }
        if !pem.contains("-----BEGIN") {
            return Err("not a PEM public key (expected -----BEGIN PUBLIC KEY-----)".into());
        }
        let bytes = pem.as_bytes();
        let (kind, key) = if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
            (KeyKind::Rsa, k)
        } else if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
            (ec_curve_of_pem(pem)?, k)
        } else if let Ok(k) = DecodingKey::from_ed_pem(bytes) {
            (KeyKind::Ed25519, k)
        } else {
            return Err("not a readable RSA, EC or Ed25519 public key".into());
        };
        Ok(Self {
            kid: None,
            kind,
            alg: None,
            key,
        })
    }

    /// A signing key from a JWK set. Symmetric (`oct`) keys, encryption keys and
    /// curves without a JWS algorithm are refused.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, String> {
        if matches!(
            jwk.common.public_key_use,
            Some(ref u) if *u != PublicKeyUse::Signature
        ) {
            return Err("not a signing key (`use` is not `sig`)".into());
        }
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(a) => Some(
                a.to_string()
                    .parse::<Algorithm>()
                    .map_err(|_| format!("`alg` {a} is not a signature algorithm"))?,
            ),
        };
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyKind::Rsa,
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => KeyKind::EcP256,
                EllipticCurve::P384 => KeyKind::EcP384,
                _ => return Err("unsupported EC curve".into()),
            },
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                KeyKind::Ed25519
            }
            AlgorithmParameters::OctetKeyPair(_) => return Err("unsupported OKP curve".into()),
            AlgorithmParameters::OctetKey(_) => {
                return Err("symmetric keys are never taken from a key set".into())
            }
        };
        if let Some(a) = alg {
            if !kind.verifies(a) {
                return Err(format!("`alg` {a:?} does not fit {}", kind.name()));
            }
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unreadable key: {e}"))?;
        Ok(Self {
            kid: jwk.common.key_id.clone(),
            kind,
            alg,
            key,
        })
    }

    /// Whether this key may verify a token whose header says `alg`.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.kind.verifies(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// The curve of an EC public key PEM, from the named-curve OID in its DER.
fn ec_curve_of_pem(pem: &str) -> Result<KeyKind, String> {
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "unreadable PEM body".to_owned())?;
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    if has(P256) {
        Ok(KeyKind::EcP256)
    } else if has(P384) {
        Ok(KeyKind::EcP384)
    } else {
        Err("unsupported EC curve (P-256 or P-384)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RSA_PUB: &str = include_str!("../../tests/fixtures/jwt/rsa-a.pub.pem");
    const RSA_KEY: &str = include_str!("../../tests/fixtures/jwt/rsa-a.key.pem");
    const EC_PUB: &str = include_str!("../../tests/fixtures/jwt/ec-p256.pub.pem");
    const RSA_JWK: &str = include_str!("../../tests/fixtures/jwt/rsa-a.jwk.json");

    fn jwk(v: serde_json::Value) -> Jwk {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn public_key_pems_are_classified_by_the_key_and_private_keys_refused() {
        let rsa = VerificationKey::from_public_pem(RSA_PUB).unwrap();
        assert_eq!(rsa.kind, KeyKind::Rsa);
        assert!(rsa.accepts(Algorithm::RS256) && !rsa.accepts(Algorithm::HS256));
        let ec = VerificationKey::from_public_pem(EC_PUB).unwrap();
        assert_eq!(ec.kind, KeyKind::EcP256);
        assert!(ec.accepts(Algorithm::ES256) && !ec.accepts(Algorithm::ES384));
        let private = VerificationKey::from_public_pem(RSA_KEY).err().unwrap();
        assert!(private.contains("private key"), "{private}");
        assert!(VerificationKey::from_public_pem("hello").is_err());
    }

    #[test]
    fn jwks_entries_that_are_not_public_signing_keys_are_refused() {
        let mut rsa: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
        let key = VerificationKey::from_jwk(&jwk(rsa.clone())).unwrap();
        assert_eq!(key.kid.as_deref(), Some("key-a"));
        assert!(key.accepts(Algorithm::RS256) && !key.accepts(Algorithm::RS512));

        rsa["use"] = json!("enc");
        assert!(VerificationKey::from_jwk(&jwk(rsa.clone())).is_err());
        rsa["use"] = json!("sig");
        rsa["alg"] = json!("ES256");
        assert!(
            VerificationKey::from_jwk(&jwk(rsa)).is_err(),
            "alg must fit kty"
        );
        let oct = jwk(json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"}));
        assert!(VerificationKey::from_jwk(&oct).is_err());
    }
}
