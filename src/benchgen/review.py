"""The offline reviewer: judges the 24 review renders with MuJoCo's segmentation rendering.

A benchmark is only useful to an engineer agent if the renders show the problem. For
each of the 24 views the reviewer renders a segmentation image (object id and type per
pixel) and an RGB image, and measures: how many pixels of the payload and of the goal
zone are visible, whether any scene object touches the image border (clipped), and
whether the image is blank. The decision and its reasons are recorded with the
per-view numbers, so a rejection can be audited.
"""

from __future__ import annotations

import mujoco
import numpy as np
from pydantic import BaseModel

from benchgen.rendering import RenderSettings, View, box_corners, frame_camera, standard_views
from benchgen.verdict import ReviewVerdict


class ReviewSettings(BaseModel):
    """Thresholds of the render review."""

    min_pixels: int = 12
    """An object counts as visible in a view when it covers at least this many pixels."""
    min_visible_fraction: float = 0.5
    """Payload and goal zone must each be visible in at least this fraction of the views."""
    max_clipped_fraction: float = 0.25
    """At most this fraction of views may have scene objects touching the image border."""
    min_image_std: float = 2.0
    """An RGB image whose pixel standard deviation is below this is blank."""


class ViewReview(BaseModel):
    """What one view shows."""

    view: str
    payload_pixels: int
    goal_pixels: int
    clipped: bool
    blank: bool


class ReviewDecision(ReviewVerdict):
    """The reviewer's verdict, with reasons and the per-view evidence."""

    views: list[ViewReview]


def _scene_geom_ids(model: mujoco.MjModel) -> set[int]:
    """Geoms that belong to the scene (everything but the ground plane)."""
    return {g for g in range(model.ngeom) if model.geom_type[g] != mujoco.mjtGeom.mjGEOM_PLANE}


def review_scene(
    model: mujoco.MjModel,
    frame: tuple[np.ndarray, np.ndarray],
    payload_body: str,
    settings: ReviewSettings | None = None,
    render: RenderSettings | None = None,
    views: list[View] | None = None,
) -> ReviewDecision:
    """Render every view twice (segmentation and colour) and decide whether the scene reads well.

    ``frame`` is the (min, max) box in metres the cameras were framed on (the scene's bounds).
    """
    settings = settings or ReviewSettings()
    render = render or RenderSettings()
    views = views if views is not None else standard_views()
    payload_id = model.body(payload_body).id
    payload_geoms = {g for g in range(model.ngeom) if model.geom_bodyid[g] == payload_id}
    goal_site = model.site("goal_zone").id
    scene_geoms = _scene_geom_ids(model)
    center, corners = (frame[0] + frame[1]) / 2, box_corners(*frame)
    fovy = float(model.vis.global_.fovy)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    reviews = []
    with mujoco.Renderer(model, render.height, render.width) as renderer:
        for view in views:
            camera = frame_camera(view, center, corners, render, fovy)
            renderer.disable_segmentation_rendering()
            renderer.update_scene(data, camera=camera)
            rgb = renderer.render()
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera=camera)
            seg = renderer.render()
            reviews.append(_review_view(view, rgb, seg, payload_geoms, goal_site, scene_geoms, settings))
    return _decide(reviews, settings)


def _review_view(
    view: View,
    rgb: np.ndarray,
    seg: np.ndarray,
    payload_geoms: set[int],
    goal_site: int,
    scene_geoms: set[int],
    settings: ReviewSettings,
) -> ViewReview:
    ids, types = seg[..., 0], seg[..., 1]
    is_geom = types == mujoco.mjtObj.mjOBJ_GEOM
    payload_pixels = int(np.count_nonzero(is_geom & np.isin(ids, list(payload_geoms))))
    goal_pixels = int(np.count_nonzero((types == mujoco.mjtObj.mjOBJ_SITE) & (ids == goal_site)))
    scene_mask = is_geom & np.isin(ids, list(scene_geoms))
    border = np.concatenate([scene_mask[0], scene_mask[-1], scene_mask[:, 0], scene_mask[:, -1]])
    return ViewReview(
        view=view.name,
        payload_pixels=payload_pixels,
        goal_pixels=goal_pixels,
        clipped=bool(np.count_nonzero(border) > 2),
        blank=bool(float(np.asarray(rgb, dtype=float).std()) < settings.min_image_std),
    )


def _decide(reviews: list[ViewReview], settings: ReviewSettings) -> ReviewDecision:
    n = len(reviews)
    payload_views = sum(r.payload_pixels >= settings.min_pixels for r in reviews)
    goal_views = sum(r.goal_pixels >= settings.min_pixels for r in reviews)
    clipped = sum(r.clipped for r in reviews)
    blank = sum(r.blank for r in reviews)
    needed = int(np.ceil(settings.min_visible_fraction * n))
    reasons = []
    if blank:
        reasons.append(f"{blank} of {n} views are blank")
    if payload_views < needed:
        reasons.append(f"payload visible in only {payload_views} of {n} views (need {needed})")
    if goal_views < needed:
        reasons.append(f"goal zone visible in only {goal_views} of {n} views (need {needed})")
    if clipped > settings.max_clipped_fraction * n:
        reasons.append(f"scene clipped by the frame in {clipped} of {n} views")
    return ReviewDecision(
        approved=not reasons,
        reasons=reasons
        or [f"payload visible in {payload_views}/{n} views, goal in {goal_views}/{n}, no clipping"],
        payload_visible_views=payload_views,
        goal_visible_views=goal_views,
        clipped_views=clipped,
        blank_views=blank,
        views=reviews,
    )
