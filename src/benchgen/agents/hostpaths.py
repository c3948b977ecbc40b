"""Keep host details out of everything sent to a model provider.

Check reports carry tracebacks with host paths (the virtual environment, the check's
temporary directory, the dataset directory), and tool errors may name the workspace's
real location. :class:`HostPaths` rewrites them to names the model can use and that
reveal nothing about the machine::

    /data/ds/.agent-sessions/ID/workspace/plan.md         → /plan.md   (workspace path)
    /tmp/benchgen-check-x1y2/script.py, /sandbox/script.py → /script.py (the checked copy)
    .../checks/solution-0123456789ab.py                    → /solution.py (the evaluated copy)
    /srv/app/.venv/lib/python3.11/site-packages/build123d/topology.py → build123d/topology.py
    /usr/lib/python3.11/json/decoder.py                    → python/json/decoder.py
    any other absolute path under a host root (/home, /tmp, ...) → <host>/<file name>
"""

from __future__ import annotations

import re
import site
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from pathlib import Path

import benchgen
from benchgen.sandbox import SANDBOX_DIR

HOST_ROOTS: tuple[str, ...] = (
    "home", "Users", "root", "tmp", "var", "private", "work", "mnt", "opt", "srv", "usr", "nix",
    "data", "scratch", "media", "run", "workspace", "builds", "github", "Library", "Volumes",
)  # fmt: skip
"""First components of absolute paths that name host locations (the workspace's own paths,
/skills, /utils, /renders and its top-level files, are none of these)."""

_PATH_CHARS = r"[^\s'\"()<>\[\]{},;:`]"
_LEFTOVER = re.compile(rf"(?<![\w/.~-])/(?:{'|'.join(HOST_ROOTS)})(?:/{_PATH_CHARS}+)+")
_CHECKED_COPY = re.compile(r"/script-[0-9a-f]{12}\.py\b")
_EVALUATED_COPY = re.compile(r"/solution-[0-9a-f]{12}\.py\b")
_SANDBOX_DIR = re.compile(rf"(?<![\w.-]){re.escape(SANDBOX_DIR)}/")
"""The script's working directory inside the sandbox, where the checked copy is script.py."""
_END = r"(?![\w.-])"


def _python_dirs() -> dict[str, str]:
    """Host directories of the Python installation → library-relative names."""
    names: dict[str, str] = {}
    libraries = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), site.getusersitepackages()}
    libraries.update(getattr(site, "getsitepackages", list)())
    libraries.add(str(Path(benchgen.__file__).resolve().parent.parent))  # src/ of an editable install
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        names[prefix + "/"] = "python/"
    names[sysconfig.get_path("stdlib") + "/"] = "python/"
    for library in libraries:
        names[library + "/"] = ""
    return names


class HostPaths:
    """Rewrites host paths in text for one session (see the module docstring)."""

    def __init__(self, workspace: Path, scratch: Iterable[Path] = ()) -> None:
        # A workspace path keeps its leading slash (/plan.md); library paths lose it (build123d/...).
        names: dict[str, str] = {str(workspace.resolve()): ""}
        names |= {str(path.resolve()): "" for path in scratch}
        names[str(Path(tempfile.gettempdir()).resolve()) + "/benchgen-"] = "\0check:"
        names |= _python_dirs()
        names[str(Path.home()) + "/"] = "~/"
        ordered = sorted((p for p in names if p.strip("/")), key=len, reverse=True)
        self._names = names
        self._pattern = re.compile(
            "|".join(re.escape(p) + ("" if p.endswith(("/", "-")) else _END) for p in ordered)
        )

    def _replace(self, match: re.Match[str]) -> str:
        name = self._names[match.group(0)]
        at_end = not match.string.startswith("/", match.end())
        return "/" if name == "" and at_end and not match.group(0).endswith("/") else name

    def scrub(self, text: str) -> str:
        """``text`` with every host path mapped to a workspace-relative or library-relative name."""
        if "/" not in text:
            return text
        text = self._pattern.sub(self._replace, text)
        # The trusted check's own temporary directory holds the checked copy of /script.py.
        text = re.sub(r"\0check:[^/\s'\"]*", "", text).replace("\0check:", "")
        text = _SANDBOX_DIR.sub("/", text)
        text = _CHECKED_COPY.sub("/script.py", text)
        text = _EVALUATED_COPY.sub("/solution.py", text)
        return _LEFTOVER.sub(lambda m: "<host>/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)
