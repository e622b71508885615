"""Self-intersection of a triangle mesh (numpy only): which triangles pass through other triangles.

Used as a plausibility measure of decoded bodies (the decoder issue asks that bodies made from held-out requests
intersect themselves no more than the training bodies do). Method:

1. Broad phase: a uniform grid (cell = the median of the triangles' bounding-box extents); each triangle
   is entered in every cell its bounding box touches; pairs sharing a cell whose boxes overlap are candidates.
   Pairs sharing a vertex (neighbours in the mesh) are skipped: they touch by construction. Triangles that would
   fill more than 512 cells (stretched ones) are paired with every triangle whose box overlaps theirs instead, so
   memory stays bounded whatever the mesh.
2. Narrow phase: two non-coplanar triangles intersect exactly when an edge of one crosses the other, so each pair
   is decided by six segment-triangle tests (Moller-Trumbore restricted to the segment), vectorised over pairs.
   Coplanar overlaps (measure zero for bodies) are not counted.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12
MAX_CELLS = 512  # grid cells one triangle may occupy; larger ones are paired by bounding boxes


def _candidate_pairs(tri: np.ndarray) -> np.ndarray:
    """(P, 2) index pairs (i < j) of triangles whose bounding boxes overlap in a shared grid cell."""
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    cell = max(float(np.percentile((hi - lo).max(axis=1), 50)), 1e-9)
    c0 = np.floor(lo / cell).astype(np.int64)
    c1 = np.floor(hi / cell).astype(np.int64)
    span = c1 - c0 + 1  # (F, 3) cells per axis
    counts = span.prod(axis=1)
    # a stretched triangle would fill thousands of cells: such triangles are paired by bounding boxes instead
    big = np.flatnonzero(counts > MAX_CELLS)
    counts[big] = 0
    owner = np.repeat(np.arange(len(tri)), counts)
    # the k-th cell of a triangle: unravel k over its span
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    sx, sy = span[owner, 0], span[owner, 1]
    ix = c0[owner, 0] + k % sx
    iy = c0[owner, 1] + (k // sx) % sy
    iz = c0[owner, 2] + k // (sx * sy)
    key = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791)
    order = np.lexsort((owner, key))
    key, owner = key[order], owner[order]
    pairs = []
    d = 1
    while d < len(key):
        same = key[d:] == key[:-d]
        if not same.any():
            break
        pairs.append(np.stack([owner[:-d][same], owner[d:][same]], axis=1))
        d += 1
    for i in big.tolist():
        near = np.flatnonzero(np.all((lo <= hi[i]) & (lo[i] <= hi), axis=1))
        pairs.append(np.stack([np.full(len(near), i), near], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    p = np.concatenate(pairs)
    p = np.sort(p, axis=1)
    p = p[p[:, 0] != p[:, 1]]
    p = np.unique(p[:, 0] * len(tri) + p[:, 1])
    p = np.stack([p // len(tri), p % len(tri)], axis=1)
    overlap = np.all((lo[p[:, 0]] <= hi[p[:, 1]]) & (lo[p[:, 1]] <= hi[p[:, 0]]), axis=1)
    return p[overlap]


def _segments_cross(p0: np.ndarray, p1: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(N,) whether segment p0-p1 crosses triangle abc (all (N, 3)); touching within 1e-12 does not count."""
    d = p1 - p0
    e1, e2 = b - a, c - a
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(det) > _EPS
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = p0 - a
    u = inv * np.einsum("ij,ij->i", s, h)
    q = np.cross(s, e1)
    v = inv * np.einsum("ij,ij->i", d, q)
    t = inv * np.einsum("ij,ij->i", e2, q)
    return ok & (u > 0) & (v > 0) & (u + v < 1) & (t > 0) & (t < 1)


def intersecting_triangles(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) bool: triangles that pass through another triangle of the same mesh (neighbours excluded).

    Args:
        vertices: (V, 3) positions. faces: (F, 3) vertex indices.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    tri = v[f]
    pairs = _candidate_pairs(tri)
    if len(pairs):
        fa, fb = f[pairs[:, 0]], f[pairs[:, 1]]
        shares = (fa[:, :, None] == fb[:, None, :]).any(axis=(1, 2))
        pairs = pairs[~shares]
    hit = np.zeros(len(f), dtype=bool)
    if not len(pairs):
        return hit
    ta, tb = tri[pairs[:, 0]], tri[pairs[:, 1]]
    crosses = np.zeros(len(pairs), dtype=bool)
    for one, other in ((ta, tb), (tb, ta)):
        for e in range(3):
            crosses |= _segments_cross(one[:, e], one[:, (e + 1) % 3], other[:, 0], other[:, 1], other[:, 2])
    hit[pairs[crosses, 0]] = True
    hit[pairs[crosses, 1]] = True
    return hit


def self_intersection_fraction(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Fraction of triangles that pass through another triangle of the same mesh."""
    return float(intersecting_triangles(vertices, faces).mean())
