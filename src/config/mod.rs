//! The typed configuration: command-line flags and environment variables (also read from `.env`),
//! validated once at start-up. A bad value becomes one [`ConfigError`] naming the variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::api::DbBackend;
use crate::secret::{self, Secret, SecretOrigin};

mod gateway;
mod values;
pub use gateway::{GatewayConfig, upstream_tls};
pub use values::sqlite_path;
use values::{
    check_mailbox, check_secret, create_private_dir, parse_app_url, parse_database_url, parse_port,
    parse_redis_url, parse_smtp,
};

/// The `aicarpool` command line.
#[derive(Debug, Parser)]
#[command(
    name = "aicarpool",
    version,
    about = "AiCarpool: share AI service accounts across a team through one self-hosted gateway",
    long_about = None,
    after_help = "Every option can also be set through the environment variable shown next to it, \
                  or in a .env file in the working directory. With nothing set, AiCarpool runs on \
                  an SQLite file in ./data with a generated signing secret."
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server and gateway (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administrative tasks.
    Admin {
        /// The task.
        #[command(subcommand)]
        action: AdminCommand,
    },
}

/// `aicarpool admin …` tasks.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a system administrator (also completes the first-run setup).
    Create {
        /// The administrator's email address.
        #[arg(long)]
        email: String,
        /// The password; read from the first line of standard input when omitted.
        #[arg(long)]
        password: Option<String>,
        /// Display name; defaults to the part of the email before the @.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Settings as given, before validation. Every value is a string so that a bad one is reported
/// by [`Config::from_settings`] in one line naming its variable, not by clap.
#[derive(Debug, Default, Clone, Args)]
pub struct Settings {
    /// Database: `sqlite://PATH` (created if missing) or `mysql://USER:PASS@HOST:PORT/DB`
    /// [default: sqlite://$DATA_DIR/aicarpool.db]
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Redis for counters and health shared between nodes: `redis://[:PASS@]HOST:PORT[/DB]`
    /// or `rediss://…` [default: none, counters in memory]
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Secret that signs session tokens, at least 32 characters [default: generated once and
    /// kept in $DATA_DIR/jwt_secret]
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Same as JWT_SECRET (the name an existing .env from the seed uses); JWT_SECRET wins
    #[arg(long, env = "NEXTAUTH_SECRET", global = true, hide_env_values = true)]
    pub nextauth_secret: Option<String>,
    /// Public URL of this instance, used in links in mails [default: http://localhost:$PORT]
    #[arg(long, env = "APP_URL", global = true)]
    pub app_url: Option<String>,
    /// Same as APP_URL (the seed's name); APP_URL wins
    #[arg(long, env = "NEXTAUTH_URL", global = true)]
    pub nextauth_url: Option<String>,
    /// SMTP server host; without it mails are appended to $DATA_DIR/outbox.log
    #[arg(long, env = "SMTP_HOST", global = true)]
    pub smtp_host: Option<String>,
    /// SMTP port [default: 587, or 465 when SMTP_SECURITY=tls]
    #[arg(long, env = "SMTP_PORT", global = true)]
    pub smtp_port: Option<String>,
    /// SMTP user name (login is used only when it is set)
    #[arg(long, env = "SMTP_USER", global = true)]
    pub smtp_user: Option<String>,
    /// SMTP password
    #[arg(long, env = "SMTP_PASSWORD", global = true, hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// Sender of mails, `Name <address>` or `address` [default: AiCarpool <noreply@HOST of APP_URL>]
    #[arg(long, env = "SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// SMTP connection security: `starttls`, `tls` (implicit, usually port 465) or `plain`
    /// (no encryption, only for a relay on the same host) [default: tls on port 465, else starttls]
    #[arg(long, env = "SMTP_SECURITY", global = true)]
    pub smtp_security: Option<String>,
    /// PEM file with the certificate authority (or the self-signed certificate) of the SMTP
    /// server, for a server whose certificate public roots do not vouch for [default: public roots]
    #[arg(long, env = "SMTP_CA_FILE", global = true)]
    pub smtp_ca_file: Option<String>,
    /// Address to listen on [default: 0.0.0.0]
    #[arg(long, env = "HOST", global = true)]
    pub host: Option<String>,
    /// Port to listen on [default: 3000]
    #[arg(long, env = "PORT", global = true)]
    pub port: Option<String>,
    /// Directory for the SQLite file, generated secrets and the mail outbox [default: ./data]
    #[arg(long, env = "DATA_DIR", global = true)]
    pub data_dir: Option<String>,
    /// Directory with the built browser assets (`pkg/`, favicon) [default: target/site]
    #[arg(long, env = "LEPTOS_SITE_ROOT", global = true)]
    pub site_root: Option<String>,
    /// Key that encrypts the upstream accounts' API keys at rest, at least 32 characters; every
    /// node of a cluster needs the same one [default: generated once and kept in
    /// $DATA_DIR/master_key]
    #[arg(long, env = "MASTER_KEY", global = true, hide_env_values = true)]
    pub master_key: Option<String>,
    /// Largest request body the proxy accepts, in bytes or with k / m [default: 32m]
    #[arg(long, env = "MAX_BODY_BYTES", global = true)]
    pub max_body_bytes: Option<String>,
    /// Request bodies of 1 MiB and more held in memory at once, in bytes or with k / m (at
    /// least MAX_BODY_BYTES); more wait up to 30 s for room, then get a 503 [default: 256m]
    #[arg(long, env = "MAX_BODY_MEMORY", global = true)]
    pub max_body_memory: Option<String>,
    /// Seconds a streamed request waits for the upstream's first byte [default: 120]
    #[arg(long, env = "UPSTREAM_FIRST_BYTE_TIMEOUT", global = true)]
    pub upstream_first_byte_timeout: Option<String>,
    /// PEM file of extra certificate authorities trusted for upstream HTTPS (a private CA in
    /// front of a self-hosted model), on top of the system's
    #[arg(long, env = "UPSTREAM_CA_FILE", global = true)]
    pub upstream_ca_file: Option<String>,
    /// Seconds a whole upstream request may take [default: 900]
    #[arg(long, env = "UPSTREAM_TIMEOUT", global = true)]
    pub upstream_timeout: Option<String>,
    /// Accounts tried at most for one request before the error goes back [default: 3]
    #[arg(long, env = "UPSTREAM_MAX_ATTEMPTS", global = true)]
    pub upstream_max_attempts: Option<String>,
    /// Seconds a conversation stays pinned to the account that served it [default: 3600]
    #[arg(long, env = "STICKY_TTL", global = true)]
    pub sticky_ttl: Option<String>,
    /// Failures in a row that take an account out (its circuit opens) [default: 5]
    #[arg(long, env = "CIRCUIT_FAILURES", global = true)]
    pub circuit_failures: Option<String>,
    /// Seconds an account stays out before one probe request tests it; doubles while probes
    /// fail, up to ten times as long [default: 30]
    #[arg(long, env = "CIRCUIT_OPEN_SECS", global = true)]
    pub circuit_open_secs: Option<String>,
    /// Prefix of every Redis key AiCarpool writes, so instances can share one Redis
    /// [default: acp:]
    #[arg(long, env = "REDIS_PREFIX", global = true)]
    pub redis_prefix: Option<String>,
    /// Seconds between two checks of the budgets' warning thresholds (each node checks; each
    /// warning is mailed once) [default: 60]
    #[arg(long, env = "BUDGET_ALERT_INTERVAL", global = true)]
    pub budget_alert_interval: Option<String>,
    /// Yuan per US dollar for showing amounts in CNY, up to 4 decimals, until the system
    /// administrator sets a rate in the browser [default: 7.2]
    #[arg(long, env = "CNY_PER_USD", global = true)]
    pub cny_per_usd: Option<String>,
}

/// A setting that failed validation: which variable, and what is wrong with it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The environment variable (or file) at fault.
    pub var: &'static str,
    /// What is wrong, in words a person can act on.
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte.
    Tls,
    /// No encryption.
    Plain,
}

/// A configured SMTP server.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// Login user and password, when the server needs them.
    pub credentials: Option<(String, Secret<String>)>,
    /// Extra trusted certificate (PEM file) for the server's TLS.
    pub ca_file: Option<PathBuf>,
}

