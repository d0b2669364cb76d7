//! The application state: built once at start-up, cheap to clone (one `Arc`), shared by the
//! axum handlers and, through the Leptos context, by the server functions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::api::{CounterBackend, InstanceStatus};
use crate::config::Config;
use crate::db::{Db, DbError, users};
use crate::gateway::Gateway;
use crate::mail::Mailer;
use crate::ratelimit::FailureLimiter;
use crate::setup::SetupGate;

/// Everything a request may need.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    db: Db,
    mailer: Mailer,
    redis: Option<fred::clients::Client>,
    setup: SetupGate,
    started: Instant,
    login_limits: LoginLimits,
    mail_wake: Notify,
    gateway: Gateway,
}

/// Failed-login throttles.
#[derive(Debug)]
pub struct LoginLimits {
    /// Per account (email): 5 failures in 15 minutes.
    pub account: FailureLimiter,
    /// Per client address: 20 failures in 15 minutes.
    pub client: FailureLimiter,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let window = Duration::from_secs(15 * 60);
        Self {
            account: FailureLimiter::new(5, window),
            client: FailureLimiter::new(20, window),
        }
    }
}

impl AppState {
    /// Assembles the state from its parts.
    pub fn new(
        config: Config,
        db: Db,
        mailer: Mailer,
        redis: Option<fred::clients::Client>,
        setup: SetupGate,
    ) -> Self {
        let master_key = config.gateway.master_key.clone().unwrap_or_else(|| {
            // Only tests build a state without resolving secrets: an ephemeral key will do.
            tracing::warn!(
                "no master key resolved: upstream keys saved now will not decrypt after a restart"
            );
            crate::secret::Secret::new(crate::gateway::keys::generate())
        });
        let counters = match &redis {
            Some(client) => crate::counters::CounterStore::redis(
                client.clone(),
                config.gateway.total_timeout + std::time::Duration::from_secs(60),
                config.gateway.redis_prefix.clone(),
            ),
            None => crate::counters::CounterStore::memory(),
        };
        let gateway = Gateway::new(db.clone(), &master_key, config.gateway.clone(), counters);
        Self {
            inner: Arc::new(Inner {
                gateway,
                config,
                db,
                mailer,
                redis,
                setup,
                started: Instant::now(),
                login_limits: LoginLimits::default(),
                mail_wake: Notify::new(),
            }),
        }
    }

    /// The chat proxy.
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database pool.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The mailer.
    pub fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    /// The Redis client, in distributed mode.
    pub fn redis(&self) -> Option<&fred::clients::Client> {
        self.inner.redis.as_ref()
    }

    /// The first-run gate.
    pub fn setup(&self) -> &SetupGate {
        &self.inner.setup
    }

    /// Failed-login throttles.
    pub fn login_limits(&self) -> &LoginLimits {
        &self.inner.login_limits
    }

    /// Wakes the mail sender (after a mail was queued).
    pub fn mail_wake(&self) -> &Notify {
        &self.inner.mail_wake
    }

    /// What the status page shows.
    pub async fn status(&self) -> Result<InstanceStatus, DbError> {
        let users = users::count(self.db()).await?;
        let setup_done = users::setup_completed(self.db()).await?;
        Ok(InstanceStatus {
            version: crate::VERSION.to_owned(),
            database: self.db().backend(),
            counters: if self.inner.redis.is_some() {
                CounterBackend::Redis
            } else {
                CounterBackend::Memory
            },
            mail: self.inner.mailer.transport(),
            setup_required: users == 0 && !setup_done,
            users,
            uptime_secs: self.inner.started.elapsed().as_secs(),
        })
    }
}
