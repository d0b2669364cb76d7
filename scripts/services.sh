# Sourced by scripts/test.sh: starts throwaway MariaDB and Redis servers on free loopback ports,
# in a temporary folder, and stops them (by PID) when the calling script exits.

SERVICES_DIR="$(mktemp -d /tmp/aicarpool-services.XXXXXX)"
SERVICE_PIDS=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

stop_services() {
  for pid in "${SERVICE_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVICE_PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$SERVICES_DIR"
}

start_mariadb() {
  local dir="$SERVICES_DIR/mariadb" port; port="$(free_port)"
  mkdir -p "$dir"
  mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
    { cat "$dir/install.log"; return 1; }
  /usr/sbin/mariadbd --no-defaults --datadir="$dir/data" --user=root --bind-address=127.0.0.1 \
    --port="$port" --socket="$dir/sock" --pid-file="$dir/pid" --log-error="$dir/err" \
    --skip-name-resolve --innodb-buffer-pool-size=64M --max-connections=500 &
  SERVICE_PIDS+=($!)
  for _ in $(seq 1 100); do
    mariadb-admin --no-defaults --socket="$dir/sock" -uroot ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  mariadb --no-defaults --socket="$dir/sock" -uroot -e \
    "CREATE USER 'aicarpool'@'%' IDENTIFIED BY 'aicarpool'; GRANT ALL ON *.* TO 'aicarpool'@'%'; CREATE DATABASE aicarpool;" ||
    { cat "$dir/err"; return 1; }
  export AICARPOOL_TEST_MYSQL_URL="mysql://aicarpool:aicarpool@127.0.0.1:$port/aicarpool"
  echo "[services] MariaDB on 127.0.0.1:$port (pid ${SERVICE_PIDS[-1]})"
}

start_redis() {
  local dir="$SERVICES_DIR/redis" port; port="$(free_port)"
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
    --logfile "$dir/log" &
  SERVICE_PIDS+=($!)
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  export AICARPOOL_TEST_REDIS_URL="redis://127.0.0.1:$port"
  echo "[services] Redis on 127.0.0.1:$port (pid ${SERVICE_PIDS[-1]})"
}
