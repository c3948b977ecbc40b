"""Headless renders of a scene from 24 angles (3 elevations × 8 azimuths), plus segmentation.

Rendering uses MuJoCo's offscreen renderer; on a CPU-only machine set ``MUJOCO_GL=egl``
(Mesa's software EGL) before ``mujoco`` is first imported — ``benchgen`` does so on
import when the variable is unset. The camera orbits the centre of the scene's
``bounds``, per view at the distance that just fits the whole bounds box in the frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image
from pydantic import BaseModel

ELEVATIONS: tuple[float, ...] = (-15.0, -35.0, -60.0)
"""Degrees; negative looks down at the scene (MuJoCo's convention)."""
AZIMUTHS: tuple[float, ...] = tuple(float(a) for a in range(0, 360, 45))


class RenderSettings(BaseModel):
    """Image size and framing of the review renders.

    640×480 by default: at 320×240 a bolt hole or a plugged bore is a few pixels, so
    neither a reviewer nor a person can tell open from filled. It costs about 0.6 s more
    CPU per check (24 views, software EGL; measured on a 60-piece flange: 0.6 s at
    320×240, 1.2 s at 640×480) and about 6 KB more per PNG.
    """

    width: int = 640
    height: int = 480
    margin: float = 1.05
    """Distance factor beyond the tight fit, so the bounds box is not clipped."""


class View(BaseModel):
    """One camera pose around the scene centre."""

    elevation: float
    azimuth: float

    @property
    def name(self) -> str:
        """File stem, e.g. ``e35_a090``."""
        return f"e{abs(int(self.elevation)):02d}_a{int(self.azimuth):03d}"


def standard_views() -> list[View]:
    """The 24 review views, in a stable order (elevation-major)."""
    return [View(elevation=e, azimuth=a) for e in ELEVATIONS for a in AZIMUTHS]


def _view_basis(view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward, right and up unit vectors of MuJoCo's free camera at this elevation/azimuth."""
    el, az = math.radians(view.elevation), math.radians(view.azimuth)
    forward = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return forward, right, np.cross(right, forward)


def frame_camera(
    view: View, center: np.ndarray, corners: np.ndarray, settings: RenderSettings, fovy_deg: float
) -> mujoco.MjvCamera:
    """A free camera aimed at ``center``, just far enough that every corner is in the frame.

    For each corner the distance d must satisfy |lateral offset| <= tan(half fov) · depth,
    where depth = d + the corner's offset along the view axis; the tightest d fits all.
    """
    forward, right, up = _view_basis(view)
    tan_y = math.tan(math.radians(fovy_deg) / 2)
    tan_x = tan_y * settings.width / settings.height
    offsets = corners - center
    along = offsets @ forward
    needed = np.maximum(np.abs(offsets @ right) / tan_x, np.abs(offsets @ up) / tan_y) - along
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = center
    camera.distance = float(needed.max()) * settings.margin
    camera.elevation = view.elevation
    camera.azimuth = view.azimuth
    return camera


def box_corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The 8 corners of an axis-aligned box."""
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def render_views(
    model: mujoco.MjModel,
    frame: tuple[np.ndarray, np.ndarray],
    out_dir: Path,
    settings: RenderSettings | None = None,
    views: list[View] | None = None,
) -> list[Path]:
    """Render the model's initial state from each view into ``out_dir/<view>.png``.

    ``frame`` is the (min, max) corner, in metres, of the box every view must show whole
    (the scene's ``bounds``).
    """
    settings = settings or RenderSettings()
    center, corners = (frame[0] + frame[1]) / 2, box_corners(*frame)
    fovy = float(model.vis.global_.fovy)
    views = views if views is not None else standard_views()
    out_dir.mkdir(parents=True, exist_ok=True)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    paths = []
    with mujoco.Renderer(model, settings.height, settings.width) as renderer:
        for view in views:
            renderer.update_scene(data, camera=frame_camera(view, center, corners, settings, fovy))
            path = out_dir / f"{view.name}.png"
            Image.fromarray(renderer.render()).save(path, optimize=False)
            paths.append(path)
    return paths


class RolloutRecorder:
    """Grabs frames of a rollout from one view, for an animation a person can watch.

    Use as the ``recorder`` of :func:`benchgen.evaluate.rollout`, or step a model and call it
    (:func:`record_passive_rollout`); frames are taken every ``every_s`` of
    simulated time at ``width`` × ``height``, framed like the review renders.
    """

    def __init__(
        self,
        frame: tuple[np.ndarray, np.ndarray],
        view: View | None = None,
        every_s: float = 0.1,
        width: int = 320,
        height: int = 240,
    ) -> None:
        self.frame = frame
        self.view = view or View(elevation=-35.0, azimuth=45.0)
        self.every_s = every_s
        self.settings = RenderSettings(width=width, height=height)
        self.frames: list[Image.Image] = []
        self._next = 0.0
        self._renderer: mujoco.Renderer | None = None

    def __call__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        if data.time + 1e-9 < self._next:
            return
        self._next = data.time + self.every_s
        if self._renderer is None:
            self._renderer = mujoco.Renderer(model, self.settings.height, self.settings.width)
        center, corners = (self.frame[0] + self.frame[1]) / 2, box_corners(*self.frame)
        camera = frame_camera(self.view, center, corners, self.settings, float(model.vis.global_.fovy))
        self._renderer.update_scene(data, camera=camera)
        self.frames.append(Image.fromarray(self._renderer.render()))

    def close(self) -> None:
        """Release the renderer's GL context."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def save(self, gif: Path, poster: Path) -> None:
        """Write the animation (GIF, looping) and its poster frame (the last frame, PNG)."""
        if not self.frames:
            return
        first, *rest = self.frames
        first.save(
            gif, save_all=True, append_images=rest, duration=int(self.every_s * 1000), loop=0, optimize=False
        )
        self.frames[-1].save(poster, optimize=False)


def record_passive_rollout(
    model: mujoco.MjModel, frame: tuple[np.ndarray, np.ndarray], duration_s: float, out_dir: Path
) -> dict[str, str]:
    """Simulate the scene as built, with nothing added, for ``duration_s`` and write
    ``rollout.gif`` and ``rollout_poster.png`` into ``out_dir``: what happens if nobody solves it."""
    recorder = RolloutRecorder(frame)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    steps_per_frame = max(1, int(round(recorder.every_s / model.opt.timestep)))
    try:
        recorder(model, data)
        while data.time + 1e-9 < duration_s:
            mujoco.mj_step(model, data, nstep=steps_per_frame)
            recorder(model, data)
        recorder.save(out_dir / "rollout.gif", out_dir / "rollout_poster.png")
    finally:
        recorder.close()
    return {"animation": "rollout.gif", "poster": "rollout_poster.png"}


def render_segmentation(
    model: mujoco.MjModel,
    frame: tuple[np.ndarray, np.ndarray],
    view: View,
    settings: RenderSettings | None = None,
) -> np.ndarray:
    """Per-pixel (object id, object type) for one view of the initial state; id -1 is background."""
    settings = settings or RenderSettings()
    center, corners = (frame[0] + frame[1]) / 2, box_corners(*frame)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with mujoco.Renderer(model, settings.height, settings.width) as renderer:
        renderer.enable_segmentation_rendering()
        renderer.update_scene(
            data, camera=frame_camera(view, center, corners, settings, float(model.vis.global_.fovy))
        )
        return np.asarray(renderer.render()).copy()


def contact_sheet(render_paths: list[Path], out_path: Path, columns: int = 8, thumb_width: int = 200) -> Path:
    """Tile the renders into one image (row-major, in the given order) for galleries and reviewers."""
    images = [Image.open(p).convert("RGB") for p in render_paths]
    if not images:
        raise ValueError("no renders to tile")
    w, h = images[0].size
    thumb = (thumb_width, round(thumb_width * h / w))
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (thumb[0] * columns, thumb[1] * rows), (255, 255, 255))
    for index, image in enumerate(images):
        sheet.paste(
            image.resize(thumb, Image.Resampling.LANCZOS),
            ((index % columns) * thumb[0], (index // columns) * thumb[1]),
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return out_path
