"""The texture model's training data: a seeded procedural generator of skin maps in the template's UV layout.

For a request (tone, age, sex, hair colour, freckles) and a seed it paints, at 1024 x 1024:

- **albedo** (sRGB): per texel an epidermal melanin and a dermal blood fraction, turned into colour by the
  biophysical model (``skin_optics``, through a lookup table over both fractions). Regions change them around the
  request's values (multipliers in ``MELANIN``/``BLOOD``: sun-exposed face, neck, hands and forearms darker; inner
  arm lighter and less red; palms and soles with 0.3-0.35x melanin, so lighter on dark skin and nearly unchanged
  on light skin; knuckles, elbows and knees darker; cheeks, nose and forehead redder; lips with 4.5x blood;
  areolae and eyelids darker), then detail with statistics that follow the request:
  freckles (sun-exposed regions; count rises with ``freckles``; default from tone and age, ``default_freckles``),
  moles (about 30 per body, more toward age 35), age spots (solar lentigines on sun-exposed skin from age 45,
  density rising with age), visible veins (inner forearm, back of the hand, temples; stronger on light and older
  skin), pores (luminance grain, stronger on the nose, cheeks and forehead), a painted eyebrow band in the hair
  colour and, for adult men, a beard shadow of stubble.
- **normal detail** (tangent space, +X along u, +Y along v): pores (a 512-texel noise, so about 2 texels
  wide), and wrinkles that deepen with age at the forehead, the outer eye corners, the nasolabial folds and
  across the finger joints (``template`` guides).
- **roughness**: lips, nose and forehead shinier, palms and soles rougher, slightly rougher with age.

Its randomness is white noise at several resolutions drawn from the seed (``noise_for_seed``), upsampled
bilinearly where used; the texture network receives the same noise, never anything this generator computes.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from models.common.colour import linear_to_srgb
from models.texture import skin_optics
from models.texture.template import REGIONS, SIZE, template_maps
from pipeline.core.fields import HAIR_COLORS

# hair sRGB along eumelanin 0..1 (white-blond to black), the red and grey ends
_HAIR_ANCHORS = np.array([[232, 222, 200], [205, 170, 115], [140, 95, 55], [95, 62, 38], [52, 36, 26],
                          [22, 18, 16]], dtype=np.float64) / 255.0
_HAIR_RED = np.array([165, 70, 35]) / 255.0
_HAIR_GREY = np.array([185, 182, 178]) / 255.0

MELANIN = {"sun": 1.15, "inner_arm": 0.85, "palms": 0.3, "soles": 0.35, "knuckles": 1.5, "elbows_knees": 1.3,
           "areolae": 2.2, "eyelids": 1.35, "lips": 1.1, "nails": 0.15, "mouth": 0.2}
BLOOD = {"cheeks": 2.0, "nose": 1.6, "forehead": 1.4, "lips": 4.5, "ears": 1.5, "eyelids": 1.3,
         "elbows_knees": 1.2, "palms": 1.6, "soles": 1.4, "inner_arm": 0.8, "areolae": 1.6, "nails": 2.5,
         "mouth": 8.0}
ROUGHNESS = {"lips": 0.35, "nose": 0.38, "forehead": 0.42, "cheeks": 0.48, "palms": 0.62, "soles": 0.65,
             "nails": 0.25, "eyebrows": 0.7, "mouth": 0.2}
SPOT_OFF = 4.0  # a spot threshold the upsampled unit-variance noise next to never reaches
NOISE_SHAPES = {"n1024": (1, 1024), "n512": (3, 512), "n256": (2, 256), "n128": (2, 128), "n32": (2, 32)}
# The median ITA of a texture's skin texels (the tone a request names) lies below the ITA of its base melanin:
# sun-exposed skin, knuckles and stubble outweigh the lighter palms and inner arms, and ITA is not linear in the
# per-texel melanin and blood. The base is set that much lighter: TONE_OFFSETS[i, j] (degrees) is the generator's
# median skin ITA minus the request at ITA TONE_OFFSET_ITA[i] and age TONE_OFFSET_AGE[j], over both sexes and
# 4 seeds, measured without the offset by ``models.texture.evaluate.generator_tone_offsets``.
TONE_OFFSET_ITA = tuple(range(-60, 71, 10))
TONE_OFFSET_AGE = (2, 12, 20, 30, 50, 80)
TONE_OFFSETS = np.array([
    [-0.30, -0.29, -0.30, -0.33, -0.33, -0.20], [-0.31, -0.31, -0.35, -0.37, -0.37, -0.27],
    [-0.45, -0.43, -0.50, -0.57, -0.59, -0.35], [-0.40, -0.57, -0.45, -0.56, -0.53, -0.39],
    [-0.47, -0.43, -0.46, -0.57, -0.61, -0.42], [-0.50, -0.40, -0.58, -0.55, -0.58, -0.34],
    [-0.40, -0.39, -0.46, -0.58, -0.62, -0.36], [-0.41, -0.37, -0.44, -0.49, -0.51, -0.38],
    [-0.36, -0.39, -0.48, -0.48, -0.47, -0.30], [-0.34, -0.36, -0.36, -0.43, -0.39, -0.33],
    [-0.28, -0.30, -0.34, -0.31, -0.39, -0.25], [-0.25, -0.27, -0.28, -0.25, -0.34, -0.21],
    [-0.18, -0.18, -0.21, -0.22, -0.21, -0.18], [-0.12, -0.12, -0.13, -0.13, -0.15, -0.12]])
_LUT_MELANIN = (0.0, 0.9)
_LUT_LOG_BLOOD = (math.log(0.002), math.log(0.4))


@dataclasses.dataclass(frozen=True)
class SkinRequest:
    """What the texture depends on. ita: degrees; age: years; sex: 0 female - 1 male; hair: (eumelanin, red,
    grey) each 0-1; freckles: 0-1 (already resolved, see ``default_freckles``); seed: the avatar's seed."""

    ita: float
    age: float
    sex: float
    hair: tuple[float, float, float]
    freckles: float
    seed: int = 0


