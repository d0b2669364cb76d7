//! The `aicarpool` binary: `serve` (default), `migrate`, `admin create`, `mock-upstream`.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use aicarpool::config::{AdminCommand, Cli, Command, Config};
use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches};
use server::startup;

/// mimalloc rather than glibc's malloc: see server/Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long in-flight requests may run after SIGTERM.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    // `.env` is read before any thread exists; a malformed file is a configuration error.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("aicarpool: .env: {err}");
        return ExitCode::from(2);
    }
    // `mock-upstream` is a test tool: it needs no configuration, so it is added here rather
    // than to the product's `Command`s and dispatched before any configuration is read.
    let matches = Cli::command()
        .subcommand(
            MockUpstreamArgs::augment_args(clap::Command::new("mock-upstream")).about(
                "Run a mock AI provider (OpenAI, Anthropic and Responses APIs, with fault \
                 injection) for SDK tests and benchmarks",
            ),
        )
        .get_matches();
    if let Some(("mock-upstream", sub)) = matches.subcommand() {
        let args = MockUpstreamArgs::from_arg_matches(sub).unwrap_or_else(|err| err.exit());
        return mock_upstream(args);
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    init_tracing();

    let mut config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("aicarpool: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = config.resolve_secrets() {
        eprintln!("aicarpool: {err}");
        return ExitCode::from(2);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("aicarpool: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Admin {
                action:
                    AdminCommand::Create {
                        email,
                        password,
                        name,
                    },
            } => admin_create(config, email, password, name).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("aicarpool: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .init();
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // From here on SIGTERM / SIGINT stop the gateway cleanly, during start-up too (a database
    // still being waited for, migrations): nothing is served yet, so start-up just ends.
    let mut stop = std::pin::pin!(server::stop_signal()?);
    tracing::info!(version = aicarpool::VERSION, "AiCarpool starting");
    for line in &config.defaults_taken {
        tracing::info!("default: {line}");
    }
    raise_open_files_limit();
    let pkg = config.site_root.join("pkg").join("aicarpool.wasm");
    if !pkg.exists() {
        tracing::warn!(
            "browser bundle {} is missing: pages render but will not become interactive; build \
             with `cargo leptos build --release` or set LEPTOS_SITE_ROOT",
            pkg.display()
        );
    }
    let listen = config.listen;
    let leptos = server::leptos_options(&config.site_root, listen);
    let state = tokio::select! {
        state = startup::build_state(config) => state?,
        () = &mut stop => {
            tracing::info!("stopped during start-up");
            return Ok(());
        }
    };
    let mail_sender =
        aicarpool::outbox::spawn(state.clone(), aicarpool::outbox::RetryPolicy::default());
    let catalog_watcher = startup::spawn_catalog_watcher(state.clone());
    let budget_warnings =
        aicarpool::limit_alerts::spawn(state.clone(), state.config().budget_alert_interval);
    let site = server::site(state.clone(), leptos);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("HOST/PORT: cannot listen on {listen}"))?;
    tracing::info!(
        database = state.db().backend().label(),
        counters = if state.redis().is_some() {
            "Redis"
        } else {
            "memory"
        },
        "ready"
    );
    server::serve(listener, site, DRAIN_TIMEOUT, stop).await?;
    // Queued mails stay in the outbox table and go out after the next start.
    mail_sender.abort();
    catalog_watcher.abort();
    budget_warnings.abort();
    // Every request has finished: write the usage records still queued.
    state.gateway().close().await;
    state.db().close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Below this many open files the start-up log warns.
const FEW_OPEN_FILES: u64 = 4096;

/// Raises the soft limit on open files to the hard one, as servers do (Go programs do it
/// themselves; nginx has `worker_rlimit_nofile`). Each proxied request holds two sockets, the
/// client's and the upstream's, and a login shell's soft limit is often 1024: about 500
/// requests at once, then `accept` fails.
fn raise_open_files_limit() {
    let before = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft);
    match (before, rlimit::increase_nofile_limit(u64::MAX)) {
        (Ok(before), Ok(now)) => {
            if now > before {
                tracing::info!("open files limit raised from {before} to {now} (the hard limit)");
            }
            if now < FEW_OPEN_FILES {
                tracing::warn!(
                    "open files limit is {now}: about {} requests at once; raise the hard limit \
                     (`ulimit -Hn`, systemd LimitNOFILE=, docker --ulimit nofile=)",
                    now / 2
                );
            }
        }
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!("could not raise the open files limit: {err}");
        }
    }
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let db = aicarpool::db::Db::connect(&config.database)
        .await
        .context("DATABASE_URL: cannot open the database")?;
    let applied = db.migrate().await.context("applying migrations")?;
    println!(
        "{} database is up to date ({applied} migration(s) applied now)",
        db.backend().label()
    );
    db.close().await;
    Ok(())
}

async fn admin_create(
    config: Config,
    email: String,
    password: Option<String>,
    name: Option<String>,
) -> anyhow::Result<()> {
    let password = match password {
        Some(p) => p,
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("password (input is not hidden; pipe it in to avoid that):");
            }
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let db = startup::open_database(&config).await?;
    let id = startup::create_admin(&db, &email, &password, name.as_deref()).await?;
    println!("created administrator {email} (id {id})");
    db.close().await;
    Ok(())
}

/// `aicarpool mock-upstream` options.
#[derive(Debug, Args)]
struct MockUpstreamArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// API key clients must send (Authorization: Bearer, or x-api-key)
    #[arg(long, default_value = "mock-key")]
    api_key: String,
}

/// Serves a mock upstream until SIGTERM or SIGINT. Stdout carries exactly one line, the
/// address, so a parent process can read it; nothing is logged.
fn mock_upstream(args: MockUpstreamArgs) -> ExitCode {
    use server::mock_upstream::{MockOptions, MockUpstream};
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("aicarpool: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = runtime.block_on(async move {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let options = MockOptions {
            listen: args.listen,
            api_key: args.api_key,
            ..MockOptions::default()
        };
        let mock = MockUpstream::start(options)
            .await
            .with_context(|| format!("--listen: cannot listen on {}", args.listen))?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "mock upstream listening on {}", mock.base_url())?;
        stdout.flush()?;
        drop(stdout);
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        mock.shutdown().await;
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("aicarpool: {err:#}");
            ExitCode::FAILURE
        }
    }
}
