"""A biophysical skin-colour model: melanin and haemoglobin -> spectral reflectance -> CIE XYZ (D65) -> sRGB.

Two-layer Kubelka-Munk model of skin, as in Doi and Tominaga, "Spectral estimation of human skin color using the
Kubelka-Munk theory" (SPIE 5008, 2003) and the layered skin of Donner and Jensen, "A spectral BSSRDF for shading
human skin" (EGSR 2006):

- **Epidermis**, thickness ``EPIDERMIS_CM``: absorption = melanin volume fraction x eumelanin absorption
  (mu_a = 6.6e11 lambda^-3.33 cm^-1, lambda in nm; Jacques 1998) + the rest x the baseline of bloodless tissue
  (mu_a = 0.244 + 85.3 exp(-(lambda - 154) / 66.2) cm^-1; Jacques 1998). Reduced scattering
  mu_s' = 66.7 (lambda / 500 nm)^-1.2 cm^-1 (Jacques 2013, "Optical properties of biological tissues: a review").
- **Dermis**, optically thick: absorption = blood volume fraction x whole blood (150 g/L haemoglobin, 64,500 g/mol,
  oxygen saturation ``SATURATION``; molar extinction of HbO2 and Hb from Prahl's compilation, see
  ``assets/spectra``) + the rest x the baseline; mu_s' = 43.6 (lambda / 500 nm)^-1.4 cm^-1 (Jacques 2013).
- Kubelka-Munk coefficients K = 2 mu_a, S = 0.75 mu_s'; the epidermis is a finite layer (R, T from the hyperbolic
  solution), the dermis the infinite-thickness reflectance R_inf; layers combine as R = R_e + T_e^2 R_d /
  (1 - R_e R_d). The result is the diffuse albedo (no surface reflection: that is the roughness map's job).

Spectra run 380-780 nm in 10 nm steps; XYZ uses the CIE 1931 2-degree observer and D65 from ``colour-science``.

Inverse used everywhere: a requested ITA (Chardon et al. 1991) fixes the melanin fraction at the default blood
fraction (``BLOOD_DEFAULT``) by monotone interpolation of a dense table (``melanin_for_ita``). Regions then change
melanin and blood multiplicatively around those values (``pipeline``'s regions and ``models.texture.data``); the
texture generator sets its plain skin a fraction of a degree lighter than the request (``data.tone_offset``, by ITA
and age), so that the median of its skin texels, regions and detail included, is the requested ITA.

What it can and cannot show: it reproduces the tone axis (melanin) and redness (blood) of skin and their
interplay, not carotene, bilirubin, the epidermis's thickness changes across the body, or the shine and
translucency of skin, which are other maps' and the shader's work.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

WAVELENGTHS = np.arange(380.0, 790.0, 10.0)
EPIDERMIS_CM = 0.006
SATURATION = 0.75
HAEMOGLOBIN_G_PER_L = 150.0
HAEMOGLOBIN_G_PER_MOL = 64500.0
BLOOD_DEFAULT = 0.02
MELANIN_RANGE = (0.0, 0.75)
_SPECTRA_FILE = "haemoglobin_molar_extinction.csv"
# a checkout's assets/spectra, or the installed wheel's models/spectra (the same files, see pyproject.toml)
_SPECTRA_DIRS = (Path(__file__).resolve().parents[2] / "assets" / "spectra",
                 Path(__file__).resolve().parents[1] / "spectra")


@functools.lru_cache(maxsize=1)
def _haemoglobin() -> tuple[np.ndarray, np.ndarray]:
    """(41,) molar extinction of HbO2 and Hb, cm^-1 / (mol/L), on ``WAVELENGTHS``."""
    path = next((d / _SPECTRA_FILE for d in _SPECTRA_DIRS if (d / _SPECTRA_FILE).is_file()), None)
    if path is None:
        raise FileNotFoundError(f"{_SPECTRA_FILE} not found in {', '.join(map(str, _SPECTRA_DIRS))}")
    table = np.loadtxt(path, delimiter=",", comments="#", skiprows=4)
    if not np.array_equal(table[:, 0], WAVELENGTHS):
        raise ValueError(f"{path}: wavelengths must be 380-780 nm in 10 nm steps")
    return table[:, 1], table[:, 2]


def absorption(melanin: np.ndarray, blood: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absorption coefficients (..., 41) in cm^-1 of epidermis and dermis for volume fractions (...,)."""
    wl = WAVELENGTHS
    base = 0.244 + 85.3 * np.exp(-(wl - 154.0) / 66.2)
    mel = 6.6e11 * wl ** -3.33
    oxy, deoxy = _haemoglobin()
    whole_blood = 2.303 * HAEMOGLOBIN_G_PER_L / HAEMOGLOBIN_G_PER_MOL * (SATURATION * oxy + (1 - SATURATION) * deoxy)
    m = np.asarray(melanin, dtype=np.float64)[..., None]
    b = np.asarray(blood, dtype=np.float64)[..., None]
    return m * mel + (1 - m) * base, b * whole_blood + (1 - b) * base


