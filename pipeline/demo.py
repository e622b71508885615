"""``make demo`` (for now): six reference bodies from the body space, exported and previewed.

Writes the layout of ``shared/INTERFACES.md`` under ``--out``: ``<name>/<name>.glb`` (game_engine rig, 4
influences, Y up, metres), ``<name>/preview.png`` and ``preview_side.png`` (pyrender, posed on the CPU),
``<name>/avatar.json`` (measurements), ``contact_sheet.png`` and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.anthropometry import measure
from pipeline.assembly import assemble, avatar_from_batch
from pipeline.body_model import load_body_model
from pipeline.files import atomic_save_png, atomic_write_json, sha256_file
from pipeline.gltf_export import write_glb
from pipeline.preview import FRONT, SIDE, Renderer, contact_sheet, posed_vertices, relaxed_arms
from pipeline.skinning import GAME_INFLUENCES

DEMO_BODIES = ("child", "teenager", "adult_woman", "adult_man", "heavy_adult", "elder")
# Linear-RGB skin base colours (a light-to-dark spread) until the texture model exists.
SKIN_TONES = ((0.80, 0.56, 0.45), (0.62, 0.40, 0.28), (0.85, 0.62, 0.50),
              (0.38, 0.22, 0.14), (0.70, 0.48, 0.36), (0.78, 0.58, 0.48))


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "pyrender", "trimesh", "pillow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        out["avatar-pipeline"] = md.version("avatar-pipeline")
    except md.PackageNotFoundError:
        out["avatar-pipeline"] = "source"
    return out


def run(out: Path, names: tuple[str, ...] = DEMO_BODIES, rig_name: str = "game_engine") -> dict:
    """Build, export and preview the named preset bodies. Returns the manifest."""
    t0 = time.perf_counter()
    body = load_body_model()
    rig = body.rig(rig_name)
    coeffs = np.stack([body.presets[n] for n in names])
    batch = assemble(body, rig, coeffs)
    meas = measure(batch.vertices.astype(np.float64), body.faces, body.landmarks)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"tool": "pipeline.demo", "versions": versions(), "avatars": {}}
    previews: list[Image.Image] = []
    heights = batch.vertices[..., 2].max(axis=1) - batch.vertices[..., 2].min(axis=1)
    frame_h = float(heights.max()) * 1.08
    with Renderer(384, 512) as renderer:
        for i, name in enumerate(names):
            t = time.perf_counter()
            folder = out / name
            m = {k: round(float(v[i]), 2) for k, v in meas.items()}
            color = (*SKIN_TONES[i % len(SKIN_TONES)], 1.0)
            avatar = avatar_from_batch(body, rig, batch, i, name, GAME_INFLUENCES, base_color=np.array(color),
                                       meta={"preset": name, "measurements": m})
            glb = write_glb(avatar, folder / f"{name}.glb")
            posed = posed_vertices(avatar, relaxed_arms(avatar))
            floor = float(posed[:, 2].min())
            files = {"glb": glb}
            for view, fname in ((FRONT, "preview.png"), (SIDE, "preview_side.png")):
                img, _ = renderer.render(posed, avatar.faces, color, view, frame_h, floor + frame_h / 2 - 0.02)
                pil = Image.fromarray(img)
                files[view.name] = atomic_save_png(folder / fname, pil)
                if view is FRONT:
                    previews.append(pil)
            files["json"] = atomic_write_json(folder / "avatar.json", {
                "request": {"preset": name}, "measurements": m, "seed": None, "warnings": [],
                "rig": rig_name, "influences": avatar.influences, "versions": manifest["versions"]})
            manifest["avatars"][name] = {
                "status": "done", "error": None,
                "files": {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files.values()},
                "timings_s": {"total": round(time.perf_counter() - t, 3)},
            }
            print(f"  {name:12s} {m['stature_cm']:6.1f} cm {m['mass_kg']:6.1f} kg -> {folder}", flush=True)
    labels = [f"{n} {meas['stature_cm'][i]:.0f} cm {meas['mass_kg'][i]:.0f} kg" for i, n in enumerate(names)]
    atomic_save_png(out / "contact_sheet.png", contact_sheet(previews, labels, columns=len(names)))
    manifest["timings_s"] = {"total": round(time.perf_counter() - t0, 3)}
    atomic_write_json(out / "manifest.json", manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/demo"))
    args = ap.parse_args(argv)
    print(f"Building {len(DEMO_BODIES)} demo avatars into {args.out} ...", flush=True)
    manifest = run(args.out)
    print(f"Done in {manifest['timings_s']['total']:.1f} s. Results:")
    print(f"  contact sheet: {args.out / 'contact_sheet.png'}")
    print(f"  manifest:      {args.out / 'manifest.json'}")
    print(f"  avatars:       {args.out}/<name>/<name>.glb, preview.png, preview_side.png, avatar.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
