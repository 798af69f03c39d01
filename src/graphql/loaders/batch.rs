//! The batchers behind the loaders: [`Batcher`] collects one key type's lookups
//! into one call, and [`Dispatch`] decides when a request's open batches go out
//! (when its execution can make no progress without them).

use super::*;
use futures::{Stream, StreamExt};

/// Fallback only, for loads outside a driven execution (see [`Dispatch`]): how
/// long a batch stays open after the last key joined it.
pub(super) const QUIET: Duration = Duration::from_millis(2);
/// Fallback only: longest a batch waits for more keys, however steadily they arrive.
pub(super) const MAX_WAIT: Duration = Duration::from_millis(25);

pub(super) type BatchResult<K, V> = Result<Arc<HashMap<K, V>>, LoadError>;
pub(super) type Batch<K, V> = Shared<BoxFuture<'static, BatchResult<K, V>>>;
pub(super) type FetchFn<K, V> =
    Arc<dyn Fn(Vec<K>) -> BoxFuture<'static, Result<HashMap<K, V>, LoadError>> + Send + Sync>;

/// When the batches of one request go out.
///
/// A GraphQL execution is one future: every resolver of the request is polled
/// inside it. [`Dispatch::drive`] wraps it and sends the open batches only when the
/// whole execution is stuck — polled to `Pending` without waking itself — *and* no
/// upstream call of the request is in flight (no batch, no tracked list call).
/// At that point every key the data can produce without another upstream answer
/// has been asked for, so each wave of the query is one call per resource,
/// whatever the machine's load: the number of calls depends on the data alone.
/// Batches opened outside a driven execution fall back to a quiet-time window.
pub(crate) struct Dispatch {
    /// Set while an execution is driven; then no timer ever sends a batch.
    driving: AtomicBool,
    /// Two executions shared these loaders at once (several subscriptions on one
    /// connection): the timer sends batches again, as the driver cannot see both.
    shared: AtomicBool,
    /// Upstream calls of this request under way.
    in_flight: AtomicUsize,
    /// Batches of this request open (keys collected, not sent yet): with none,
    /// a stuck execution has nothing to send, and the batchers are not visited.
    open: AtomicUsize,
    /// Set by any wake-up of the driven execution.
    woken: AtomicBool,
    /// The task driving the execution.
    driver: AtomicWaker,
    /// Every batcher of the request, to send their open batches. Weak: batchers
    /// hold this dispatch, so strong references both ways would keep every
    /// request's loaded records alive forever.
    senders: Mutex<Vec<std::sync::Weak<dyn SendOpen>>>,
}

impl std::task::Wake for Dispatch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.driver.wake();
    }
}

/// While held, the dispatch's execution is driven.
struct Driving(Arc<Dispatch>);

impl Drop for Driving {
    fn drop(&mut self) {
        self.0.driving.store(false, Ordering::SeqCst);
    }
}

pub(super) trait SendOpen: Send + Sync {
    /// Send the open batch, if any; true when one was sent.
    fn send_open(&self) -> bool;
}

/// Counts an upstream call as in flight until dropped, then wakes the driver.
pub(super) struct InFlight(Arc<Dispatch>);

