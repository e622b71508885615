"""Skin base colour from ITA or Fitzpatrick type: the stand-in until the texture model exists.

ITA (individual typology angle, degrees) classes after Chardon et al. (1991): very light > 55, light 41-55,
intermediate 28-41, tan 10-28, brown -30-10, dark < -30. Each class anchor carries a representative sRGB skin
colour (rounded, from photographs of the classes); values between anchors are interpolated. A Fitzpatrick type
maps to the middle of the ITA class usually associated with it. Output is linear RGBA for glTF/pyrender.
"""

from __future__ import annotations

import numpy as np

_ITA_ANCHORS = np.array([70.0, 55.0, 41.0, 28.0, 10.0, -30.0, -60.0])
_SRGB = np.array([[246, 208, 186], [236, 188, 160], [219, 166, 132], [194, 139, 103],
                  [156, 104, 72], [104, 66, 44], [62, 40, 29]], dtype=np.float64) / 255.0
FITZPATRICK_ITA = {1: 62.0, 2: 48.0, 3: 34.5, 4: 19.0, 5: -10.0, 6: -45.0}
DEFAULT_ITA = 34.5


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB transfer function, inverse."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def base_color_for(skin_ita: float | None = None, fitzpatrick: int | None = None) -> tuple[float, float, float, float]:
    """Linear RGBA base colour for a skin tone given as ITA degrees or a Fitzpatrick type (or the default)."""
    ita = FITZPATRICK_ITA[int(fitzpatrick)] if fitzpatrick is not None else (
        DEFAULT_ITA if skin_ita is None else float(skin_ita))
    # np.interp needs increasing x: anchors run from light (high ITA) to dark
    srgb = np.array([np.interp(ita, _ITA_ANCHORS[::-1], _SRGB[::-1, k]) for k in range(3)])
    r, g, b = srgb_to_linear(srgb)
    return float(r), float(g), float(b), 1.0
