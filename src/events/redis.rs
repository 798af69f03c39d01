//! The Redis Streams [`MilestoneBus`]: every replica publishes to one stream,
//! so every replica's subscribers see every replica's milestones, and a
//! subscriber can resume after a cursor on any replica.
//!
//! Key layout: `{namespace}:milestones`, a stream whose entries carry one
//! field, `event`, the event's JSON. The entry id is the event's cursor. The
//! stream is capped at about 10 000 entries (`MAXLEN ~`), which bounds how far
//! back a subscriber can resume.
//!
//! Each bus runs one reader task that follows the stream with a blocking
//! `XREAD` on a connection of its own and fans entries out to the local
//! subscribers, so a replica holds one Redis read however many subscribers
//! it serves.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use super::{BusError, MilestoneBus, MilestoneEvent};

/// Roughly how many entries the stream keeps (trimmed lazily by Redis).
const MAX_LEN: usize = 10_000;

/// Entries the reader takes per `XREAD`.
const READ_COUNT: usize = 100;

/// How long one `XREAD` waits for new entries before asking again.
const BLOCK: Duration = Duration::from_secs(2);

/// The reader's connection must outlast a blocking read (the client's default
/// response timeout is far shorter), but still notice a server that stopped
/// answering.
const READER_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause before the reader reconnects after an error, so a down server is not
/// hammered.
const RETRY: Duration = Duration::from_secs(1);

/// Entries fetched per `XRANGE` page when replaying.
const REPLAY_PAGE: usize = 500;

/// Live events a subscriber may fall behind by before it skips ahead.
const CHANNEL: usize = 1024;

/// The stream field holding the event's JSON.
const FIELD: &str = "event";

/// A stream entry id, `<ms>-<seq>`. Compared numerically: as strings,
/// `"9-0"` would sort after `"10-0"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StreamId(u64, u64);

impl StreamId {
    /// Both parts must be plain digits: `u64::from_str` alone would also take
    /// a leading `+`, which Redis reads differently.
    fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = s.split_once('-')?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// One stream entry as Redis returns it: id, then field/value pairs flat.
type Entry = (String, Vec<String>);

/// An `XREAD` answer: per stream key, its entries; nil when the block timed out.
type ReadReply = Option<Vec<(String, Vec<Entry>)>>;

/// A bus error saying which operation failed.
fn err(op: &str) -> impl FnOnce(redis::RedisError) -> BusError + '_ {
    move |e| BusError(format!("redis {op}: {e}"))
}

/// The entry's id and event. An entry this code cannot read (no `event`
/// field, JSON it cannot decode, as an older replica might meet after a newer
/// one added a milestone) is skipped with a warning, both live and on replay,
/// so every subscriber sees the same sequence and one bad entry cannot make a
/// cursor unresumable.
fn decode((id, fields): Entry) -> Option<(StreamId, MilestoneEvent)> {
    let Some(sid) = StreamId::parse(&id) else {
        tracing::warn!(id, "milestone stream entry with an unreadable id skipped");
        return None;
    };
    let json = fields
        .chunks_exact(2)
        .find(|pair| pair[0] == FIELD)
        .map(|pair| &pair[1]);
    let Some(json) = json else {
        tracing::warn!(id, "milestone stream entry without an event skipped");
        return None;
    };
    match serde_json::from_str::<MilestoneEvent>(json) {
        Ok(mut event) => {
            event.cursor = id;
            Some((sid, event))
        }
        Err(e) => {
            tracing::warn!(id, error = %e, "unreadable milestone stream entry skipped");
            None
        }
    }
}

/// Aborts the reader task when the bus goes away, so a dropped bus leaves no
/// connection or task behind.
struct ReaderGuard(AbortHandle);

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The Redis Streams bus.
pub struct RedisBus {
    /// For publishing, replay and position queries; never for the blocking
    /// read, which would hold up every other command on it.
    conn: ConnectionManager,
    key: String,
    tx: broadcast::Sender<(StreamId, MilestoneEvent)>,
    _reader: ReaderGuard,
}

