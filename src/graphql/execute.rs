//! Running an operation, on every transport (HTTP, WebSocket, SSE) alike: what
//! is checked before async-graphql sees the request (persisted queries and
//! trusted documents, the operation limits, the federation SDL's audience), and
//! what the execution runs inside (the request's batch [`Dispatch`], its span).
//!
//! None of this is a schema extension: with any extension installed,
//! async-graphql sends every field through the extension chain (boxed futures
//! and a registry lookup per field), about a third of a warm dashboard's CPU.

use std::sync::Arc;

use async_graphql::{Request, Response, ServerError};
use futures::stream::{BoxStream, StreamExt};
use tracing::Instrument;

use super::limits::{self, OperationLimits};
use super::persisted::PersistedQueries;
use super::shared::{Hub, Key, Outcome};
use super::{GatewaySchema, RequestScope, Services};
use crate::auth::{policy, Principal};

/// The executable schema with the checks every operation passes first.
#[derive(Clone)]
pub(crate) struct Executor {
    schema: GatewaySchema,
    persisted: PersistedQueries,
    limits: OperationLimits,
    introspection: bool,
    /// Subscriptions many sockets share.
    shared: Arc<Hub>,
}

/// A request ready to run, and what its execution is driven by.
struct Prepared {
    request: Request,
    dispatch: Arc<super::loaders::Dispatch>,
    span: tracing::Span,
    subscription: bool,
}

impl Executor {
    pub fn new(
        schema: GatewaySchema,
        persisted: PersistedQueries,
        limits: OperationLimits,
        introspection: bool,
        shared: Hub,
    ) -> Self {
        Self {
            schema,
            persisted,
            limits,
            introspection,
            shared: Arc::new(shared),
        }
    }

    /// Run a query or mutation for `principal`.
    pub async fn execute(&self, principal: Principal, request: Request) -> Response {
        let p = match self.prepare(principal, request).await {
            Ok(p) => p,
            Err(e) => return coded(Response::from_errors(vec![e])),
        };
        let response = p
            .dispatch
            .drive(self.schema.execute(p.request))
            .instrument(p.span)
            .await;
        coded(response)
    }

    /// Run a subscription (or any operation, as a stream) for `principal`, each
    /// result serialised once; a subscription other sockets and streams of the
    /// same audience already hold is joined instead of run again (see
    /// [`super::shared`]).
    pub fn execute_shared(
        &self,
        principal: Principal,
        request: Request,
    ) -> BoxStream<'static, Arc<Outcome>> {
        let this = self.clone();
        let joined = Box::pin(async move {
            let key_of = principal.clone();
            let mut p = match this.prepare(principal, request).await {
                Ok(p) => p,
                Err(e) => {
                    let outcome = Arc::new(Outcome::new(&coded(Response::from_errors(vec![e]))));
                    return futures::stream::once(async { outcome }).boxed();
                }
            };
            let key = p
                .subscription
                .then(|| Key::of(&key_of, &mut p.request))
                .flatten();
            match key {
                Some(key) => {
                    let shared = this.shared.clone();
                    // A socket joining a running source: its span ends here, with
                    // the checks it passed.
                    shared.join(key, move || this.run_stream(p))
                }
                None => this
                    .run_stream(p)
                    .map(|r| Arc::new(Outcome::new(&r)))
                    .boxed(),
            }
        });
        futures::stream::once(joined).flatten().boxed()
    }

    fn run_stream(&self, p: Prepared) -> BoxStream<'static, Response> {
        let events = p
            .dispatch
            .drive_stream(self.schema.execute_stream(p.request))
            .map(coded);
        Instrumented {
            inner: events.boxed(),
            span: Some(p.span),
            first_poll_only: p.subscription,
        }
        .boxed()
    }

    /// Resolve a persisted query, check the document against the limits, and
    /// parse it once (async-graphql runs the parsed document).
    async fn prepare(
        &self,
        principal: Principal,
        request: Request,
    ) -> Result<Prepared, ServerError> {
        let staff = policy::can_see_internal(&principal);
        let services = self
            .schema
            .data::<Services>()
            .ok_or_else(|| super::errors::internal().into_server_error(Default::default()))?;
        let scope = RequestScope::new(principal, services);
        let dispatch = scope.loaders.dispatch.clone();
        let mut request = self.persisted.resolve(request.data(scope)).await?;
        limits::parse_checked(&mut request, &self.limits, self.introspection, staff)?;
        let (name, subscription) = selected(&mut request);
        let span = crate::telemetry::operation_span(name.as_deref());
        Ok(Prepared {
            request,
            dispatch,
            span,
            subscription,
        })
    }
}

/// The operation `request` runs (the one asked for, or the document's only
/// one): its name, and whether it is a subscription.
fn selected(request: &mut Request) -> (Option<String>, bool) {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let asked = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return (asked, false);
    };
    let (name, op) = match (&doc.operations, asked) {
        (DocumentOperations::Single(op), asked) => (asked, Some(op)),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            let op = ops.get(name.as_str());
            (Some(name), op)
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.iter().next() {
            Some((name, op)) => (Some(name.to_string()), Some(op)),
            None => (None, None),
        },
        _ => (None, None),
    };
    let subscription = op.is_some_and(|op| op.node.ty == OperationType::Subscription);
    (name, subscription)
}

/// Every error leaves with a code, whatever the transport: async-graphql's own
/// refusals of a request get the code of the bound they crossed (over the
/// complexity bound, nested too deep, too many directives), and its other
/// errors (unparsable documents, unknown fields, arguments of the wrong type)
/// `BAD_USER_INPUT`. Errors the gateway raises carry theirs already.
fn coded(mut response: Response) -> Response {
    for e in &mut response.errors {
        if e.path.is_empty() {
            *e = limits::coded(std::mem::replace(e, ServerError::new("", None)));
        }
        let has_code = e
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if !has_code {
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", super::errors::code::BAD_USER_INPUT);
        }
    }
    response
}

/// A stream polled inside its span until its first item (a query or mutation
/// sent as a stream yields once, when it is done) or, for a subscription, for
/// its first poll only: the checks and the resolver until it waits for news. A
/// span left open per subscriber for as long as it listens would be an
/// hours-long trace and about 2 KB per socket.
struct Instrumented<S> {
    inner: S,
    span: Option<tracing::Span>,
    first_poll_only: bool,
}

impl<S: futures::Stream + Unpin> futures::Stream for Instrumented<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        let this = &mut *self;
        let Some(span) = &this.span else {
            return this.inner.poll_next_unpin(cx);
        };
        let polled = span.in_scope(|| this.inner.poll_next_unpin(cx));
        if polled.is_ready() || this.first_poll_only {
            this.span = None;
        }
        polled
    }
}
