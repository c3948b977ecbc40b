"""The trusted side cannot be fooled: each class of issue 8's verdict forgeries, attempted by a script.

Every attack below was accepted (or hung the checker) before the trusted side was
hardened; each must now get its exact verdict. The per-scene attacks share ONE sandboxed
run: the attack script builds a different attack for every seed, the sandbox builds them
all once, and each build directory then goes through the real trusted stages
(:func:`benchgen.check.check_scene`). Attacks that need several builds (determinism across
processes, scale at two seeds) run :func:`benchgen.check.check_script` itself.

Nothing is mocked: real sandbox, build123d/OCCT, manifold3d and MuJoCo.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchgen.check import CheckOptions, check_scene, check_script
from benchgen.geometry import GeometryLoader, GeometrySettings, read_scene_record
from benchgen.sandbox import BuildRequest, SandboxLimits, SandboxResult, run_script
from benchgen.scene import SCENE_FILE
from benchgen.verdict import CheckFailure, Deadline, RejectCode
from scenario_template import scenario_source, write_scenario

# --- one script, one attack per seed ----------------------------------------------------------

ATTACK_HELPERS = '''
import json
import math
import sys

from OCP.BRep import BRep_Builder, BRep_Tool
from OCP.Poly import Poly_Triangulation
from OCP.TopAbs import TopAbs_FACE, TopAbs_VERTEX
from OCP.TopExp import TopExp_Explorer
from OCP.TopLoc import TopLoc_Location
from OCP.TopoDS import TopoDS
from OCP.gp import gp_Pnt
from build123d import Box, Cylinder, Pos


def fake_triangulation(shape, shrink, offset):
    """Attach to every face a triangulation of a shrunken, moved copy, claiming zero deflection."""
    shape.mesh(0.05, 0.2)
    builder = BRep_Builder()
    faces = TopExp_Explorer(shape.wrapped, TopAbs_FACE)
    while faces.More():
        face = TopoDS.Face(faces.Current())
        real = BRep_Tool.Triangulation_s(face, TopLoc_Location())
        fake = Poly_Triangulation(real.NbNodes(), real.NbTriangles(), False)
        for i in range(1, real.NbNodes() + 1):
            p = real.Node(i)
            fake.SetNode(i, gp_Pnt(p.X() * shrink + offset[0], p.Y() * shrink + offset[1], p.Z() * shrink + offset[2]))
        for i in range(1, real.NbTriangles() + 1):
            fake.SetTriangle(i, real.Triangle(i))
        fake.Deflection(0.0)
        builder.UpdateFace(face, fake)
        faces.Next()
    return shape


def loosen(shape, tolerance):
    """Claim a huge tolerance on one vertex; OCCT's validity check still passes."""
    vertex = TopoDS.Vertex(TopExp_Explorer(shape.wrapped, TopAbs_VERTEX).Current())
    BRep_Builder().UpdateVertex(vertex, tolerance)
    return shape


def cup(side, scale):
    """A cube with a pocket drilled from the top, whose volume is exactly a ball's of diameter ``side``."""
    depth = 0.9 * side
    radius = math.sqrt((side**3 - math.pi * side**3 / 6) / (math.pi * depth))
    pocket = Pos(0, 0, side / 2 - depth / 2 + side / 20) * Cylinder(radius, depth + side / 10)
    return Box(side, side, side) - pocket


def forge_scene_json():
    """Rewrite scene.json after the runner wrote it, as a script controlling the sandbox can."""
    runner = sys.modules["__main__"]
    original = runner.write_build

    def forged(result, seed, scale, directory, what):
        original(result, seed, scale, directory, what)
        if ATTACKS[seed] != "forged_record":
            return
        path = directory / "scene.json"
        record = json.loads(path.read_text())
        record["payload"]["label"] = "ball\\n"
        record["bounds"]["max"][0] = 2.0e5
        text = json.dumps(record).replace('"max_unit_cost": 20.0', '"max_unit_cost": Infinity')
        path.write_text(text)

    runner.write_build = forged


