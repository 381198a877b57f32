//! A stub on its own port: any of the stand-ins (`erp`, `oauth`, `crm`)
//! served on a free 127.0.0.1 port for a test, stopped when dropped. The
//! local stack mounts the same routes under its own paths instead.

use std::net::SocketAddr;
use std::ops::Deref;

use axum::Router;

/// A stub's records and routes: clones share the records.
pub trait StubState: Clone + Send + Sync + 'static {
    /// What it stands in for, in messages.
    const NAME: &'static str;

    /// Its routes.
    fn router(&self) -> Router;
}

/// A running stub; derefs to its state (`stub.fail_times(..)`,
/// `stub.writes(..)`, ...).
pub struct Stub<S> {
    state: S,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl<S: StubState + Default> Stub<S> {
    /// Starts a stub with empty records on a free 127.0.0.1 port.
    pub async fn start() -> Stub<S> {
        Self::start_with(S::default()).await
    }
}

impl<S: StubState> Stub<S> {
    /// Starts a stub over `state` (e.g. one with a token check).
    ///
    /// # Panics
    /// When no loopback port can be bound (a test machine problem).
    pub async fn start_with(state: S) -> Stub<S> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind the {} stub: {e}", S::NAME));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{} stub address: {e}", S::NAME));
        let app = state.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub { state, addr, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The records.
    pub fn state(&self) -> &S {
        &self.state
    }
}

impl<S> Deref for Stub<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S> Drop for Stub<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
