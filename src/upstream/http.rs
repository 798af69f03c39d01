//! HTTP plumbing shared by both connectors: pooled reqwest client, OAuth2
//! client-credentials token (cached, refreshed before expiry, single flight),
//! retries with backoff for reads and keyed writes (within the platform's retry
//! budget), the circuit breaker and bulkhead of `resilience.rs` around every
//! attempt, and error bodies turned into `UpstreamError`.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use reqwest::{header, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;
use url::Url;

use super::{Content, Result, UpstreamError};
use crate::config::Secret;
use crate::domain::{Page, PageRequest, Platform};

/// How to reach one platform.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub platform: Platform,
    pub base_url: Url,
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra attempts for reads that failed in a way worth retrying.
    pub retries: u32,
    /// Longest `Retry-After` the gateway waits out inside one request.
    pub max_retry_after: Duration,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// The platform's circuit breaker, retry budget and bulkhead.
    pub resilience: std::sync::Arc<super::Resilience>,
}

/// How a platform pages its lists: parameter names and limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paging {
    pub limit_param: &'static str,
    pub cursor_param: &'static str,
    /// Largest page the platform serves.
    pub max_page: usize,
    /// Most ids one batch lookup may carry.
    pub max_ids: usize,
}

/// A platform's page body: its items and the cursor of the next page.
pub(crate) trait WirePage<T>: DeserializeOwned {
    fn into_parts(self) -> (Vec<T>, Option<String>);
}

/// Extracts `(code, message)` from a platform's error body.
pub(crate) type ErrorParser = fn(&[u8]) -> Option<(String, String)>;

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

