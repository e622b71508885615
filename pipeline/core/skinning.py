"""Skin weights: pruning to k influences and linear blend skinning (numpy only, vectorised).

Weights are stored sparse per vertex: ``indices`` (V, K) bone indices and ``weights`` (V, K) that sum to 1.
Unused slots hold index 0 and weight 0.
"""

from __future__ import annotations

import numpy as np

GAME_INFLUENCES = 4  # glTF, FBX for Unity and Unreal
FILM_INFLUENCES = 8  # USD


def prune_weights(indices: np.ndarray, weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k largest influences per vertex and renormalise them to sum to 1.

    Args:
        indices: (V, K) int bone indices.
        weights: (V, K) float weights (any non-negative scale; zero rows are an error).
        k: influences to keep (1 or more). If K < k the result is padded with empty slots.
    Returns:
        (V, k) int32 indices and (V, k) float32 weights, sorted by decreasing weight; unused slots are index 0,
        weight 0. Rows sum to 1 within 1e-6.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    weights = np.asarray(weights, dtype=np.float64)
    indices = np.asarray(indices)
    if weights.shape != indices.shape or weights.ndim != 2:
        raise ValueError(f"indices {indices.shape} and weights {weights.shape} must both be (V, K)")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("skin weights must be finite and non-negative")
    if weights.shape[1] < k:
        pad = k - weights.shape[1]
        weights = np.pad(weights, ((0, 0), (0, pad)))
        indices = np.pad(indices, ((0, 0), (0, pad)))
    order = np.argsort(-weights, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(weights, order, axis=1)
    idx = np.take_along_axis(indices, order, axis=1)
    total = w.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        bad = np.flatnonzero(total[:, 0] <= 0)
        raise ValueError(f"{bad.size} vertices have no skin weight (first: {bad[:5].tolist()})")
    w = w / total
    w[w < 1e-7] = 0.0  # influences too small to matter (and to survive float32) are dropped
    w /= w.sum(axis=1, keepdims=True)
    w32 = w.astype(np.float32)
    # Put the float32 rounding residue on the largest weight so rows sum to 1 in float32 too.
    w32[:, 0] += (1.0 - w32.astype(np.float64).sum(axis=1)).astype(np.float32)
    idx = np.where(w32 > 0, idx, 0)
    return idx.astype(np.int32), w32


def dense_weights(indices: np.ndarray, weights: np.ndarray, n_bones: int) -> np.ndarray:
    """(V, K) sparse weights -> (V, n_bones) dense matrix."""
    v = indices.shape[0]
    dense = np.zeros((v, n_bones), dtype=np.float64)
    np.add.at(dense, (np.repeat(np.arange(v), indices.shape[1]), indices.ravel()), weights.ravel())
    return dense


def linear_blend_skinning(
    vertices: np.ndarray, indices: np.ndarray, weights: np.ndarray, transforms: np.ndarray
) -> np.ndarray:
    """Pose rest vertices with per-bone rigid transforms.

    Args:
        vertices: (B, V, 3) rest positions, metres.
        indices, weights: (V, K) skin influences.
        transforms: (B, J, 4, 4) rest-to-posed transforms per bone (see ``skeleton.skinning_transforms``).
    Returns:
        (B, V, 3) posed positions.
    """
    blended = np.einsum("vk,bvkij->bvij", weights, transforms[:, indices, :3, :])  # (B, V, 3, 4)
    return np.einsum("bvij,bvj->bvi", blended[..., :3], vertices) + blended[..., 3]
