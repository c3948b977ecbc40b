#!/usr/bin/env bash
# Set up, then run the linters, the type checker and the whole test suite. The scale tests
# need a PostgreSQL server and an S3 server: they are started on loopback before pytest
# (scripts/services.sh) and stopped afterwards, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy src/benchgen
# The tests and benchmarks too: they drive the typed API, and a stale dict lookup there is a bug.
.venv/bin/mypy tests benchmarks
started_services=0
if ! bash scripts/services.sh status >/dev/null 2>&1; then
  bash scripts/services.sh start
  started_services=1
fi
# shellcheck disable=SC2329
cleanup() { if [ "$started_services" = 1 ]; then bash scripts/services.sh stop || true; fi; }
trap cleanup EXIT
.venv/bin/pytest "$@"
