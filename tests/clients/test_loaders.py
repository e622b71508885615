"""Every export preset of every rig in loaders nobody here wrote: three.js (GLTFLoader in Node) on GLB, Assimp on
GLB and both FBX presets, ufbx on both FBX presets, usd-core on USD. Zero errors and zero warnings that come from
our files; a warning that is a known bug of the loader itself is listed with its upstream reference."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from support.clients.exports import ROOT, SPEC, VARIANTS, VERSIONS

from pipeline.core.axes import to_y_up
from pipeline.core.poses import posed_vertices, relaxed_arms, rig_pose
from pipeline.core.spec import parse_avatar
from pipeline.formats.glb_read import accessor, read_glb
from pipeline.formats.glb_write import quat_xyzw
from pipeline.jobs.context import JobContext
from pipeline.jobs.stages import avatar_for_request, decode_requests

# Known bugs of the loaders themselves (not of our files), kept visible here:
LOADER_BUGS = {
    # Assimp's glTF2 importer gives every joint that weights no vertex a dummy weight of 0.0 ("Assimp expects all
    # bones to have at least 1 weight", code/AssetLib/glTF2/glTF2Importer.cpp, github.com/assimp/assimp), which its
    # own ValidateDataStructure step then reports. Our skins are valid glTF (the Khronos validator agrees).
    "assimp-glb": re.compile(r"Validation warning: aiBone::mWeights\[0\]\.mWeight has an invalid value"),
}


@pytest.fixture(scope="module")
def avatars(body):
    """label -> our AvatarData of the exported avatar (4 influences, export bone names)."""
    ctx = JobContext(body=body)
    req = parse_avatar(tomllib.loads(SPEC)["avatar"][0])
    dec = decode_requests([req], ctx)
    return {label: avatar_for_request(req, body, dec, 0, rig, names, 4, texture_size=256)
            for label, (rig, names) in VARIANTS.items()}


def _sanitized(name: str) -> str:
    """three.js's PropertyBinding.sanitizeNodeName: whitespace to _, [ ] . : / removed."""
    return re.sub(r"[\[\].:/]", "", re.sub(r"\s", "_", name))


def _template_order(glb: Path, flat: list[float], body) -> np.ndarray:
    """(V, 3) per-vertex values of a GLB's vertices (split at seams) back in the template's vertex order."""
    gltf, blob = read_glb(glb)
    tris = accessor(gltf, blob, gltf["meshes"][0]["primitives"][0]["indices"]).reshape(-1, 3)
    values = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
    out = np.zeros((body.n_vertices, 3))
    out[body.faces.reshape(-1)] = values[tris.reshape(-1)]
    return out


