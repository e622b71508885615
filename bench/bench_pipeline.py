"""Benchmark: per-avatar time of each step of `avatar generate` on this machine, and batch throughput.

Not a test. Steps: decode (+ refinement), assembly, albedo texture (1024 x 1024), Blender build (scene reset and
texture packing included), GLB, FBX (Unity), preview (pyrender, two views). Goals of the Blender issue:
decode + build + rig + GLB <= 0.25 s per avatar warm (MPFB2 2.0.17 measured 0.71 s for create + game_engine rig +
GLB, without texture); everything incl. texture, FBX and preview <= 1 s.

Usage: ``python bench/bench_pipeline.py [--n 8]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.assembly import assemble, avatar_from_batch  # noqa: E402
from pipeline.attributes import parse_avatar  # noqa: E402
from pipeline.blender_build import build_avatar, reset_scene  # noqa: E402
from pipeline.blender_export import export  # noqa: E402
from pipeline.body_model import load_body_model  # noqa: E402
from pipeline.generate import GenerateOptions, decode_requests, make_avatar  # noqa: E402
from pipeline.population import sample_people  # noqa: E402
from pipeline.preview import FRONT, SIDE, Renderer, posed_vertices, relaxed_arms  # noqa: E402
from pipeline.skin_tone import skin_albedo  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()
    body = load_body_model()
    rig = body.rig("game_engine")
    people = [parse_avatar(p) for p in sample_people(args.n + 1, seed=11)]
    decode_requests(people[:1], body)  # warm-up: loads weights, builds the refiner
    steps: dict[str, list[float]] = {k: [] for k in ("decode+refine", "assembly", "texture", "blender build", "glb",
                                                     "fbx-unity", "preview")}
    with tempfile.TemporaryDirectory() as tmp, Renderer(384, 512) as renderer:
        out = Path(tmp)
        for req in people[1:]:
            t = time.perf_counter()
            dec = decode_requests([req], body)
            steps["decode+refine"].append(time.perf_counter() - t)
            t = time.perf_counter()
            batch = assemble(body, rig, dec.coefficients)
            steps["assembly"].append(time.perf_counter() - t)
            t = time.perf_counter()
            tex = skin_albedo(body.asset_dir, 1024, req.skin_ita, req.fitzpatrick)
            avatar = avatar_from_batch(body, rig, batch, 0, req.name, 4, texture=tex)
            steps["texture"].append(time.perf_counter() - t)
            t = time.perf_counter()
            reset_scene()
            objs = list(build_avatar(avatar))
            steps["blender build"].append(time.perf_counter() - t)
            for fmt, key in (("glb", "glb"), ("fbx-unity", "fbx-unity")):
                t = time.perf_counter()
                export(objs, out / f"{req.name}.{fmt}", fmt)
                steps[key].append(time.perf_counter() - t)
            t = time.perf_counter()
            posed = posed_vertices(avatar, relaxed_arms(avatar))
            for view in (FRONT, SIDE):
                renderer.render(posed, avatar.faces, (0.8, 0.6, 0.5, 1), view, 2.0, float(posed[:, 2].min()) + 1.0)
            steps["preview"].append(time.perf_counter() - t)
        med = {k: float(np.median(v)) for k, v in steps.items()}
        for k, v in med.items():
            print(f"{k:14s} {v * 1000:8.1f} ms per avatar (median of {args.n})")
        core = med["decode+refine"] + med["assembly"] + med["blender build"] + med["glb"]
        print(f"{'decode+build+rig+GLB':22s} {core:6.3f} s per avatar (goal 0.25 s; MPFB2 0.71 s: {0.71 / core:.1f}x)")
        print(f"{'all steps':22s} {sum(med.values()):6.3f} s per avatar (goal 1 s)")
        t = time.perf_counter()
        opts = GenerateOptions(out=out / "batch", formats=("glb", "fbx-unity"), echo=lambda s: None)
        for req in people[1:]:
            make_avatar(req, opts)
        dt = time.perf_counter() - t
        print(f"batch throughput (make_avatar, glb + fbx + preview, 1 process): {args.n / dt:.2f} avatars/s")


if __name__ == "__main__":
    main()
