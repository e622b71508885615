"""Benchmark: per-avatar time of each step of `avatar generate` on this machine, and batch throughput.

Not a test. Steps: decode (+ refinement), assembly, albedo texture (1024 x 1024), Blender build (scene reset and
texture packing included), GLB through Blender's exporter, GLB by the numpy writer (what jobs use), FBX (Unity),
preview (pyrender, two views). MPFB2 in the same run: ``bench/bench_vs_mpfb2.py``.

Baselines measured side by side in the same run, on the same avatars:
- the build in the usual Blender-script idiom: ``Mesh.from_pydata`` and one ``VertexGroup.add`` per vertex weight
  (bones, UVs and material as ours);
- the GLB export with Python's cyclic garbage collector left on (ours pauses it; the mean shows the difference).
Medians are the warm per-avatar times; means include the occasional slow item (a full garbage collection, a
request refined for all four steps). A first avatar warms every step up and is not counted.

Usage: ``python bench/bench_pipeline.py [--n 12]``.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import pipeline.blender.export as blender_export
from pipeline.blender.build import _build_bones, _material, build_avatar, reset_scene
from pipeline.blender.export import export
from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.body_model import load_body_model
from pipeline.core.population import sample_people
from pipeline.core.poses import posed_vertices, relaxed_arms
from pipeline.core.skin_tone import skin_albedo
from pipeline.core.spec import parse_avatar
from pipeline.core.views import FRONT, SIDE
from pipeline.formats.glb_write import write_glb
from pipeline.jobs.context import JobContext
from pipeline.jobs.job import make_avatar
from pipeline.jobs.options import GenerateOptions
from pipeline.jobs.stages import decode_requests


def idiomatic_build(avatar) -> list:
    """The baseline build: what a straightforward Blender script does (from_pydata, per-vertex weights)."""
    import bpy

    arm_obj = bpy.data.objects.new(f"{avatar.name}_rig", bpy.data.armatures.new(f"{avatar.name}_rig"))
    bpy.context.scene.collection.objects.link(arm_obj)
    _build_bones(arm_obj, avatar)
    mesh = bpy.data.meshes.new(avatar.name)
    mesh.from_pydata(avatar.vertices.tolist(), [], avatar.faces.tolist())
    mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", avatar.uvs.astype(np.float32).ravel())
    mesh.update()
    mesh.shade_smooth()
    obj = bpy.data.objects.new(avatar.name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = arm_obj
    obj.modifiers.new("Armature", "ARMATURE").object = arm_obj
    groups = [obj.vertex_groups.new(name=n) for n in avatar.bone_names]
    for v, (idx, w) in enumerate(zip(avatar.skin_indices.tolist(), avatar.skin_weights.tolist(), strict=True)):
        for j, x in zip(idx, w, strict=True):
            if x > 0:
                groups[j].add([v], x, "REPLACE")
    mesh.materials.append(_material(avatar, f"{avatar.name}_skin"))
    return [arm_obj, obj]


def export_collector_on(objs: list, path: Path) -> None:
    """The GLB export as it ran before: with Python's cyclic garbage collector left on."""
    paused = blender_export.paused_gc
    blender_export.paused_gc = contextlib.nullcontext
    try:
        export(objs, path, "glb")
    finally:
        blender_export.paused_gc = paused


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12)
    args = ap.parse_args()
    body = load_body_model()
    ctx = JobContext(body=body)
    rig = body.rig("game_engine")
    people = [parse_avatar(p) for p in sample_people(args.n + 1, seed=11)]
    steps: dict[str, list[float]] = {k: [] for k in ("decode+refine", "assembly", "texture", "blender build", "glb",
                                                     "glb numpy writer", "fbx-unity", "preview")}
    base: dict[str, list[float]] = {"blender build": [], "glb": []}

    @contextlib.contextmanager
    def timer(record: list[float]) -> Iterator[None]:
        t = time.perf_counter()
        yield
        record.append(time.perf_counter() - t)

    with tempfile.TemporaryDirectory() as tmp:
        renderer = ctx.renderer
        out = Path(tmp)
        for i, req in enumerate(people):  # the first one warms every step up (weights, masks, exporters): not kept
            if i == 1:
                for times in (*steps.values(), *base.values()):
                    times.clear()
            with timer(steps["decode+refine"]):
                dec = decode_requests([req], ctx)
            with timer(steps["assembly"]):
                batch = assemble(body, rig, dec.coefficients)
            with timer(steps["texture"]):
                tex = skin_albedo(body.asset_dir, 1024, req.skin_ita, req.fitzpatrick)
                avatar = avatar_from_batch(body, rig, batch, 0, req.name, 4, texture=tex)
            # ours and the baselines on the same avatar, alternating which goes first (same warm state)
            for ours in ((True, False) if i % 2 == 0 else (False, True)):
                record = steps if ours else base
                with timer(record["blender build"]):
                    reset_scene(full=i == 0)
                    objs = list(build_avatar(avatar)) if ours else idiomatic_build(avatar)
                with timer(record["glb"]):
                    if ours:
                        export(objs, out / f"{req.name}.glb", "glb")
                    else:
                        export_collector_on(objs, out / f"{req.name}_base.glb")
                if ours:
                    with timer(steps["glb numpy writer"]):
                        write_glb(avatar, out / f"{req.name}_numpy.glb")
                    with timer(steps["fbx-unity"]):
                        export(objs, out / f"{req.name}.fbx", "fbx-unity")
            with timer(steps["preview"]):
                posed = posed_vertices(avatar, relaxed_arms(avatar))
                for view in (FRONT, SIDE):
                    renderer.render(posed, avatar.faces, (0.8, 0.6, 0.5, 1), view, 2.0, float(posed[:, 2].min()) + 1)
        med = {k: float(np.median(v)) for k, v in steps.items()}
        print(f"{'step':22s} {'median':>8s} {'mean':>8s}   (ms per avatar, {args.n} avatars)")
        for k, v in steps.items():
            print(f"{k:22s} {med[k] * 1000:8.1f} {np.mean(v) * 1000:8.1f}")
        print("baselines, same run, same avatars:")
        for k, label in (("blender build", "build, Blender-script idiom (from_pydata, one VertexGroup.add per "
                                           "weight)"), ("glb", "GLB export, garbage collector on")):
            b, o = base[k], steps[k]
            print(f"  {label}: median {np.median(b) * 1000:.1f} ms, mean {np.mean(b) * 1000:.1f} ms -> ours "
                  f"{np.median(b) / np.median(o):.2f}x (median), {np.mean(b) / np.mean(o):.2f}x (mean) faster")
        core = med["decode+refine"] + med["assembly"] + med["blender build"] + med["glb"]
        fast = med["decode+refine"] + med["assembly"] + med["glb numpy writer"]
        print(f"{'decode+build+rig+GLB':22s} {core:6.3f} s per avatar through Blender, {fast:6.3f} s by the numpy "
              f"writer ({core / fast:.1f}x)")
        print(f"{'all steps':22s} {sum(med.values()) - med['glb numpy writer']:6.3f} s per avatar")
        t = time.perf_counter()
        opts = GenerateOptions(out=out / "batch", formats=("glb", "fbx-unity"), echo=lambda s: None).job()
        for req in people[1:]:
            make_avatar(req, opts, ctx)
        dt = time.perf_counter() - t
        print(f"batch throughput (make_avatar, glb + fbx + preview, 1 process): {args.n / dt:.2f} avatars/s")


if __name__ == "__main__":
    main()
