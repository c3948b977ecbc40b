#!/usr/bin/env bash
# Set up, then run benchgen's main job on its embedded defaults: generate a small dataset
# of accepted, physics-verified benchmarks with the offline author (no LLM, no API key).
# Re-running resumes: accepted benchmarks are not redone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}"
out="${1:-dataset}"
workers="$(nproc 2>/dev/null || echo 1)"
[ "$workers" -gt 4 ] && workers=4
.venv/bin/benchgen generate --out "$out" --count 5 --workers "$workers"
.venv/bin/benchgen list "$out"
