"""Reference solution for ``concave_bin``: one PLA chute from under the deck's lip to above the bin.

The ball rolls off the launch deck's lip; a U-channel starting just past the lip, a ball's
radius below its top, catches it, carries it over the cable trench and drops it inside the
bin's walls, where it comes to rest. Everything is read off the view: the deck's exact
shape (for the height of its lip), the bin's box, the goal zone and the ball's start,
size and jitter, so the same code solves mirrored and rescaled variants.
"""

from __future__ import annotations

from benchgen.scenario import Part
from benchgen.solution import Design, SceneView
from benchgen.toolkit import chute


def design(view: SceneView) -> Design:
    deck = view.part("launch_deck")
    bin_ = view.part("bin")
    goal = view.goal_zone
    ball = view.payload
    radius = max(ball.size) / 2
    toward = 1.0 if goal.center[0] > deck.bbox_max[0] else -1.0
    # The lip is the deck's edge nearest the bin; its top is the highest point along that edge.
    edge_x = deck.bbox_max[0] if toward > 0 else deck.bbox_min[0]
    lip_top = max(v.Z for v in deck.shape.vertices() if abs(v.X - edge_x) < 1.0)
    gap = 3.0 * view.scale
    # Sheet thickness stays 3 mm at every scale: the weight limit does not grow with the scene.
    wall = 3.0
    start = (edge_x + toward * (gap + wall), ball.start[1], lip_top - radius)
    goal_near = goal.min[0] if toward > 0 else goal.max[0]
    end_x = goal_near + toward * 0.3 * goal.size[0]
    end = (end_x, (goal.center[1]), bin_.bbox_max[2] + wall + 4.0 * view.scale)
    width = 2 * radius + 2 * ball.jitter[1] + 8.0 * view.scale
    shape = chute(start, end, width, wall_height=2.2 * radius, thickness=wall)
    return Design(parts=[Part("chute", shape, material="pla")])
