"""Fuzz the trusted side with malformed sandbox output: every mutation gets a clean verdict.

The sandbox runs ONCE, on a valid scenario whose shapes carry stored triangulations (so the
BREPs have every section a hostile file could abuse). Then, in-process and seeded, copies
of that build are mutated (scene.json: bit flips, truncation, wrong types, non-finite and
huge numbers, deep nesting, oversize; BREP: truncation, bit flips, numbers and triangle
indices replaced, lines dropped or repeated) and each copy goes through the real trusted
stages (:func:`benchgen.check.check_scene`: the loader process, geometry, zones, collision
geometry, MuJoCo). Every one must end as an acceptance or a :class:`CheckFailure` with a
rejection code and a message, never another exception, a crash or a hang.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchgen.check import CheckOptions, check_scene
from benchgen.geometry import GeometryLoader, GeometrySettings, read_scene_record
from benchgen.sandbox import BuildRequest, SandboxLimits, run_script
from benchgen.scene import MAX_SCENE_JSON_BYTES, SCENE_FILE
from benchgen.verdict import CheckFailure, RejectCode
from scenario_template import write_scenario

SEED = 20240601
SCENE_CASES = 80
BREP_CASES = 60
NUMBER = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?")
ODD_VALUES: list[object] = [
    "Infinity",
    "NaN",
    "-Infinity",
    1e308,
    -1e308,
    10**40,
    -1,
    0,
    "x",
    None,
    True,
    [],
    {},
    [1, 2],
    "body_0.brep",
    "../../etc/passwd",
    "a\n",
]

Mutation = Callable[[bytes, random.Random], bytes]


# --- scene.json -------------------------------------------------------------------------------


def _flip(data: bytes, rng: random.Random) -> bytes:
    index = rng.randrange(len(data))
    return data[:index] + bytes([data[index] ^ (1 << rng.randrange(8))]) + data[index + 1 :]


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(document: object, path: tuple[object, ...], value: object) -> None:
    for key in path[:-1]:
        document = document[key]  # type: ignore[index]
    document[path[-1]] = value  # type: ignore[index]


def _json_edit(data: bytes, rng: random.Random) -> bytes:
    """Replace one value anywhere in the document with an odd one (or delete its key)."""
    document = json.loads(data)
    path = rng.choice(_paths(document))
    if rng.random() < 0.15 and isinstance(path[-1], str):
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        return json.dumps(document).encode()
    marker = "@@ODD@@"
    odd = rng.choice(ODD_VALUES)
    _set(document, path, marker)
    literal = odd if odd in ("Infinity", "NaN", "-Infinity") else json.dumps(odd)
    return json.dumps(document).replace(json.dumps(marker), str(literal)).encode()


def _nest(data: bytes, rng: random.Random) -> bytes:
    depth = rng.choice([50, 5_000, 100_000])
    document = json.loads(data)
    document["params"] = {"deep": "@@DEEP@@"}
    return json.dumps(document).replace('"@@DEEP@@"', "[" * depth + "]" * depth).encode()


def _oversize(data: bytes, rng: random.Random) -> bytes:
    document = json.loads(data)
    document["description"] = "x" * (MAX_SCENE_JSON_BYTES + rng.randrange(1000))
    return json.dumps(document).encode()


def _many_params(data: bytes, rng: random.Random) -> bytes:
    document = json.loads(data)
    document["params"] = {f"p{i}": rng.random() for i in range(rng.choice([10, 20_000]))}
    return json.dumps(document).encode()


SCENE_MUTATIONS: list[Mutation] = [
    _flip,
    _truncate,
    _json_edit,
    _json_edit,
    _json_edit,
    _nest,
    _oversize,
    _many_params,
]


# --- BREP -------------------------------------------------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _brep_number(data: bytes, rng: random.Random) -> bytes:
    """Replace one number token, anywhere (counts, coordinates, flags, indices)."""
    matches = list(NUMBER.finditer(data))
    found = rng.choice(matches)
    odd = rng.choice([b"0", b"-1", b"1e308", b"nan", b"inf", b"99999", b"3", b"-0.5", b"1e-300", b"7"])
    return data[: found.start()] + odd + data[found.end() :]


def _brep_triangle_index(data: bytes, rng: random.Random) -> bytes:
    """Corrupt the triangulation section: an index past the node count, zero or negative."""
    start = data.find(b"\nTriangulations ")
    end = data.find(b"\nTShapes ", start)
    if start < 0 or end < 0:
        return _brep_number(data, rng)
    section = data[start:end]
    matches = list(re.finditer(rb"(?<= )[0-9]+(?= )", section))
    if not matches:
        return _brep_number(data, rng)
    found = rng.choice(matches)
    odd = rng.choice([b"0", b"-3", b"9999", b"2147483647"])
    section = section[: found.start()] + odd + section[found.end() :]
    return data[:start] + section + data[end:]


def _brep_drop_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def _brep_repeat_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    index = rng.randrange(len(lines))
    lines.insert(index, lines[index])
    return b"\n".join(lines)


def _brep_truncate_keep_end(data: bytes, rng: random.Random) -> bytes:
    """Cut a slice out of the middle but keep the end, so the file still looks complete."""
    a = rng.randrange(len(data) // 2)
    b = rng.randrange(a, len(data) - 20)
    return data[:a] + data[b:]


BREP_MUTATIONS: list[Mutation] = [
    _flip,
    _truncate,
    _brep_number,
    _brep_number,
    _brep_triangle_index,
    _brep_triangle_index,
    _brep_drop_line,
    _brep_repeat_line,
    _brep_truncate_keep_end,
]


# --- the run ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One real build from the sandbox; its shapes were meshed, so the BREPs carry triangulations."""
    tmp = tmp_path_factory.mktemp("fuzz")
    script = write_scenario(tmp, "meshed", after="for part in parts:\n    part.shape.mesh(0.5, 0.3)")
    result = run_script(script, [BuildRequest(seed=0, scale=1.0)], tmp / "work", SandboxLimits(timeout_s=120))
    assert result.status == "ok", result.message
    build = result.builds[0].directory
    assert b"Triangulations 0" not in (build / "body_0.brep").read_bytes()
    yield build
    shutil.rmtree(tmp, ignore_errors=True)


