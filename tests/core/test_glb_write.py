"""The numpy GLB writer: Khronos-validator clean, and what is read back matches what was written."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import trimesh
from support.gltf_validation import summarize, validate_glb

from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.axes import to_y_up
from pipeline.formats.glb_write import glb_bytes, split_uv_seams, write_glb

# Warnings the validator may raise on our files, each explained in the README.
ALLOWED_WARNINGS: set[str] = set()


@pytest.fixture(scope="module")
def exported(body, tmp_path_factory):
    out = {}
    d = tmp_path_factory.mktemp("glb")
    for rig_name in ("game_engine", "mixamo", "makehuman"):
        rig = body.rig(rig_name)
        a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_man"]), 0, f"m_{rig_name}", 4)
        out[rig_name] = (a, write_glb(a, d / f"{rig_name}.glb"))
    return out


def _gltf_json(path):
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    n, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20:20 + n])


def test_khronos_validator_reports_no_errors(exported):
    reports = validate_glb([p for _, p in exported.values()])
    for path, report in reports.items():
        s = summarize(report)
        print(path, s["errors"], s["warnings"], s["codes"])
        assert s["errors"] == 0, s["messages"]
        assert set(s["codes"]) <= ALLOWED_WARNINGS | {c for c in s["codes"] if c.startswith("UNUSED")}, s


def test_validator_catches_a_broken_file(tmp_path, exported):
    _a, path = exported["game_engine"]
    data = bytearray(path.read_bytes())
    data[30:60] = b"x" * 30  # corrupt the JSON chunk
    bad = tmp_path / "bad.glb"
    bad.write_bytes(bytes(data))
    assert summarize(validate_glb([bad])[str(bad)])["errors"] > 0


def test_round_trip_with_trimesh(exported):
    a, path = exported["game_engine"]
    scene = trimesh.load(path, force="scene")
    mesh = next(iter(scene.geometry.values()))
    # glTF splits vertices at UV seams; welding by position gives back the template's vertex count
    welded = np.unique(np.round(np.asarray(mesh.vertices), 6), axis=0)
    assert welded.shape[0] == a.n_vertices
    assert mesh.faces.shape[0] == a.faces.shape[0]
    assert np.allclose(np.sort(welded, axis=0), np.sort(np.round(to_y_up(a.vertices), 6), axis=0), atol=1e-5)
    # Y up: the body stands along +Y with the feet near 0 .. stature
    ext = mesh.bounds[1] - mesh.bounds[0]
    assert np.argmax(ext) == 1


def _read_accessor(g, data, acc_i, dtype, width):
    bin0 = 20 + struct.unpack_from("<I", data, 12)[0] + 8
    acc = g["accessors"][acc_i]
    view = g["bufferViews"][acc["bufferView"]]
    arr = np.frombuffer(data, dtype=dtype, count=acc["count"] * width, offset=bin0 + view["byteOffset"])
    return arr.reshape(acc["count"], width)


def test_skin_and_bind_pose_read_back(exported):
    for rig_name, (a, path) in exported.items():
        g = _gltf_json(path)
        assert [n["name"] for n in g["nodes"][: a.n_bones]] == list(a.bone_names)
        skin = g["skins"][0]
        assert len(skin["joints"]) == a.n_bones
        # the skinned mesh node is a root node
        mesh_node = next(i for i, n in enumerate(g["nodes"]) if "mesh" in n)
        assert mesh_node in g["scenes"][0]["nodes"]
        data = path.read_bytes()
        prim = g["meshes"][0]["primitives"][0]
        w = _read_accessor(g, data, prim["attributes"]["WEIGHTS_0"], np.float32, 4)
        assert np.abs(w.sum(1) - 1).max() < 1e-6
        ibm = _read_accessor(g, data, skin["inverseBindMatrices"], np.float32, 16).reshape(-1, 4, 4).transpose(0, 2, 1)
        # bind pose: the inverse bind matrix of each joint inverts its rest matrix (in glTF axes)
        heads = to_y_up(a.bone_heads.astype(np.float64))
        back = np.einsum("jab,jb->ja", ibm[:, :3, :3], heads) + ibm[:, :3, 3]
        assert np.abs(back).max() < 1e-4, rig_name


def test_seam_split_is_minimal(body):
    src, uv, tris = split_uv_seams(body.faces, body.uvs)
    assert src.shape[0] >= body.n_vertices
    assert np.array_equal(src[tris], body.faces)
    assert np.allclose(uv[tris], body.uvs)


def test_writer_refuses_more_than_four_influences(body):
    rig = body.rig("makehuman")
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["child"]), 0, "k", 8)
    with pytest.raises(ValueError, match="4 influences"):
        glb_bytes(a)
