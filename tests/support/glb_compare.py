"""What two GLB files of one avatar hold, compared as an engine would see it: joints by name (world rest
transforms, inverse bind matrices), the mesh as a set of corners (position, UV) with their normals, tangents and
skin weights by joint name, the triangles, the material's maps (decoded pixels) and the armature's extras.
Node order, vertex order and image encoding may differ; what an importer builds from them may not."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pipeline.formats.glb_read import accessor, parse_glb


def _trs(node: dict) -> np.ndarray:
    m = np.eye(4)
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T
    x, y, z, w = node.get("rotation", [0.0, 0.0, 0.0, 1.0])
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m[:3, :3] = r * np.array(node.get("scale", [1.0, 1.0, 1.0]))[None, :]
    m[:3, 3] = node.get("translation", [0.0, 0.0, 0.0])
    return m


def _world(gltf: dict) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}

    def walk(i: int, parent: np.ndarray) -> None:
        out[i] = parent @ _trs(gltf["nodes"][i])
        for c in gltf["nodes"][i].get("children", []):
            walk(c, out[i])

    for root in gltf["scenes"][gltf.get("scene", 0)]["nodes"]:
        walk(root, np.eye(4))
    return out


def _image(gltf: dict, blob: bytes, ref: dict | None) -> np.ndarray | None:
    if ref is None:
        return None
    view = gltf["bufferViews"][gltf["images"][gltf["textures"][ref["index"]]["source"]]["bufferView"]]
    start = view.get("byteOffset", 0)
    return np.asarray(Image.open(io.BytesIO(blob[start: start + view["byteLength"]])).convert("RGB"))


def glb_content(data: bytes) -> dict:
    """An avatar GLB's content in a form independent of node, vertex and joint order.

    Returns: joints (name -> world rest matrix, 4x4), ibm (name -> inverse bind matrix), keys ((N, 5) position and
    UV per vertex, sorted), normals / tangents / weights ((N, 3) / (N, 4) / (N, J) in that order, weights by
    joint name in ``joint_names`` order), triangles (set of sorted vertex-key index triples), images (slot ->
    (H, W, 3) uint8), factors (material scalars), extras (the armature node's), double_sided.
    """
    gltf, blob, _ = parse_glb(data)
    world = _world(gltf)
    skin = gltf["skins"][0]
    names = [gltf["nodes"][j]["name"] for j in skin["joints"]]
    ibm = accessor(gltf, blob, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    prim = gltf["meshes"][0]["primitives"][0]
    attr = {k: accessor(gltf, blob, i).astype(np.float64) for k, i in prim["attributes"].items()}
    keys = np.concatenate([attr["POSITION"], attr["TEXCOORD_0"]], axis=1)
    order = np.lexsort(np.round(keys, 5).T[::-1])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    joint_order = np.argsort(names)
    dense = np.zeros((keys.shape[0], len(names)))
    joints = attr["JOINTS_0"].astype(np.int64)
    np.add.at(dense, (np.arange(keys.shape[0])[:, None], joints), attr["WEIGHTS_0"])
    tris = rank[accessor(gltf, blob, prim["indices"]).astype(np.int64).reshape(-1, 3)]
    mat = gltf["materials"][prim["material"]]
    pbr = mat.get("pbrMetallicRoughness", {})
    rig_node = next(n for n in gltf["nodes"] if "extras" in n and "avatar_name" in n["extras"])
    return {
        "joints": {n: world[j] for n, j in zip(names, skin["joints"], strict=True)},
        "ibm": dict(zip(names, ibm, strict=True)),
        "keys": keys[order], "normals": attr["NORMAL"][order],
        "tangents": attr["TANGENT"][order] if "TANGENT" in attr else None,
        "joint_names": sorted(names), "weights": dense[order][:, joint_order],
        "triangles": {tuple(t) for t in np.sort(tris, axis=1).tolist()},
        "images": {"albedo": _image(gltf, blob, pbr.get("baseColorTexture")),
                   "normal": _image(gltf, blob, mat.get("normalTexture")),
                   "metallic_roughness": _image(gltf, blob, pbr.get("metallicRoughnessTexture"))},
        "factors": {"metallic": pbr.get("metallicFactor", 1.0), "roughness": pbr.get("roughnessFactor", 1.0),
                    "base_color": pbr.get("baseColorFactor", [1.0, 1.0, 1.0, 1.0])},
        "extras": rig_node["extras"], "double_sided": mat.get("doubleSided", False),
        "material_name": mat.get("name"),
    }


def compare_glb(a: bytes, b: bytes) -> dict[str, float]:
    """Differences between two avatar GLBs (0 where they agree): the largest joint and inverse-bind difference
    (metres / matrix units), the largest position difference (m), the 99th percentile and largest normal and
    tangent angle (degrees), the largest skin-weight difference, triangles in one but not the other, the largest
    pixel difference per map, and 1 for each differing material factor, extras or double-sidedness."""
    ca, cb = glb_content(a), glb_content(b)
    out: dict[str, float] = {}
    if set(ca["joints"]) != set(cb["joints"]) or ca["keys"].shape != cb["keys"].shape:
        return {"structure": 1.0}
    out["joint_world"] = max(float(np.abs(ca["joints"][n] - cb["joints"][n]).max()) for n in ca["joints"])
    out["inverse_bind"] = max(float(np.abs(ca["ibm"][n] - cb["ibm"][n]).max()) for n in ca["ibm"])
    out["position_uv"] = float(np.abs(ca["keys"] - cb["keys"]).max())

    def angles(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.degrees(np.arccos(np.clip(np.sum(x[:, :3] * y[:, :3], axis=1), -1.0, 1.0)))

    na = angles(ca["normals"], cb["normals"])
    out["normal_p99_deg"], out["normal_max_deg"] = float(np.percentile(na, 99)), float(na.max())
    if (ca["tangents"] is None) != (cb["tangents"] is None):
        out["tangents_present"] = 1.0
    elif ca["tangents"] is not None:
        ta = angles(ca["tangents"], cb["tangents"])
        out["tangent_p99_deg"], out["tangent_max_deg"] = float(np.percentile(ta, 99)), float(ta.max())
        out["tangent_sign"] = float(np.mean(ca["tangents"][:, 3] != cb["tangents"][:, 3]))
    out["skin_weight"] = float(np.abs(ca["weights"] - cb["weights"]).max())
    out["triangles"] = float(len(ca["triangles"] ^ cb["triangles"]))
    for slot in ca["images"]:
        ia, ib = ca["images"][slot], cb["images"][slot]
        if (ia is None) != (ib is None):
            out[f"image_{slot}"] = 255.0
        elif ia is not None:
            if slot == "metallic_roughness":  # roughness is G; metalness (B) is scaled by metallicFactor 0
                ia, ib = ia[..., 1], ib[..., 1]
            out[f"image_{slot}"] = float(np.abs(ia.astype(int) - ib.astype(int)).max())
    out["factors"] = float(ca["factors"] != cb["factors"])
    out["extras"] = float(ca["extras"] != cb["extras"])
    out["double_sided"] = float(ca["double_sided"] != cb["double_sided"])
    out["material_name"] = float(ca["material_name"] != cb["material_name"])
    return out
