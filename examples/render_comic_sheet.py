"""A sheet of the shipped comic styles, for the README: per style (one row), a crop of its exemplar, a 2 x 2 tiling
of one synthesised 256-pixel tile (the seams would show at the middle lines) and EEVEE renders of two comic
avatars made by the pipeline's own stages (decoder, TextureDecoder, the style's stylisation, Blender build with
the toon material and the ink outline), front and side.

Usage: ``.venv/bin/python examples/render_comic_sheet.py [--out examples/comic_sheet.jpg]`` (a few minutes on
2 cores: EEVEE compiles its shaders once on the CPU's Mesa).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from models.comic.style import ComicStyle, available_styles  # noqa: E402
from models.comic.train import shipped_exemplars  # noqa: E402
from pipeline.blender.render import render_previews  # noqa: E402
from pipeline.core.spec import parse_avatar  # noqa: E402
from pipeline.jobs.context import JobContext  # noqa: E402
from pipeline.jobs.stages import (  # noqa: E402
    avatar_for_request,
    build_stage,
    decode_requests,
    stylise_stage,
    texture_stage,
)

PEOPLE = (
    {"name": "woman", "sex": "female", "age_years": 27, "height_cm": 167, "weight_kg": 60, "skin_ita": 45,
     "hair_color": "brown", "seed": 21},
    {"name": "man", "sex": "male", "age_years": 40, "height_cm": 181, "weight_kg": 84, "skin_ita": -25,
     "hair_color": "black", "seed": 22},
)
PANEL = 256


def _avatar_panels(style: str, ctx: JobContext, folder: Path) -> list[Image.Image]:
    out = []
    for person in PEOPLE:
        req = parse_avatar({**person, "name": f"{person['name']}_{style}", "style": "comic", "comic_style": style})
        dec = decode_requests([req], ctx)
        textures = stylise_stage(req, texture_stage(req, ctx, 1024), ctx)
        avatar = avatar_for_request(req, ctx.body, dec, 0, textures=textures)
        arm, _ = build_stage(avatar, ctx)
        files = render_previews(arm, avatar, folder / req.name, "eevee", width=192, height=256, samples=8)
        out += [Image.open(files["front"]).convert("RGB"), Image.open(files["side"]).convert("RGB")]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "examples" / "comic_sheet.jpg")
    args = ap.parse_args(argv)
    styles = [s for s in available_styles() if s in shipped_exemplars()]
    ctx = JobContext()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for style in styles:
            exemplar = Image.open(shipped_exemplars()[style]).convert("RGB").crop((0, 0, 512, 512))
            tile = ComicStyle.load(style).synth(PANEL, seed=7)
            tiling = Image.fromarray(np.tile(tile, (2, 2, 1)))
            panels = [exemplar.resize((PANEL, PANEL), Image.LANCZOS), tiling.resize((PANEL, PANEL), Image.LANCZOS)]
            panels += [p.resize((PANEL * 3 // 4, PANEL)) for p in _avatar_panels(style, ctx, Path(tmp))]
            rows.append((style, panels))
    width = sum(p.width for p in rows[0][1]) + 10 * len(rows[0][1])
    sheet = Image.new("RGB", (width, len(rows) * (PANEL + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (style, panels) in enumerate(rows):
        x, y = 0, r * (PANEL + 24)
        labels = ["exemplar", "synthesised tile, 2 x 2", *["EEVEE render"] * (len(panels) - 2)]
        for p, label in zip(panels, labels, strict=True):
            sheet.paste(p, (x, y + 20))
            draw.text((x + 4, y + 4), f"{style}: {label}" if x == 0 else label, fill="black")
            x += p.width + 10
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
