"""Self-intersection detection (pure numpy tier): constructed cases, a closed convex mesh, and a body pushed
through itself."""

from __future__ import annotations

import numpy as np
import trimesh

from pipeline.core.self_intersection import intersecting_triangles, self_intersection_fraction


def test_two_crossing_triangles_and_two_apart():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.2, 0.2, -0.5], [0.2, 0.2, 0.5], [0.9, 0.9, 0.0]], float)
    f = np.array([[0, 1, 2], [3, 4, 5]])
    assert intersecting_triangles(v, f).tolist() == [True, True]
    apart = v.copy()
    apart[3:, 0] += 2.0
    assert intersecting_triangles(apart, f).tolist() == [False, False]
    # touching along a shared vertex is not an intersection
    fan = np.array([[0, 1, 2], [0, 2, 3]])
    w = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0.5, 0.3]], float)
    assert not intersecting_triangles(w, fan).any()


def test_closed_convex_mesh_has_none():
    s = trimesh.creation.icosphere(subdivisions=3)
    assert self_intersection_fraction(s.vertices, s.faces) == 0.0


def test_pushing_a_hand_into_the_thigh_is_detected(body):
    """The template's rest pose, then the left hand's vertices moved into the left thigh."""
    v = body.vertices(body.presets["adult_man"]).reshape(-1, 3).astype(np.float64)
    before = intersecting_triangles(v, body.faces)
    rig = body.rig("game_engine")
    hand = rig.skin_indices[:, 0] == rig.bone_names.index("hand_l")
    thigh = rig.skin_indices[:, 0] == rig.bone_names.index("thigh_l")
    moved = v.copy()
    moved[hand] += v[thigh].mean(axis=0) - v[hand].mean(axis=0)
    after = intersecting_triangles(moved, body.faces)
    new = after & ~before
    hand_tris = hand[body.faces].any(axis=1)
    thigh_tris = thigh[body.faces].any(axis=1)
    assert new[hand_tris].sum() > 20 and new[thigh_tris].sum() > 20
    # and nearly all new ones are where the hand and the thigh meet (the rest: the stretched wrist)
    assert (new & (hand_tris | thigh_tris)).sum() >= 0.8 * new.sum()
