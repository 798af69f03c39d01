//! An identity provider's JSON Web Key Set: fetched at start, cached, refreshed
//! periodically and when a token names a key id the cache does not know (at most
//! one such refetch every [`MIN_REFETCH`], so tokens with made-up key ids cannot
//! turn the gateway into a flood against the provider). A failed fetch keeps the
//! last good key set: an identity provider outage does not log everyone out.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::Algorithm;
use tokio::time::Instant;
use url::Url;

use super::keys::VerificationKey;

/// The least time between two refetches caused by unknown key ids.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// Bounds of one fetch: the provider's answer must come in time and be small.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BODY_BYTES: usize = 512 * 1024;
const MAX_KEYS: usize = 100;

/// Why a key set could not be fetched (logged; never shown to clients).
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot reach the key set: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the key set answered HTTP {0}")]
    Status(u16),
    #[error("the key set is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the key set is not a JWK set: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the key set has no usable signing key for the accepted algorithms")]
    NoUsableKeys,
}

type KeySet = Arc<Vec<Arc<VerificationKey>>>;

pub(crate) struct Jwks {
    url: Url,
    http: reqwest::Client,
    /// Keys that cannot verify any of these are dropped when a set is read.
    algorithms: Vec<Algorithm>,
    keys: RwLock<KeySet>,
    /// When the last unknown-`kid` refetch started. Held across that fetch, so a
    /// burst of tokens with a new key id causes one fetch and the rest wait for it.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl Jwks {
    /// Fetch the set (failing if that fails: a gateway that cannot verify any
    /// token should say so at start) and keep it fresh every `refresh`, until the
    /// returned handle is dropped.
    pub async fn start(
        url: Url,
        refresh: Duration,
        algorithms: Vec<Algorithm>,
    ) -> Result<Arc<Self>, JwksError> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        let jwks = Arc::new(Self {
            url,
            http,
            algorithms,
            keys: RwLock::new(Arc::new(Vec::new())),
            last_refetch: tokio::sync::Mutex::new(None),
        });
        let keys = jwks.fetch().await?;
        tracing::info!(keys = keys.len(), url = %jwks.url, "identity provider key set loaded");
        jwks.replace(keys);
        tokio::spawn(refresh_periodically(Arc::downgrade(&jwks), refresh));
        Ok(jwks)
    }

    /// The key a token's `kid` names (a token without `kid` is accepted only when
    /// the set has exactly one key). An unknown `kid` refetches the set, at most
    /// once every [`MIN_REFETCH`].
    pub async fn key(&self, kid: Option<&str>) -> Option<Arc<VerificationKey>> {
        if let Some(k) = self.find(kid) {
            return Some(k);
        }
        let kid = kid?;
        let mut last = self.last_refetch.lock().await;
        // Another caller may have fetched the key while this one waited.
        if let Some(k) = self.find(Some(kid)) {
            return Some(k);
        }
        if last.is_some_and(|t| t.elapsed() < MIN_REFETCH) {
            return None;
        }
        *last = Some(Instant::now());
        tracing::info!("a token names a key id not in the key set; fetching the set again");
        self.refresh().await;
        drop(last);
        self.find(Some(kid))
    }

    /// Fetch the set now; on failure keep the last good one.
    pub async fn refresh(&self) {
        match self.fetch().await {
            Ok(keys) => self.replace(keys),
            Err(e) => {
                tracing::warn!(error = %e, url = %self.url, "key set refresh failed; keeping the last good keys")
            }
        }
    }

    fn find(&self, kid: Option<&str>) -> Option<Arc<VerificationKey>> {
        let keys = self.current();
        match kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)).cloned(),
            None if keys.len() == 1 => keys.first().cloned(),
            None => None,
        }
    }

    fn current(&self) -> KeySet {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, keys: Vec<Arc<VerificationKey>>) {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut k) => *k = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    async fn fetch(&self) -> Result<Vec<Arc<VerificationKey>>, JwksError> {
        let mut resp = self
            .http
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(JwksError::Status(resp.status().as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|l| l > MAX_BODY_BYTES as u64)
        {
            return Err(JwksError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        self.read_set(&body)
    }

    /// The usable signing keys of a JWK set document; keys this gateway cannot or
    /// must not use (encryption keys, symmetric keys, other algorithms) are skipped
    /// so one odd key does not cost the whole set.
    fn read_set(&self, body: &[u8]) -> Result<Vec<Arc<VerificationKey>>, JwksError> {
        #[derive(serde::Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = serde_json::from_slice(body)?;
        let keys: Vec<Arc<VerificationKey>> = raw
            .keys
            .into_iter()
            .take(MAX_KEYS)
            .filter_map(|v| {
                let key = serde_json::from_value::<Jwk>(v)
                    .map_err(|e| e.to_string())
                    .and_then(|jwk| VerificationKey::from_jwk(&jwk));
                match key {
                    Ok(k) if self.algorithms.iter().any(|a| k.accepts(*a)) => Some(Arc::new(k)),
                    Ok(k) => {
                        tracing::debug!(kid = ?k.kid, "key set entry skipped: no accepted algorithm fits it");
                        None
                    }
                    Err(e) => {
                        tracing::debug!(reason = %e, "key set entry skipped");
                        None
                    }
                }
            })
            .collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(keys)
    }
}

async fn refresh_periodically(jwks: Weak<Jwks>, every: Duration) {
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // The verifier is gone (the gateway stopped): so is the need for keys.
        let Some(jwks) = jwks.upgrade() else { return };
        jwks.refresh().await;
    }
}