ATTACKS = [
    "control",
    "fake_mesh",
    "loose_tolerance",
    "cup_as_ball",
    "float32_sliver",
    "payload_in_ground",
    "part_in_ground",
    "needle",
    "goal_below_ground",
    "goal_filled",
    "thousand_parts",
    "forged_record",
]
forge_scene_json()
'''

ATTACK_PARTS = """
attack = ATTACKS[seed]
if attack == "fake_mesh":  # a block inside the platform whose stored mesh sits far away
    block = Pos(-150 * s, -60 * s, 50 * s) * Box(40 * s, 40 * s, 40 * s)
    parts.append(Part("block", fake_triangulation(block, 0.1, (150.0, 0.0, 0.0))))
if attack == "loose_tolerance":
    parts.append(Part("loose", loosen(Pos(150 * s, -150 * s, 10 * s) * Box(20 * s, 20 * s, 20 * s), 5.0)))
if attack == "float32_sliver":  # two 1 m cubes 90 m out, overlapping by 2 µm over 1 m² (2000 mm³)
    parts.append(Part("far_a", Pos(90500, 0, 500) * Box(1000, 1000, 1000)))
    parts.append(Part("far_b", Pos(91500 - 0.002, 0, 500) * Box(1000, 1000, 1000)))
if attack == "part_in_ground":
    parts.append(Part("sunk", Pos(150 * s, -150 * s, 0) * Box(20 * s, 20 * s, 40 * s)))
if attack == "needle":  # 0.1 mm thick: almost no overlap volume, but right through the ball
    parts.append(Part("needle", Pos(-150 * s, -100 * s, 116 * s) * Box(0.1, 0.1, 50 * s)))
if attack == "goal_filled":  # the bin's cavity, exactly
    parts.append(Part("filler", Pos(bin_x * s, 80 * s, 33 * s) * Box(88 * s, 88 * s, 54 * s)))
if attack == "thousand_parts":
    parts += [
        Part(f"pebble{i}", Pos((-240 + 12 * (i % 40)) * s, (-190 + 15 * (i // 40)) * s, 2 * s) * Box(4 * s, 4 * s, 4 * s))
        for i in range(1000)
    ]
"""

ATTACK_AFTER = """
if attack == "float32_sliver":
    bounds = Zone((-250 * s, -600, 0), (92600, 600, 1100), "bounds")
if attack in ("payload_in_ground", "part_in_ground", "goal_below_ground"):
    bounds = Zone((-250 * s, -200 * s, -100 * s), (250 * s, 200 * s, 300 * s), "bounds")
if attack == "payload_in_ground":
    start = (150 * s, -150 * s, 10 * s)  # the ball reaches z=-5
if attack == "goal_below_ground":
    goal = Zone((bin_x * s - 44 * s, 36 * s, -60 * s), (bin_x * s + 44 * s, 124 * s, -10 * s), "bin")
if attack == "cup_as_ball":
    # A plate with a round hole wider than the ball but narrower than the cup's diagonal:
    # as a ball it falls through, as the cup it really is it rests in the goal.
    plate = Pos(0, 0, 50 * s) * (Box(200 * s, 200 * s, 10 * s) - Cylinder(18 * s, 10 * s))
    return Scenario(
        name="cup on a plate",
        description="A cup that claims to be a ball.",
        tier="spatial",
        parts=[Part("plate", plate)],
        payload=Payload("cup", cup(30 * s, s), start=(0, 0, 71 * s)),
        goal_zone=Zone((-40 * s, -40 * s, 56 * s), (40 * s, 40 * s, 120 * s), "above"),
        build_zone=Zone((-140 * s, -140 * s, 0), (140 * s, 140 * s, 40 * s), "build"),
        bounds=Zone((-150 * s, -150 * s, 0), (150 * s, 150 * s, 200 * s), "bounds"),
        constraints=Constraints(target_quantity=1, max_unit_cost=1.0),
        params={"seed": float(seed)},
    )
"""

EXPECTED: dict[str, tuple[RejectCode | None, str]] = {
    # attack: (verdict of the per-scene trusted stages, text the message must contain)
    "control": (None, ""),
    "fake_mesh": (RejectCode.INTERSECTION, "'block'"),
    "loose_tolerance": (RejectCode.INVALID_GEOMETRY, "tolerance of 5 mm"),
    "cup_as_ball": (RejectCode.TRIVIAL, "'cup'"),
    "float32_sliver": (RejectCode.INTERSECTION, "'far_a' and 'far_b'"),
    "payload_in_ground": (RejectCode.OUT_OF_BOUNDS, "into the ground"),
    "part_in_ground": (RejectCode.OUT_OF_BOUNDS, "'sunk' reaches z=-20"),
    "needle": (RejectCode.INTERSECTION, "'needle'"),
    "goal_below_ground": (RejectCode.ZONE_CONFLICT, "cannot get lower"),
    "goal_filled": (RejectCode.ZONE_CONFLICT, "filled by fixed parts"),
    "thousand_parts": (RejectCode.RESOURCE_LIMIT, "1003 bodies"),
}
NAMES = list(EXPECTED) + ["forged_record"]


def attack_source() -> str:
    """The attack script: one attack per seed, in the order of :data:`NAMES`."""
    return scenario_source(header=ATTACK_HELPERS, parts=ATTACK_PARTS, after=ATTACK_AFTER)


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxResult, dict[str, Path]]]:
    """One sandboxed run building every attack; the forged record is last (it ends the run)."""
    tmp = tmp_path_factory.mktemp("attacks")
    script = tmp / "attacks.py"
    script.write_text(attack_source())
    requests = [BuildRequest(seed=seed, scale=1.0) for seed in range(len(NAMES))]
    result = run_script(script, requests, tmp / "work", SandboxLimits(timeout_s=120))
    builds = {NAMES[b.seed]: b.directory for b in result.builds}
    yield result, builds
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def loader() -> Iterator[GeometryLoader]:
    with GeometryLoader(GeometrySettings()) as own:
        yield own


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(EXPECTED))
def test_per_scene_attack_gets_its_verdict(
    name: str, attack_run: tuple[SandboxResult, dict[str, Path]], loader: GeometryLoader
) -> None:
    """#1 stored meshes/tolerances, #2 primitives, #3 precision, #9 ground, #10 zones, #13 caps."""
    _, builds = attack_run
    code, needle = EXPECTED[name]
    try:
        check_scene(builds[name], CheckOptions(), loader)
    except CheckFailure as failure:
        assert failure.code is code, failure.message
        assert needle in failure.message, failure.message
    else:
        assert code is None, f"{name} was accepted"


@pytest.mark.e2e
def test_forged_record_is_a_contract_error(attack_run: tuple[SandboxResult, dict[str, Path]]) -> None:
    """#4 Infinity in the emitted scene, #8 a label with a trailing newline, #3 a zone 200 m out:
    the trusted parent refuses the record, naming all three."""
    result, builds = attack_run
    assert result.status == "contract_error", result.message
    assert result.failed is not None and result.failed.seed == NAMES.index("forged_record")
    assert len(builds) == len(EXPECTED)
    for needle in ("finite", "invalid label 'ball\\n'", "100000 mm"):
        assert needle in result.message, result.message


@pytest.mark.e2e
def test_trusted_budget_and_triangle_cap(attack_run: tuple[SandboxResult, dict[str, Path]]) -> None:
    """#13: the trusted stages' time budget and the triangle cap end in ``resource_limit``."""
    _, builds = attack_run
    with GeometryLoader(GeometrySettings(max_triangles=500)) as small, pytest.raises(CheckFailure) as caught:
        small.load_scene(builds["control"])
    assert caught.value.code is RejectCode.RESOURCE_LIMIT
    assert "triangles" in caught.value.message
    options = CheckOptions()
    with GeometryLoader(options.geometry) as own, pytest.raises(CheckFailure) as caught:
        check_scene(builds["control"], options, own, deadline=Deadline(1e-9))
    assert caught.value.code is RejectCode.RESOURCE_LIMIT
    assert "budget" in caught.value.message


def _record_json() -> dict[str, object]:
    zone = {"min": [-100.0, -100.0, 0.0], "max": [100.0, 100.0, 100.0], "name": "z"}
    body = {"label": "ball", "material": "abs", "brep": "body_0.brep", "start": [0.0, 0.0, 50.0]}
    return {
        "seed": 0,
        "scale": 1.0,
        "name": "n",
        "description": "d",
        "tier": "spatial",
        "parts": [],
        "payload": body,
        "goal_zone": zone,
        "build_zone": zone,
        "bounds": zone,
        "constraints": {"target_quantity": 1, "max_unit_cost": 1.0},
        "params": {"x": 1.0},
    }


@pytest.mark.parametrize(
    ("where", "literal", "needle"),
    [
        ('"max_unit_cost": 1.0', '"max_unit_cost": Infinity', "finite"),
        ('"x": 1.0', '"x": NaN', "finite"),
        ('"start": [0.0, 0.0, 50.0]', '"start": [0.0, -Infinity, 50.0]', "finite"),
        ('"label": "ball"', '"label": "ball\\n"', "invalid label"),
        ('"max": [100.0, 100.0, 100.0]', '"max": [100.0, 100.0, 2e5]', "100000 mm"),
    ],
)
def test_trusted_parser_refuses_forged_records(tmp_path: Path, where: str, literal: str, needle: str) -> None:
    """#3 #4 #8 without a sandbox: ``read_scene_record`` itself refuses what pydantic would accept by default."""
    text = json.dumps(_record_json())
    (tmp_path / SCENE_FILE).write_text(text)
    read_scene_record(tmp_path)  # the unforged record is fine
    assert text.count(where) >= 1
    (tmp_path / SCENE_FILE).write_text(text.replace(where, literal, 1))
    with pytest.raises(CheckFailure) as caught:
        read_scene_record(tmp_path)
    assert caught.value.code is RejectCode.CONTRACT_ERROR
    assert needle in caught.value.message


# --- attacks that need several builds ---------------------------------------------------------


@pytest.mark.e2e
def test_value_drawn_per_process_is_nondeterministic(tmp_path: Path) -> None:
    """#6: ``hash('x')`` is the same within a process, so only a fresh process catches it."""
    script = write_scenario(tmp_path, "hashed", before="bin_x += (hash('benchgen') % 1000) / 100.0")
    report = check_script(script, CheckOptions(seeds=2, simulate=False))
    assert report.code is RejectCode.NONDETERMINISTIC, report.message
    assert "separate processes" in report.message


@pytest.mark.e2e
def test_scale_honoured_only_at_seed_0_is_a_contract_error(tmp_path: Path) -> None:
    """#7: scale is checked at seeds 0 and 1."""
    script = write_scenario(tmp_path, "scale_seed0", before="s = scale if seed == 0 else 1.0")
    report = check_script(script, CheckOptions(seeds=2, simulate=False))
    assert report.code is RejectCode.CONTRACT_ERROR, report.message
    assert "seed=1" in report.message and "scale ignored" in report.message
