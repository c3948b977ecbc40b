#!/usr/bin/env bash
# Real services for the scale tests, on loopback only: a PostgreSQL server (initdb into a
# temporary directory, run as a non-root user) and an S3-compatible server (moto_server,
# from the 'scale' extra). Connection info is written to .ci/services.env (shell syntax;
# tests/services.py reads it, scripts/test.sh sources it).
#
# Two more pieces make misconfiguration testable the way a real deployment fails:
#   - a PostgreSQL role with password authentication (scram-sha-256) owning its own
#     database: BENCHGEN_TEST_PG_PASSWORD_URL (the trust URL stays, for the fault tests);
#   - a second moto server that enforces IAM (signatures and policies), with an admin
#     access key: BENCHGEN_TEST_S3_AUTH_ENDPOINT, _AUTH_ADMIN_KEY, _AUTH_ADMIN_SECRET.
#
# Usage: scripts/services.sh start | stop | status | pg-stop | pg-start
#   start     start everything (when they already run: only what is missing); installs
#             PostgreSQL with apt if missing
#   stop      stop both and delete their data
#   pg-stop / pg-start   stop / start PostgreSQL alone, keeping its data (fault tests)
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_FILE="${BENCHGEN_SERVICES_ENV:-.ci/services.env}"

log() { echo "services: $*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$dir" ] && command -v initdb >/dev/null 2>&1; then
    dir="$(dirname "$(command -v initdb)")"
  fi
  echo "$dir"
}