impl InFlight {
    fn start(d: &Arc<Dispatch>) -> Self {
        d.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(d.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        std::task::Wake::wake_by_ref(&self.0);
    }
}

impl Dispatch {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            driving: AtomicBool::new(false),
            shared: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            woken: AtomicBool::new(false),
            driver: AtomicWaker::new(),
            senders: Mutex::new(Vec::new()),
        })
    }

    fn register(&self, s: Arc<dyn SendOpen>) {
        self.senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&s));
    }

    fn is_driven(&self) -> bool {
        self.driving.load(Ordering::SeqCst) && !self.shared.load(Ordering::SeqCst)
    }

    /// Mark the dispatch driven; `None` when another execution drives it already
    /// (then the timer sends batches, as the driver cannot see both).
    fn start_driving(self: &Arc<Self>) -> Option<Driving> {
        if self
            .driving
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.shared.store(true, Ordering::SeqCst);
            return None;
        }
        Some(Driving(self.clone()))
    }

    /// Run `fut` (a GraphQL execution), sending batches whenever it can make no
    /// progress without them.
    pub async fn drive<F: Future>(self: &Arc<Self>, fut: F) -> F::Output {
        let Some(_driving) = self.start_driving() else {
            return fut.await;
        };
        // Out of tokio's cooperative budget: an exhausted budget makes tokio's
        // primitives return `Pending` with a wake-up *deferred* past this poll,
        // which would look like a stuck execution. (async-graphql's own yields
        // wake at once, so they are seen.)
        let mut fut = std::pin::pin!(tokio::task::unconstrained(fut));
        let waker = std::task::Waker::from(self.clone());
        std::future::poll_fn(|cx| self.poll_driven(cx, &waker, |inner| fut.as_mut().poll(inner)))
            .await
    }

    /// [`Dispatch::drive`] for a stream of executions (a subscription: one per
    /// event), each driven like a single one.
    pub fn drive_stream<S>(self: Arc<Self>, mut stream: S) -> impl Stream<Item = S::Item>
    where
        S: Stream + Unpin,
    {
        let driving = self.start_driving();
        let waker = std::task::Waker::from(self.clone());
        futures::stream::poll_fn(move |cx| {
            if driving.is_none() {
                return stream.poll_next_unpin(cx);
            }
            self.poll_driven(cx, &waker, |inner| {
                std::pin::pin!(tokio::task::unconstrained(stream.next())).poll(inner)
            })
        })
    }

    /// Poll the driven execution once with `waker`; when it is stuck with no
    /// upstream call in flight, send every open batch.
    fn poll_driven<T>(
        &self,
        cx: &mut std::task::Context<'_>,
        waker: &std::task::Waker,
        poll: impl FnOnce(&mut std::task::Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        self.driver.register(cx.waker());
        self.woken.store(false, Ordering::SeqCst);
        let mut inner = std::task::Context::from_waker(waker);
        if let Poll::Ready(out) = poll(&mut inner) {
            return Poll::Ready(out);
        }
        // In-flight first: a call finishing sets `woken` before it stops
        // counting, so seeing none in flight and no wake-up means every
        // answer so far has been handled.
        if self.in_flight.load(Ordering::SeqCst) > 0
            || self.woken.load(Ordering::SeqCst)
            || self.open.load(Ordering::SeqCst) == 0
        {
            return Poll::Pending;
        }
        let senders: Vec<Arc<dyn SendOpen>> = self
            .senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect();
        for s in senders {
            s.send_open();
        }
        // Sent batches wake the execution when they answer.
        Poll::Pending
    }

    /// Count a non-batched upstream call (a list page) as in flight, so no batch
    /// goes out while its answer could still add keys.
    pub async fn track<T>(self: &Arc<Self>, call: impl Future<Output = T>) -> T {
        let _in_flight = InFlight::start(self);
        call.await
    }
}

/// Per-request batching for one key type: collects keys until the request's
/// [`Dispatch`] sends them, makes one upstream call per batch, and remembers every
/// key's batch for the rest of the request, so a key asked again (or while its
/// batch is in flight) never costs another call.
pub(crate) struct Batcher<K, V> {
    inner: Arc<BatcherInner<K, V>>,
}

pub(super) struct BatcherInner<K, V> {
    platform: Platform,
    fetch: FetchFn<K, V>,
    max_batch: usize,
    dispatch: Arc<Dispatch>,
    // A std mutex: held for a few map operations, never across an await.
    state: Mutex<BatchState<K, V>>,
}

pub(super) struct BatchState<K, V> {
    known: HashMap<K, Batch<K, V>>,
    open: Option<OpenBatch<K, V>>,
    next_id: u64,
}

pub(super) struct OpenBatch<K, V> {
    id: u64,
    keys: Vec<K>,
    batch: Batch<K, V>,
    answer: tokio::sync::oneshot::Sender<Result<HashMap<K, V>, LoadError>>,
    first: tokio::time::Instant,
    last: tokio::time::Instant,
}

impl<K, V> SendOpen for BatcherInner<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn send_open(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.close(&mut st)
    }
}

impl<K, V> BatcherInner<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Send the open batch: its call runs as a task of its own, so it finishes
    /// (and stops counting as in flight) even if every caller waiting on it is
    /// dropped.
    fn close(&self, st: &mut BatchState<K, V>) -> bool {
        let Some(open) = st.open.take() else {
            return false;
        };
        self.dispatch.open.fetch_sub(1, Ordering::SeqCst);
        let in_flight = InFlight::start(&self.dispatch);
        let call = (self.fetch)(open.keys);
        // The call runs in a task of its own but belongs to the request's trace.
        let span = tracing::Span::current();
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let answer = call.await;
                // Answer before `in_flight` drops: see `Dispatch::drive`.
                let _ = open.answer.send(answer);
                drop(in_flight);
            },
            span,
        ));
        true
    }
}

