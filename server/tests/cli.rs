//! The `aicarpool` binary as an operator uses it: `--help`, bad settings, `migrate`,
//! `admin create`, `.env`, and `serve` with its first-run token and graceful shutdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_aicarpool");

/// Every variable the binary reads; `--help` must name them all.
const ENV_VARS: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "NEXTAUTH_SECRET",
    "APP_URL",
    "NEXTAUTH_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_FROM",
    "SMTP_SECURITY",
    "SMTP_CA_FILE",
    "HOST",
    "PORT",
    "DATA_DIR",
    "LEPTOS_SITE_ROOT",
];

/// The binary with a clean environment (none of the variables above) in `dir`.
fn aicarpool(dir: &Path) -> Command {
    in_clean_env(Command::new(BIN), dir)
}

/// `cmd` with the clean environment of [`aicarpool`], in `dir`.
fn in_clean_env(mut cmd: Command, dir: &Path) -> Command {
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("binary runs")
}

#[test]
fn help_lists_every_environment_variable_and_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(aicarpool(dir.path()).arg("--help"));
    assert!(out.status.success());
    // Joined into one line: clap wraps long help text wherever it likes.
    let help = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for var in ENV_VARS {
        assert!(
            help.contains(&format!("env: {var}")),
            "--help does not mention {var}:\n{help}"
        );
    }
    for cmd in ["serve", "migrate", "admin"] {
        assert!(help.contains(cmd), "{cmd}");
    }
    let out = run(aicarpool(dir.path()).args(["admin", "create", "--help"]));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--email") && help.contains("--password"),
        "{help}"
    );
}

#[test]
fn a_bad_value_exits_non_zero_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("PORT", "eighty"),
        ("DATABASE_URL", "postgres://db/x"),
        ("JWT_SECRET", "short"),
        ("APP_URL", "nope"),
    ] {
        let out = run(aicarpool(dir.path()).env(var, value).arg("migrate"));
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with(&format!("aicarpool: {var}: ")),
            "{stderr}"
        );
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created for a refused configuration"
    );
}

