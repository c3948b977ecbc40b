#!/usr/bin/env bash
# Set up everything benchgen needs on a fresh Debian machine: system packages (as root,
# via apt) and a local virtual environment in .venv with benchgen installed editable.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
# libseccomp compiles the sandbox's seccomp filter (used through the pyseccomp package).
ldconfig -p 2>/dev/null | grep -q 'libseccomp.so.2' || need_apt+=(libseccomp2)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# Mesa's EGL for headless MuJoCo rendering on CPU-only machines.
ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1' || need_apt+=(libegl1 libgl1-mesa-dri)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: warning: missing system packages (${need_apt[*]}) and not root; install them with apt" >&2
  fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade uv
# uv resolves and installs much faster than pip; the pins live in pyproject.toml.
# Bytecode is compiled at install time because the sandbox runs with -B on a read-only
# tree: without .pyc files every sandboxed build would recompile build123d & co (~7 s).
.venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python -e '.[dev,scale]'
echo "setup: ready ($(.venv/bin/benchgen version))"