pub(crate) struct UpstreamHttp {
    settings: HttpSettings,
    client: reqwest::Client,
    paging: Paging,
    /// For document bytes: a total timeout would cut off a large download midway,
    /// so this one bounds connecting and each read instead.
    content_client: reqwest::Client,
    parse_error: ErrorParser,
    /// A tokio mutex on purpose: while one request refreshes the token, the others
    /// wait for that token instead of each asking the token endpoint.
    token: Mutex<Option<CachedToken>>,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl UpstreamHttp {
    pub fn new(settings: HttpSettings, parse_error: ErrorParser, paging: Paging) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .connect_timeout(settings.connect_timeout)
                .pool_max_idle_per_host(32)
                .user_agent(concat!("gridcase/", env!("CARGO_PKG_VERSION")))
        };
        let client = builder()
            .timeout(settings.timeout)
            .build()
            .expect("the TLS backend of reqwest could not be initialised");
        let content_client = builder()
            .read_timeout(settings.timeout)
            .build()
            .expect("the TLS backend of reqwest could not be initialised");
        Self {
            settings,
            client,
            paging,
            content_client,
            parse_error,
            token: Mutex::new(None),
        }
    }

    pub fn platform(&self) -> Platform {
        self.settings.platform
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.settings.base_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url
    }

    async fn token(&self, operation: &'static str) -> Result<String> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let platform = self.platform();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.expose()),
        ];
        let resp = self
            .client
            .post(self.settings.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|source| UpstreamError::Unreachable {
                platform,
                operation,
                source,
            })?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST {
            return Err(UpstreamError::Credentials {
                platform,
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(self.status_error(operation, resp).await);
        }
        let answer: TokenAnswer = resp.json().await.map_err(|e| UpstreamError::Decode {
            platform,
            operation: "token",
            detail: e.to_string(),
        })?;
        // Refresh a little before the platform's expiry so no request carries a token
        // that dies in flight.
        let ttl = Duration::from_secs(answer.expires_in.unwrap_or(300));
        let refresh_in = ttl.saturating_sub(Duration::from_secs(30)).max(ttl / 2);
        *slot = Some(CachedToken {
            value: answer.access_token.clone(),
            refresh_at: Instant::now() + refresh_in,
        });
        Ok(answer.access_token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    async fn status_error(
        &self,
        operation: &'static str,
        resp: reqwest::Response,
    ) -> UpstreamError {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let (code, message) = (self.parse_error)(&body).unwrap_or_else(|| {
            (
                "unknown".to_owned(),
                String::from_utf8_lossy(&body).chars().take(200).collect(),
            )
        });
        UpstreamError::Status {
            platform: self.platform(),
            operation,
            status,
            code,
            message,
        }
    }

    /// Send a request with the bearer token, retrying reads (and writes that never
    /// reached the platform) on transient failures. A 401 refreshes the token once.
    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response> {
        self.send_with(&self.client, operation, method, path, query, body, None)
            .await
    }

    // One private helper behind `send`, `send_json` and `get_content`; a request
    // struct would only rename the same eight things.
    #[allow(clippy::too_many_arguments)]
    async fn send_with(
        &self,
        client: &reqwest::Client,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        idempotency_key: Option<&str>,
    ) -> Result<reqwest::Response> {
        let platform = self.platform();
        let guard = &*self.settings.resilience;
        // A write carrying an idempotency key is answered from the platform's
        // memory when repeated, so it is as safe to retry as a read.
        let idempotent =
            matches!(method, Method::GET | Method::PUT | Method::HEAD) || idempotency_key.is_some();
        let mut attempt = 0u32;
        let mut refreshed = false;
        guard.call();
        self.count("gridcase_upstream_calls_total", None);
        loop {
            // Fail fast while the circuit is open: the platform sees no call at all.
            let Some(admitted) = guard.admit() else {
                self.count(
                    "gridcase_upstream_refused_total",
                    Some(("reason", "circuit_open")),
                );
                return Err(UpstreamError::CircuitOpen {
                    platform,
                    operation,
                });
            };
            let Some(slot) = guard.slot().await else {
                self.count(
                    "gridcase_upstream_refused_total",
                    Some(("reason", "bulkhead_full")),
                );
                return Err(UpstreamError::Overloaded {
                    platform,
                    operation,
                });
            };
            let token = match self.token(operation).await {
                Ok(t) => t,
                Err(e) => {
                    self.settle(admitted, !e.is_platform_fault());
                    return Err(e);
                }
            };
            let mut req = client
                .request(method.clone(), self.url(path))
                .bearer_auth(token);
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            if let Some(key) = idempotency_key {
                req = req.header("idempotency-key", key);
            }
            let started = Instant::now();
            let outcome = crate::telemetry::send(req, platform.slug(), operation, attempt).await;
            let label = match &outcome {
                Ok(r) if r.status().is_success() => "ok".to_owned(),
                Ok(r) => r.status().as_u16().to_string(),
                Err(_) => "error".to_owned(),
            };
            self.settings
                .metrics
                .upstream(platform.slug(), operation, &label, started.elapsed());
            self.settle(
                admitted,
                matches!(&outcome, Ok(r) if !r.status().is_server_error()),
            );
            drop(slot);
            let retry_after = match outcome {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !refreshed => {
                    // The platform may have revoked or expired the token early.
                    refreshed = true;
                    self.forget_token().await;
                    continue;
                }
                Ok(resp) => {
                    let status = resp.status();
                    let transient = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::BAD_GATEWAY
                        || status == StatusCode::SERVICE_UNAVAILABLE
                        || status == StatusCode::GATEWAY_TIMEOUT;
                    let wait = retry_after(&resp);
                    if !(transient && idempotent && attempt < self.settings.retries)
                        || wait.is_some_and(|w| w > self.settings.max_retry_after)
                        || !self.may_retry()
                    {
                        return Err(self.status_error(operation, resp).await);
                    }
                    wait
                }
                Err(source) => {
                    // A connect error means the request never left: safe to retry even a
                    // write. A timed-out attempt is not repeated: a hung platform would
                    // cost the caller one full timeout per attempt.
                    let safe = (idempotent && !source.is_timeout()) || source.is_connect();
                    if !(safe && attempt < self.settings.retries && self.may_retry()) {
                        return Err(UpstreamError::Unreachable {
                            platform,
                            operation,
                            source,
                        });
                    }
                    None
                }
            };
            attempt += 1;
            let backoff = retry_after.unwrap_or_else(|| backoff(attempt));
            tracing::debug!(%platform, operation, attempt, ?backoff, "retrying upstream call");
            tokio::time::sleep(backoff).await;
        }
    }

    /// Tell the breaker how an attempt went; count the state it entered, if any.
    fn settle(&self, attempt: super::resilience::Attempt<'_>, healthy: bool) {
        if let Some(state) = attempt.settle(healthy) {
            tracing::warn!(platform = %self.platform(), state = state.as_str(), "circuit breaker");
            self.count(
                "gridcase_upstream_breaker_transitions_total",
                Some(("state", state.as_str())),
            );
        }
    }

    /// Spend one retry from the platform's budget; `false` (and counted) when it is spent.
    fn may_retry(&self) -> bool {
        if self.settings.resilience.retry() {
            self.count("gridcase_upstream_retries_total", None);
            true
        } else {
            self.count(
                "gridcase_upstream_refused_total",
                Some(("reason", "retry_budget")),
            );
            false
        }
    }

    fn count(&self, name: &'static str, label: Option<(&'static str, &str)>) {
        let platform = ("platform", self.platform().slug());
        match label {
            Some(l) => self.settings.metrics.inc(name, &[platform, l]),
            None => self.settings.metrics.inc(name, &[platform]),
        }
    }

    /// Every item matching `query`, across as many pages as it takes.
    pub async fn all<T, P: WirePage<T>>(
        &self,
        operation: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut q = query.clone();
            q.push((self.paging.limit_param, self.paging.max_page.to_string()));
            if let Some(c) = cursor.take() {
                q.push((self.paging.cursor_param, c));
            }
            let (page, next) = self.get_json::<P>(operation, path, &q).await?.into_parts();
            items.extend(page);
            match next {
                Some(next) => {
                    next_page(self.platform(), operation, &mut seen, &next)?;
                    cursor = Some(next);
                }
                None => return Ok(items),
            }
        }
    }

    /// Batch lookup: one call per chunk of ids the platform accepts, chunks in parallel.
    pub async fn by_ids<T, P: WirePage<T>, I: AsRef<str>>(
        &self,
        operation: &'static str,
        path: &str,
        param: &'static str,
        ids: &[I],
    ) -> Result<Vec<T>> {
        let calls = chunks(ids, self.paging.max_ids)
            .into_iter()
            .map(|chunk| self.all::<T, P>(operation, path, vec![(param, chunk)]));
        let pages = futures::future::try_join_all(calls).await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// One page of a list.
    pub async fn page<T, P: WirePage<T>>(
        &self,
        operation: &'static str,
        path: &str,
        mut query: Vec<(&'static str, String)>,
        page: PageRequest,
    ) -> Result<Page<T>> {
        query.push((
            self.paging.limit_param,
            page.limit.clamp(1, self.paging.max_page).to_string(),
        ));
        if let Some(c) = page.cursor {
            query.push((self.paging.cursor_param, c));
        }
        let (items, next_cursor) = self
            .get_json::<P>(operation, path, &query)
            .await?
            .into_parts();
        Ok(Page { items, next_cursor })
    }

    pub async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let resp = self.send(operation, Method::GET, path, query, None).await?;
        self.decode(operation, resp).await
    }

    /// A write. `idempotency_key` makes a repeat of the same write a no-op upstream.
    pub async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: &B,
        idempotency_key: &str,
    ) -> Result<T> {
        let body = serde_json::to_value(body).map_err(|e| UpstreamError::Decode {
            platform: self.platform(),
            operation,
            detail: e.to_string(),
        })?;
        let resp = self
            .send_with(
                &self.client,
                operation,
                method,
                path,
                &[],
                Some(&body),
                Some(idempotency_key),
            )
            .await?;
        self.decode(operation, resp).await
    }

    pub async fn get_content(&self, operation: &'static str, path: &str) -> Result<Content> {
        let resp = self
            .send_with(
                &self.content_client,
                operation,
                Method::GET,
                path,
                &[],
                None,
                None,
            )
            .await?;
        let header_str = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type =
            header_str(header::CONTENT_TYPE).unwrap_or_else(|| "application/octet-stream".into());
        let etag = header_str(header::ETAG);
        let length = resp.content_length();
        let body = resp.bytes_stream().map_err(std::io::Error::other);
        Ok(Content {
            content_type,
            length,
            etag,
            body: Box::pin(body),
        })
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        resp: reqwest::Response,
    ) -> Result<T> {
        let platform = self.platform();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| UpstreamError::Unreachable {
                platform,
                operation,
                source,
            })?;
        serde_json::from_slice(&bytes).map_err(|e| UpstreamError::Decode {
            platform,
            operation,
            detail: e.to_string(),
        })
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// 50 ms, 100 ms, 200 ms … with jitter so replicas do not retry in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base = 50u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    Duration::from_millis(base + nanos % (base / 2 + 1))
}

