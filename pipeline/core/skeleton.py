"""Bone frames and forward kinematics (numpy only, batched).

Conventions (Blender's): a bone's local Y axis runs from its head to its tail; X and Z follow from its roll.
Matrices are 4x4, column vectors, metres, Z-up. ``B`` is the batch, ``J`` the number of bones.
"""

from __future__ import annotations

import numpy as np

_Y = np.array([0.0, 1.0, 0.0])


def _normalise(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def _rotation_towards(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rodrigues' smallest rotation a -> b, well conditioned while a . b > -0.9:
    R = I + [v]x + [v]x^2 / (1 + c) with v = a x b, c = a . b, written out entry by entry (one pass per entry
    instead of building [v]x and v v^T as (..., 3, 3) arrays)."""
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    k = 1.0 / np.maximum(1.0 + c, 1e-12)
    v0, v1, v2 = v[..., 0], v[..., 1], v[..., 2]
    diag = 1.0 - np.sum(v * v, axis=-1) * k  # [v]x^2 = v v^T - |v|^2 I
    r = np.empty((*a.shape[:-1], 3, 3))
    r[..., 0, 0] = v0 * v0 * k + diag
    r[..., 0, 1] = v0 * v1 * k - v2
    r[..., 0, 2] = v0 * v2 * k + v1
    r[..., 1, 0] = v1 * v0 * k + v2
    r[..., 1, 1] = v1 * v1 * k + diag
    r[..., 1, 2] = v1 * v2 * k - v0
    r[..., 2, 0] = v2 * v0 * k - v1
    r[..., 2, 1] = v2 * v1 * k + v0
    r[..., 2, 2] = v2 * v2 * k + diag
    return r


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vectors ``a`` to ``b``.

    Args:
        a, b: (..., 3) unit vectors.
    Returns:
        (..., 3, 3) rotation matrices. Near-opposite vectors (a . b < -0.9) go through -b: a small rotation
        a -> -b, then a half turn about an axis orthogonal to b (exactly opposite vectors have no unique
        smallest rotation; this picks one).
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    opposite = np.sum(a * b, axis=-1) < -0.9
    r = _rotation_towards(a, np.where(opposite[..., None], -b, b))
    if np.any(opposite):
        bo = b[opposite]
        helper = np.eye(3)[np.argmin(np.abs(bo), axis=-1)]
        n = _normalise(np.cross(bo, helper))
        half_turn = 2.0 * n[..., :, None] * n[..., None, :] - np.eye(3)
        r[opposite] = half_turn @ r[opposite]
    return r


def bone_frames_blender(heads: np.ndarray, tails: np.ndarray, roll_matrices: np.ndarray) -> np.ndarray:
    """Rest bone matrices as Blender builds them from head, tail and a roll.

    The Y axis is turned onto the bone by the smallest rotation, then the roll (a rotation about Y, given as a
    matrix) is applied: ``R = rotation_between(Y, dir) @ roll``.

    Args:
        heads, tails: (B, J, 3) metres.
        roll_matrices: (J, 3, 3) rotations about the local Y axis.
    Returns:
        (B, J, 4, 4) rest bone matrices (bone space to armature space).
    """
    d = _normalise(tails - heads)
    r = rotation_between(np.broadcast_to(_Y, d.shape), d) @ roll_matrices
    return rigid(r, heads)


def bone_frames_following(
    heads: np.ndarray, tails: np.ndarray, ref_directions: np.ndarray, ref_rotations: np.ndarray
) -> np.ndarray:
    """Rest bone matrices that keep each bone's roll consistent with a reference body.

    Each bone's reference frame is carried onto the new bone direction by the smallest rotation, so X and Z
    turn by no more than the bone direction itself does (Blender's own head/tail/roll rule can flip a bone's
    axes between body shapes when the bone points close to -Y, for instance toes).

    Args:
        heads, tails: (B, J, 3) metres.
        ref_directions: (J, 3) unit head-to-tail directions of the reference body.
        ref_rotations: (J, 3, 3) reference bone rotations (columns: local X, Y, Z in armature space).
    Returns:
        (B, J, 4, 4) rest bone matrices.
    """
    d = _normalise(tails - heads)
    r = rotation_between(np.broadcast_to(ref_directions, d.shape), d) @ ref_rotations
    return rigid(r, heads)


def rigid(rotations: np.ndarray, translations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) and (..., 3) -> (..., 4, 4) homogeneous matrices."""
    m = np.zeros((*rotations.shape[:-2], 4, 4), dtype=np.result_type(rotations, translations))
    m[..., :3, :3] = rotations
    m[..., :3, 3] = translations
    m[..., 3, 3] = 1.0
    return m


def rigid_inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of (..., 4, 4) rigid matrices by transposition."""
    rt = np.swapaxes(m[..., :3, :3], -1, -2)
    return rigid(rt, -(rt @ m[..., :3, 3, None])[..., 0])


def topological_levels(parents: np.ndarray) -> list[np.ndarray]:
    """Group bone indices by depth so that forward kinematics takes one batched product per level.

    Args:
        parents: (J,) parent index per bone, -1 for roots.
    Returns:
        list of index arrays, roots first. Raises ValueError on a cycle or a bad parent index.
    """
    parents = np.asarray(parents)
    j = parents.shape[0]
    if np.any((parents < -1) | (parents >= j)):
        raise ValueError("bone parents must be -1 or a valid bone index")
    depth = np.full(j, -1)
    depth[parents == -1] = 0
    for _ in range(j):
        undone = depth < 0
        if not undone.any():
            break
        ready = undone & (depth[np.maximum(parents, 0)] >= 0) & (parents >= 0)
        depth[ready] = depth[parents[ready]] + 1
    if np.any(depth < 0):
        raise ValueError("bone tree has a cycle or an unreachable bone")
    return [np.flatnonzero(depth == k) for k in range(depth.max() + 1)]


def pose_world(
    rest: np.ndarray, parents: np.ndarray, local_rotations: np.ndarray, levels: list[np.ndarray] | None = None
) -> np.ndarray:
    """Posed bone matrices from rotations in each bone's own rest frame (Blender's pose-bone ``matrix_basis``).

    ``W_c = W_p @ inv(P_p) @ P_c @ D_c`` and ``W_root = P_root @ D_root``, P being rest matrices.

    Args:
        rest: (B, J, 4, 4) rest bone matrices.
        parents: (J,) parent indices, -1 for roots.
        local_rotations: (B, J, 3, 3) or (J, 3, 3) rotations D.
    Returns:
        (B, J, 4, 4) posed bone matrices.
    """
    levels = topological_levels(parents) if levels is None else levels
    d = rigid(np.broadcast_to(local_rotations, (*rest.shape[:-2], 3, 3)), np.zeros((*rest.shape[:-2], 3)))
    parents = np.asarray(parents)
    local = rest.copy()
    has_parent = parents >= 0
    local[:, has_parent] = rigid_inverse(rest[:, parents[has_parent]]) @ rest[:, has_parent]
    local = local @ d
    world = np.empty_like(local)
    for level in levels:
        roots = level[parents[level] < 0]
        kids = level[parents[level] >= 0]
        world[:, roots] = local[:, roots]
        world[:, kids] = world[:, parents[kids]] @ local[:, kids]
    return world


def skinning_transforms(rest: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """(B, J, 4, 4) transforms taking rest-pose points to posed points, per bone: ``W @ inv(P)``."""
    return posed @ rigid_inverse(rest)
