"""Skinned glTF 2.0 binary (GLB) writer in numpy, no Blender needed: the fast path of GLB-only avatars.

It writes what Blender's glTF exporter writes for a built avatar (``pipeline.blender.export``, preset ``glb``):
the same bones with the same rest transforms, inverse bind matrices and 4-influence skin, positions, smooth
normals, UVs and tangents (``formats.glb_tangents``, the same function that rewrites Blender's), the material
``<name>_skin`` with the albedo, tangent-space normal and roughness maps, and the avatar's properties as extras
of the armature node ``<name>_rig``. Two differences, both on purpose: the skinned mesh node is a root node (the
validator's NODE_SKINNED_MESH_NON_ROOT warning on Blender's file does not apply), and the roughness map is a
grey PNG (glTF samples roughness from G and metalness from B; metalness is scaled by metallicFactor 0 anyway)
instead of an RGB one that Blender re-encodes.

Blender axes (Z up, -Y forward) become glTF axes (Y up, +Z forward) through ``pipeline.core.axes.Z_UP_TO_Y_UP``.
Units stay metres. Vertices are split where UVs differ per corner (UV seams), as glTF needs one UV per vertex;
the split depends only on the template, so it is computed once per template.
"""

from __future__ import annotations

import hashlib
import json
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pipeline.core.avatar_data import ROUGHNESS_WITHOUT_MAP, AvatarData, stored_properties
from pipeline.core.axes import Z_UP_TO_Y_UP
from pipeline.core.files import atomic_write_bytes
from pipeline.core.mesh import corner_angle_normals
from pipeline.formats.glb_tangents import vertex_tangents
from pipeline.formats.png import encode_png

_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_LINEAR, _LINEAR_MIPMAP_LINEAR = 9729, 9987
MIN_INFLUENCE = 1e-4  # weights at or below are dropped and the rest renormalised, as Blender's exporter does