def _cases(build: Path) -> list[tuple[str, str, bytes]]:
    """(case name, file name, mutated bytes), the same list on every run."""
    rng = random.Random(SEED)
    scene = (build / SCENE_FILE).read_bytes()
    breps = sorted(p.name for p in build.glob("body_*.brep"))
    cases = []
    for index in range(SCENE_CASES):
        mutation = rng.choice(SCENE_MUTATIONS)
        cases.append((f"scene{index}:{mutation.__name__}", SCENE_FILE, mutation(scene, rng)))
    for index in range(BREP_CASES):
        mutation = rng.choice(BREP_MUTATIONS)
        name = rng.choice(breps)
        cases.append(
            (f"brep{index}:{mutation.__name__}:{name}", name, mutation((build / name).read_bytes(), rng))
        )
    return cases


def _assert_clean(case: str, verdict: CheckFailure | None) -> None:
    if verdict is None:
        return
    assert isinstance(verdict.code, RejectCode), case
    assert verdict.message.strip(), case


@pytest.mark.e2e
def test_mutated_sandbox_output_always_gets_a_clean_verdict(emitted: Path, tmp_path: Path) -> None:
    options = CheckOptions(geometry=GeometrySettings(body_timeout_s=5.0), cache_dir=tmp_path / "cache")
    codes: dict[str, int] = {}
    started = time.monotonic()
    with GeometryLoader(options.geometry) as loader:
        for case, file_name, data in _cases(emitted):
            directory = tmp_path / "case"
            shutil.rmtree(directory, ignore_errors=True)
            shutil.copytree(emitted, directory)
            (directory / file_name).write_bytes(data)
            verdict: CheckFailure | None = None
            try:
                if file_name == SCENE_FILE:
                    read_scene_record(directory)  # the parser alone, then the whole scene
                check_scene(directory, options, loader)
            except CheckFailure as failure:
                verdict = failure
            _assert_clean(case, verdict)
            key = verdict.code.value if verdict else "accepted"
            codes[key] = codes.get(key, 0) + 1
    # The mutations must actually exercise rejections, not only pass through.
    assert codes.get("contract_error", 0) > 20 and codes.get("invalid_geometry", 0) > 10, codes
    print(f"fuzz verdicts {codes} in {time.monotonic() - started:.1f} s")
