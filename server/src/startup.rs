//! Start-up: from a validated [`Config`] to a ready [`AppState`] (pools, migrations, Redis,
//! mailer, first-run gate), and the `admin create` task.

use aicarpool::config::Config;
use aicarpool::db::users::{self, NewUser, SystemRole};
use aicarpool::db::{Db, DbError};
use aicarpool::mail::Mailer;
use aicarpool::setup::SetupGate;
use aicarpool::state::AppState;
use anyhow::Context;

/// Connects the database and applies pending migrations.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database).await.with_context(|| {
        format!(
            "DATABASE_URL: cannot open the {} database",
            config.database.backend.label()
        )
    })?;
    let applied = db.migrate().await.context("applying database migrations")?;
    if applied > 0 {
        tracing::info!(
            applied,
            database = db.backend().label(),
            "database migrations applied"
        );
    }
    Ok(db)
}

/// Builds the application state. While no administrator exists, opens the first-run gate and
/// logs its one-time token.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let db = open_database(&config).await?;
    let redis = match &config.redis_url {
        Some(url) => Some(
            aicarpool::redis::connect(url)
                .await
                .context("REDIS_URL: cannot connect to Redis")?,
        ),
        None => None,
    };
    let mailer = Mailer::from_config(&config).context("setting up mail")?;
    let setup = if users::setup_completed(&db).await? || users::count(&db).await? > 0 {
        SetupGate::closed()
    } else {
        let (gate, token) = SetupGate::open();
        tracing::warn!(
            "first-run setup: no administrator exists yet. Open {} and enter this one-time \
             setup token: {token}",
            config.app_url
        );
        gate
    };
    Ok(AppState::new(config, db, mailer, redis, setup))
}

/// How often a node mirrors the shared account health from Redis.
const HEALTH_SYNC: std::time::Duration = std::time::Duration::from_secs(1);
/// How often (in health ticks) a node checks whether another node changed the configuration.
const CATALOG_EVERY: u32 = 2;

/// Keeps this node in step with the others: account health mirrored from Redis every second,
/// and the routing catalog reloaded when another node changed accounts, bindings or routing
/// (a cheap fingerprint query every two seconds).
pub fn spawn_catalog_watcher(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEALTH_SYNC);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u32 = 0;
        loop {
            tick.tick().await;
            state.gateway().counters().sync().await;
            n = n.wrapping_add(1);
            if n.is_multiple_of(CATALOG_EVERY)
                && let Err(e) = state.gateway().refresh_if_changed().await
            {
                tracing::warn!("could not refresh the routing catalog: {e}");
            }
        }
    })
}

/// Why `admin create` refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminCreateError {
    /// A field is invalid.
    #[error("{field}: {problem}")]
    Invalid {
        /// Which option.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The email is taken.
    #[error("a user with the email {0} already exists")]
    EmailTaken(String),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Creates a system administrator (`aicarpool admin create`).
pub async fn create_admin(
    db: &Db,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Result<i64, AdminCreateError> {
    use aicarpool::validate;
    let invalid = |field| {
        move |e: validate::FieldError| AdminCreateError::Invalid {
            field,
            problem: e.to_string(),
        }
    };
    let email = validate::email(email).map_err(invalid("--email"))?;
    validate::password(password).map_err(invalid("--password"))?;
    let default_name = email.split('@').next().unwrap_or("admin").to_owned();
    let name = validate::display_name(name.unwrap_or(&default_name)).map_err(invalid("--name"))?;
    let password_hash = aicarpool::auth::hash_password(password.to_owned())
        .await
        .map_err(anyhow::Error::from)?;
    let user = NewUser {
        email: email.clone(),
        name,
        password_hash,
        role: SystemRole::Admin,
        locale: "en".to_owned(),
    };
    match users::create_admin(db, &user).await {
        Ok(id) => Ok(id),
        Err(DbError::Conflict(_)) => Err(AdminCreateError::EmailTaken(email)),
        Err(e) => Err(AdminCreateError::Other(e.into())),
    }
}