def default_freckles(ita: float, age: float) -> float:
    """Freckle amount when a request gives none: light tones and the young freckle most (0-1)."""
    return float(np.clip((ita - 30.0) / 40.0, 0.0, 1.0) * np.clip(1.0 - (age - 20.0) / 60.0, 0.25, 1.0) * 0.6)


def default_hair(ita: float, age: float) -> tuple[float, float, float]:
    """Hair colour when a request gives none: darker with darker skin, grey from 55 and white from 80."""
    eu = float(np.clip(0.55 + (30.0 - ita) / 100.0, 0.4, 1.0))
    grey = float(np.clip((age - 55.0) / 25.0, 0.0, 1.0))
    return eu, 0.0, grey


def hair_tuple(value: str | float | None, ita: float, age: float) -> tuple[float, float, float]:
    """A ``hair_color`` spec value (a name in ``HAIR_COLORS`` or an eumelanin 0-1) -> (eumelanin, red, grey)."""
    if value is None:
        return default_hair(ita, age)
    if isinstance(value, str):
        return HAIR_COLORS[value]
    return float(value), 0.0, 0.0


def hair_linear_rgb(hair: tuple[float, float, float]) -> np.ndarray:
    """(3,) linear RGB of hair (eyebrows, stubble)."""
    from pipeline.core.colour import srgb_to_linear

    eu, red, grey = hair
    t = np.clip(eu, 0, 1) * (len(_HAIR_ANCHORS) - 1)
    i = min(int(t), len(_HAIR_ANCHORS) - 2)
    c = _HAIR_ANCHORS[i] * (1 - (t - i)) + _HAIR_ANCHORS[i + 1] * (t - i)
    c = c * (1 - red) + _HAIR_RED * red
    c = c * (1 - grey) + _HAIR_GREY * grey
    return srgb_to_linear(c)


def tone_offset(ita: float, age: float) -> float:
    """The generator's median skin ITA minus its base ITA (degrees, ``TONE_OFFSETS`` interpolated bilinearly,
    held at the table's edges)."""
    a = np.clip(ita, TONE_OFFSET_ITA[0], TONE_OFFSET_ITA[-1])
    y = np.clip(age, TONE_OFFSET_AGE[0], TONE_OFFSET_AGE[-1])
    per_age = [np.interp(a, TONE_OFFSET_ITA, TONE_OFFSETS[:, j]) for j in range(len(TONE_OFFSET_AGE))]
    return float(np.interp(y, TONE_OFFSET_AGE, per_age))


def plain_melanin(req: SkinRequest) -> float:
    """The melanin volume fraction of the request's plain skin: that of the ITA which, with what the regions and
    the detail add (``tone_offset``), puts the median of the skin texels at the requested ITA."""
    return float(skin_optics.melanin_for_ita(req.ita - tone_offset(req.ita, req.age)))


