"""Render of avatars made through the add-on's own operator, for the README (a real Cycles render).

Enables the add-on from this checkout in the bpy module, fills the panel's fields with each preset (and a skin
type), runs ``bpy.ops.avatar.generate`` as the Generate button does, lines the avatars up and renders them with
Cycles through the preview lighting of ``pipeline/blender/render.py``.

Usage: ``.venv/bin/python examples/render_addon_avatars.py [--out examples/addon_render.png] [--samples 32]``
(about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

from pipeline.blender.export import quiet_stdout  # noqa: E402
from pipeline.blender.render import FRONT, add_camera, add_lights, configure_render, over_background  # noqa: E402

PEOPLE = (("child", 2), ("teenager", 4), ("adult_woman", 3), ("adult_man", 5), ("athletic", 6), ("heavy", 1),
          ("elder", 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "examples" / "addon_render.png")
    ap.add_argument("--samples", type=int, default=32)
    args = ap.parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    __import__("addon_utils").enable("addon", default_set=True, handle_error=None)
    s = bpy.context.scene.avatar_settings
    margin, gap = 0.15, 0.12
    x = margin
    for preset, skin in PEOPLE:
        bpy.ops.avatar.apply_preset(preset=preset)
        s.skin, s.fitzpatrick = "fitzpatrick", skin
        bpy.ops.avatar.generate()
        arm = bpy.data.objects[f"{preset}_rig"]
        mesh = arm.children[0]
        xs = [v.co.x for v in mesh.data.vertices]  # a one-off script: loops are fine here
        half = (max(xs) - min(xs)) / 2
        arm.location.x = x + half
        x += 2 * half + gap
    scene = bpy.context.scene
    width_m, frame_h = x - gap + margin, 2.05
    width_px, height_px = 1600, round(1600 * frame_h / width_m)
    configure_render(scene, "cycles", width_px, height_px, args.samples, denoise=False)
    add_lights(scene)
    cam = add_camera(scene, FRONT, frame_h, frame_h / 2 - 0.03, width_px / height_px, centre_x=width_m / 2)
    cam.data.ortho_scale = max(width_m, frame_h)
    scene.camera = cam
    tmp = args.out.with_name(f".{args.out.stem}.partial.png")
    scene.render.filepath = str(tmp)
    with quiet_stdout():
        bpy.ops.render.render(write_still=True)
    over_background(tmp)
    os.replace(tmp, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
