//! What the AWS publishers share (features `eventbridge`, `sqs`).

// Every AWS SDK crate re-exports the same smithy error types; use whichever
// of the two this build links.
#[cfg(feature = "eventbridge")]
use aws_sdk_eventbridge as sdk;
#[cfg(all(feature = "sqs", not(feature = "eventbridge")))]
use aws_sdk_sqs as sdk;

use crate::batch::CallError;

/// Maps an AWS SDK error (any service: the type is shared by all SDK crates)
/// to a [`CallError`], deciding whether it is worth retrying.
pub(crate) fn call_error_from_sdk<E>(
    err: &sdk::error::SdkError<E, sdk::config::http::HttpResponse>,
) -> CallError
where
    E: sdk::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use sdk::error::{DisplayErrorContext, SdkError};
    let message = DisplayErrorContext(err).to_string();
    let (code, retryable) = match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().unwrap_or("Unknown").to_owned();
            let retryable = status >= 500
                || status == 429
                || code.contains("Throttl")
                || code.contains("Internal")
                || code == "RequestLimitExceeded"
                || code == "ServiceUnavailable";
            (code, retryable)
        }
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), true),
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), true),
        SdkError::ResponseError(_) => ("ResponseError".to_owned(), true),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_owned(), false),
        _ => ("Unknown".to_owned(), true),
    };
    CallError {
        code,
        message,
        retryable,
    }
}
