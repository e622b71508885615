"""Vertex tangents recomputed for GLB files: the glTF convention, mirrored UVs, orthogonal to the normals."""

from __future__ import annotations

import numpy as np

from pipeline.formats.glb_tangents import vertex_tangents


def _grid(n: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float64) / (n - 1)
    p = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], axis=1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    tris = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return p, tris, np.tile([0.0, 0.0, 1.0], (n * n, 1))


def test_tangent_follows_u_and_w_gives_the_bitangent_up_the_image():
    p, tris, n = _grid()
    uv = np.stack([p[:, 0], 1.0 - p[:, 1]], axis=1)  # glTF: v runs down the image, here along -y
    t = vertex_tangents(p, n, uv, tris)
    assert np.allclose(t[:, :3], [1.0, 0.0, 0.0], atol=1e-6) and np.all(t[:, 3] == 1.0)
    # the bitangent cross(n, t) * w points where the image's +Y (up) is: +y here
    assert np.allclose(np.cross(n, t[:, :3]) * t[:, 3:], [0.0, 1.0, 0.0], atol=1e-6)
    mirrored = vertex_tangents(p, n, np.stack([1.0 - p[:, 0], 1.0 - p[:, 1]], axis=1), tris)
    assert np.allclose(mirrored[:, :3], [-1.0, 0.0, 0.0], atol=1e-6) and np.all(mirrored[:, 3] == -1.0)


def test_tangents_are_unit_and_orthogonal_to_tilted_normals():
    p, tris, _ = _grid(6)
    rng = np.random.default_rng(0)
    n = np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.3, (len(p), 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    uv = np.stack([p[:, 0], 1.0 - p[:, 1]], axis=1)
    t = vertex_tangents(p, n, uv, tris)
    assert np.abs(np.linalg.norm(t[:, :3], axis=1) - 1).max() < 1e-6
    assert np.abs(np.sum(t[:, :3] * n, axis=1)).max() < 1e-6
    # degenerate UVs (all at one point) still give a valid tangent
    flat = vertex_tangents(p, n, np.zeros((len(p), 2)), tris)
    assert np.abs(np.linalg.norm(flat[:, :3], axis=1) - 1).max() < 1e-6 and set(np.unique(flat[:, 3])) <= {-1, 1}
