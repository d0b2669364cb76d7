//! Pinning the benchmark's processes to a set of CPUs for the concurrency-1 phases.
//!
//! At concurrency 1 only one of the processes (client, gateway, mock) runs at a time, and
//! each hop wakes the next one. Left to the scheduler, the woken process often lands on the
//! other, idle CPU; on a VM that wake-up goes through the hypervisor and costs tens of µs,
//! which swamps what is measured (here the direct call's own p50 went from about 0.04 ms on
//! one CPU to 0.10-0.17 ms on two). Pinning every process to one CPU takes that cost out of
//! both sides alike. The concurrent phase runs on every CPU the benchmark was given.
//! `taskset` (util-linux) sets the affinity of every thread of a running process.

use std::process::{Command, Stdio};

/// The CPUs this process may run on, as the kernel lists them (`0-1`, `2,4-5`).
pub(crate) fn allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "0".into())
}

/// The first CPU of a list such as `2,4-5`.
pub(crate) fn first(list: &str) -> String {
    list.split([',', '-'])
        .next()
        .unwrap_or("0")
        .trim()
        .to_owned()
}

/// Sets the CPU list of every thread of each process (`taskset -a -p -c LIST PID`).
pub(crate) fn set(pids: &[u32], list: &str) {
    for pid in pids {
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", list, &pid.to_string()])
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run taskset (util-linux), or pass --c1-cpus all: {e}")
            });
        assert!(
            status.success(),
            "taskset -a -p -c {list} {pid} failed ({status}); pass --c1-cpus all to run unpinned"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::first;

    #[test]
    fn first_cpu_of_a_list() {
        assert_eq!(first("0-1"), "0");
        assert_eq!(first("2,4-5"), "2");
        assert_eq!(first("7"), "7");
    }
}