def reflectance(melanin: np.ndarray, blood: np.ndarray) -> np.ndarray:
    """Diffuse spectral reflectance (..., 41) in [0, 1] for melanin and blood volume fractions (...,)."""
    wl = WAVELENGTHS
    mua_e, mua_d = absorption(melanin, blood)
    s_e = 0.75 * 66.7 * (wl / 500.0) ** -1.2
    s_d = 0.75 * 43.6 * (wl / 500.0) ** -1.4
    k_d = 2.0 * mua_d
    r_d = 1.0 + k_d / s_d - np.sqrt((k_d / s_d) ** 2 + 2.0 * k_d / s_d)
    a = 1.0 + 2.0 * mua_e / s_e
    b = np.sqrt(a * a - 1.0)
    x = b * s_e * EPIDERMIS_CM
    den = a * np.sinh(x) + b * np.cosh(x)
    r_e, t_e = np.sinh(x) / den, b / den
    return r_e + t_e * t_e * r_d / (1.0 - r_e * r_d)


@functools.lru_cache(maxsize=1)
def _observer() -> tuple[np.ndarray, np.ndarray]:
    """(41, 3) CIE 1931 2-degree colour matching functions times D65, normalised so a white reflector has Y = 1;
    (3,) the D65 white point XYZ."""
    import colour

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    d65 = colour.SDS_ILLUMINANTS["D65"]
    xyz_bar = np.stack([np.interp(WAVELENGTHS, cmfs.wavelengths, cmfs.values[:, k]) for k in range(3)], axis=1)
    s = np.interp(WAVELENGTHS, d65.wavelengths, d65.values)
    w = xyz_bar * s[:, None]
    w /= w[:, 1].sum()
    return w, w.sum(axis=0)


def spectrum_to_xyz(r: np.ndarray) -> np.ndarray:
    """(..., 41) reflectance -> (..., 3) CIE XYZ under D65 (white Y = 1)."""
    return np.asarray(r) @ _observer()[0]


def xyz_to_lab(xyz: np.ndarray) -> np.ndarray:
    import colour

    return colour.XYZ_to_Lab(xyz, colour.xyY_to_xy(colour.XYZ_to_xyY(_observer()[1])))


def xyz_to_linear_srgb(xyz: np.ndarray) -> np.ndarray:
    import colour

    return colour.XYZ_to_RGB(xyz, "sRGB", apply_cctf_encoding=False)


def skin_lab(melanin: np.ndarray, blood: np.ndarray) -> np.ndarray:
    """(..., 3) CIELAB (D65) of skin with the given volume fractions."""
    return xyz_to_lab(spectrum_to_xyz(reflectance(melanin, blood)))


def skin_linear_rgb(melanin: np.ndarray, blood: np.ndarray) -> np.ndarray:
    """(..., 3) linear sRGB albedo of skin with the given volume fractions."""
    return xyz_to_linear_srgb(spectrum_to_xyz(reflectance(melanin, blood)))


def ita_of_lab(lab: np.ndarray) -> np.ndarray:
    """ITA degrees = atan2(L* - 50, b*) (Chardon et al. 1991)."""
    lab = np.asarray(lab)
    return np.degrees(np.arctan2(lab[..., 0] - 50.0, lab[..., 2]))


@functools.lru_cache(maxsize=1)
def _ita_table() -> tuple[np.ndarray, np.ndarray]:
    mel = np.linspace(*MELANIN_RANGE, 1501)
    ita = ita_of_lab(skin_lab(mel, np.full_like(mel, BLOOD_DEFAULT)))
    if np.any(np.diff(ita) >= 0):
        raise RuntimeError("ITA must fall monotonically with melanin in the skin model")
    return ita[::-1], mel[::-1]


def melanin_for_ita(ita: np.ndarray | float) -> np.ndarray:
    """The fixed inverse: epidermal melanin volume fraction whose skin (at ``BLOOD_DEFAULT``) has this ITA.

    ITA outside the model's range clips to its ends (see ``ita_range``)."""
    x, y = _ita_table()
    return np.interp(np.asarray(ita, dtype=np.float64), x, y)


def ita_range() -> tuple[float, float]:
    """(darkest, lightest) ITA degrees the model reaches over ``MELANIN_RANGE`` at the default blood fraction."""
    x, _ = _ita_table()
    return float(x[0]), float(x[-1])
