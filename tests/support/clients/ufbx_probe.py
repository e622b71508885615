"""Loads FBX files with ufbx (a loader nobody here wrote) in its own process and prints what it read as JSON:
axes, units, the mesh and its normals, skin clusters with their bind matrices, the bind pose, embedded textures.
Usage: python ufbx_probe.py FILE... ; the process ends with os._exit (ufbx's Python objects must not outlive the
scene at interpreter exit)."""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version


def _matrix(m) -> list[list[float]]:
    cols = [m.c0, m.c1, m.c2, m.c3]
    return [[c.x for c in cols], [c.y for c in cols], [c.z for c in cols]]


def probe(path: str) -> dict:
    import ufbx

    scene = ufbx.load_file(path)
    mesh = scene.meshes[0]
    skin = mesh.skin_deformers[0]
    out = {
        "path": path,
        "axes": [scene.settings.axes.right.name, scene.settings.axes.up.name, scene.settings.axes.front.name],
        "unit_meters": scene.settings.unit_meters,
        "meshes": len(scene.meshes),
        "vertices": mesh.num_vertices,
        "corners": mesh.num_indices,
        "normals": {"exists": bool(mesh.vertex_normal.exists), "values": len(mesh.vertex_normal.values),
                    "indices": len(mesh.vertex_normal.indices)},
        "clusters": [{"bone": c.bone_node.name, "weights": c.num_weights,
                      "geometry_to_bone": _matrix(c.geometry_to_bone)} for c in skin.clusters],
        "bind_poses": sum(1 for p in scene.poses if p.is_bind_pose),
        "textures": [{"relative_filename": t.relative_filename, "filename": t.filename,
                      "content_bytes": len(t.content) if t.content else 0} for t in scene.textures],
    }
    return out


if __name__ == "__main__":
    try:
        print(json.dumps({"ufbx": version("ufbx"), "results": [probe(p) for p in sys.argv[1:]]}))
        sys.stdout.flush()
        code = 0
    except Exception as exc:  # reported to the test, which fails with it
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.stdout.flush()
        code = 1
    os._exit(code)
