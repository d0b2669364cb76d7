#!/usr/bin/env bash
# The proxy benchmark (server/benches/proxy.rs): runs the gateway and N mock upstreams as
# processes of the release binary and compares proxied calls with direct ones. Arguments go to
# the benchmark, e.g. `scripts/bench.sh --upstreams 3 --json` or
# `scripts/bench.sh --gateway-env REDIS_URL=redis://127.0.0.1:6379`; `--help` lists them.
#
# `cargo bench` builds the `aicarpool` binary itself, with the bench profile (which inherits
# [profile.release]: thin LTO) into $CARGO_TARGET_DIR/release/aicarpool, the binary the benchmark
# runs. A separate `cargo build --release` first would build the workspace twice: the
# dev-dependencies switch on other features of shared crates (rustix via tempfile, so clap and
# everything above it), so cargo bench rebuilds and relinks it anyway (25 min on 2 cores).
# AICARPOOL_BIN=/path/to/aicarpool benchmarks another binary.
# Numbers are only comparable on a quiet machine: check `uptime` first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
exec cargo bench -p server --bench proxy -- "$@"