def split_uv_seams(faces: np.ndarray, uvs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One vertex per (vertex, UV) pair.

    Args:
        faces: (F, 3) vertex indices. uvs: (F, 3, 2) per-corner UVs.
    Returns:
        (N,) source vertex per new vertex, (N, 2) its UV, (F, 3) new triangle indices.
    """
    corner_v = faces.reshape(-1)
    corner_uv = uvs.reshape(-1, 2).astype(np.float32)
    key = np.concatenate([corner_v[:, None].astype(np.float64), corner_uv.astype(np.float64)], axis=1)
    _uniq, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return corner_v[first], corner_uv[first], inverse.reshape(-1).reshape(faces.shape).astype(np.uint32)


_SPLITS: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def template_split(faces: np.ndarray, uvs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``split_uv_seams`` remembered per template (keyed by a hash of its faces and UVs: 1 ms; the split: 30 ms).
    The arrays returned are read-only."""
    f = np.ascontiguousarray(faces, dtype=np.int64)
    u = np.ascontiguousarray(uvs, dtype=np.float32)
    key = hashlib.blake2b(f.tobytes() + u.tobytes(), digest_size=16).digest()
    if key not in _SPLITS:
        if len(_SPLITS) >= 4:
            _SPLITS.pop(next(iter(_SPLITS)))
        out = split_uv_seams(f, u)
        for arr in out:
            arr.setflags(write=False)
        _SPLITS[key] = out
    return _SPLITS[key]


def quat_xyzw(r: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations -> (N, 4) unit quaternions (x, y, z, w), w >= 0.

    Shepperd's method: the largest of |w|, |x|, |y|, |z| from the diagonal, the other three from off-diagonal sums
    and differences divided by it. Taking every component from the diagonal instead (a square root of
    1 +- m00 +- m11 +- m22) turns a matrix's float32 non-orthogonality (1e-7) into 1e-4 errors on small components.
    """
    m = np.asarray(r, dtype=np.float64)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([1.0 + 2 * m[:, 0, 0] - tr, 1.0 + 2 * m[:, 1, 1] - tr, 1.0 + 2 * m[:, 2, 2] - tr, 1.0 + tr], 1)
    k = np.argmax(cand, axis=1)  # which of x, y, z, w is largest
    s = 2.0 * np.sqrt(np.maximum(cand[np.arange(len(m)), k], 1e-300))  # 4 x that component
    d21, d02, d10 = m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]
    s01, s02, s12 = m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1]
    q = np.select([k[:, None] == 0, k[:, None] == 1, k[:, None] == 2],
                  [np.stack([s / 4, s01 / s, s02 / s, d21 / s], 1), np.stack([s01 / s, s / 4, s12 / s, d02 / s], 1),
                   np.stack([s02 / s, s12 / s, s / 4, d10 / s], 1)],
                  np.stack([d21 / s, d02 / s, d10 / s, s / 4], 1))
    q *= np.where(q[:, 3:] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


class _Buffer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.length = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def _view(self, data: bytes, target: int | None = None) -> int:
        """Append 4-byte aligned bytes as a new buffer view; returns its index."""
        pad = (-self.length) % 4
        if pad:
            self.chunks.append(b"\0" * pad)
            self.length += pad
        view = {"buffer": 0, "byteOffset": self.length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.chunks.append(data)
        self.length += len(data)
        return len(self.views) - 1

    def add(self, arr: np.ndarray, component: int, kind: str, target: int | None = None,
            minmax: bool = False, normalized: bool = False) -> int:
        view = self._view(np.ascontiguousarray(arr).tobytes(), target)
        acc = {"bufferView": view, "componentType": component, "count": int(arr.shape[0]), "type": kind}
        if normalized:
            acc["normalized"] = True
        if minmax:
            flat = arr.reshape(arr.shape[0], -1)
            acc["min"] = flat.min(axis=0).tolist()
            acc["max"] = flat.max(axis=0).tolist()
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def add_image(self, png: bytes) -> int:
        return self._view(png)

    def blob(self) -> bytes:
        data = b"".join(self.chunks)
        return data + b"\0" * ((-len(data)) % 4)


_ENCODER: ThreadPoolExecutor | None = None


def _encoder() -> ThreadPoolExecutor:
    """Three threads for the maps' PNGs, started on first use in each process."""
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = ThreadPoolExecutor(max_workers=3, thread_name_prefix="glb-png")
    return _ENCODER


def _add_image(buf: _Buffer, gltf: dict, png: bytes, name: str) -> dict:
    """Embed a PNG as image + texture (one shared sampler); returns the texture reference."""
    gltf.setdefault("samplers", [{"magFilter": _LINEAR, "minFilter": _LINEAR_MIPMAP_LINEAR}])
    gltf.setdefault("images", []).append({"bufferView": buf.add_image(png), "mimeType": "image/png", "name": name})
    gltf.setdefault("textures", []).append({"sampler": 0, "source": len(gltf["images"]) - 1})
    return {"index": len(gltf["textures"]) - 1}


def glb_bytes(avatar: AvatarData, bone_names: list[str] | None = None, generator: str = "avatar-pipeline") -> bytes:
    """The avatar as a skinned GLB (Y up, metres, <= 4 influences per vertex), with its maps and properties.

    Args:
        avatar: AvatarData with ``influences`` <= 4 (prune first; this writer does not repair data).
        bone_names: optional export names (a renaming table applied by the caller), same order as the rig.
    """
    if avatar.influences > 4:
        raise ValueError(f"glTF JOINTS_0/WEIGHTS_0 hold 4 influences; avatar has {avatar.influences}")
    names = list(bone_names or avatar.bone_names)
    # the maps' PNGs deflate on other threads (ISA-L and zlib release the GIL) while the geometry is computed here
    maps = {"albedo": (avatar.texture, True), "normal": (avatar.normal_map, False),
            "roughness": (avatar.roughness_map, False)}
    pngs = {k: _encoder().submit(encode_png, img, srgb=srgb) for k, (img, srgb) in maps.items() if img is not None}
    src, uv, tris = template_split(avatar.faces, avatar.uvs)
    verts = avatar.vertices.astype(np.float64)
    normals = corner_angle_normals(verts, avatar.faces)[src]
    conv = Z_UP_TO_Y_UP[:3, :3]
    pos = (verts[src] @ conv.T).astype(np.float32)
    nrm = (normals @ conv.T).astype(np.float32)
    tex = np.stack([uv[:, 0], 1.0 - uv[:, 1]], axis=1).astype(np.float32)  # glTF UV origin is top-left
    k = avatar.influences
    joints = np.zeros((src.shape[0], 4), dtype=np.uint8 if avatar.n_bones < 256 else np.uint16)
    weights = np.zeros((src.shape[0], 4), dtype=np.float32)
    joints[:, :k] = avatar.skin_indices[src]
    weights[:, :k] = np.where(avatar.skin_weights[src] > MIN_INFLUENCE, avatar.skin_weights[src], 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    joints[weights == 0] = 0

    world = Z_UP_TO_Y_UP @ avatar.bone_rest  # (J, 4, 4) rest matrices in glTF axes
    parents = avatar.bone_parents
    local = world.copy()
    child = parents >= 0
    local[child] = np.linalg.inv(world[parents[child]]) @ world[child]
    quats = quat_xyzw(local[:, :3, :3])
    ibm = np.linalg.inv(world).astype(np.float32)
    ibm = np.transpose(ibm, (0, 2, 1)).reshape(-1, 16)  # column-major

    buf = _Buffer()
    attributes = {"POSITION": buf.add(pos, _FLOAT, "VEC3", _ARRAY_BUFFER, minmax=True),
                  "NORMAL": buf.add(nrm, _FLOAT, "VEC3", _ARRAY_BUFFER),
                  "TEXCOORD_0": buf.add(tex, _FLOAT, "VEC2", _ARRAY_BUFFER)}
    if avatar.normal_map is not None:
        attributes["TANGENT"] = buf.add(vertex_tangents(pos, nrm, tex, tris), _FLOAT, "VEC4", _ARRAY_BUFFER)
    attributes["JOINTS_0"] = buf.add(joints, _UBYTE if joints.dtype == np.uint8 else _USHORT, "VEC4", _ARRAY_BUFFER)
    attributes["WEIGHTS_0"] = buf.add(weights, _FLOAT, "VEC4", _ARRAY_BUFFER)
    small = src.shape[0] <= 65536
    a_idx = buf.add(tris.reshape(-1).astype(np.uint16 if small else np.uint32), _USHORT if small else _UINT,
                    "SCALAR", _ELEMENT_ARRAY_BUFFER)
    a_ibm = buf.add(ibm, _FLOAT, "MAT4")

    n_j = avatar.n_bones
    nodes: list[dict] = []
    for j in range(n_j):
        node: dict = {"name": names[j], "translation": local[j, :3, 3].tolist(), "rotation": quats[j].tolist()}
        kids = np.flatnonzero(parents == j).tolist()
        if kids:
            node["children"] = kids
        nodes.append(node)
    roots = np.flatnonzero(parents < 0).tolist()
    mesh_node, rig_node = n_j, n_j + 1
    nodes.append({"name": avatar.name, "mesh": 0, "skin": 0})
    nodes.append({"name": f"{avatar.name}_rig", "children": roots,
                  "extras": stored_properties(avatar)})

    pbr: dict = {"metallicFactor": 0.0}
    material: dict = {"name": f"{avatar.name}_{'comic' if avatar.comic_style else 'skin'}", "doubleSided": True,
                      "pbrMetallicRoughness": pbr}
    gltf: dict = {
        "asset": {"version": "2.0", "generator": generator},
        "scene": 0,
        "scenes": [{"name": "Scene", "nodes": [rig_node, mesh_node]}],
        "nodes": nodes,
        "meshes": [{"name": avatar.name, "primitives": [
            {"attributes": attributes, "indices": a_idx, "material": 0, "mode": 4}]}],
        "skins": [{"name": f"{avatar.name}_rig", "joints": list(range(n_j)), "inverseBindMatrices": a_ibm,
                   "skeleton": rig_node}],
        "materials": [material],
    }
    if "albedo" in pngs:
        pbr["baseColorTexture"] = _add_image(buf, gltf, pngs["albedo"].result(), f"{avatar.name}_albedo")
    else:
        pbr["baseColorFactor"] = [float(c) for c in avatar.base_color]
    if "normal" in pngs:
        material["normalTexture"] = _add_image(buf, gltf, pngs["normal"].result(), f"{avatar.name}_normal")
    if "roughness" in pngs:
        pbr["metallicRoughnessTexture"] = _add_image(buf, gltf, pngs["roughness"].result(),
                                                     f"{avatar.name}_roughness")
    else:  # a comic albedo is matte, as the toon material's exported BSDF is
        pbr["roughnessFactor"] = 1.0 if avatar.comic_style else ROUGHNESS_WITHOUT_MAP

    blob = buf.blob()
    gltf["bufferViews"] = buf.views
    gltf["accessors"] = buf.accessors
    gltf["buffers"] = [{"byteLength": len(blob)}]
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * ((-len(js)) % 4)
    total = 12 + 8 + len(js) + 8 + len(blob)
    return b"".join([
        struct.pack("<4sII", b"glTF", 2, total),
        struct.pack("<I4s", len(js), b"JSON"), js,
        struct.pack("<I4s", len(blob), b"BIN\0"), blob,
    ])


def write_glb(avatar: AvatarData, path: Path | str, bone_names: list[str] | None = None) -> Path:
    """Write the GLB atomically (temporary name in the same folder, then rename)."""
    return atomic_write_bytes(Path(path), glb_bytes(avatar, bone_names))