def condition(req: SkinRequest) -> np.ndarray:
    """(15,) float32 the network's attribute inputs: ITA/50, melanin x 5, age/50, sex, hair (3), freckles, the
    hair's linear RGB (3), the plain skin's sRGB (3, the biophysical model at the default blood fraction: an
    encoding of ``ita`` and ``age``, like the melanin), a bias."""
    m = plain_melanin(req)
    tone = linear_to_srgb(torch.from_numpy(np.asarray(skin_optics.skin_linear_rgb(m, skin_optics.BLOOD_DEFAULT),
                                                      dtype=np.float32))).numpy()
    return np.array([req.ita / 50.0, m * 5.0, req.age / 50.0, req.sex, *req.hair, req.freckles,
                     *hair_linear_rgb(req.hair), *tone, 1.0], dtype=np.float32)


N_CONDITION = 15
HAIR_RGB = slice(8, 11)  # the hair's linear RGB among the condition's inputs
TONE = slice(11, 14)  # the plain skin's sRGB among the condition's inputs


@functools.lru_cache(maxsize=1)
def _island_share_32() -> torch.Tensor:
    """(1, 32, 32) each cell's share of the UV islands, summing to 1."""
    w = F.adaptive_avg_pool2d(template_tensors(SIZE)["inside"], 32)[0]
    return w / w.sum()


def noise_for_seed(seed: int) -> dict[str, torch.Tensor]:
    """The seeded white noise every texture of ``seed`` uses: name -> (C, N, N) float32. The 32-texel noise (the
    skin's slow melanin and blood variation) has zero mean over the UV islands, so that it moves no seed's tone."""
    g = torch.Generator().manual_seed(int(seed) * 7919 + 17)
    out = {k: torch.randn((c, n, n), generator=g) for k, (c, n) in NOISE_SHAPES.items()}
    n32 = out["n32"]
    out["n32"] = n32 - (n32 * _island_share_32()).sum(dim=(1, 2), keepdim=True)
    return out


def stack_noise(noises: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([n[k] for n in noises]) for k in NOISE_SHAPES}


