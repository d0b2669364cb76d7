#!/usr/bin/env bash
# Installs what AiCarpool needs on a fresh Debian 12 machine with rustup, node and npm, and
# skips everything that is already there. Safe to run again: a second run installs nothing.
#
#   scripts/setup.sh run    what building and running needs (wasm target, cargo-leptos,
#                           wasm-bindgen-cli, npm build tools)
#   scripts/setup.sh test   the above plus the test services and browser (chromium,
#                           mariadb-server, redis-server, Playwright) and the proxy servers
#                           of the upstream-proxy tests (tinyproxy, Dante) with their SOCKS
#                           test user
#
# Packages installed here never start their system services: the tests start their own
# instances on free loopback ports.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:-run}"
CARGO_LEPTOS_VERSION="0.3.10"
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "[setup] need root for: $*" >&2; exit 1; fi
}

# --- Debian packages -----------------------------------------------------------------------
apt_missing=()
need_pkg() { # need_pkg PACKAGE COMMAND
  if ! command -v "$2" >/dev/null 2>&1 && [ ! -x "$2" ]; then apt_missing+=("$1"); fi
}
need_pkg pkg-config pkg-config
need_pkg python3 python3
if [ "$MODE" = test ]; then
  need_pkg chromium /usr/bin/chromium
  need_pkg mariadb-server /usr/sbin/mariadbd
  need_pkg redis-server /usr/bin/redis-server
  # The executable alone: the `tinyproxy` package adds a system service on port 8888.
  need_pkg tinyproxy-bin /usr/bin/tinyproxy
  need_pkg dante-server /usr/sbin/danted
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${apt_missing[*]}"
  as_root apt-get update -qq
  # Keep the packages' services from starting (a policy-rc.d that says no), unless the
  # machine already has a policy of its own.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# scripts/setup.sh: no service starts while it installs\nexit 101\n' \
      | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${apt_missing[@]}" || status=$?
  if [ -n "$made_policy" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
  [ "$status" = 0 ] || exit "$status"
  # Nor start Dante at the next boot (its service would take port 1080).
  if [[ " ${apt_missing[*]} " == *" dante-server "* ]]; then
    as_root update-rc.d danted disable >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null; then
      as_root systemctl disable --quiet danted.service >/dev/null 2>&1 || true
    fi
  fi
fi

# Dante's SOCKS5 username method checks passwords against the system's users only, so the
# proxy tests need one: no home, no shell, expired (PAM refuses every login; Dante checks only
# the password). The password is in server/tests/upstream_proxy.rs; it guards nothing.
SOCKS_TEST_USER=aicarpool-proxy-test
if [ "$MODE" = test ] && ! id -u "$SOCKS_TEST_USER" >/dev/null 2>&1; then
  say "adding the system user $SOCKS_TEST_USER (SOCKS proxy tests)"
  as_root useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "AiCarpool SOCKS proxy tests" "$SOCKS_TEST_USER"
  # Expired since 2 January 1970 (useradd ignores --expiredate for system users).
  as_root usermod --expiredate 1 "$SOCKS_TEST_USER"
  echo "$SOCKS_TEST_USER:aicarpool-socks-test" | as_root chpasswd
fi

# A real SMTP server for the mail tests (aiosmtpd, from PyPI).
if [ "$MODE" = test ] && ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  say "installing aiosmtpd (SMTP server for the mail tests)"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd==1.4.6
fi

# --- Rust targets and tools ----------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores, once)"
  cargo install --locked "cargo-leptos@$CARGO_LEPTOS_VERSION" --features no_downloads
fi

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock exactly.
WBG_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")"
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WBG_VERSION"; then
  say "installing wasm-bindgen-cli $WBG_VERSION (a few minutes, once)"
  # Not --locked: one of its locked dependencies is not on the registry mirror.
  cargo install "wasm-bindgen-cli@$WBG_VERSION"
fi

# --- npm packages (Tailwind v4 and binaryen for cargo-leptos; Playwright for browser tests) --
npm_ci() { # npm_ci DIR: reinstalls only when package-lock.json changed since the last install
  local dir="$1" stamp="$1/node_modules/.aicarpool-lock.sha256"
  local want; want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "npm ci in ${dir#"$ROOT"/}"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
npm_ci "$ROOT"
if [ "$MODE" = test ]; then npm_ci "$ROOT/end2end"; fi

say "tools ready ($MODE)"
