"""Mesh helpers (numpy only, vectorised): edges, neighbours, openings, vertex normals."""

from __future__ import annotations

import numpy as np


def directed_edges(faces: np.ndarray) -> np.ndarray:
    """(F, 3) triangles -> (3F, 2) directed edges (a->b for each corner)."""
    return np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2)


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) undirected edges, each once, smaller index first."""
    e = np.sort(directed_edges(faces), axis=1)
    return np.unique(e, axis=0)


def vertex_neighbours(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """One-ring neighbours in CSR form: neighbours of v are ``indices[ptr[v]:ptr[v + 1]]``."""
    e = unique_edges(faces)
    both = np.concatenate([e, e[:, ::-1]])
    order = np.lexsort((both[:, 1], both[:, 0]))
    both = both[order]
    ptr = np.zeros(n_vertices + 1, dtype=np.int64)
    np.add.at(ptr, both[:, 0] + 1, 1)
    return both[:, 1], np.cumsum(ptr)


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Openings of a triangle mesh as ordered vertex loops (following the faces' edge direction).

    An edge used by exactly one face is a boundary edge. Returns one int array per loop.
    """
    d = directed_edges(faces)
    key = np.sort(d, axis=1)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    boundary = d[counts[inv.ravel()] == 1]
    if boundary.size == 0:
        return []
    nxt = dict(zip(boundary[:, 0].tolist(), boundary[:, 1].tolist(), strict=True))
    loops, seen = [], set()
    for start in boundary[:, 0].tolist():  # walks loops: one step per boundary vertex, not per mesh vertex
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        loops.append(np.array(loop, dtype=np.int64))
    return loops


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit normals."""
    fn = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    vn = np.zeros_like(vertices, dtype=np.float64)
    for i in range(3):
        np.add.at(vn, faces[:, i], fn)
    return (vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def corner_angle_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit vertex normals weighted by each triangle's angle at the vertex, as Blender computes smooth
    normals (so a fan of thin triangles does not outweigh one wide one).

    Args:
        vertices: (V, 3) positions. faces: (F, 3) triangles, counter-clockwise seen from outside.
    """
    p = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    corners = p[f]  # (F, 3, 3)
    fn = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-30)
    e_next = np.roll(corners, -1, axis=1) - corners  # corner i -> i + 1
    e_prev = np.roll(corners, 1, axis=1) - corners  # corner i -> i - 1
    e_next /= np.maximum(np.linalg.norm(e_next, axis=2, keepdims=True), 1e-30)
    e_prev /= np.maximum(np.linalg.norm(e_prev, axis=2, keepdims=True), 1e-30)
    angle = np.arccos(np.clip(np.sum(e_next * e_prev, axis=2), -1.0, 1.0))  # (F, 3)
    n = p.shape[0]
    vn = np.stack([np.bincount(f.ravel(), weights=(angle[..., None] * fn[:, None, :])[..., c].ravel(), minlength=n)
                   for c in range(3)], axis=1)
    return (vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)).astype(np.float32)