/// Most pages one "fetch everything matching" call follows. Batch lookups need one
/// or two; reaching this means the upstream's cursors are broken.
pub(crate) const MAX_PAGES: usize = 50;

/// Guard against a cursor loop: `Err` when `next` repeats or the page count is exhausted.
pub(crate) fn next_page(
    platform: Platform,
    operation: &'static str,
    seen: &mut std::collections::HashSet<String>,
    next: &str,
) -> Result<()> {
    if seen.len() >= MAX_PAGES || !seen.insert(next.to_owned()) {
        return Err(UpstreamError::Decode {
            platform,
            operation,
            detail: format!("pagination did not end after {} pages", seen.len()),
        });
    }
    Ok(())
}

/// Add an any-of enum filter (`status=a,b`) to a query. `false` when values were
/// asked for but none exists on the platform (an `Other` the gateway cannot name
/// upstream): such a filter matches nothing, so the caller answers empty without
/// a call.
pub(crate) fn any_of<E: Copy>(
    query: &mut Vec<(&'static str, String)>,
    name: &'static str,
    values: &[E],
    param: fn(E) -> Option<&'static str>,
) -> bool {
    if values.is_empty() {
        return true;
    }
    let named: Vec<&str> = values.iter().filter_map(|v| param(*v)).collect();
    if named.is_empty() {
        return false;
    }
    query.push((name, named.join(",")));
    true
}

/// Timestamps as both platforms accept them.
pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Split ids into the chunks a batch endpoint accepts, joined by commas.
pub(crate) fn chunks<T: AsRef<str>>(ids: &[T], size: usize) -> Vec<String> {
    let mut unique: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
    unique.sort_unstable();
    unique.dedup();
    unique.chunks(size.max(1)).map(|c| c.join(",")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_or_endless_cursor_stops_the_walk() {
        let mut seen = std::collections::HashSet::new();
        assert!(next_page(Platform::TradingGrid, "op", &mut seen, "a").is_ok());
        assert!(next_page(Platform::TradingGrid, "op", &mut seen, "a").is_err());
        let mut seen = std::collections::HashSet::new();
        let walked = (0..100)
            .take_while(|i| next_page(Platform::CoreCase, "op", &mut seen, &i.to_string()).is_ok())
            .count();
        assert_eq!(walked, MAX_PAGES);
    }

    #[test]
    fn an_any_of_filter_no_platform_value_can_match_needs_no_call() {
        fn param(v: u8) -> Option<&'static str> {
            match v {
                1 => Some("one"),
                2 => Some("two"),
                _ => None,
            }
        }
        let mut q = Vec::new();
        assert!(any_of(&mut q, "status", &[] as &[u8], param));
        assert!(q.is_empty(), "no values, no filter");
        assert!(any_of(&mut q, "status", &[1, 9, 2], param));
        assert_eq!(q, vec![("status", "one,two".to_owned())]);
        assert!(!any_of(&mut q, "kind", &[9], param));
    }

    #[test]
    fn batch_ids_are_deduplicated_and_chunked() {
        let ids = ["b", "a", "b", "c"];
        assert_eq!(chunks(&ids, 2), vec!["a,b".to_owned(), "c".to_owned()]);
    }
}
