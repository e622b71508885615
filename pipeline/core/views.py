"""Preview views shared by every renderer (pyrender offscreen, Blender's EEVEE and Cycles): background, camera
directions and the framing rule, so contact sheets mix images from either."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUND = (0.93, 0.93, 0.95, 1.0)


@dataclass(frozen=True)
class View:
    """An orthographic view. ``direction``: where the camera sits, seen from the body (Blender axes)."""

    name: str
    direction: tuple[float, float, float]


FRONT = View("front", (0.0, -1.0, 0.0))
SIDE = View("side", (1.0, 0.0, 0.0))

MIN_FRAME_M = 2.0  # one scale for every avatar up to 1.85 m


def frame_height(vertices: np.ndarray) -> float:
    """Metres shown from the bottom to the top of a preview of these (V, 3) vertices: 2 m, or 108 % of taller
    bodies."""
    return max(MIN_FRAME_M, float(np.ptp(vertices[:, 2])) * 1.08)


def frame_centre(vertices: np.ndarray, frame_h: float) -> float:
    """Height (Blender Z, metres) at the image centre: the soles 2 cm above the bottom edge."""
    return float(vertices[:, 2].min()) + frame_h / 2 - 0.02
