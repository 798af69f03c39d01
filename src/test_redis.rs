//! A Redis for tests — the unit tests of the Redis backends and, through the
//! `testing` feature, the integration tests in `tests/`: `GRIDCASE_TEST_REDIS_URL`
//! when set, else a `redis-server` of their own on a free port. Never mocked: the
//! backends' atomicity lives in Redis itself.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A `redis-server` of our own, killed (and its directory removed) on drop.
struct RedisServer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The redis-server the test talks to: `GRIDCASE_TEST_REDIS_URL` when set,
/// else one started here (the guard keeps it alive).
pub struct TestRedis {
    pub url: String,
    server: Option<RedisServer>,
}

impl TestRedis {
    /// Stop the server, as an outage would; `None` when it is a shared
    /// `GRIDCASE_TEST_REDIS_URL`, which is not ours to stop.
    pub fn stop(&mut self) -> Option<()> {
        drop(self.server.take()?);
        Some(())
    }
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn start_server() -> RedisServer {
    // The port is free when read, but another process may take it before
    // redis binds it: retry with a fresh one.
    for _ in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("gridcase-redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create redis temp dir");
        let child = match Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot start redis-server ({e}): install it or set \
                 GRIDCASE_TEST_REDIS_URL to a Redis the tests may use"
            ),
        };
        let mut server = RedisServer { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if answers_ping(port) {
                return server;
            }
            if let Ok(Some(_)) = server.child.try_wait() {
                break; // exited, most likely the port was taken
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(server);
    }
    panic!("redis-server did not come up on a free port");
}

pub fn test_redis() -> TestRedis {
    match std::env::var("GRIDCASE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => TestRedis { url, server: None },
        _ => {
            let server = start_server();
            TestRedis {
                url: format!("redis://127.0.0.1:{}/", server.port),
                server: Some(server),
            }
        }
    }
}

/// A namespace no other test (or run sharing the server) uses.
pub fn namespace(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
