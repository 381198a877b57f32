//! Lambda-specific glue shared by every Lambda function's `main.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Values of `Lambda-Runtime-Deadline-Ms` below this cannot be epoch
/// timestamps (it is 2001-09-09); Lambda always sends one above it.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The invocation deadline from the Runtime API's `Lambda-Runtime-Deadline-Ms`
/// (`lambda_runtime::Context::deadline`).
///
/// AWS Lambda sends the deadline as milliseconds since the Unix epoch.
/// `cargo lambda watch` sends the function timeout as a duration instead
/// (the constant `600000`), which read as an epoch would be 1970 and make
/// every message look out of time; a value too small to be an epoch
/// timestamp is therefore read as a timeout from now.
pub fn invocation_deadline(deadline_ms: u64) -> SystemTime {
    if deadline_ms >= EPOCH_MS_FLOOR {
        UNIX_EPOCH + Duration::from_millis(deadline_ms)
    } else {
        SystemTime::now() + Duration::from_millis(deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_deadlines_are_absolute() {
        let d = invocation_deadline(1_763_629_140_000);
        assert_eq!(
            d.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            1_763_629_140_000
        );
    }

    #[test]
    fn small_values_are_timeouts_from_now() {
        let d = invocation_deadline(600_000);
        let left = d.duration_since(SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(599) && left <= Duration::from_secs(600));
    }
}