impl RedisBus {
    /// Connect to `url` (`redis://host:port/db`), using the stream
    /// `"{namespace}:milestones"`, and start following it from its current end.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, BusError> {
        let client = Client::open(url).map_err(err("connect"))?;
        // Publishing and replay with the store's short, bounded timeouts.
        let conn = crate::store::redis_connection(url)
            .await
            .map_err(err("connect"))?;
        let key = format!("{namespace}:milestones");
        // Fixed before `connect` returns, so the reader sees every event
        // published (here or on another replica) once the bus exists.
        let start = last_id(&mut conn.clone(), &key, "connect").await?;
        let (tx, _) = broadcast::channel(CHANNEL);
        let reader = tokio::spawn(follow(client, key.clone(), start, tx.clone()));
        Ok(Self {
            conn,
            key,
            tx,
            _reader: ReaderGuard(reader.abort_handle()),
        })
    }

    /// Every retained entry after `after`, oldest first, page by page.
    async fn replay(&self, after: StreamId) -> Result<Vec<(StreamId, MilestoneEvent)>, BusError> {
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        let mut from = after;
        loop {
            let page: Vec<Entry> = redis::cmd("XRANGE")
                .arg(&self.key)
                // `(` makes the start exclusive: the entry at `from` was
                // already seen (or is the subscriber's own cursor).
                .arg(format!("({from}"))
                .arg("+")
                .arg("COUNT")
                .arg(REPLAY_PAGE)
                .query_async(&mut conn)
                .await
                .map_err(err("subscribe"))?;
            let full = page.len() == REPLAY_PAGE;
            // The next page starts after this one's last id, even if that
            // entry could not be decoded.
            let Some(last) = page.last().and_then(|(id, _)| StreamId::parse(id)) else {
                break;
            };
            from = last;
            out.extend(page.into_iter().filter_map(decode));
            if !full {
                break;
            }
        }
        Ok(out)
    }
}

