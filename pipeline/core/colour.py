"""Colour conversions (numpy only): sRGB (IEC 61966-2-1) <-> linear RGB <-> CIE XYZ (D65) <-> CIELAB (CIE 1976).

Inputs and outputs are float arrays with the channel last: sRGB and linear RGB in [0, 1], L* in [0, 100].
The formulas are the standard ones (sRGB primaries, D65 white 0.95047 / 1 / 1.08883); tests check them against
published reference values. A library (scikit-image, colour-science) would do the same, but the Blender add-on
bundles this module and neither of those wheels (with scipy) belongs in an extension.
"""

from __future__ import annotations

import numpy as np

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
REC709_LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 weights: luminance of linear RGB, luma of sRGB
_EPS = 216.0 / 24389.0
_KAPPA = 24389.0 / 27.0


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (the inverse transfer function)."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] -> sRGB-encoded values (clipped to [0, 1] first)."""
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def srgb_to_lab(c: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in [0, 1] -> (..., 3) CIELAB (L*, a*, b*), D65."""
    xyz = srgb_to_linear(c) @ _RGB_TO_XYZ.T / WHITE_D65
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16.0) / 116.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])],
                    axis=-1)


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """(..., 3) CIELAB (D65) -> (..., 3) linear RGB, not clipped (values outside [0, 1] are out of gamut)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f ** 3 > _EPS, f ** 3, (116.0 * f - 16.0) / _KAPPA)
    xyz[..., 1] = np.where(lab[..., 0] > _KAPPA * _EPS, fy ** 3, lab[..., 0] / _KAPPA)
    return xyz * WHITE_D65 @ _XYZ_TO_RGB.T


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """(..., 3) CIELAB (D65) -> (..., 3) sRGB in [0, 1] (out-of-gamut colours clipped)."""
    return linear_to_srgb(lab_to_linear(lab))


def ita_degrees(lab: np.ndarray) -> np.ndarray:
    """Individual typology angle of CIELAB colours: atan((L* - 50) / b*) in degrees (Chardon et al. 1991)."""
    lab = np.asarray(lab, dtype=np.float64)
    return np.degrees(np.arctan2(lab[..., 0] - 50.0, lab[..., 2]))