ensure_postgres() {
  [ -n "$(pg_bin)" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL server binaries not found and not root: install the 'postgresql' package"
    exit 1
  fi
  log "installing PostgreSQL (apt)"
  # Only the binaries are wanted: no system-wide 'main' cluster started by the package.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/benchgen.conf
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# PostgreSQL refuses to run as root: use the 'postgres' account, or create one.
pg_os_user() {
  if [ "$(id -u)" != 0 ]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    id benchgen-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin benchgen-pg
    echo benchgen-pg
  fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

alive() {
  [ -f "$ENV_FILE" ] || return 1
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  "$BENCHGEN_TEST_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$BENCHGEN_TEST_PG_PORT" || return 1
  kill -0 "$BENCHGEN_TEST_S3_PID" 2>/dev/null || return 1
}

wait_for_http() {
  local url="$1"
  for _ in $(seq 1 120); do
    if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  log "no answer from $url"
  return 1
}

PG_PASSWORD_ROLE=bench_pw
PG_PASSWORD=bench-secret

# A password-authenticated role with its own database; idempotent (extends a running server).
ensure_pg_password_role() {
  [ -n "${BENCHGEN_TEST_PG_PASSWORD_URL:-}" ] && return 0
  local hba="$BENCHGEN_TEST_PG_DATA/pg_hba.conf" psql="$BENCHGEN_TEST_PG_BIN/psql"
  local admin=(-h 127.0.0.1 -p "$BENCHGEN_TEST_PG_PORT" -U benchgen -d benchgen)
  if ! grep -q "^host all $PG_PASSWORD_ROLE " "$hba"; then
    # First match wins: the password rule goes before initdb's trust rules.
    as_pg sh -c "{ echo 'host all $PG_PASSWORD_ROLE 127.0.0.1/32 scram-sha-256'; cat '$hba'; } >'$hba.new' && mv '$hba.new' '$hba'"
    as_pg "$BENCHGEN_TEST_PG_BIN/pg_ctl" -D "$BENCHGEN_TEST_PG_DATA" reload >/dev/null
  fi
  if [ -z "$("$psql" -tA "${admin[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_PASSWORD_ROLE'")" ]; then
    "$psql" -q "${admin[@]}" -c "CREATE ROLE $PG_PASSWORD_ROLE LOGIN PASSWORD '$PG_PASSWORD'" >/dev/null
  fi
  if [ -z "$("$psql" -tA "${admin[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_PASSWORD_ROLE'")" ]; then
    "$BENCHGEN_TEST_PG_BIN/createdb" -h 127.0.0.1 -p "$BENCHGEN_TEST_PG_PORT" -U benchgen \
      -O "$PG_PASSWORD_ROLE" "$PG_PASSWORD_ROLE"
  fi
  BENCHGEN_TEST_PG_PASSWORD_URL="postgresql://$PG_PASSWORD_ROLE:$PG_PASSWORD@127.0.0.1:$BENCHGEN_TEST_PG_PORT/$PG_PASSWORD_ROLE"
  echo "export BENCHGEN_TEST_PG_PASSWORD_URL='$BENCHGEN_TEST_PG_PASSWORD_URL'" >>"$ENV_FILE"
}

# A moto server that checks signatures and IAM policies: it starts open, an admin user is
# created through it, then authentication is switched on for every later request.
ensure_s3_auth() {
  if [ -n "${BENCHGEN_TEST_S3_AUTH_PID:-}" ] && kill -0 "$BENCHGEN_TEST_S3_AUTH_PID" 2>/dev/null; then
    return 0
  fi
  local port pid keys
  port="$(free_port)"
  nohup .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$BENCHGEN_SERVICES_DIR/moto-auth.log" 2>&1 &
  pid=$!
  wait_for_http "http://127.0.0.1:$port/" || { cat "$BENCHGEN_SERVICES_DIR/moto-auth.log" >&2; exit 1; }
  keys="$(.venv/bin/python - "http://127.0.0.1:$port" <<'PY'
import json, sys, urllib.request

import boto3

endpoint = sys.argv[1]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="admin")
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
iam.put_user_policy(UserName="admin", PolicyName="everything", PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName="admin")["AccessKey"]
switch_on = urllib.request.Request(
    f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
)
urllib.request.urlopen(switch_on, timeout=30).read()
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
)"
  {
    echo "export BENCHGEN_TEST_S3_AUTH_ENDPOINT='http://127.0.0.1:$port'"
    echo "export BENCHGEN_TEST_S3_AUTH_PID='$pid'"
    echo "export BENCHGEN_TEST_S3_AUTH_ADMIN_KEY='${keys%% *}'"
    echo "export BENCHGEN_TEST_S3_AUTH_ADMIN_SECRET='${keys##* }'"
  } >>"$ENV_FILE"
}

ensure_extras() {
  load_env
  ensure_pg_password_role
  ensure_s3_auth
}

start() {
  if alive; then
    ensure_extras
    log "already running ($ENV_FILE)"
    return 0
  fi
  [ -x .venv/bin/moto_server ] || { log "moto_server missing: run scripts/setup.sh (installs the 'scale' extra)"; exit 1; }
  ensure_postgres
  local bin state pg_port s3_port s3_pid
  bin="$(pg_bin)"
  PG_OS_USER="$(pg_os_user)"
  state="$(mktemp -d "${TMPDIR:-/tmp}/benchgen-services.XXXXXX")"
  chmod 755 "$state"
  mkdir -p "$state/pg"
  [ "$(id -u)" = 0 ] && chown "$PG_OS_USER" "$state/pg"
  pg_port="$(free_port)"
  as_pg "$bin/initdb" -D "$state/pg/data" -U benchgen --auth=trust -E UTF8 --no-sync >"$state/initdb.log" 2>&1 \
    || { cat "$state/initdb.log" >&2; exit 1; }
  PG_OPTS="-p $pg_port -k $state/pg -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
  as_pg "$bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/server.log" -o "$PG_OPTS" -w -t 60 start >/dev/null
  "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U benchgen benchgen

  s3_port="$(free_port)"
  nohup .venv/bin/moto_server -H 127.0.0.1 -p "$s3_port" >"$state/moto.log" 2>&1 &
  s3_pid=$!
  wait_for_http "http://127.0.0.1:$s3_port/" || { cat "$state/moto.log" >&2; exit 1; }

  mkdir -p "$(dirname "$ENV_FILE")"
  cat >"$ENV_FILE" <<EOF
export BENCHGEN_SERVICES_DIR='$state'
export BENCHGEN_TEST_PG_BIN='$bin'
export BENCHGEN_TEST_PG_OS_USER='$PG_OS_USER'
export BENCHGEN_TEST_PG_DATA='$state/pg/data'
export BENCHGEN_TEST_PG_PORT='$pg_port'
export BENCHGEN_TEST_PG_OPTS='$PG_OPTS'
export BENCHGEN_TEST_PG_URL='postgresql://benchgen@127.0.0.1:$pg_port/benchgen'
export BENCHGEN_TEST_S3_ENDPOINT='http://127.0.0.1:$s3_port'
export BENCHGEN_TEST_S3_PID='$s3_pid'
EOF
  ensure_extras
  log "PostgreSQL on 127.0.0.1:$pg_port, S3 (moto) on 127.0.0.1:$s3_port; info in $ENV_FILE"
}

load_env() {
  [ -f "$ENV_FILE" ] || { log "not running (no $ENV_FILE)"; exit 0; }
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  PG_OS_USER="$BENCHGEN_TEST_PG_OS_USER"
}

pg_stop() {
  as_pg "$BENCHGEN_TEST_PG_BIN/pg_ctl" -D "$BENCHGEN_TEST_PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

pg_start() {
  as_pg "$BENCHGEN_TEST_PG_BIN/pg_ctl" -D "$BENCHGEN_TEST_PG_DATA" -l "$BENCHGEN_SERVICES_DIR/pg/server.log" \
    -o "$BENCHGEN_TEST_PG_OPTS" -w -t 60 start >/dev/null
}

stop() {
  load_env
  pg_stop
  if kill -0 "$BENCHGEN_TEST_S3_PID" 2>/dev/null; then
    kill -CONT "$BENCHGEN_TEST_S3_PID" 2>/dev/null || true # a fault test may have paused it
    kill "$BENCHGEN_TEST_S3_PID" 2>/dev/null || true
  fi
  if [ -n "${BENCHGEN_TEST_S3_AUTH_PID:-}" ]; then
    kill "$BENCHGEN_TEST_S3_AUTH_PID" 2>/dev/null || true
  fi
  case "$BENCHGEN_SERVICES_DIR" in
    */benchgen-services.*) rm -rf "$BENCHGEN_SERVICES_DIR" ;;
  esac
  rm -f "$ENV_FILE"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if alive; then log "running ($ENV_FILE)"; else log "not running"; exit 1; fi ;;
  pg-stop) load_env; pg_stop ;;
  pg-start) load_env; pg_start ;;
  *) echo "usage: $0 start|stop|status|pg-stop|pg-start" >&2; exit 2 ;;
esac
