"""A contact sheet of Cycles renders of the neural skin texture, for the README: people across tones, ages and
sexes, each as a full body, a face close-up and a hand close-up (back of the hand), built by the pipeline's own
stages (decoder, TextureDecoder, Blender build with its skin material) and lit by the preview lighting.

Usage: ``.venv/bin/python examples/render_skin_sheet.py [--out examples/skin_sheet.jpg] [--samples 32]``
(a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.blender.export import quiet_stdout  # noqa: E402
from pipeline.blender.render import (  # noqa: E402
    FRONT,
    SIDE,
    add_camera,
    add_lights,
    configure_render,
    over_background,
    pose_armature,
)
from pipeline.core.poses import relaxed_arms  # noqa: E402
from pipeline.core.spec import parse_avatar  # noqa: E402
from pipeline.jobs.context import JobContext  # noqa: E402
from pipeline.jobs.stages import avatar_for_request, build_stage, decode_requests, texture_stage  # noqa: E402

PEOPLE = (
    {"name": "dark_man", "sex": "male", "age_years": 32, "height_cm": 182, "weight_kg": 80, "skin_ita": -45,
     "hair_color": "black", "seed": 3},
    {"name": "brown_woman", "sex": "female", "age_years": 68, "height_cm": 160, "weight_kg": 66, "skin_ita": -5,
     "seed": 4},
    {"name": "tan_man", "sex": "male", "age_years": 50, "height_cm": 175, "weight_kg": 82, "skin_ita": 22,
     "hair_color": "dark_brown", "seed": 5},
    {"name": "girl", "sex": "female", "age_years": 9, "height_cm": 133, "weight_kg": 29, "skin_ita": 40, "seed": 6},
    {"name": "freckled_woman", "sex": "female", "age_years": 26, "height_cm": 166, "weight_kg": 58, "skin_ita": 58,
     "hair_color": "red", "freckles": 0.9, "seed": 7},
    {"name": "old_man", "sex": "male", "age_years": 82, "height_cm": 170, "weight_kg": 70, "skin_ita": 62,
     "hair_color": "white", "seed": 8},
)


def _render(scene, path: Path) -> np.ndarray:
    from PIL import Image

    scene.render.filepath = str(path)
    with quiet_stdout():
        bpy.ops.render.render(write_still=True)
    over_background(path)
    return np.asarray(Image.open(path).convert("RGB"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "examples" / "skin_sheet.jpg")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    from PIL import Image

    ctx = JobContext()
    reqs = [parse_avatar(p, i) for i, p in enumerate(PEOPLE)]
    dec = decode_requests(reqs, ctx)
    columns = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, req in enumerate(reqs):
            tex = texture_stage(req, ctx, 1024)
            avatar = avatar_for_request(req, ctx.body, dec, i, textures=tex, ctx=ctx)
            arm, _mesh = build_stage(avatar, ctx)
            scene = bpy.context.scene
            s = args.size
            configure_render(scene, "cycles", s, s * 2, args.samples, denoise=False)
            made = add_lights(scene)
            pose = relaxed_arms(avatar)
            pose_armature(arm, avatar, pose)
            bpy.context.view_layer.update()
            deps = bpy.context.evaluated_depsgraph_get()
            posed = np.array([v.co[:] for v in _mesh.evaluated_get(deps).data.vertices])
            head = posed[:, 2].max()
            tip = posed[np.argmax(posed[:, 0] * (posed[:, 2] < head * 0.6))]  # the left hand's outermost point
            hand = posed[np.linalg.norm(posed - tip, axis=1) < 0.09].mean(axis=0)
            top = posed[posed[:, 2] > head - 0.3]
            face = np.array([0.0, top[:, 1].min(), head - 0.12])
            body_h = np.ptp(posed[:, 2]) * 1.05
            body = np.array([0.0, 0.0, posed[:, 2].min() + body_h / 2])
            panels = []
            # full body and face from the front; the back of the left hand from the side (palms face the thighs)
            for k, (view, frame_h, centre, (w, h)) in enumerate(((FRONT, body_h, body, (s, 2 * s)),
                                                                 (FRONT, 0.28, face, (s, s)),
                                                                 (SIDE, 0.17, hand, (s, s)))):
                configure_render(scene, "cycles", w, h, args.samples, denoise=False)
                cam = add_camera(scene, view, frame_h, 0.0, w / h)
                d = np.asarray(view.direction, dtype=np.float64)
                cam.location = (centre + d / np.linalg.norm(d) * 6.0).tolist()
                scene.camera = cam
                panels.append(_render(scene, Path(tmp) / f"{i}_{k}.png"))
                made.append(cam)
            pose_armature(arm, avatar, None)
            for obj in made:
                bpy.data.objects.remove(obj)
            columns.append(np.concatenate(panels, axis=0))
    sheet = np.concatenate(columns, axis=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out, quality=90)
    print(f"{args.out}: {len(reqs)} people, full body, face and hand, Cycles {args.samples} samples")


if __name__ == "__main__":
    main()