/// The database to use.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// Which engine the URL names.
    pub backend: DbBackend,
    /// The URL, which may contain a password.
    pub url: Secret<String>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where local state lives.
    pub data_dir: PathBuf,
    /// The database.
    pub database: DatabaseConfig,
    /// Redis, when several nodes share counters.
    pub redis_url: Option<Secret<String>>,
    /// Session-token signing secret; `None` until [`Config::resolve_secrets`] loads or
    /// generates it.
    pub jwt_secret: Option<Secret<String>>,
    /// The public URL, without a trailing slash.
    pub app_url: String,
    /// SMTP, when configured.
    pub smtp: Option<SmtpConfig>,
    /// The sender of mails.
    pub mail_from: String,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Built browser assets.
    pub site_root: PathBuf,
    /// The chat proxy.
    pub gateway: GatewayConfig,
    /// How often the budget warnings are checked.
    pub budget_alert_interval: std::time::Duration,
    /// The USD->CNY display rate in ten-thousandths (7.2 -> 72 000) while the system
    /// administrator has set none.
    pub cny_per_usd: i64,
    /// One line for each default that was taken, for the start-up log.
    pub defaults_taken: Vec<String>,
}

/// Treats an empty or blank value like an unset one: seed `.env` files carry `SMTP_HOST=`.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Config {
    /// Validates the settings. Does no I/O; secrets from files come later in
    /// [`Config::resolve_secrets`].
    pub fn from_settings(s: &Settings) -> Result<Config, ConfigError> {
        let mut defaults = Vec::new();

        let data_dir = match given(&s.data_dir) {
            Some(dir) => PathBuf::from(dir),
            None => {
                defaults.push("DATA_DIR not set: using ./data".to_owned());
                PathBuf::from("data")
            }
        };

        let host: IpAddr = match given(&s.host) {
            Some(host) => host.parse().map_err(|_| {
                ConfigError::new(
                    "HOST",
                    format!("{host:?} is not an IP address (use 0.0.0.0 for every interface, 127.0.0.1 for this machine only)"),
                )
            })?,
            None => {
                defaults.push("HOST not set: listening on every interface (0.0.0.0)".to_owned());
                IpAddr::from([0, 0, 0, 0])
            }
        };
        let port = match given(&s.port) {
            Some(port) => parse_port("PORT", port, true)?,
            None => {
                defaults.push("PORT not set: using 3000".to_owned());
                3000
            }
        };
        let listen = SocketAddr::new(host, port);

        let database = match given(&s.database_url) {
            Some(url) => parse_database_url(url)?,
            None => {
                let path = data_dir.join("aicarpool.db");
                defaults.push(format!(
                    "DATABASE_URL not set: using the embedded SQLite file {}",
                    path.display()
                ));
                DatabaseConfig {
                    backend: DbBackend::Sqlite,
                    url: Secret::new(format!("sqlite://{}", path.display())),
                }
            }
        };

        let redis_url = match given(&s.redis_url) {
            Some(url) => Some(parse_redis_url(url)?),
            None => {
                defaults.push(
                    "REDIS_URL not set: counters and health kept in memory (single node)"
                        .to_owned(),
                );
                None
            }
        };

        let jwt_secret = match (given(&s.jwt_secret), given(&s.nextauth_secret)) {
            (Some(secret), _) => Some(check_secret("JWT_SECRET", secret)?),
            (None, Some(secret)) => Some(check_secret("NEXTAUTH_SECRET", secret)?),
            (None, None) => None,
        };

        let (app_url_var, app_url) = match (given(&s.app_url), given(&s.nextauth_url)) {
            (Some(url), _) => ("APP_URL", Some(url)),
            (None, Some(url)) => ("NEXTAUTH_URL", Some(url)),
            (None, None) => ("APP_URL", None),
        };
        let app_url = match app_url {
            Some(url) => parse_app_url(app_url_var, url)?,
            None => {
                let url = format!("http://localhost:{port}");
                defaults.push(format!(
                    "APP_URL not set: links in mails will point to {url}"
                ));
                url
            }
        };

        let smtp = parse_smtp(s)?;
        if smtp.is_none() {
            defaults.push(format!(
                "SMTP_HOST not set: mails are appended to {}",
                data_dir.join("outbox.log").display()
            ));
        }
        let mail_from = match given(&s.smtp_from) {
            Some(from) => {
                check_mailbox(from).map_err(|problem| ConfigError::new("SMTP_FROM", problem))?;
                from.to_owned()
            }
            None => {
                let host = url::Url::parse(&app_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .filter(|h| h.contains('.'))
                    .unwrap_or_else(|| "localhost.localdomain".to_owned());
                format!("AiCarpool <noreply@{host}>")
            }
        };

        let site_root = match given(&s.site_root) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from("target/site"),
        };

        let gateway = GatewayConfig::from_settings(s, &mut defaults)?;

        let budget_alert_interval = match given(&s.budget_alert_interval) {
            Some(value) => match value.parse::<u64>() {
                Ok(secs) if (5..=86_400).contains(&secs) => std::time::Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::new(
                        "BUDGET_ALERT_INTERVAL",
                        format!("{value:?} is not a number of seconds between 5 and 86400"),
                    ));
                }
            },
            None => crate::limit_alerts::DEFAULT_INTERVAL,
        };

        let cny_per_usd = match given(&s.cny_per_usd) {
            Some(value) => crate::money::parse_rate(value).map_err(|e| {
                ConfigError::new(
                    "CNY_PER_USD",
                    format!("{value:?}: {e} (yuan per US dollar, e.g. 7.2)"),
                )
            })?,
            None => crate::money::DEFAULT_CNY_PER_USD,
        };

        Ok(Config {
            data_dir,
            database,
            redis_url,
            jwt_secret,
            app_url,
            smtp,
            mail_from,
            listen,
            site_root,
            gateway,
            budget_alert_interval,
            cny_per_usd,
            defaults_taken: defaults,
        })
    }

    /// Creates the data directory (mode 0700) and loads or generates the signing secret there
    /// when none was configured.
    pub fn resolve_secrets(&mut self) -> Result<(), ConfigError> {
        create_private_dir(&self.data_dir).map_err(|e| {
            ConfigError::new(
                "DATA_DIR",
                format!("cannot create {}: {e}", self.data_dir.display()),
            )
        })?;
        if self.jwt_secret.is_none() {
            let path = self.data_dir.join("jwt_secret");
            let (secret, origin) = secret::load_or_generate(&path).map_err(|e| {
                ConfigError::new(
                    "JWT_SECRET",
                    format!("not set, and {} is unusable: {e}", path.display()),
                )
            })?;
            self.defaults_taken.push(match origin {
                SecretOrigin::Generated => format!(
                    "JWT_SECRET not set: generated a new one in {} (mode 0600)",
                    path.display()
                ),
                SecretOrigin::Loaded => format!(
                    "JWT_SECRET not set: using the one kept in {}",
                    path.display()
                ),
            });
            self.jwt_secret = Some(secret);
        }
        if self.gateway.master_key.is_none() {
            let path = self.data_dir.join("master_key");
            let (secret, _) = secret::load_or_generate(&path).map_err(|e| {
                ConfigError::new(
                    "MASTER_KEY",
                    format!("not set, and {} is unusable: {e}", path.display()),
                )
            })?;
            self.gateway.master_key = Some(secret);
        }
        Ok(())
    }

    /// The SQLite file path when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self.database.backend {
            DbBackend::Sqlite => Some(sqlite_path(self.database.url.expose())),
            DbBackend::Mysql => None,
        }
    }
}

#[cfg(test)]
mod tests;
