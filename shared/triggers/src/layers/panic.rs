//! A panic inside a handler fails that one message (transient), not the batch.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::handler::HandlerError;

fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Runs `fut`, turning a panic into [`HandlerError::Transient`].
pub(crate) async fn catch_panic<T>(
    fut: impl Future<Output = Result<T, HandlerError>>,
) -> Result<T, HandlerError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let msg = message(payload.as_ref());
            tracing::error!(panic = %msg, "handler panicked; failing this message only");
            Err(HandlerError::transient(format!("handler panicked: {msg}")))
        }
    }
}
