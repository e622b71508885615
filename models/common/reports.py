"""Training logs and reports: JSON written atomically, figures saved as PNG, loss curves drawn one way."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.core.files import atomic_write_bytes, atomic_write_json


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """A report or training log as indented JSON (atomically)."""
    return atomic_write_json(Path(path), data)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (12.0, 4.5)) -> tuple[Any, Any]:
    """A matplotlib figure and its axes, drawn off screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size)


def save_figure(fig: Any, path: Path, dpi: int = 80, colours: int | None = None) -> Path:
    """Save a figure as PNG atomically and close it. ``colours``: write it with a palette of that many colours,
    undithered (about a quarter of the bytes), for figures whose pictures have few colours anyway."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    if colours is not None:
        from PIL import Image

        buf.seek(0)
        with Image.open(buf) as im:
            small = im.convert("RGB").quantize(colors=colours, method=Image.Quantize.FASTOCTREE,
                                               dither=Image.Dither.NONE)
        buf = io.BytesIO()
        small.save(buf, format="PNG", optimize=True)
    return atomic_write_bytes(Path(path), buf.getvalue())


def plot_curves(ax: Any, x: Sequence[float], curves: dict[str, Sequence[float]], xlabel: str, ylabel: str,
                title: str, log: bool = True) -> None:
    """Loss or error curves on one axis (log scale by default)."""
    for label, y in curves.items():
        (ax.semilogy if log else ax.plot)(x, y, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
