//! Admin notices on SNS: [`SnsNotifier`].

use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use blankslate_core::reconcile::Notice;
use blankslate_handlers::ports::{Notifier, PortResult};

use crate::error::{build_error, port_error};

/// SNS refuses a Subject of 100 characters or more.
const MAX_SUBJECT: usize = 99;
/// SNS refuses a message over 256 KiB.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Said when a notice's subject has nothing SNS accepts.
const FALLBACK_SUBJECT: &str = "blankslate notice";

/// [`Notifier`] publishing to the admins' SNS topic.
#[derive(Clone, Debug)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// A notifier publishing to `topic_arn`, reached with `config`.
    pub fn new(config: &SdkConfig, topic_arn: String) -> Self {
        Self { client: Client::new(config), topic_arn }
    }
}

/// A Subject SNS accepts: printable ASCII only (other characters become `?`, line breaks
/// spaces), starting with a letter, digit or punctuation, under 100 characters. A notice
/// must never be lost because its subject named a user with an accent.
fn subject(text: &str) -> String {
    let ascii: String = text
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_whitespace() => ' ',
            _ => '?',
        })
        .collect();
    let trimmed = ascii.trim();
    if trimmed.is_empty() {
        return FALLBACK_SUBJECT.to_owned();
    }
    if trimmed.len() <= MAX_SUBJECT {
        return trimmed.to_owned();
    }
    // ASCII only by now, so byte offsets are character offsets.
    format!("{}...", trimmed[..MAX_SUBJECT - 3].trim_end())
}

/// The message cut to SNS's size limit on a character boundary.
fn message(text: &str) -> &str {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Notifier for SnsNotifier {
    async fn notify(&self, notice: &Notice) -> PortResult<()> {
        const OP: &str = "Publish";
        // The desk as an attribute lets admins filter subscriptions per directory or user.
        let desk = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(notice.desk.to_string())
            .build()
            .map_err(|e| build_error(OP, e))?;
        let body = if notice.message.is_empty() { notice.subject.as_str() } else { message(&notice.message) };
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(&notice.subject))
            .message(body)
            .message_attributes("desk", desk)
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_become_what_sns_accepts() {
        assert_eq!(
            subject("blankslate: re-creating d-1/jane keeps failing"),
            "blankslate: re-creating d-1/jane keeps failing"
        );
        assert_eq!(subject("  Zoë\nfailed\t"), "Zo? failed");
        assert_eq!(subject("\u{7}"), "?");
        assert_eq!(subject(" \n "), FALLBACK_SUBJECT);
        let long = subject(&"é".repeat(300));
        assert_eq!(long.chars().count(), MAX_SUBJECT);
        assert!(long.ends_with("...") && long.is_ascii());
    }

    #[test]
    fn messages_are_cut_on_a_character_boundary() {
        let text = "ü".repeat(MAX_MESSAGE_BYTES);
        let cut = message(&text);
        assert!(cut.len() <= MAX_MESSAGE_BYTES && cut.len() > MAX_MESSAGE_BYTES - 2);
        assert_eq!(message("short"), "short");
    }
}
