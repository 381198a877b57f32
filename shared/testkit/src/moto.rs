//! Resource setup shared by the tests that run against moto server: queues,
//! a bus with a rule delivering to a queue, and draining a queue.

use std::time::Duration;

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};

use crate::unique_name;

/// A queue created for one test.
#[derive(Debug, Clone)]
pub struct TestQueue {
    /// Its URL.
    pub url: String,
    /// Its ARN.
    pub arn: String,
}

/// Creates a uniquely named queue (`<prefix>-<random>`, `.fifo` kept at
/// the end) with `attributes`.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    attributes: &[(QueueAttributeName, String)],
) -> TestQueue {
    let name = match prefix.strip_suffix(".fifo") {
        Some(base) => format!("{}.fifo", unique_name(base)),
        None => unique_name(prefix),
    };
    let mut req = sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(k.clone(), v.clone());
    }
    let url = req
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue url");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("a queue arn");
    TestQueue { url, arn }
}

/// A custom bus whose one rule delivers matching events to a queue.
#[derive(Debug, Clone)]
pub struct BusToQueue {
    /// The bus name.
    pub bus: String,
    /// The rule name.
    pub rule: String,
    /// The target queue.
    pub queue: TestQueue,
}

impl BusToQueue {
    /// Creates the bus, the queue and a rule with `pattern` targeting it.
    pub async fn create(
        eb: &aws_sdk_eventbridge::Client,
        sqs: &aws_sdk_sqs::Client,
        pattern: &str,
    ) -> BusToQueue {
        let queue = create_queue(sqs, "sy-bus-target", &[]).await;
        Self::create_to(eb, queue, pattern).await
    }

    /// Creates the bus and a rule with `pattern` targeting `queue` (one the
    /// test made, e.g. with a RedrivePolicy).
    pub async fn create_to(
        eb: &aws_sdk_eventbridge::Client,
        queue: TestQueue,
        pattern: &str,
    ) -> BusToQueue {
        let bus = unique_name("sy-bus");
        let rule = unique_name("sy-rule");
        eb.create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("CreateEventBus");
        eb.put_rule()
            .name(&rule)
            .event_bus_name(&bus)
            .event_pattern(pattern)
            .send()
            .await
            .expect("PutRule");
        eb.put_targets()
            .rule(&rule)
            .event_bus_name(&bus)
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(&queue.arn)
                    .build()
                    .expect("a target"),
            )
            .send()
            .await
            .expect("PutTargets");
        BusToQueue { bus, rule, queue }
    }

    /// Deletes the rule, the bus and the queue.
    pub async fn delete(self, eb: &aws_sdk_eventbridge::Client, sqs: &aws_sdk_sqs::Client) {
        eb.remove_targets()
            .rule(&self.rule)
            .event_bus_name(&self.bus)
            .ids("queue")
            .send()
            .await
            .expect("RemoveTargets");
        eb.delete_rule()
            .name(&self.rule)
            .event_bus_name(&self.bus)
            .send()
            .await
            .expect("DeleteRule");
        eb.delete_event_bus()
            .name(&self.bus)
            .send()
            .await
            .expect("DeleteEventBus");
        sqs.delete_queue()
            .queue_url(&self.queue.url)
            .send()
            .await
            .expect("DeleteQueue");
    }
}

/// Receives (and deletes) from `queue_url` until `expected` messages
/// arrived, then keeps listening for `settle` to catch extra ones; fails
/// after `timeout`.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    expected: usize,
    settle: Duration,
    timeout: Duration,
) -> Vec<Message> {
    let mut messages = Vec::new();
    let collect = async {
        loop {
            let got_all = messages.len() >= expected;
            let output = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if got_all { settle.as_secs() as i32 } else { 1 })
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("ReceiveMessage");
            let batch = output.messages().to_vec();
            let empty = batch.is_empty();
            for message in &batch {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
            messages.extend(batch);
            if got_all && empty {
                break;
            }
        }
    };
    tokio::time::timeout(timeout, collect)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {expected} messages on {queue_url}"));
    messages
}

/// A DynamoDB table keyed by `pk` (S), on demand — the shape of the
/// idempotency and audit tables.
///
/// # Panics
/// When moto refuses it.
pub async fn create_pk_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .expect("CreateTable");
}