#[test]
fn migrate_creates_the_embedded_database_and_a_private_secret() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = run(aicarpool(dir.path()).arg("migrate"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let migrations =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite"))
            .unwrap()
            .count();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "SQLite database is up to date ({migrations} migration(s)"
        )),
        "{stdout}"
    );
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    // The data directory, the database (password hashes, sessions) and the secret are the
    // owner's alone.
    assert_eq!(mode("data"), 0o700);
    assert_eq!(mode("data/aicarpool.db"), 0o600);
    let secret = dir.path().join("data/jwt_secret");
    assert_eq!(mode("data/jwt_secret"), 0o600);
    let out = run(aicarpool(dir.path()).arg("migrate"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(0 migration(s)"));
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap().len(),
        64,
        "the secret is kept, not regenerated"
    );
}

#[test]
fn admin_create_takes_the_password_from_a_flag_or_stdin_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(aicarpool(dir.path()).args([
        "admin",
        "create",
        "--email",
        "root@example.com",
        "--password",
        "correct horse battery",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("created administrator root@example.com")
    );

    let mut child = aicarpool(dir.path())
        .args([
            "admin",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another long password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(aicarpool(dir.path()).args([
        "admin",
        "create",
        "--email",
        "ROOT@example.com",
        "--password",
        "correct horse battery",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let out = run(aicarpool(dir.path()).args([
        "admin",
        "create",
        "--email",
        "x@example.com",
        "--password",
        "short",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--password: must be at least 8 characters")
    );
}

/// A running `serve` whose output is collected line by line.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Server {
    fn start(cmd: &mut Command) -> Server {
        let mut child = cmd
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Server {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle` and returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no log line with {needle:?}; log so far:\n{}",
            self.log.join("\n")
        );
    }

    fn port(&mut self) -> u16 {
        let line = self.wait_for("listening on http://");
        let addr = line
            .split("http://")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, response)
}

#[test]
fn serve_runs_on_defaults_prints_the_setup_token_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&mut aicarpool(dir.path()));
    let token_line = server.wait_for("setup token: ");
    let token = token_line.rsplit("setup token: ").next().unwrap().trim();
    assert_eq!(token.len(), 48, "{token_line}");
    let port = server.port();
    let log = server.log.join("\n");
    for default in [
        "DATA_DIR not set",
        "DATABASE_URL not set",
        "REDIS_URL not set",
        "JWT_SECRET not set",
        "SMTP_HOST not set",
    ] {
        assert!(
            log.contains(default),
            "start-up log should say {default:?}:\n{log}"
        );
    }
    assert_eq!(http_get(port, "/healthz").0, 200);
    assert_eq!(http_get(port, "/readyz").0, 200);
    let (status, page) = http_get(port, "/");
    assert_eq!(status, 200);
    // The very first page of a fresh process has the form in place (not streamed into a
    // <template> that needs a script to show).
    let main = &page[page.find("<main").unwrap()..page.find("</main>").unwrap()];
    assert!(main.contains(r#"id="setup-form""#), "{main}");

    server.signal("TERM");
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}");
    server.wait_for("SIGTERM received");
}

#[test]
fn serve_raises_the_open_files_limit_to_the_hard_one() {
    let dir = tempfile::tempdir().unwrap();
    // A login shell's usual soft limit, under a higher hard one.
    let mut prlimit = Command::new("prlimit");
    prlimit.args(["--nofile=256:8192", BIN]);
    let mut server = Server::start(&mut in_clean_env(prlimit, dir.path()));
    let line = server.wait_for("open files limit raised");
    assert!(line.contains("from 256 to 8192"), "{line}");
    server.wait_for("listening on");
    // prlimit runs the binary in its own process: the limit is the server's.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().collect::<Vec<_>>()[3..5],
        ["8192", "8192"],
        "{open_files}"
    );
    server.signal("TERM");
    assert!(server.wait_exit().success());
}

#[test]
fn a_signal_during_start_up_is_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&mut aicarpool(dir.path()));
    // The first log line comes after the signal handlers are in place: a TERM sent at once
    // lands in start-up (opening and migrating the database) or just after it, and either way
    // the process stops cleanly instead of being killed by the signal.
    server.wait_for("AiCarpool starting");
    server.signal("TERM");
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}\n{}", server.log.join("\n"));
    server.wait_for("SIGTERM received");
}

#[test]
fn sigint_also_stops_it_and_a_restart_prints_a_new_token_until_setup_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Server::start(&mut aicarpool(dir.path()));
    let a = first.wait_for("setup token: ");
    first.port();
    first.signal("INT");
    assert!(first.wait_exit().success());
    let mut second = Server::start(&mut aicarpool(dir.path()));
    let b = second.wait_for("setup token: ");
    assert_ne!(
        a.rsplit(' ').next(),
        b.rsplit(' ').next(),
        "each start prints a fresh token"
    );
    second.port();
    second.signal("TERM");
    assert!(second.wait_exit().success());

    let out = run(aicarpool(dir.path()).args([
        "admin",
        "create",
        "--email",
        "root@example.com",
        "--password",
        "correct horse battery",
    ]));
    assert!(out.status.success());
    let mut third = Server::start(&mut aicarpool(dir.path()));
    third.port();
    assert!(
        !third.log.join("\n").contains("setup token"),
        "no token once an admin exists"
    );
}

#[test]
fn dotenv_and_the_seeds_variable_names_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "DATA_DIR=./state\nNEXTAUTH_SECRET={}\nNEXTAUTH_URL=https://carpool.example.com\n",
            "n".repeat(40)
        ),
    )
    .unwrap();
    let mut server = Server::start(&mut aicarpool(dir.path()));
    server.port();
    let log = server.log.join("\n");
    assert!(
        log.contains("Open https://carpool.example.com and enter"),
        "{log}"
    );
    assert!(dir.path().join("state/aicarpool.db").exists());
    assert!(
        !dir.path().join("state/jwt_secret").exists(),
        "NEXTAUTH_SECRET was used, nothing generated"
    );
}
