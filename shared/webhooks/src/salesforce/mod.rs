//! Salesforce outbound messages: a SOAP `notifications` envelope, answered
//! with a `notificationsResponse` Ack (without it Salesforce retries for up
//! to 24 hours). Outbound messages are not signed; the request is accepted
//! only from the configured organisation id(s) (15- or 18-character forms),
//! which is why the function URL should also be kept secret or restricted
//! to Salesforce's published IP ranges in front of it.

mod map;
mod model;
mod verify;

pub use map::map;
pub use model::{MAX_NOTIFICATIONS, Notification, Notifications, parse};
pub use verify::{ACK, SalesforceAuth, verify};