/// The id of the stream's newest entry; `0-0` when it has none, so that every
/// entry added later counts as newer.
async fn last_id(conn: &mut ConnectionManager, key: &str, op: &str) -> Result<StreamId, BusError> {
    let newest: Vec<Entry> = redis::cmd("XREVRANGE")
        .arg(key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await
        .map_err(err(op))?;
    match newest.first() {
        None => Ok(StreamId(0, 0)),
        Some((id, _)) => StreamId::parse(id)
            .ok_or_else(|| BusError(format!("redis {op}: unreadable stream id `{id}`"))),
    }
}

/// The reader task: follow the stream from `last` forever, reconnecting after
/// errors. `last` is tracked here rather than reading with `$` each time, so
/// entries added between two reads, or while reconnecting, are still read.
async fn follow(
    client: Client,
    key: String,
    mut last: StreamId,
    tx: broadcast::Sender<(StreamId, MilestoneEvent)>,
) {
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(READER_RESPONSE_TIMEOUT));
    loop {
        match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(mut conn) => {
                let e = read_until_error(&mut conn, &key, &mut last, &tx).await;
                tracing::warn!(error = %e, "milestone stream read failed; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, "milestone stream reader cannot connect; retrying");
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Read and fan out until Redis fails; answers the failure.
async fn read_until_error(
    conn: &mut MultiplexedConnection,
    key: &str,
    last: &mut StreamId,
    tx: &broadcast::Sender<(StreamId, MilestoneEvent)>,
) -> redis::RedisError {
    loop {
        let reply: ReadReply = match redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(u64::try_from(BLOCK.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(key)
            .arg(last.to_string())
            .query_async(conn)
            .await
        {
            Ok(reply) => reply,
            Err(e) => return e,
        };
        for (_, entries) in reply.unwrap_or_default() {
            for entry in entries {
                // Advance past every entry, readable or not, so a bad one is
                // not read again on the next round.
                if let Some(id) = StreamId::parse(&entry.0) {
                    if id <= *last {
                        continue;
                    }
                    *last = id;
                }
                if let Some(item) = decode(entry) {
                    // No subscriber right now is fine: they replay from Redis.
                    let _ = tx.send(item);
                }
            }
        }
    }
}

#[async_trait]
impl MilestoneBus for RedisBus {
    async fn publish(&self, mut event: MilestoneEvent) -> Result<MilestoneEvent, BusError> {
        // The stored JSON never carries a cursor: the entry id is the cursor.
        event.cursor.clear();
        let json = serde_json::to_string(&event)
            .map_err(|e| BusError(format!("redis publish: encode: {e}")))?;
        let id: String = redis::cmd("XADD")
            .arg(&self.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(MAX_LEN)
            .arg("*")
            .arg(FIELD)
            .arg(json)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err("publish"))?;
        event.cursor = id;
        Ok(event)
    }

    async fn subscribe(
        &self,
        after: Option<String>,
    ) -> Result<BoxStream<'static, MilestoneEvent>, BusError> {
        let after = after
            .map(|a| {
                StreamId::parse(&a)
                    .ok_or_else(|| BusError(format!("`{a}` is not a cursor of this stream")))
            })
            .transpose()?;
        // Listen first, then ask Redis: whatever the reader hands out from now
        // on is either newer than `floor` (delivered live) or already in the
        // replay (dropped below), so nothing falls between the two.
        let live = self.tx.subscribe();
        let (replay, floor) = match after {
            Some(after) => {
                let replay = self.replay(after).await?;
                let floor = replay.last().map_or(after, |(id, _)| *id);
                (replay, floor)
            }
            // "From now on" is measured against the stream, not the reader:
            // an event published just before, that the reader has not
            // fetched yet, is not news.
            None => (
                Vec::new(),
                last_id(&mut self.conn.clone(), &self.key, "subscribe").await?,
            ),
        };
        let live = tokio_stream::wrappers::BroadcastStream::new(live).filter_map(|r| async move {
            match r {
                Ok(item) => Some(item),
                // A subscriber that fell behind by more than the channel holds
                // skips ahead rather than ending.
                Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "a milestone subscriber fell behind");
                    None
                }
            }
        });
        let stream = futures::stream::iter(replay.into_iter().map(|(_, e)| e))
            .chain(live.filter_map(move |(id, e)| async move { (id > floor).then_some(e) }));
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::event;
    use super::*;
    use crate::test_redis::{namespace, test_redis};

    /// The next event's case, failing rather than hanging if none comes.
    async fn next_case(s: &mut BoxStream<'static, MilestoneEvent>) -> String {
        tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .expect("an event within 10s")
            .expect("the stream is still open")
            .case_id
            .as_str()
            .to_owned()
    }

    #[test]
    fn stream_ids_parse_strictly_and_compare_numerically() {
        assert_eq!(StreamId::parse("10-3"), Some(StreamId(10, 3)));
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "+1-2",
            "1-+2",
            "a-1",
            "1-2-3",
            " 1-2",
            "1-99999999999999999999",
        ] {
            assert_eq!(StreamId::parse(bad), None, "{bad}");
        }
        assert!(StreamId(9, 0) < StreamId(10, 0));
        assert!(StreamId(10, 2) < StreamId(10, 10));
        assert_eq!(StreamId(7, 1).to_string(), "7-1");
    }

    #[tokio::test]
    async fn subscribers_get_new_events_in_order_and_can_resume_after_a_cursor() {
        let redis = test_redis();
        let bus = RedisBus::connect(&redis.url, &namespace("gridcase-bus-test"))
            .await
            .unwrap();
        let first = bus.publish(event("CASE-1")).await.unwrap();
        assert!(StreamId::parse(&first.cursor).is_some(), "{}", first.cursor);
        let mut live = bus.subscribe(None).await.unwrap();
        bus.publish(event("CASE-2")).await.unwrap();
        bus.publish(event("CASE-3")).await.unwrap();
        assert_eq!(next_case(&mut live).await, "CASE-2");
        assert_eq!(next_case(&mut live).await, "CASE-3");

        let mut resumed = bus.subscribe(Some(first.cursor.clone())).await.unwrap();
        assert_eq!(next_case(&mut resumed).await, "CASE-2");
        assert_eq!(next_case(&mut resumed).await, "CASE-3");
        let fourth = bus.publish(event("CASE-4")).await.unwrap();
        assert_eq!(next_case(&mut resumed).await, "CASE-4");
        assert_eq!(next_case(&mut live).await, "CASE-4");
        assert!(bus.subscribe(Some("not-a-cursor".into())).await.is_err());
        assert!(bus.subscribe(Some("+1-0".into())).await.is_err());

        // Resuming at the newest cursor replays nothing and waits for news.
        let mut caught_up = bus.subscribe(Some(fourth.cursor)).await.unwrap();
        bus.publish(event("CASE-5")).await.unwrap();
        assert_eq!(next_case(&mut caught_up).await, "CASE-5");
    }

    #[tokio::test]
    async fn a_long_replay_pages_through_and_joins_the_live_events_without_gaps() {
        let redis = test_redis();
        let bus = RedisBus::connect(&redis.url, &namespace("gridcase-bus-test"))
            .await
            .unwrap();
        let first = bus.publish(event("CASE-0")).await.unwrap();
        for i in 1..=1200 {
            bus.publish(event(&format!("CASE-{i}"))).await.unwrap();
        }
        let mut resumed = bus.subscribe(Some(first.cursor)).await.unwrap();
        bus.publish(event("CASE-1201")).await.unwrap();
        for i in 1..=1201 {
            assert_eq!(next_case(&mut resumed).await, format!("CASE-{i}"));
        }
    }

    #[tokio::test]
    async fn replicas_see_each_others_events_and_resume_across_instances() {
        let redis = test_redis();
        let ns = namespace("gridcase-bus-test");
        let a = RedisBus::connect(&redis.url, &ns).await.unwrap();
        let b = RedisBus::connect(&redis.url, &ns).await.unwrap();

        // What A publishes reaches B's subscribers, in order, interleaved
        // with what B publishes itself.
        let mut on_b = b.subscribe(None).await.unwrap();
        let first = a.publish(event("CASE-1")).await.unwrap();
        a.publish(event("CASE-2")).await.unwrap();
        b.publish(event("CASE-3")).await.unwrap();
        a.publish(event("CASE-4")).await.unwrap();
        for case in ["CASE-1", "CASE-2", "CASE-3", "CASE-4"] {
            assert_eq!(next_case(&mut on_b).await, case);
        }

        // A replica started later (or a restarted one) still replays what was
        // published before it connected, then follows the others live.
        let c = RedisBus::connect(&redis.url, &ns).await.unwrap();
        let mut on_c = c.subscribe(Some(first.cursor)).await.unwrap();
        for case in ["CASE-2", "CASE-3", "CASE-4"] {
            assert_eq!(next_case(&mut on_c).await, case);
        }
        a.publish(event("CASE-5")).await.unwrap();
        assert_eq!(next_case(&mut on_c).await, "CASE-5");
        assert_eq!(next_case(&mut on_b).await, "CASE-5");
    }

    #[tokio::test]
    async fn dropping_the_bus_stops_its_reader() {
        let redis = test_redis();
        let bus = RedisBus::connect(&redis.url, &namespace("gridcase-bus-test"))
            .await
            .unwrap();
        let mut live = bus.subscribe(None).await.unwrap();
        drop(bus);
        // The stream ends once the reader (the last sender) is gone.
        let end = tokio::time::timeout(Duration::from_secs(5), live.next())
            .await
            .expect("the stream ends within 5s");
        assert!(end.is_none());
    }
}
