//! Decoding a message body: a Switchyard envelope, an envelope wrapped in
//! a whole EventBridge event, or a bare payload wrapped on receipt.

use sha2::{Digest, Sha256};
use switchyard_contracts::{DecodeError, Envelope, EventSet, decode};

use crate::handler::Handler;
use crate::pipeline::builder::Pipeline;

impl<H: Handler> Pipeline<H> {
    /// Decodes a body as an envelope, or as a bare payload when configured.
    pub fn decode(&self, body: &str) -> Result<Envelope<H::Event>, DecodeError> {
        match &self.settings.bare_payload {
            None => {
                // An EventBridge rule's SQS target without `InputPath: $.detail`
                // delivers the whole EventBridge event; its `detail` is the envelope.
                if body.contains("\"detail-type\"") {
                    if let Ok(serde_json::Value::Object(mut event)) = serde_json::from_str(body) {
                        if event.contains_key("detail-type") {
                            if let Some(detail) = event.remove("detail") {
                                return switchyard_contracts::decode_value(
                                    detail,
                                    &self.settings.decode,
                                );
                            }
                        }
                    }
                }
                decode(body.as_bytes(), &self.settings.decode)
            }
            Some(bare) => {
                let data = H::Event::decode_data_json(
                    &bare.event_type,
                    bare.version,
                    body,
                    &self.settings.decode,
                )?;
                // Deterministic id: redeliveries and resends of the same
                // payload share it, so the idempotency layer dedupes them.
                let digest =
                    Sha256::digest(format!("{}\n{}\n{body}", bare.event_type, bare.version));
                let id: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
                Ok(Envelope::new(bare.source.clone(), data).with_id(format!("bare-{id}")))
            }
        }
    }
}
