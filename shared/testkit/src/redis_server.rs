//! A redis-server of the test's own, on a free 127.0.0.1 port, that the
//! test can stop (SIGKILL, by PID) and start again on the same port — an
//! outage of the idempotency store. It writes an append-only file with
//! `appendfsync always` into its directory, so what was acknowledged
//! before the stop is there after the start, as with a persistent Redis.
//!
//! redis-server is found on `PATH`, else where the test command fetches it
//! (`$SWITCHYARD_TOOLS_DIR/redis/usr/bin/redis-server`); without one the
//! test fails, saying how to run it.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::HOW_TO_RUN;
use crate::lambda::free_port;

/// redis-server: on `PATH`, or in the test command's `.tools/redis`.
///
/// # Panics
/// When there is none.
pub fn redis_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("redis-server");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    if let Ok(tools) = std::env::var("SWITCHYARD_TOOLS_DIR") {
        let candidate = Path::new(&tools).join("redis/usr/bin/redis-server");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("redis-server is not on PATH nor in $SWITCHYARD_TOOLS_DIR/redis; {HOW_TO_RUN}")
}

/// A redis-server owned by the test; stopped (SIGKILL) when dropped.
pub struct RedisServer {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port with its files in `dir`, and waits until
    /// it answers `PING`.
    ///
    /// # Panics
    /// When it does not answer within 10 s.
    pub fn start(dir: &Path) -> RedisServer {
        let mut server = RedisServer {
            binary: redis_server_binary(),
            dir: dir.to_owned(),
            port: free_port(),
            child: None,
        };
        server.start_again();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILLs it (its PID only). What it acknowledged is in its
    /// append-only file.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port and directory; waits for `PING`.
    ///
    /// # Panics
    /// When it does not answer within 10 s.
    pub fn start_again(&mut self) {
        self.stop();
        let log = self.dir.join("redis.log");
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let child = Command::new(&self.binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--daemonize", "no", "--dir"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let started = Instant::now();
        while !self.pong() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on {} did not answer PING within 10 s (log in {})",
                self.port,
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pong(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 16];
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut reply)
                .is_ok_and(|n| reply[..n].starts_with(b"+PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
