#!/usr/bin/env bash
# Installs what is missing, builds the release binary and browser bundle, and starts AiCarpool
# on its embedded default (SQLite in ./data). Extra arguments go to the binary, e.g.
# `scripts/run.sh migrate`. Configuration comes from the environment or ./.env.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh" run
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
cargo leptos build --release --precompress
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
exec "$CARGO_TARGET_DIR/release/aicarpool" "$@"
