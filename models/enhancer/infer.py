"""Use the render enhancer: one view's passes -> the full-resolution display image, and whole folders
(``avatar enhance IN_DIR --out OUT_DIR``).

A passes file is an ``.npz`` (no pickles) written by ``data.save_view``, the render path of ``avatar generate
--preview-engine cycles --enhance`` (``<avatar>/passes/preview.npz``) or the evaluation, holding (H x W output,
h = H/2, w = W/2; float16 or float32, linear colour, top row first):

- ``low`` (h, w, 4): half-resolution colour, premultiplied RGBA, denoised;
- ``low_albedo`` (h, w, 3): its diffuse-colour pass;
- ``albedo`` (H, W, 3), ``normal`` (H, W, 3) camera space, ``depth`` (H, W) relative (``data.depth_feature``),
  ``alpha`` (H, W): the full-resolution passes;
- ``meta``: optional JSON bytes.

Output: an sRGB PNG over the preview background, same name with ``.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.enhancer.data import load_view
from models.enhancer.model import RenderEnhancer
from models.enhancer.train import NET_KEYS, inputs_from_view

REQUIRED = ("low", "low_albedo", "albedo", "normal", "depth", "alpha")


def check_view(view: dict[str, np.ndarray], name: str = "passes") -> None:
    """ValueError naming the missing or misshapen array."""
    missing = [k for k in REQUIRED if k not in view]
    if missing:
        raise ValueError(f"{name}: missing {', '.join(missing)}; a passes file holds {', '.join(REQUIRED)}")
    h, w = view["alpha"].shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"{name}: full resolution {w}x{h} must be even")
    want = {"low": (h // 2, w // 2, 4), "low_albedo": (h // 2, w // 2, 3), "albedo": (h, w, 3),
            "normal": (h, w, 3), "depth": (h, w), "alpha": (h, w)}
    for k, shape in want.items():
        if tuple(view[k].shape) != shape:
            raise ValueError(f"{name}: {k} has shape {tuple(view[k].shape)}, expected {shape}")
        if not np.isfinite(view[k]).all():
            raise ValueError(f"{name}: {k} has non-finite values")


def enhance_view(model: RenderEnhancer, view: dict[str, np.ndarray]) -> np.ndarray:
    """(H, W, 3) uint8 display sRGB from one view's passes."""
    check_view(view)
    x = inputs_from_view({k: view[k] for k in REQUIRED})
    y = model.infer(*(x[k] for k in NET_KEYS))
    return np.round(y[0].permute(1, 2, 0).numpy() * 255.0).astype(np.uint8)


def enhance_folder(in_dir: Path, out_dir: Path, model: RenderEnhancer | None = None,
                   progress: bool = True) -> list[Path]:
    """Enhance every ``*.npz`` passes file of ``in_dir`` into ``out_dir/<stem>.png``."""
    from PIL import Image

    from pipeline.core.files import atomic_save_png

    files = sorted(Path(in_dir).glob("*.npz"))
    if not files:
        raise ValueError(f"{in_dir}: no .npz passes files")
    model = model or RenderEnhancer.load()
    out = []
    for i, f in enumerate(files):
        view, _ = load_view(f)
        try:
            check_view(view, f.name)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        out.append(atomic_save_png(Path(out_dir) / f"{f.stem}.png", Image.fromarray(enhance_view(model, view))))
        if progress:
            print(f"[{i + 1}/{len(files)}] {f.name} -> {out[-1]}", flush=True)
    return out
