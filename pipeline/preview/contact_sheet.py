"""Contact sheets: every avatar's front preview in a grid, labelled under each."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont


def contact_sheet(images: Sequence[Image.Image], labels: Sequence[str], columns: int = 4) -> Image.Image:
    """A grid of equally sized previews with a label under each."""
    if not images:
        raise ValueError("contact sheet needs at least one image")
    w, h = images[0].size
    label_h = 24
    rows = (len(images) + columns - 1) // columns
    cols = min(columns, len(images))
    sheet = Image.new("RGB", (cols * w, rows * (h + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        x, y = (i % cols) * w, (i // cols) * (h + label_h)
        sheet.paste(img.convert("RGB").resize((w, h)), (x, y))
        tw = draw.textlength(label, font=font)
        draw.text((x + (w - tw) / 2, y + h + 5), label, fill=(20, 20, 20), font=font)
    return sheet
