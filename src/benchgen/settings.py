"""Settings read from the environment, in one place (so low-level modules need not import high-level ones).

- ``BENCHGEN_CACHE_DIR``: where decomposition results, rebuilt variants and the work
  directories of remote datasets are cached (default ``~/.cache/benchgen``).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "BENCHGEN_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$BENCHGEN_CACHE_DIR`` or ``~/.cache/benchgen``."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "benchgen")
