"""Benchmark: an avatar made, rigged and written as GLB, by us and by MPFB2 (MakeHuman for Blender), alternating in
one process and one run.

Not a test, not part of ``make test``. MPFB2 is a copy the user provides (its ``src/mpfb`` folder from the public
repository, GPL-3.0, not shipped here); it is installed as a Blender extension into the bpy module for this
process only (a temporary user-resources folder; nothing of it outside that folder and this process).

Per avatar, all warm (the first avatar of each kind in a process is not counted):
- ``mpfb2``: ``HumanService.create_human`` with the request's macro sliders (gender, age, weight, height), the
  built-in ``game_engine`` rig (``add_builtin_rig``), Blender's glTF exporter (GLB, Y up, skin with 4 influences,
  modifiers applied so that MPFB2's helper geometry is masked out, as a game export needs), scene cleared;
- ``ours fast``: ``avatar generate --formats glb --no-preview``'s job (decode + refinement, the neural skin maps
  at 1024, assembly, the numpy GLB writer with the three maps, ``avatar.json``, the manifest entry's hashes);
- ``ours Blender``: the same decode, maps and assembly, then a Blender scene and Blender's glTF exporter (what a
  GLB-only job did before the numpy writer, and what FBX and USD jobs still do).
Each round makes ``--n`` avatars of each kind, in turn; per round the median per avatar and the ratios are printed,
then the median over rounds, with the thread count and the load average.

Usage: ``python bench/bench_vs_mpfb2.py --mpfb PATH/TO/mpfb2/src/mpfb [--rounds 5] [--n 8]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_USER = Path(tempfile.mkdtemp(prefix="bench-mpfb2-user-"))
os.environ["BLENDER_USER_RESOURCES"] = str(_USER)  # before bpy: MPFB2's config and logs go there
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def install_mpfb(src: Path):
    """MPFB2's ``HumanService`` after installing ``src`` (its ``src/mpfb``) as an extension of this process."""
    import importlib
    import tomllib

    import bpy

    manifest = src / "blender_manifest.toml"
    if not manifest.is_file():
        raise SystemExit(f"--mpfb {src}: no blender_manifest.toml there (give MPFB2's src/mpfb folder)")
    version = tomllib.loads(manifest.read_text())["version"]
    repo = _USER / "bench_repo"
    repo.mkdir(exist_ok=True)
    (repo / "mpfb").symlink_to(src.resolve(), target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(name="bench", module="bench", custom_directory=str(repo),
                                                 source="USER")
    result = bpy.ops.preferences.addon_enable(module="bl_ext.bench.mpfb")
    if "FINISHED" not in result:
        raise SystemExit(f"MPFB2 at {src} did not enable: {result}")
    return importlib.import_module("bl_ext.bench.mpfb.services.humanservice").HumanService, version


def macro_sliders(req) -> dict:
    """MPFB2's macro sliders (0-1) for a request: MakeHuman's age scale (0 = 1 year, 0.1875 = 11, 0.5 = 25,
    1 = 90 years), gender 1 = male, weight and height relative to an average adult, clipped."""
    a = float(req.age_years)
    age = (np.interp(a, [1, 11, 25, 90], [0.0, 0.1875, 0.5, 1.0]))
    bmi = float(req.weight_kg) / (float(req.height_cm) / 100) ** 2
    return {"gender": float(req.sex), "age": float(age), "muscle": 0.5,
            "weight": float(np.clip(0.5 + (bmi - 22.0) / 20.0, 0, 1)),
            "height": float(np.clip(0.5 + (float(req.height_cm) - 170.0) / 60.0, 0, 1)),
            "proportions": 0.5, "cupsize": 0.5, "firmness": 0.5,
            "race": {"african": 1 / 3, "asian": 1 / 3, "caucasian": 1 / 3}}


def mpfb_avatar(hs, req, out: Path) -> None:
    import bpy

    from pipeline.blender.build import reset_scene
    from pipeline.blender.export import paused_gc, quiet_stdout

    reset_scene(full=False)
    basemesh = hs.create_human(macro_detail_dict=macro_sliders(req))
    rig = hs.add_builtin_rig(basemesh, "game_engine")
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj in (basemesh, rig))
    bpy.context.view_layer.objects.active = rig
    with quiet_stdout(), paused_gc():
        bpy.ops.export_scene.gltf(filepath=str(out / f"{req.name}.glb"), export_format="GLB", use_selection=True,
                                  export_yup=True, export_skins=True, export_influence_nb=4,
                                  export_apply=True, export_animations=False)


