//! The child processes (mocks, gateway, forwarder) and what /proc says about them.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::options::Options;
use crate::{GATEWAY_VARS, MOCK_KEY};

/// A child process, killed (by its PID) and reaped when dropped, also during a panic.
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
}

impl Proc {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics with `log`'s tail when the process has exited.
    pub(crate) fn assert_running(&mut self, log: Option<&Path>) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let tail = log
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|s| s.lines().rev().take(30).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default();
            panic!(
                "{} exited early ({status}); last log lines, newest first:\n{tail}",
                self.name
            );
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mock upstream process and its OpenAI base URL.
pub(crate) fn spawn_mock(bin: &Path, dir: &Path, index: usize) -> (Proc, String) {
    let mut child = Command::new(bin)
        .args([
            "mock-upstream",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            MOCK_KEY,
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().unwrap();
    let proc = Proc {
        name: format!("mock upstream {index}"),
        child,
    };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let root = line
        .trim()
        .strip_prefix("mock upstream listening on ")
        .unwrap_or_else(|| panic!("unexpected mock upstream output: {line:?}"))
        .to_owned();
    (proc, root)
}

/// A command for the gateway binary with the benchmark's environment.
pub(crate) fn gateway_command(options: &Options, dir: &Path, port: u16) -> Command {
    let mut command = Command::new(&options.bin);
    // The temp dir as working directory keeps a `.env` of the checkout out of the way.
    command.current_dir(dir).stdin(Stdio::null());
    for var in GATEWAY_VARS {
        command.env_remove(var);
    }
    command
        .env("DATA_DIR", dir.join("data"))
        .env("LEPTOS_SITE_ROOT", dir.join("site"))
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    for (k, v) in &options.gateway_env {
        command.env(k, v);
    }
    command
}

pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// CPU time (user + system) a process has used so far, in microseconds.
pub(crate) fn cpu_micros(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces; the fields after it are space-separated.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; `after` starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 * 1e6 / clock_ticks()
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
pub(crate) fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Total CPU of a set of processes (microseconds).
pub(crate) fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().map(|p| cpu_micros(*p)).sum()
}