def up(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (B, C, h, w) to size x size (the one upsampling both generator and network use)."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


@functools.lru_cache(maxsize=1)
def colour_lut() -> torch.Tensor:
    """(1, 3, 64, 256) linear sRGB of skin over melanin (x, 0-0.9) and log blood (y, 0.002-0.4)."""
    mel = np.linspace(*_LUT_MELANIN, 256)
    blood = np.exp(np.linspace(*_LUT_LOG_BLOOD, 64))
    rgb = skin_optics.skin_linear_rgb(mel[None, :], blood[:, None])  # (64, 256, 3)
    return torch.from_numpy(np.clip(rgb, 0.0, 1.0).transpose(2, 0, 1)[None].astype(np.float32))


def skin_colour(melanin: torch.Tensor, blood: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) fractions -> (B, 3, H, W) linear RGB through ``colour_lut``."""
    gx = (melanin - _LUT_MELANIN[0]) / (_LUT_MELANIN[1] - _LUT_MELANIN[0]) * 2 - 1
    gy = (torch.log(blood) - _LUT_LOG_BLOOD[0]) / (_LUT_LOG_BLOOD[1] - _LUT_LOG_BLOOD[0]) * 2 - 1
    grid = torch.cat([gx, gy], dim=1).permute(0, 2, 3, 1)
    lut = colour_lut().expand(melanin.shape[0], -1, -1, -1)
    return F.grid_sample(lut, grid, mode="bilinear", padding_mode="border", align_corners=True)


@functools.lru_cache(maxsize=2)
def template_tensors(size: int = SIZE) -> dict[str, torch.Tensor]:
    """The template's fixed maps as (1, C, S, S) tensors: regions, wrinkles, uv, inside."""
    t = template_maps(size)
    return {k: torch.from_numpy(np.ascontiguousarray(np.atleast_3d(v).transpose(2, 0, 1)))[None]
            for k, v in t.items()}


def _region(reg: torch.Tensor, name: str) -> torch.Tensor:
    i = REGIONS.index(name)
    return reg[:, i: i + 1]


def _col(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)[:, None, None, None]


@torch.no_grad()
def procedural_maps(reqs: list[SkinRequest], noise: dict[str, torch.Tensor],
                    spot_colours: bool = False) -> dict[str, torch.Tensor]:
    """The generator: requests and their noise -> ``albedo`` (B, 3, S, S) sRGB 0-1, ``normal`` (B, 2, S, S)
    tangent-space x, y in -1..1, ``roughness`` (B, 1, S, S) 0-1, at S = 1024, and ``thresholds`` (B, 3, S, S):
    the noise level above which freckles (n512), moles (n256) and age spots (n128) are drawn, ``SPOT_OFF``
    where that kind is not drawn; with ``spot_colours`` also ``spot_colours`` (B, 9, S/2, S/2): each kind's sRGB
    change (3) at full strength on the skin before any spot (before veins, pores, brows and beard), from the
    2 x 2 mean melanin and blood."""
    S = SIZE
    t = template_tensors(S)
    reg, wr = t["regions"], t["wrinkles"]
    ita = _col([r.ita for r in reqs])
    age = _col([r.age for r in reqs])
    sex = _col([r.sex for r in reqs])
    freck = _col([r.freckles for r in reqs])
    m0 = _col([plain_melanin(r) for r in reqs])
    hair = torch.from_numpy(np.stack([hair_linear_rgb(r.hair) for r in reqs]).astype(np.float32))[:, :, None, None]
    n1024, n512, n256, n128, n32 = (noise[k] for k in NOISE_SHAPES)

    def r(name: str) -> torch.Tensor:
        return _region(reg, name)

    sun_age = 1.0 + 0.5 * torch.clamp((age - 20.0) / 60.0, 0.0, 1.0)
    logm = torch.log(m0.clamp_min(1e-3)).expand(-1, 1, S, S).clone()
    for name, k in MELANIN.items():
        f = math.log(k) * (sun_age if name == "sun" else 1.0)
        logm = logm + r(name) * f
    logm = logm + 0.08 * up(n32[:, :1], S)
    logb = torch.full_like(logm, math.log(skin_optics.BLOOD_DEFAULT))
    for name, k in BLOOD.items():
        logb = logb + r(name) * math.log(k)
    logb = logb + 0.12 * up(n32[:, 1:2], S)
    # freckles (sun-exposed skin), moles (anywhere but lips, nails, palms, soles), age spots (sun-exposed, 45+)
    skin_only = (1 - r("lips")) * (1 - r("nails")) * (1 - r("mouth"))
    fr_region = torch.clamp(r("face") + 0.8 * r("sun"), 0, 1) * skin_only
    d = freck * fr_region
    thr_f, gate_f = 2.4 - 1.5 * d, torch.clamp(d / 0.05, 0, 1)
    freckle = torch.sigmoid((up(n512[:, :1], S) - thr_f) / 0.1) * gate_f
    mole_rate = torch.clamp(age / 35.0, 0, 1) * torch.clamp(1.6 - age / 70.0, 0.6, 1.0)
    thr_m = (2.45 - 0.35 * mole_rate).expand(-1, 1, S, S)
    gate_m = skin_only * (1 - r("palms")) * (1 - r("soles")) * torch.clamp(age / 3.0, 0, 1)
    mole = torch.sigmoid((up(n256[:, :1], S) - thr_m) / 0.06) * gate_m
    spot_age = torch.clamp((age - 45.0) / 35.0, 0, 1)
    thr_s = (2.7 - 1.1 * spot_age).expand(-1, 1, S, S)
    gate_s = r("sun") * skin_only * torch.clamp(spot_age / 0.05, 0, 1)
    spot = torch.sigmoid((up(n128[:, :1], S) - thr_s) / 0.1) * gate_s
    factors = (2.2, 4.0, 1.8)  # melanin x factor inside a freckle, a mole, an age spot
    base_melanin = torch.exp(logm).clamp(0.0, 0.9)
    logm = logm + freckle * math.log(factors[0]) + mole * math.log(factors[1]) + spot * math.log(factors[2])
    # each spot kind's threshold where it is drawn (gate above one half), SPOT_OFF elsewhere: training targets
    thresholds = torch.cat([torch.where(g > 0.5, th, SPOT_OFF) for th, g in
                            ((thr_f, gate_f), (thr_m, gate_m), (thr_s, gate_s))], dim=1)
    melanin = torch.exp(logm).clamp(0.0, 0.9)
    blood = torch.exp(logb).clamp(0.002, 0.4)
    lin = skin_colour(melanin, blood)
    # veins: thin lines where a coarse noise crosses zero, visible through light and older skin
    vis = r("veins") * torch.clamp((ita + 10.0) / 60.0, 0, 1) * (0.5 + 0.5 * torch.clamp((age - 20) / 60, 0, 1))
    ridge = torch.exp(-(up(n128[:, 1:2], S) / 0.12) ** 2)
    lin = lin * (1 - 0.2 * vis * ridge * _col([1.0, 0.55, 0.3]).view(1, 3, 1, 1))
    # pores: luminance grain
    pore_amp = 0.025 + 0.03 * torch.clamp(r("nose") + r("cheeks") + r("forehead"), 0, 1)
    lin = lin * (1 + pore_amp * n1024)
    # eyebrows and beard shadow in the hair colour
    brow = r("eyebrows") * torch.clamp(0.6 + 0.3 * up(n512[:, 1:2], S), 0, 1) * 0.92
    lin = lin + brow * (hair - lin)
    beard_s = sex * torch.clamp((age - 15.0) / 10.0, 0, 1) * 0.55
    stubble = torch.sigmoid((n1024 + 0.3) / 0.5)
    beard = r("beard") * beard_s * stubble
    lin = lin + beard * (hair * 0.6 - lin)
    albedo = linear_to_srgb(lin)
    # normal detail: height from pores and wrinkles, to tangent-space normals by finite differences
    amp = 1.5 * torch.cat([torch.clamp((age - 20) / 50, 0, 1), torch.clamp((age - 25) / 45, 0, 1) * 0.8,
                           torch.clamp((age - 30) / 40, 0, 1) * 0.8, 0.4 + 0.4 * torch.clamp(age / 70, 0, 1)], dim=1)
    mod = 0.7 + 0.3 * up(n128[:, :1], S).clamp(-1, 1)
    height = 0.35 * up(n512[:, 2:3], S) * (0.5 + r("face")) * skin_only + (wr * amp).sum(dim=1, keepdim=True) * mod
    hp = F.pad(height, (1, 1, 1, 1), mode="replicate")
    dx = (hp[..., 1:-1, 2:] - hp[..., 1:-1, :-2]) * 0.5
    dy = (hp[..., :-2, 1:-1] - hp[..., 2:, 1:-1]) * 0.5  # +v is up the image
    k = 0.35
    nrm = torch.cat([-k * dx, -k * dy, torch.ones_like(dx)], dim=1)
    nrm = nrm / nrm.norm(dim=1, keepdim=True)
    rough = torch.full_like(logm, 0.55) + 0.05 * torch.clamp((age - 30) / 50, 0, 1)
    for name, v in ROUGHNESS.items():
        rough = rough + r(name) * (v - rough)
    rough = rough + 0.1 * beard + 0.03 * n1024
    out = {"albedo": albedo, "normal": nrm[:, :2], "roughness": rough.clamp(0, 1), "thresholds": thresholds}
    if spot_colours:  # training targets, at 512 (the spot units' resolution), four more colour lookups
        m512, b512 = F.avg_pool2d(base_melanin, 2), F.avg_pool2d(blood, 2)
        plain = linear_to_srgb(skin_colour(m512, b512))
        out["spot_colours"] = torch.cat([linear_to_srgb(skin_colour((m512 * f).clamp(0.0, 0.9), b512)) - plain
                                         for f in factors], dim=1)
    return out


def random_request(rng: np.random.Generator, seed: int) -> SkinRequest:
    """A request drawn over the product's range: ITA -60..70, age 0.5-90, either sex, hair names or values,
    freckles given or defaulted."""
    ita = float(rng.uniform(-60, 70))
    age = float(np.exp(rng.uniform(np.log(1.0), np.log(90.0)))) if rng.random() < 0.3 else float(rng.uniform(15, 90))
    sex = float(rng.integers(0, 2)) if rng.random() < 0.9 else float(rng.uniform(0, 1))
    u = rng.random()
    if u < 0.5:
        hair = default_hair(ita, age)
    elif u < 0.85:
        hair = HAIR_COLORS[list(HAIR_COLORS)[int(rng.integers(0, len(HAIR_COLORS)))]]
    else:
        hair = (float(rng.uniform(0, 1)), 0.0, 0.0)
    freckles = default_freckles(ita, age) if rng.random() < 0.5 else float(rng.uniform(0, 1))
    return SkinRequest(ita=ita, age=age, sex=sex, hair=hair, freckles=freckles, seed=seed)
