"""Every copy of the ``Frame`` helper is the one in ``authors/families/source.py``.

Scenario scripts run standalone (in the sandbox, or opened by a user), so each carries its
own ``Frame``: generated scripts get ``FRAME`` pasted in, and the bundled examples keep a
literal copy. These tests hold every copy to the source, so a fix made in one place cannot
silently miss the others. Pure text, no build.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import benchgen
from benchgen.authors import offline
from benchgen.authors.families import FAMILIES, source

EXAMPLES = Path(benchgen.__file__).parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.stem.endswith("_solution"))


def _frame_class(text: str) -> str | None:
    """The source of the top-level ``class Frame`` in ``text``, if there is one."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef) and node.name == "Frame":
            return ast.get_source_segment(text, node)
    return None


SOURCE = _frame_class(source.FRAME)


def test_frame_is_one_class() -> None:
    assert SOURCE is not None and source.FRAME.strip() == SOURCE


def test_every_example_script_is_checked() -> None:
    assert {p.stem for p in SCRIPTS} >= {"concave_bin", "drawer_slide", "hinged_gate"}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_example_copy_is_identical(path: Path) -> None:
    """A bundled example carries the whole ``Frame``, verbatim (it runs without benchgen's authors)."""
    assert _frame_class(path.read_text()) == SOURCE


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_generated_script_carries_the_frame(family: offline.Family) -> None:
    script = offline.render_script(family, offline.choose(family.name, np.random.default_rng(0)))
    assert _frame_class(script) == SOURCE
    assert script.count("class Frame") == 1
    assert "import Frame" not in script and "benchgen.authors" not in script
