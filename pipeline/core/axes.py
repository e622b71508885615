"""Axis conventions. Internally Blender's: metres, Z up, -Y forward (the avatar faces -Y), +X its left.

Y-up consumers (glTF, OpenGL previews) convert with ``Z_UP_TO_Y_UP`` and nothing else.
"""

from __future__ import annotations

import numpy as np

# (x, y, z) Blender -> (x, z, -y) glTF / OpenGL: a -90 degree turn about X. The avatar then faces +Z.
Z_UP_TO_Y_UP = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def to_y_up(points: np.ndarray) -> np.ndarray:
    """(..., 3) Z-up points or directions -> Y-up."""
    return points @ Z_UP_TO_Y_UP[:3, :3].T
