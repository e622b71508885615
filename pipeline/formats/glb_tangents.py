"""A GLB's vertex tangents recomputed in numpy and written in place: the same bytes for the same geometry.

Blender's glTF exporter writes MikkTSpace tangents computed on several threads, and on a busy machine a vertex's
tangent can come out differently from run to run (measured: 1 of 14,898 vertices off by 1e-4, in about a third of
the exports of one avatar), so one avatar gave two different files. Here every vertex's tangent is the
area-weighted sum of its triangles' UV tangents (Lengyel's method), made orthogonal to the vertex normal and
normalised, with the handedness in w (glTF: bitangent = cross(normal, tangent.xyz) x w), summed in a fixed order.
Vertices are the exporter's, already split at UV seams, so seams keep their own tangents.
"""

from __future__ import annotations

import numpy as np

from pipeline.formats.glb_read import accessor, accessor_start, parse_glb

_FLOAT = 5126


def vertex_tangents(positions: np.ndarray, normals: np.ndarray, uvs: np.ndarray, triangles: np.ndarray
                    ) -> np.ndarray:
    """(V, 4) float32 glTF tangents.

    Args:
        positions: (V, 3) metres. normals: (V, 3) unit. uvs: (V, 2) glTF texture coordinates (v down the image).
        triangles: (F, 3) vertex indices.
    """
    p = np.asarray(positions, dtype=np.float64)
    n = np.asarray(normals, dtype=np.float64)
    uv = np.asarray(uvs, dtype=np.float64) * [1.0, -1.0]  # v up: a normal map's +Y points up the image
    f = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    e1, e2 = p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]]
    d1, d2 = uv[f[:, 1]] - uv[f[:, 0]], uv[f[:, 2]] - uv[f[:, 0]]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    ok = np.abs(det) > 1e-20
    r = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)[:, None]
    t = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * r
    b = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * r
    area = 0.5 * np.linalg.norm(np.cross(e1, e2), axis=1, keepdims=True)

    def unit(x: np.ndarray) -> np.ndarray:
        length = np.linalg.norm(x, axis=1, keepdims=True)
        return np.where(length > 1e-30, x / np.where(length > 1e-30, length, 1.0), 0.0)

    t, b = unit(t) * area, unit(b) * area
    n_v = p.shape[0]

    def corner_sum(x: np.ndarray) -> np.ndarray:  # bincount sums in index order: the same result on every run
        out = np.zeros_like(p)
        for k in range(3):
            out += np.stack([np.bincount(f[:, k], weights=x[:, c], minlength=n_v) for c in range(3)], axis=1)
        return out

    tv, bv = corner_sum(t), corner_sum(b)
    tv = tv - n * np.sum(tv * n, axis=1, keepdims=True)
    # where a vertex has no usable UV tangent, any direction perpendicular to the normal
    axis = np.where(np.abs(n[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    fallback = np.cross(n, axis)
    weak = np.linalg.norm(tv, axis=1) < 1e-12
    tv[weak] = fallback[weak]
    tv = unit(tv)
    w = np.where(np.sum(np.cross(n, tv) * bv, axis=1) < 0.0, -1.0, 1.0)
    return np.concatenate([tv, w[:, None]], axis=1).astype(np.float32)


def rewrite_glb_tangents(data: bytes) -> bytes:
    """A GLB file's bytes with every primitive's TANGENT accessor recomputed by ``vertex_tangents`` (same
    layout and size; files without tangents come back unchanged)."""
    gltf, blob, bin_start = parse_glb(data)
    out = bytearray(data)

    def packed(index: int) -> np.ndarray:
        acc = gltf["accessors"][index]
        stride = gltf["bufferViews"][acc["bufferView"]].get("byteStride")
        values = accessor(gltf, blob, index)
        if stride is not None and stride != values.shape[1] * values.itemsize:
            raise ValueError("interleaved buffer views are not supported")
        return values

    for mesh in gltf.get("meshes", []):
        for prim in mesh["primitives"]:
            attrs = prim["attributes"]
            if "TANGENT" not in attrs or "indices" not in prim or "TEXCOORD_0" not in attrs:
                continue
            acc = gltf["accessors"][attrs["TANGENT"]]
            if acc["componentType"] != _FLOAT or acc["type"] != "VEC4":
                raise ValueError("TANGENT must be float VEC4")
            packed(attrs["TANGENT"])
            tangents = vertex_tangents(packed(attrs["POSITION"]), packed(attrs["NORMAL"]),
                                       packed(attrs["TEXCOORD_0"]), packed(prim["indices"]).reshape(-1, 3))
            start = bin_start + accessor_start(gltf, attrs["TANGENT"])
            out[start: start + tangents.nbytes] = tangents.tobytes()
    return bytes(out)
