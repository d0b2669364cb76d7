//! The mail sender: a background task that works through the outbox table, sends each due mail
//! through the configured [`Mailer`](crate::mail::Mailer) and, when that fails, tries again
//! later with exponential backoff (capped), forever. An SMTP outage delays mail; it never loses it.

use std::time::Duration;

use crate::db::{now_ms, outbox};
use crate::mail::OutgoingMail;
use crate::state::AppState;

/// Mails taken per round.
const BATCH: i64 = 20;
/// The longest pause between two looks at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// How long a claimed mail is reserved for the sender that claimed it.
const LEASE_MS: i64 = 120_000;

/// Retry timing.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubles with each further one.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempts` failed attempts (1 = the first failure).
    pub fn delay(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max)
    }
}

/// Sends every due mail once; returns how many were sent.
pub async fn run_once(state: &AppState, policy: RetryPolicy) -> usize {
    let mut sent = 0;
    loop {
        let due = match outbox::due(state.db(), now_ms(), BATCH).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(%err, "mail outbox: cannot read due mails");
                return sent;
            }
        };
        let full = i64::try_from(due.len()).unwrap_or(0) == BATCH;
        for row in due {
            match outbox::claim(state.db(), row.id, row.next_attempt_at, now_ms() + LEASE_MS).await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(err) => {
                    tracing::warn!(%err, "mail outbox: cannot claim a mail");
                    return sent;
                }
            }
            let mail = OutgoingMail {
                to: row.to_address.clone(),
                subject: row.subject,
                text: row.text_body,
                html: row.html_body,
            };
            let result = match state.mailer().send(&mail).await {
                Ok(()) => {
                    sent += 1;
                    tracing::info!(mail_id = row.id, to = %row.to_address, "mail sent");
                    outbox::mark_sent(state.db(), row.id, now_ms()).await
                }
                Err(err) => {
                    let delay = policy.delay(row.attempts + 1);
                    tracing::warn!(mail_id = row.id, attempt = row.attempts + 1, retry_in = ?delay, %err, "mail not sent; will retry");
                    let next = now_ms()
                        .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                    outbox::mark_failed(state.db(), row.id, &err.to_string(), next).await
                }
            };
            if let Err(err) = result {
                tracing::warn!(%err, mail_id = row.id, "mail outbox: cannot record the attempt");
            }
        }
        if !full {
            return sent;
        }
    }
}

/// Runs the sender until the runtime stops: wakes when a mail is queued, when the next retry is
/// due, or at the latest every 30 s.
pub fn spawn(state: AppState, policy: RetryPolicy) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            run_once(&state, policy).await;
            let wait = match outbox::next_due_at(state.db()).await {
                Ok(Some(at)) => {
                    Duration::from_millis(u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0))
                        .min(IDLE_POLL)
                }
                _ => IDLE_POLL,
            };
            if wait.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = state.mail_wake().notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
        };
        assert_eq!(p.delay(1), Duration::from_secs(5));
        assert_eq!(p.delay(2), Duration::from_secs(10));
        assert_eq!(p.delay(4), Duration::from_secs(40));
        assert_eq!(p.delay(5), Duration::from_secs(60));
        assert_eq!(p.delay(500), Duration::from_secs(60));
    }
}
