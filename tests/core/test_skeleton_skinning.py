"""Pure numpy kinematics and skinning."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.core.skeleton import (
    bone_frames_blender,
    pose_world,
    rigid,
    rigid_inverse,
    rotation_between,
    skinning_transforms,
    topological_levels,
)
from pipeline.core.skinning import linear_blend_skinning, prune_weights

unit = arrays(np.float64, 3, elements=st.floats(-1, 1)).filter(lambda v: np.linalg.norm(v) > 0.1).map(
    lambda v: v / np.linalg.norm(v))


@settings(max_examples=200, deadline=None)
@given(unit, unit)
def test_rotation_between_maps_a_to_b(a, b):
    r = rotation_between(a, b)
    assert np.allclose(r @ a, b, atol=1e-9)
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-9)
    assert np.isclose(np.linalg.det(r), 1.0)


def test_rotation_between_opposite_vectors():
    a = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    r = rotation_between(a, -a)
    assert np.allclose(np.einsum("nij,nj->ni", r, a), -a)
    assert np.allclose(np.linalg.det(r), 1.0)


def test_bone_frames_y_along_bone_and_roll_applied():
    heads = np.zeros((1, 2, 3))
    tails = np.array([[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    roll = np.tile(np.eye(3), (2, 1, 1))
    m = bone_frames_blender(heads, tails, roll)
    assert np.allclose(m[0, :, :3, 1], [[0, 0, 1], [1, 0, 0]])
    c, s = np.cos(0.3), np.sin(0.3)
    roll_y = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    m2 = bone_frames_blender(heads, tails, np.stack([roll_y, roll_y]))
    assert np.allclose(m2[0, :, :3, 1], m[0, :, :3, 1])  # roll keeps the bone axis
    assert not np.allclose(m2[0, :, :3, 0], m[0, :, :3, 0])


def test_topological_levels_rejects_cycles_and_bad_parents():
    assert [lv.tolist() for lv in topological_levels(np.array([-1, 0, 1, 0]))] == [[0], [1, 3], [2]]
    with pytest.raises(ValueError):
        topological_levels(np.array([-1, 2, 1]))
    with pytest.raises(ValueError):
        topological_levels(np.array([-1, 5]))


def _chain():
    heads = np.array([[[0, 0, 0], [0, 0, 1], [0, 0, 2]]], dtype=float)
    tails = heads + np.array([0, 0, 1.0])
    rest = bone_frames_blender(heads, tails, np.tile(np.eye(3), (3, 1, 1)))
    return rest, np.array([-1, 0, 1])


def test_identity_pose_is_rest_and_rotation_propagates():
    rest, parents = _chain()
    world = pose_world(rest, parents, np.tile(np.eye(3), (3, 1, 1)))
    assert np.allclose(world, rest)
    assert np.allclose(skinning_transforms(rest, world), np.eye(4))
    # bend the middle bone 90 degrees about its local X: the last bone's head moves with it
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)
    rots = np.stack([np.eye(3), rx, np.eye(3)])
    world = pose_world(rest, parents, rots)
    assert np.allclose(world[0, 2, :3, 3], world[0, 1, :3, 3] + world[0, 1, :3, 1])
    assert np.allclose(np.linalg.norm(world[0, 2, :3, 3] - world[0, 1, :3, 3]), 1.0)
    assert not np.allclose(world[0, 2, :3, 3], rest[0, 2, :3, 3])


def test_rigid_inverse():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(5, 3, 3)))
    q *= np.sign(np.linalg.det(q))[:, None, None]
    m = rigid(q, rng.normal(size=(5, 3)))
    assert np.allclose(rigid_inverse(m) @ m, np.eye(4))


def test_lbs_rigid_transform_moves_every_vertex_rigidly():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(1, 50, 3))
    idx, w = prune_weights(rng.integers(0, 3, size=(50, 4)), rng.uniform(0.1, 1, size=(50, 4)), 4)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    t = np.tile(rigid(q, np.array([0.1, 0.2, 0.3])), (1, 3, 1, 1))
    out = linear_blend_skinning(v, idx, w, t)
    assert np.allclose(out[0], v[0] @ q.T + [0.1, 0.2, 0.3])


def test_prune_weights_rejects_bad_input():
    with pytest.raises(ValueError, match="no skin weight"):
        prune_weights(np.zeros((2, 2), int), np.array([[0.0, 0.0], [1.0, 0.0]]), 1)
    with pytest.raises(ValueError, match="non-negative"):
        prune_weights(np.zeros((1, 2), int), np.array([[-0.1, 1.0]]), 1)
    with pytest.raises(ValueError):
        prune_weights(np.zeros((1, 2), int), np.ones((1, 2)), 0)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, (30, 9), elements=st.floats(0, 1)), st.integers(1, 10))
def test_prune_weights_invariants(weights, k):
    weights[:, 0] += 1e-3  # every vertex weighted
    idx = np.tile(np.arange(9), (30, 1))
    i, w = prune_weights(idx, weights, k)
    assert np.abs(w.astype(np.float64).sum(1) - 1).max() <= 1e-6
    assert np.all(i[w == 0] == 0)
    assert w.shape[1] == k