def ours_blender(req, options, ctx) -> None:
    """Decode, maps, assembly, then a Blender scene and Blender's glTF exporter."""
    from pipeline.jobs.stages import (
        avatar_for_request,
        build_stage,
        decode_requests,
        export_stage,
        texture_stage,
    )

    dec = decode_requests([req], ctx, options.refine)
    textures = texture_stage(req, ctx, options.texture_size)
    avatar = avatar_for_request(req, ctx.body, dec, 0, options.rig, options.names, 4, textures)
    export_stage(build_stage(avatar, ctx), options.out / req.name, req.name, "glb", avatar)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mpfb", type=Path, required=True, help="MPFB2's src/mpfb folder")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=8, help="avatars of each kind per round")
    args = ap.parse_args()

    import torch

    from pipeline.blender.build import reset_scene
    from pipeline.core.population import sample_people
    from pipeline.core.spec import parse_avatar
    from pipeline.jobs.context import JobContext
    from pipeline.jobs.job import make_avatar
    from pipeline.jobs.options import JobOptions

    reset_scene(full=True)  # factory settings once, before MPFB2 is enabled (they would disable it again)
    hs, version = install_mpfb(args.mpfb)
    out = Path(tempfile.mkdtemp(prefix="bench-mpfb2-out-"))
    options = JobOptions(out=out, formats=("glb",), preview=False)
    ctx = JobContext(threads=options.threads)
    ctx.scene_ready = True
    people = sample_people(args.rounds * args.n + 1, seed=17)
    keys = ("sex", "age_years", "height_cm", "weight_kg", "seed")
    reqs = [parse_avatar({"name": f"p{i}", **{k: p[k] for k in keys}}) for i, p in enumerate(people)]
    stages: list[dict[str, float]] = []
    kinds = {"mpfb2": lambda r: mpfb_avatar(hs, r, out),
             "ours_fast": lambda r: stages.append(make_avatar(r, options, ctx)["timings_s"]),
             "ours_blender": lambda r: ours_blender(r, options, ctx)}
    for fn in kinds.values():  # warm-up: imports, the models, MPFB2's caches, Blender's exporter
        fn(reqs[0])
    print(f"MPFB2 {version} (from {args.mpfb}); torch threads {torch.get_num_threads()}, cores "
          f"{len(os.sched_getaffinity(0))}; {args.rounds} rounds x {args.n} avatars per kind; medians per avatar (s)")
    print(f"{'round':>5} {'mpfb2':>8} {'ours fast':>10} {'ours Blender':>13} {'fast x':>8} {'Blender x':>10} "
          f"{'fast/Blender':>13} {'load':>6}")
    rows = []
    for r in range(args.rounds):
        batch = reqs[1 + r * args.n: 1 + (r + 1) * args.n]
        med = {}
        for kind, fn in kinds.items():
            times = []
            for req in batch:
                t = time.perf_counter()
                fn(req)
                times.append(time.perf_counter() - t)
            med[kind] = float(np.median(times))
        rows.append(med)
        print(f"{r + 1:>5} {med['mpfb2']:>8.3f} {med['ours_fast']:>10.3f} {med['ours_blender']:>13.3f} "
              f"{med['mpfb2'] / med['ours_fast']:>7.1f}x {med['mpfb2'] / med['ours_blender']:>9.1f}x "
              f"{med['ours_blender'] / med['ours_fast']:>12.1f}x {os.getloadavg()[0]:>6.2f}")
    stage_med = {k: float(np.median([s[k] for s in stages[1:]])) for k in stages[-1]}
    print("ours fast, median per stage (s): " + ", ".join(f"{k} {v:.3f}" for k, v in stage_med.items()))
    m = {k: float(np.median([row[k] for row in rows])) for k in kinds}
    print(f"{'all':>5} {m['mpfb2']:>8.3f} {m['ours_fast']:>10.3f} {m['ours_blender']:>13.3f} "
          f"{m['mpfb2'] / m['ours_fast']:>7.1f}x {m['mpfb2'] / m['ours_blender']:>9.1f}x "
          f"{m['ours_blender'] / m['ours_fast']:>12.1f}x")


if __name__ == "__main__":
    main()