def test_threejs_loads_every_glb_and_deforms_it_like_our_skinning(exports, avatars, node_clients, body, tmp_path):
    jobs = []
    for label, folder in exports.items():
        a = avatars[label]
        d = rig_pose(a, relaxed_arms(a))  # an engine drives the twist bones by the rig's rule: give them too
        moved = [j for j in range(a.n_bones) if not np.allclose(d[j], np.eye(3))]
        jobs.append({"path": str(folder / "ana.glb"),
                     "pose": {a.bone_names[j]: quat_xyzw(d[j][None])[0].tolist() for j in moved}})
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run(["node", str(node_clients), str(tmp_path / "jobs.json")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    package = json.loads((node_clients.parent / "node_modules" / "node-three-gltf" / "package.json").read_text())
    VERSIONS["three.js"] = f"r{report['three']}"
    VERSIONS["node-three-gltf"] = package["version"]
    for (label, _), r in zip(exports.items(), report["results"], strict=True):
        a = avatars[label]
        assert r["messages"] == [], (label, r["messages"])
        assert r["skinned_meshes"] == 1 and r["morph_targets"] == 0  # the avatars have no morph targets yet
        expected = [_sanitized(n) for n in a.bone_names]
        assert len(set(expected)) == a.n_bones and sorted(r["bones"]) == sorted(expected), label
        assert r["max_influences"] <= 4 and r["worst_weight_sum_error"] < 1e-5 and r["bad_joint_indices"] == 0
        for key in ("texture", "normal_map", "roughness_map"):  # albedo, tangent-space normal, metallic-roughness
            assert r[key] and (r[key]["width"], r[key]["height"]) == (256, 256), (label, key, r[key])
        glb = Path(r["path"])
        assert sorted(i["name"] for i in read_glb(glb)[0]["images"]) == ["ana_albedo", "ana_normal", "ana_roughness"]
        rest = _template_order(glb, r["rest"], body)
        assert np.abs(rest - to_y_up(a.vertices.astype(np.float64))).max() < 1e-5, label  # inverse bind matrices
        posed = _template_order(glb, r["posed"], body)
        ours = to_y_up(posed_vertices(a, relaxed_arms(a)))
        err = np.abs(posed - ours).max()
        assert err < 1e-4, (label, err)  # three.js's skinning of our file == our CPU skinning
        assert np.abs(posed - rest).max() > 0.1  # and the pose really moved the arms


def _assimp(path: Path, cwd: Path) -> tuple[list[str], dict[str, str], list[str]]:
    """(warning and error lines, stats such as Bones, texture references) of ``assimp info`` with validation."""
    proc = subprocess.run(["assimp", "info", str(path), "--show-log", "--validate-data-structure", "-v"],
                          capture_output=True, text=True, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    problems = [line for line in lines if line.startswith(("Warn,", "Error,"))]
    stats: dict[str, str] = {}
    for line in lines:  # the summary lines come first ("Meshes:" appears again as a table header)
        m = re.match(r"^([A-Za-z][A-Za-z .()]*):\s+(\S.*)$", line)
        if m:
            stats.setdefault(*m.groups())
    refs = []
    if "Texture Refs:" in lines:
        for line in lines[lines.index("Texture Refs:") + 1:]:
            m = re.match(r"^\s+'(.*)'$", line)
            if not m:
                break
            refs.append(m.group(1))
    return problems, stats, refs


def test_assimp_reads_glb_and_both_fbx_presets_without_problems(exports, avatars, tmp_path):
    version = subprocess.run(["assimp", "version"], capture_output=True, text=True).stdout
    VERSIONS["assimp"] = re.search(r"Version (\S+)", version).group(1)
    for label, folder in exports.items():
        weighted = len(np.unique(avatars[label].skin_indices[avatars[label].skin_weights > 0]))
        for name in ("ana.glb", "ana.unity.fbx", "ana.unreal.fbx"):
            problems, stats, refs = _assimp(folder / name, tmp_path)
            if name.endswith(".glb"):
                problems = [p for p in problems if not LOADER_BUGS["assimp-glb"].search(p)]
            assert problems == [], (label, name, problems)
            assert stats["Meshes"] == "1" and stats["Textures (embed.)"] == "3", (label, name, stats)
            assert weighted <= int(stats["Bones"]) <= avatars[label].n_bones, (label, name, stats["Bones"])
            if name.endswith(".fbx"):  # the texture under its final relative name, with its extension
                assert sorted(refs) == ["ana_albedo.png", "ana_normal.png", "ana_roughness.png"], (label, name, refs)


def test_ufbx_reads_axes_units_normals_skin_bind_pose_and_texture(exports, avatars):
    files = [str(folder / name) for folder in exports.values() for name in ("ana.unity.fbx", "ana.unreal.fbx")]
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "support" / "clients" / "ufbx_probe.py"), *files],
                          capture_output=True, text=True, timeout=300)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and "error" not in out, (proc.stdout[-2000:], proc.stderr[-2000:])
    VERSIONS["ufbx"] = out["ufbx"]
    labels = [label for label in exports for _ in range(2)]
    for label, r in zip(labels, out["results"], strict=True):
        a = avatars[label]
        unity = r["path"].endswith(".unity.fbx")
        axes = ["POSITIVE_X", "POSITIVE_Y", "POSITIVE_Z"] if unity else ["NEGATIVE_X", "POSITIVE_Z", "POSITIVE_Y"]
        assert r["axes"] == axes and r["unit_meters"] == pytest.approx(1.0 if unity else 0.01), (label, r["path"])
        assert r["meshes"] == 1 and r["vertices"] == a.n_vertices and r["corners"] == 3 * len(a.faces)
        assert r["normals"]["exists"] and r["normals"]["indices"] == r["corners"]
        weights = {c["bone"]: c["weights"] for c in r["clusters"]}
        assert set(weights) <= set(a.bone_names), label
        assert sum(weights.values()) == int((a.skin_weights > 0).sum()), label  # every influence, once
        for c in r["clusters"]:  # rigid bind matrices (metres or centimetres alike)
            m = np.asarray(c["geometry_to_bone"])[:, :3]
            assert np.abs(m @ m.T - np.eye(3)).max() < 1e-4, (label, c["bone"])
        assert r["bind_poses"] == 1
        textures = sorted(r["textures"], key=lambda t: t["relative_filename"])
        names = [t["relative_filename"] for t in textures]
        assert names == ["ana_albedo.png", "ana_normal.png", "ana_roughness.png"], (label, textures)
        assert all(t["content_bytes"] > 1000 for t in textures), (label, textures)


def test_usd_core_skinning_query_and_texture_paths(exports, avatars):
    from pxr import Sdf, Tf, Usd, UsdShade, UsdSkel

    VERSIONS["usd-core"] = ".".join(map(str, Usd.GetVersion()))
    for label, folder in exports.items():
        a = avatars[label]
        stage = Usd.Stage.Open(str(folder / "ana.usdc"))
        root = next(UsdSkel.Root(p) for p in stage.Traverse() if p.IsA(UsdSkel.Root))
        cache = UsdSkel.Cache()
        cache.Populate(root, Usd.PrimDefaultPredicate)
        (binding,) = cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate)
        joints = binding.GetSkeleton().GetJointsAttr().Get()
        # joint names as USD spells them (valid identifiers: 'mixamorig:Hips' -> 'mixamorig_Hips')
        weighted = {Tf.MakeValidIdentifier(a.bone_names[j]) for j in np.unique(a.skin_indices[a.skin_weights > 0])}
        assert weighted <= {str(j).split("/")[-1] for j in joints}, label
        (query,) = binding.GetSkinningTargets()
        indices, weights = query.ComputeJointInfluences()
        k = query.GetNumInfluencesPerComponent()
        w = np.asarray(weights).reshape(-1, k)
        assert k <= 8 and w.shape[0] == a.n_vertices and np.abs(w.sum(axis=1) - 1).max() < 1e-5, label
        assert 0 <= min(indices) and max(indices) < len(joints), label
        files = [s.GetInput("file").Get() for p in stage.Traverse() if p.IsA(UsdShade.Shader)
                 for s in [UsdShade.Shader(p)] if s.GetInput("file")]
        assert files and all(isinstance(f, Sdf.AssetPath) for f in files), label
        names = sorted(Path(f.path).name for f in files)
        assert names == ["ana_albedo.png", "ana_normal.png", "ana_roughness.png"], (label, names)
        for f in files:
            assert f.path.removeprefix("./").startswith("textures/"), (label, f.path)
            assert Path(f.resolvedPath).is_file(), (label, f.resolvedPath)