impl<K, V> Batcher<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) fn new(
        platform: Platform,
        max_batch: usize,
        dispatch: &Arc<Dispatch>,
        fetch: FetchFn<K, V>,
    ) -> Self {
        let inner = Arc::new(BatcherInner {
            platform,
            fetch,
            max_batch,
            dispatch: dispatch.clone(),
            state: Mutex::new(BatchState {
                known: HashMap::new(),
                open: None,
                next_id: 0,
            }),
        });
        dispatch.register(inner.clone());
        Self { inner }
    }

    pub async fn load_one(&self, key: K) -> Result<Option<V>, LoadError> {
        Ok(self.load_many([key.clone()]).await?.remove(&key))
    }

    pub async fn load_many(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<K, V>, LoadError> {
        let keys: Vec<K> = keys.into_iter().collect();
        let mut batches: Vec<Batch<K, V>> = Vec::new();
        {
            let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            for k in &keys {
                let batch = match st.known.get(k) {
                    Some(b) => b.clone(),
                    None => {
                        let b = self.join_open(&mut st, k.clone());
                        st.known.insert(k.clone(), b.clone());
                        b
                    }
                };
                if !batches.iter().any(|x| x.ptr_eq(&batch)) {
                    batches.push(batch);
                }
            }
        }
        let mut out = HashMap::with_capacity(keys.len());
        for batch in batches {
            let found = batch.await?;
            for k in &keys {
                if let Some(v) = found.get(k) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(out)
    }

    /// Records already at hand (e.g. from a list call): later loads of these keys
    /// need no upstream call.
    pub async fn feed_many(&self, values: impl IntoIterator<Item = (K, V)>) {
        let values: HashMap<K, V> = values.into_iter().collect();
        let ready: Batch<K, V> = futures::future::ready(Ok(Arc::new(values.clone())))
            .boxed()
            .shared();
        let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        for k in values.into_keys() {
            st.known.entry(k).or_insert_with(|| ready.clone());
        }
    }

    /// Add a key to the open batch (opening one if needed); returns that batch.
    fn join_open(&self, st: &mut BatchState<K, V>, key: K) -> Batch<K, V> {
        let inner = &self.inner;
        let now = tokio::time::Instant::now();
        if let Some(open) = st.open.as_mut() {
            open.keys.push(key);
            open.last = now;
            let batch = open.batch.clone();
            if open.keys.len() >= inner.max_batch {
                inner.close(st);
            }
            return batch;
        }
        let (answer, receive) = tokio::sync::oneshot::channel::<Result<HashMap<K, V>, LoadError>>();
        let platform = inner.platform;
        let batch: Batch<K, V> = async move {
            match receive.await {
                Ok(answer) => answer.map(Arc::new),
                Err(_) => Err(LoadError::from(UpstreamError::Decode {
                    platform,
                    operation: "batch",
                    detail: "the batch was dropped before it was answered".into(),
                })),
            }
        }
        .boxed()
        .shared();
        st.next_id += 1;
        let id = st.next_id;
        inner.dispatch.open.fetch_add(1, Ordering::SeqCst);
        st.open = Some(OpenBatch {
            id,
            keys: vec![key],
            batch: batch.clone(),
            answer,
            first: now,
            last: now,
        });
        if inner.max_batch <= 1 {
            inner.close(st);
            return batch;
        }
        if inner.dispatch.is_driven() {
            return batch;
        }
        // Not driven: send the batch once no key has joined it for `QUIET`.
        let inner = inner.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(QUIET).await;
                let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                let Some(open) = st.open.as_ref().filter(|o| o.id == id) else {
                    return; // already sent
                };
                if open.last.elapsed() >= QUIET || open.first.elapsed() >= MAX_WAIT {
                    inner.close(&mut st);
                    return;
                }
            }
        });
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A batcher over `k -> k * 10` that counts calls and keys, and waits for
    /// `gate` before answering.
    fn counting(
        max: usize,
        gate: tokio::sync::watch::Receiver<bool>,
    ) -> (Batcher<u32, u32>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let keys_fetched = Arc::new(AtomicUsize::new(0));
        let (c, k) = (calls.clone(), keys_fetched.clone());
        let fetch: FetchFn<u32, u32> = Arc::new(move |keys: Vec<u32>| {
            let (c, k, mut gate) = (c.clone(), k.clone(), gate.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                k.fetch_add(keys.len(), Ordering::SeqCst);
                let _ = gate.wait_for(|open| *open).await;
                Ok(keys.into_iter().map(|k| (k, k * 10)).collect())
            }
            .boxed()
        });
        (
            Batcher::new(Platform::TradingGrid, max, &Dispatch::new(), fetch),
            calls,
            keys_fetched,
        )
    }

    /// Give way once, waking at once (as async-graphql's list resolution does).
    async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                return Poll::Ready(());
            }
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    // On a paused clock: the time between turns is advanced by the test, far
    // past the fallback window, so only the dispatch can keep the wave whole.
    #[tokio::test(start_paused = true)]
    async fn a_driven_wave_goes_out_in_one_call_however_slow_the_turns() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(100, gate);
        let dispatch = b.inner.dispatch.clone();
        let out = dispatch
            .drive(futures::future::join_all((0..50u32).map(|k| {
                let b = &b;
                async move {
                    // A busy executor: keys arrive over many turns, far apart.
                    for _ in 0..k % 7 {
                        yield_now().await;
                    }
                    tokio::time::advance(MAX_WAIT / 10).await;
                    b.load_one(k).await
                }
            })))
            .await;
        for (k, v) in out.into_iter().enumerate() {
            assert_eq!(v.unwrap(), Some(k as u32 * 10));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn no_batch_goes_out_while_a_tracked_call_can_still_add_keys() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, keys) = counting(100, gate);
        let dispatch = b.inner.dispatch.clone();
        let (list_done, list_wait) = tokio::sync::oneshot::channel::<Vec<u32>>();
        let out = dispatch
            .drive(async {
                // One branch asks for keys at once; another only once its list
                // page (answered from outside, later) is in.
                let early = async { b.load_many([1, 2]).await };
                let late = async {
                    let ids = dispatch.track(list_wait).await.unwrap_or_default();
                    b.load_many(ids).await
                };
                let answer = async {
                    for _ in 0..20 {
                        yield_now().await;
                    }
                    let _ = list_done.send(vec![2, 3, 4]);
                };
                let (e, l, ()) = futures::join!(early, late, answer);
                (e.unwrap().len(), l.unwrap().len())
            })
            .await;
        assert_eq!(out, (2, 3));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(keys.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn each_wave_of_a_driven_execution_is_one_call() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(100, gate);
        let dispatch = b.inner.dispatch.clone();
        let total = dispatch
            .drive(futures::future::join_all((0..10u32).map(|k| {
                let b = &b;
                async move {
                    let first = b.load_one(k).await.unwrap().unwrap_or_default();
                    // The second wave's keys depend on the first wave's answers.
                    b.load_one(first + 1).await.unwrap().unwrap_or_default()
                }
            })))
            .await;
        assert_eq!(total.len(), 10);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    // On a paused clock: the fallback window elapses exactly, not by luck.
    #[tokio::test(start_paused = true)]
    async fn a_key_asked_for_while_its_batch_is_in_flight_is_not_fetched_again() {
        let (release, gate) = tokio::sync::watch::channel(false);
        let (b, calls, keys) = counting(100, gate);
        let b = Arc::new(b);
        let first = {
            let b = b.clone();
            tokio::spawn(async move { b.load_many([1, 2]).await })
        };
        // Let the batch go out and wait at the gate.
        tokio::time::sleep(QUIET * 3).await;
        let second = {
            let b = b.clone();
            tokio::spawn(async move { b.load_many([2, 3]).await })
        };
        tokio::time::sleep(QUIET * 3).await;
        release.send(true).unwrap();
        assert_eq!(first.await.unwrap().unwrap()[&2], 20);
        let second = second.await.unwrap().unwrap();
        assert_eq!((second[&2], second[&3]), (20, 30));
        // 1 and 2, then only 3.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(keys.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_full_batch_goes_out_at_once_and_the_rest_in_the_next() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(3, gate);
        let found = b.load_many(0..7u32).await.unwrap();
        assert_eq!(found.len(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn fed_records_need_no_call() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(100, gate);
        b.feed_many([(7, 70), (8, 80)]).await;
        assert_eq!(b.load_many([7, 8]).await.unwrap()[&8], 80);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
