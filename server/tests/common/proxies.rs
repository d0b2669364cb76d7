//! Real proxy servers on loopback for the upstream-proxy tests: tinyproxy (HTTP forward proxy
//! and CONNECT tunnel, Basic credentials) and Dante (SOCKS5, with and without username
//! authentication). Each starts on a free port with a config in a temp dir and stops by PID
//! when dropped. The binaries and the SOCKS test user come from `scripts/setup.sh test`;
//! without them the tests fail and say so.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// tinyproxy's Basic credentials in these tests.
pub const HTTP_USER: &str = "carpool";
pub const HTTP_PASSWORD: &str = "proxy-secret";
/// The system user `scripts/setup.sh test` creates for Dante's username method, which checks
/// passwords against the system's user database only.
pub const SOCKS_USER: &str = "aicarpool-proxy-test";
pub const SOCKS_PASSWORD: &str = "aicarpool-socks-test";
pub const SETUP_HINT: &str = "run `scripts/setup.sh test` (as root) to install it";

/// A proxy server process; dropping it stops the process.
pub struct ProxyServer {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// Which Dante authentication method the SOCKS server asks for.
#[derive(Clone, Copy)]
pub enum SocksAuth {
    None,
    Username,
}

impl ProxyServer {
    /// tinyproxy requiring `HTTP_USER`/`HTTP_PASSWORD`.
    pub async fn tinyproxy() -> ProxyServer {
        let bin = binary("tinyproxy", "tinyproxy-bin");
        ProxyServer::start("tinyproxy", |dir, port| {
            let log = dir.join("tinyproxy.log");
            let conf = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n\
                 BasicAuth {HTTP_USER} {HTTP_PASSWORD}\nLogLevel Connect\n\
                 LogFile \"{}\"\nPidFile \"{}\"\nMaxClients 20\n",
                log.display(),
                dir.join("tinyproxy.pid").display()
            );
            let path = dir.join("tinyproxy.conf");
            std::fs::write(&path, conf).unwrap();
            let mut cmd = Command::new(&bin);
            // -d: stay in the foreground, so the PID we hold is the proxy's.
            cmd.arg("-d").arg("-c").arg(path);
            (cmd, log)
        })
        .await
    }

    /// Dante's `danted` with the given SOCKS method.
    pub async fn dante(auth: SocksAuth) -> ProxyServer {
        let bin = binary("danted", "dante-server");
        if matches!(auth, SocksAuth::Username) {
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            assert!(
                passwd
                    .lines()
                    .any(|l| l.starts_with(&format!("{SOCKS_USER}:"))),
                "the system user {SOCKS_USER} (for Dante's username method) is missing: \
                 {SETUP_HINT}"
            );
        }
        let method = match auth {
            SocksAuth::None => "none",
            SocksAuth::Username => "username",
        };
        ProxyServer::start("danted", |dir, port| {
            let log = dir.join("danted.log");
            let conf = format!(
                "logoutput: {}\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 clientmethod: none\nsocksmethod: {method}\n\
                 client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error\n}}\n\
                 socks pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect\n  \
                 log: connect disconnect error\n}}\n",
                log.display()
            );
            let path = dir.join("danted.conf");
            std::fs::write(&path, conf).unwrap();
            let mut cmd = Command::new(&bin);
            // Without -D Dante stays in the foreground; -p keeps its PID file out of /run.
            cmd.arg("-f")
                .arg(path)
                .arg("-p")
                .arg(dir.join("danted.pid"));
            (cmd, log)
        })
        .await
    }

    /// Starts the command `setup` builds for a free port, and waits until the port accepts.
    /// Retries on another port if the process dies (another test may have taken the port).
    pub async fn start(
        name: &str,
        setup: impl Fn(&Path, u16) -> (Command, PathBuf),
    ) -> ProxyServer {
        let mut report = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let (mut cmd, log) = setup(dir.path(), port);
            let out = std::fs::File::create(dir.path().join("output")).unwrap();
            let child = cmd
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name}: {e}; {SETUP_HINT}"));
            let mut server = ProxyServer {
                child,
                port,
                log,
                dir,
            };
            if server.wait_ready().await {
                return server;
            }
            let _ = writeln!(
                report,
                "{name} on port {port} did not start:\n{}\n{}",
                std::fs::read_to_string(server.dir.path().join("output")).unwrap_or_default(),
                server.log()
            );
        }
        panic!("{report}");
    }

    pub async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// The proxy URL with `scheme` and optional credentials.
    pub fn url(&self, scheme: &str, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((user, password)) => {
                format!("{scheme}://{user}:{password}@127.0.0.1:{}", self.port)
            }
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (a few seconds at most) until the log contains `needle`; returns the log.
    pub async fn log_with(&self, needle: &str) -> String {
        for _ in 0..100 {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the proxy log never showed {needle:?}:\n{}", self.log());
    }

    /// Stops the process: SIGTERM (Dante then stops its children), SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The path of `name`, found on PATH or in the sbin folders a non-root PATH lacks.
pub fn binary(name: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed (Debian package {package}): {SETUP_HINT}")
        })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
