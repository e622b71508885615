"""Judge the TextureDecoder on requests drawn from an evaluation seed (request seeds below ``TRAIN_SEED_BASE``,
which training never draws), beside its data generator and the flat stand-in (one skin colour, lips and nails
tinted: ``pipeline.core.skin_tone``), every row in the same run.

1. Data: the biophysical model's ITA range; its colour at the mean ITA of Han et al. 2006 (600 Korean adults,
   12 body sites) against their mean L*a*b*; its regional differences (forehead vs inner arm, cheek redness, palm
   vs back of the hand on dark skin) against published signs and sizes (``PUBLISHED``).
2. Tone: median ITA of the albedo's skin texels (inside UV islands, minus lips, eyebrows, nails, areolae, the
   mouth) against the request, and CIEDE2000 of the median skin colour to the biophysical model's.
3. Faithful to the generator on held-out requests (same noise): per-region mean colour dE2000; radially averaged
   power spectrum of the high-frequency albedo band per octave (top octave excluded); blob (freckles, moles,
   age spots: ``skimage.feature.blob_log`` on the darkness of the skin) counts and radii.
4. Diversity (same tone, different seeds) and determinism (same seed, same bytes).
5. Attributes: Spearman correlations of freckle count with ``freckles``, of age-spot density with age (brown
   blobs: darker and yellower than the skin around them, on sun-exposed skin with the face; the generator's own
   score printed beside), and of the forehead's wrinkle energy (normal map) with age, 100 requests each, plotted.
6. Seams: colour difference across paired UV seam edges after a Gaussian low-pass (sigma 2 texels).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import torch

from models.common.reports import figure, read_json, save_figure, write_json
from models.texture import skin_optics
from models.texture.data import (
    HAIR_COLORS,
    TONE_OFFSET_AGE,
    TONE_OFFSET_ITA,
    SkinRequest,
    default_freckles,
    default_hair,
    noise_for_seed,
    procedural_maps,
    random_request,
    stack_noise,
    tone_offset,
)
from models.texture.infer import network_output
from models.texture.model import NAME, TextureDecoder
from models.texture.template import REGIONS, region_texels, seam_pairs, template_maps
from pipeline.core.colour import REC709_LUMA
from pipeline.core.resources import weights_dir

DEFAULT_SEED = 20261202
# Published values the data is checked against (CIELAB, D65).
PUBLISHED = {
    # Han, Choi, Son, "Skin color of Koreans", Skin Research and Technology 12 (2006): 600 adults, 12 sites
    "han2006_mean_lab": (61.75, 9.56, 17.08),
    "han2006_forehead_L": 58.00, "han2006_medial_arm_L": 63.92,
    "han2006_cheek_a": 11.87, "han2006_medial_arm_a": 8.18,
    # Chardon, Cretois, Hourseau, "Skin colour typology and suntanning pathways", Int. J. Cosmet. Sci. 13 (1991):
    # ITA classes from very light (> 55) to dark (< -30); the product's range is -60 to 70
    "chardon1991_ita_span": (-60.0, 70.0),
}
EXCLUDED_FROM_SKIN = ("lips", "eyebrows", "nails", "areolae", "mouth")


def _lab(srgb_u8: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(srgb_u8, dtype=np.float64).reshape(-1, 1, 3) / 255.0).reshape(-1, 3)


def _de2000(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import colour

    return colour.delta_E(a, b, method="CIE 2000")


def skin_mask(size: int = 1024) -> np.ndarray:
    """(S, S) bool: skin texels for the tone metrics."""
    t = template_maps(size)
    reg = t["regions"]
    other = sum(reg[..., REGIONS.index(r)] for r in EXCLUDED_FROM_SKIN)
    return (t["inside"] > 0.5) & (other < 0.1)


def albedo_skin_ita(albedo: np.ndarray, stride: int = 3) -> float:
    """Median ITA (degrees) of an albedo's skin texels (every ``stride``-th row and column)."""
    m = skin_mask(albedo.shape[0])[::stride, ::stride]
    lab = _lab(albedo[::stride, ::stride][m])
    return float(np.median(skin_optics.ita_of_lab(lab)))


def _median_lab(albedo: np.ndarray, stride: int = 3) -> np.ndarray:
    m = skin_mask(albedo.shape[0])[::stride, ::stride]
    return np.median(_lab(albedo[::stride, ::stride][m]), axis=0)


def _u8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) sRGB 0-1 -> (B, S, S, 3) uint8."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _outputs(model: TextureDecoder, reqs: list[SkinRequest], chunk: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(network output, generator output), each (B, 6, 1024, 1024), for the same requests and noise."""
    nets, gens = [], []
    for i in range(0, len(reqs), chunk):
        part = reqs[i: i + chunk]
        nets.append(network_output(model, part))
        g = procedural_maps(part, stack_noise([noise_for_seed(r.seed) for r in part]))
        gens.append(torch.cat([g["albedo"], g["normal"], g["roughness"]], 1))
    return torch.cat(nets), torch.cat(gens)


def _eval_requests(seed: int, n: int, salt: int) -> list[SkinRequest]:
    rng = np.random.default_rng([seed, salt])
    seeds = rng.integers(0, 1_000_000, size=n)
    return [random_request(rng, int(s)) for s in seeds]


# ---------------------------------------------------------------------------------------------------- the data
def data_checks() -> dict:
    lo, hi = skin_optics.ita_range()
    han_ita = float(skin_optics.ita_of_lab(np.array(PUBLISHED["han2006_mean_lab"])))
    m = float(skin_optics.melanin_for_ita(han_ita))
    b0 = skin_optics.BLOOD_DEFAULT
    from models.texture.data import BLOOD, MELANIN

    base = skin_optics.skin_lab(m, b0)
    forehead = skin_optics.skin_lab(m * MELANIN["sun"], b0 * BLOOD["forehead"])
    inner_arm = skin_optics.skin_lab(m * MELANIN["inner_arm"], b0 * BLOOD["inner_arm"])
    cheek = skin_optics.skin_lab(m * MELANIN["sun"], b0 * BLOOD["cheeks"])
    dark = float(skin_optics.melanin_for_ita(-40.0))
    palm_dark = skin_optics.skin_lab(dark * MELANIN["palms"], b0 * BLOOD["palms"])
    back_dark = skin_optics.skin_lab(dark * MELANIN["sun"], b0)
    light = float(skin_optics.melanin_for_ita(55.0))
    palm_light = skin_optics.skin_lab(light * MELANIN["palms"], b0 * BLOOD["palms"])
    back_light = skin_optics.skin_lab(light * MELANIN["sun"], b0)
    pub = PUBLISHED
    return {
        "ita_range": [lo, hi], "covers_chardon_span": bool(lo <= pub["chardon1991_ita_span"][0]
                                                            and hi >= pub["chardon1991_ita_span"][1]),
        "han2006": {"ita": han_ita, "model_lab": base.round(2).tolist(), "published_lab": pub["han2006_mean_lab"],
                    "dE2000": float(_de2000(base, np.array(pub["han2006_mean_lab"])))},
        "forehead_minus_inner_arm_L": {"model": float(forehead[0] - inner_arm[0]),
                                       "published": pub["han2006_forehead_L"] - pub["han2006_medial_arm_L"]},
        "cheek_minus_inner_arm_a": {"model": float(cheek[1] - inner_arm[1]),
                                    "published": pub["han2006_cheek_a"] - pub["han2006_medial_arm_a"]},
        "palm_minus_back_of_hand_L": {"dark_ita_-40": float(palm_dark[0] - back_dark[0]),
                                      "light_ita_55": float(palm_light[0] - back_light[0]),
                                      "published_sign": "palms lighter, much more so on dark skin"},
        "inverse": f"ITA -> melanin at blood fraction {b0:.3f} by monotone interpolation "
                   "(skin_optics.melanin_for_ita); the texture's plain skin at ITA - tone_offset(ITA, age), so "
                   "that the skin texels' median is the request (data.TONE_OFFSETS)",
    }


# ---------------------------------------------------------------------------------------------------- the tone
def generator_tone_offsets(seeds: int = 2) -> np.ndarray:
    """(len(TONE_OFFSET_ITA), len(TONE_OFFSET_AGE)) the generator's median skin ITA (float sRGB, before 8-bit
    rounding) minus its base ITA (degrees), averaged over both sexes and ``seeds`` seeds each: the table
    ``data.TONE_OFFSETS`` (this holds whatever the table is, as each texture's base is request - offset)."""
    out = np.zeros((len(TONE_OFFSET_ITA), len(TONE_OFFSET_AGE)))
    for i, ita in enumerate(TONE_OFFSET_ITA):
        for j, age in enumerate(TONE_OFFSET_AGE):
            reqs = [SkinRequest(ita=float(ita), age=float(age), sex=float(sex), hair=default_hair(ita, age),
                                freckles=default_freckles(ita, age), seed=1000 * i + 100 * j + 10 * sex + k)
                    for sex in (0, 1) for k in range(seeds)]
            alb = procedural_maps(reqs, stack_noise([noise_for_seed(r.seed) for r in reqs]))["albedo"]
            base = ita - tone_offset(ita, age)
            out[i, j] = np.mean([albedo_skin_ita(a.permute(1, 2, 0).numpy() * 255.0) - base for a in alb])
    return out


def tone_checks(model: TextureDecoder, seed: int, n: int) -> dict:
    rng = np.random.default_rng([seed, 0x70E])
    itas = rng.uniform(-60.0, 70.0, n)
    errs, des, flat_errs = [], [], []
    from pipeline.core.resources import body_data_dir
    from pipeline.core.skin_tone import skin_albedo

    for k in range(0, n, 4):
        reqs = []
        for ita in itas[k: k + 4]:
            age = float(rng.uniform(1, 90))
            sex = float(rng.integers(0, 2))
            reqs.append(SkinRequest(ita=float(ita), age=age, sex=sex, hair=default_hair(float(ita), age),
                                    freckles=default_freckles(float(ita), age), seed=int(rng.integers(0, 1_000_000))))
        out = _u8(network_output(model, reqs)[:, :3])
        for r, alb in zip(reqs, out, strict=True):
            errs.append(albedo_skin_ita(alb) - r.ita)
            ref = skin_optics.skin_lab(skin_optics.melanin_for_ita(r.ita), skin_optics.BLOOD_DEFAULT)
            des.append(float(_de2000(_median_lab(alb), ref)))
            if len(flat_errs) < 40:
                flat_errs.append(albedo_skin_ita(skin_albedo(body_data_dir(), 1024, skin_ita=r.ita)) - r.ita)
    errs = np.abs(np.array(errs))
    return {"n": n, "ita_abs_error_p50": float(np.median(errs)), "ita_abs_error_p95": float(np.quantile(errs, 0.95)),
            "within_1deg": float(np.mean(errs <= 1.0)), "dE2000_mean": float(np.mean(des)),
            "flat_standin_within_1deg": float(np.mean(np.abs(flat_errs) <= 1.0)), "errors": errs.round(3).tolist()}


# ------------------------------------------------------------------------------------------------- faithfulness
def _region_means(alb: np.ndarray) -> dict[str, np.ndarray]:
    texels = region_texels(1024)
    out = {}
    for i, r in enumerate(REGIONS):
        m = texels[..., i]
        if m.sum() > 30:
            out[r] = _lab(alb[m]).mean(axis=0)
    return out


def highpass_luma(alb: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    y = alb.astype(np.float32) @ REC709_LUMA.astype(np.float32) / 255.0
    return y - gaussian_filter(y, sigma)


BODY_WINDOW = (slice(300, 556), slice(180, 436))  # a 256 x 256 window of torso skin in the UV layout
FACE_WINDOW = (slice(430, 622), slice(760, 952))  # cheeks and nose


OCTAVE_EDGES = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2)  # cycles per texel


def octave_power(patch: np.ndarray) -> np.ndarray:
    """Radially averaged power of a (N, N) patch in octaves of frequency: [1/64, 1/32), ..., [1/4, 1/2)."""
    n = patch.shape[0]
    p = np.abs(np.fft.fft2(patch * np.hanning(n)[:, None] * np.hanning(n)[None])) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    return np.array([p[(f >= a) & (f < b)].mean() for a, b in itertools.pairwise(OCTAVE_EDGES)])


def local_median(x: np.ndarray, where: np.ndarray, size: int, tile: int = 32) -> np.ndarray:
    """``scipy.ndimage.median_filter(x, size)`` (H, W) where ``where`` holds, computed only over tiles that hold
    some of it (each with the filter's margin, so the values there are the whole image's); 0 elsewhere."""
    from scipy.ndimage import median_filter

    out = np.zeros_like(x)
    m = size // 2
    h, w = x.shape
    for y in range(0, h, tile):
        for x0 in range(0, w, tile):
            if not where[y: y + tile, x0: x0 + tile].any():
                continue
            ya, xa = max(0, y - m), max(0, x0 - m)
            win = median_filter(x[ya: min(h, y + tile + m), xa: min(w, x0 + tile + m)], size=size)
            out[y: y + tile, x0: x0 + tile] = win[y - ya: y - ya + tile, x0 - xa: x0 - xa + tile]
    return out


def blobs(alb: np.ndarray, region: np.ndarray, min_sigma: float, max_sigma: float, threshold: float,
          yellower: bool = False) -> np.ndarray:
    """Radii (texels) of dark blobs (spots darker than the skin around them) inside ``region``; with ``yellower``
    only where the skin is also yellower (CIELAB b*) than around it: brown spots, not bluish veins."""
    from skimage.feature import blob_log

    lab = _lab(alb).reshape((*alb.shape[:2], 3))
    lum = lab[..., 0] / 100.0
    dark = np.clip(local_median(lum, region > 0, 15) - lum, 0, None) * region
    if yellower:
        dark *= lab[..., 2] > local_median(lab[..., 2], region > 0, 15)
    found = blob_log(dark, min_sigma=min_sigma, max_sigma=max_sigma, num_sigma=6, threshold=threshold)
    return found[:, 2] * np.sqrt(2) if len(found) else np.zeros(0)


def _zone(any_of: tuple[str, ...], none_of: tuple[str, ...]) -> np.ndarray:
    """(1024, 1024) 0/1 mask of island texels in any region of ``any_of`` (weight > 0.5) and in none of
    ``none_of`` (weight < 0.1)."""
    t = template_maps(1024)
    reg = t["regions"]
    keep = t["inside"] > 0.5
    keep &= np.logical_or.reduce([reg[..., REGIONS.index(n)] > 0.5 for n in any_of])
    for n in none_of:
        keep &= reg[..., REGIONS.index(n)] < 0.1
    return keep.astype(np.float64)


def _freckle_zone() -> np.ndarray:
    return _zone(("face",), ("lips", "eyebrows", "eyelids"))


def _sun_zone() -> np.ndarray:
    return _zone(("sun",), ("face",))


def _age_spot_zone() -> np.ndarray:
    """Sun-exposed skin, the face included, without lips, eyebrows, eyelids, beard and the veins' region."""
    return _zone(("sun", "face"), ("lips", "eyebrows", "eyelids", "beard", "veins"))


def _blob_stats(radii: list[np.ndarray]) -> dict:
    allr = np.concatenate(radii) if radii else np.zeros(0)
    return {"count_mean": float(np.mean([len(r) for r in radii])),
            "radius_p50": float(np.median(allr)) if allr.size else 0.0,
            "radius_p90": float(np.quantile(allr, 0.9)) if allr.size else 0.0}


def faithful_checks(model: TextureDecoder, seed: int, n: int) -> dict:
    reqs = _eval_requests(seed, n, 0xFA17)
    net, gen = _outputs(model, reqs)
    net_a, gen_a = _u8(net[:, :3]), _u8(gen[:, :3])
    des: dict[str, list[float]] = {}
    pw_net, pw_gen = [], []
    small_net, small_gen, large_net, large_gen = [], [], [], []
    fz, sz = _freckle_zone(), _sun_zone()
    for a, b in zip(net_a, gen_a, strict=True):
        ra, rb = _region_means(a), _region_means(b)
        for k in ra:
            des.setdefault(k, []).append(float(_de2000(ra[k], rb[k])))
        for w in (BODY_WINDOW, FACE_WINDOW):
            pw_net.append(octave_power(highpass_luma(a)[w]))
            pw_gen.append(octave_power(highpass_luma(b)[w]))
        small_net.append(blobs(a, fz, 0.7, 3.0, 0.02))
        small_gen.append(blobs(b, fz, 0.7, 3.0, 0.02))
        large_net.append(blobs(a, sz, 2.0, 6.0, 0.02))
        large_gen.append(blobs(b, sz, 2.0, 6.0, 0.02))
    ratio = np.mean(pw_net, axis=0) / np.mean(pw_gen, axis=0)
    return {
        "n": n, "region_dE2000": {k: float(np.mean(v)) for k, v in des.items()},
        "region_dE2000_max": float(max(np.mean(v) for v in des.values())),
        "octave_power_ratio": ratio.round(3).tolist(),
        "octaves_cycles_per_texel": ["1/64-1/32", "1/32-1/16", "1/16-1/8", "1/8-1/4", "1/4-1/2 (top, excluded)"],
        "octave_ratio_worst": float(np.max(np.abs(ratio[:-1] - 1))),
        "small_blobs": {"network": _blob_stats(small_net), "generator": _blob_stats(small_gen)},
        "large_blobs": {"network": _blob_stats(large_net), "generator": _blob_stats(large_gen)},
    }


# ------------------------------------------------------------------------------------------- diversity and seams
def diversity_checks(model: TextureDecoder, seed: int) -> dict:
    rng = np.random.default_rng([seed, 0xD17])
    out = {}
    for ita in (-40.0, 10.0, 50.0):
        reqs = [SkinRequest(ita=ita, age=40.0, sex=float(k % 2), hair=default_hair(ita, 40.0),
                            freckles=default_freckles(ita, 40.0), seed=int(s))
                for k, s in enumerate(rng.integers(0, 1_000_000, 6))]
        net, gen = _outputs(model, reqs)
        hn = [highpass_luma(a)[BODY_WINDOW] for a in _u8(net[:, :3])]
        hg = [highpass_luma(a)[BODY_WINDOW] for a in _u8(gen[:, :3])]

        def pairwise(h: list[np.ndarray]) -> float:
            return float(np.mean([np.sqrt(np.mean((h[i] - h[j]) ** 2)) for i in range(len(h))
                                  for j in range(i + 1, len(h))]))

        out[f"ita_{ita:g}"] = {"network": pairwise(hn), "generator": pairwise(hg),
                               "ratio": pairwise(hn) / pairwise(hg)}
    r = SkinRequest(ita=30.0, age=30.0, sex=0.0, hair=HAIR_COLORS["brown"], freckles=0.3, seed=77)
    a = network_output(model, [r]).numpy().tobytes()
    b = network_output(model, [r]).numpy().tobytes()
    out["same_seed_same_bytes"] = a == b
    return out


def seam_checks(model: TextureDecoder, seed: int, n: int = 6) -> dict:
    from scipy.ndimage import gaussian_filter, map_coordinates

    pa, pb = seam_pairs(1024)
    inside = template_maps(1024)["inside"] > 0.5

    def seam_error(img: np.ndarray) -> float:
        lab = _lab(img).reshape(1024, 1024, 3)
        blur = np.stack([gaussian_filter(lab[..., c], 2.0) for c in range(3)], -1)
        va = np.stack([map_coordinates(blur[..., c], [pa[:, 1], pa[:, 0]], order=1) for c in range(3)], -1)
        vb = np.stack([map_coordinates(blur[..., c], [pb[:, 1], pb[:, 0]], order=1) for c in range(3)], -1)
        return float(np.mean(np.linalg.norm(va - vb, axis=1)))

    reqs = _eval_requests(seed, n, 0x5EA)
    net, gen = _outputs(model, reqs)
    en = [seam_error(a) for a in _u8(net[:, :3])]
    eg = [seam_error(a) for a in _u8(gen[:, :3])]
    return {"n": n, "seam_points": len(pa), "network_dE76": float(np.mean(en)),
            "generator_dE76": float(np.mean(eg)), "ratio": float(np.mean(en) / np.mean(eg)),
            "inside_fraction": float(inside.mean())}


# ------------------------------------------------------------------------------------------------ attributes
def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def wrinkle_energy(normal_xy: np.ndarray, mask: np.ndarray, sigma: float = 2.0) -> float:
    """Mean squared tangent-space tilt over ``mask`` of a normal map's x, y (2, H, W) after a Gaussian low-pass
    of ``sigma`` texels: wrinkles (several texels wide) without the pore grain (about 2 texels)."""
    from scipy.ndimage import gaussian_filter

    return float(np.mean([np.mean(gaussian_filter(c, sigma)[mask] ** 2) for c in normal_xy]))


GENERATOR_AGE_REQUESTS = 24  # the generator's own age-spot score (a reference) on the first of the age requests


def attribute_checks(model: TextureDecoder, seed: int, n: int) -> dict:
    rng = np.random.default_rng([seed, 0xA77])
    fz = _freckle_zone()
    forehead = template_maps(1024)["regions"][..., REGIONS.index("forehead")] > 0.5
    fr = rng.uniform(0, 1, n)
    reqs = [SkinRequest(ita=50.0, age=25.0, sex=0.0, hair=HAIR_COLORS["red"], freckles=float(f),
                        seed=int(rng.integers(0, 1_000_000))) for f in fr]
    counts = []
    for i in range(0, n, 4):
        counts += [len(blobs(a, fz, 0.7, 3.0, 0.02)) for a in _u8(network_output(model, reqs[i: i + 4])[:, :3])]
    ages = rng.uniform(20, 90, n)
    reqs = [SkinRequest(ita=40.0, age=float(a), sex=float(k % 2), hair=default_hair(40.0, float(a)), freckles=0.0,
                        seed=int(rng.integers(0, 1_000_000))) for k, a in enumerate(ages)]
    # age spots: brown blobs (darker and yellower than around them) on sun-exposed skin with the face (these
    # requests have no freckles); darkness alone in the sun zone away from the face counts mostly veins and moles,
    # so that the generator's own maps followed age at only about 0.5 there. The generator's score is printed beside.
    az = _age_spot_zone()
    spots, gen_spots, wrinkles = [], [], []
    n_gen = min(n, GENERATOR_AGE_REQUESTS)

    def spot_density(maps: torch.Tensor) -> list[float]:
        return [len(blobs(a, az, 2.0, 6.0, 0.02, yellower=True)) / az.sum() * 1e4 for a in _u8(maps[:, :3])]

    for i in range(0, n, 4):
        if i < n_gen:
            out, gen = _outputs(model, reqs[i: min(i + 4, n_gen)])
            gen_spots += spot_density(gen)
            if i + 4 > n_gen:
                out = torch.cat([out, network_output(model, reqs[n_gen: i + 4])])
        else:
            out = network_output(model, reqs[i: i + 4])
        spots += spot_density(out)
        wrinkles += [wrinkle_energy(nxy, forehead) for nxy in out[:, 3:5].numpy()]
    return {"n": n, "freckles_vs_count": _spearman(fr, np.array(counts)),
            "age_vs_age_spots": _spearman(ages, np.array(spots)),
            "generator_age_vs_age_spots": _spearman(ages[:n_gen], np.array(gen_spots)), "generator_n": n_gen,
            "age_vs_forehead_wrinkle_energy": _spearman(ages, np.array(wrinkles)),
            "series": {"freckles": fr.round(3).tolist(), "freckle_count": counts, "age": ages.round(2).tolist(),
                       "age_spots_per_1e4_texels": np.round(spots, 3).tolist(),
                       "forehead_wrinkle_energy": np.round(wrinkles, 6).tolist()}}


# ------------------------------------------------------------------------------------------------------ speed
def speed(model: TextureDecoder, repeats: int = 5) -> dict:
    from models.texture.infer import skin_maps

    r = [SkinRequest(ita=30.0, age=40.0, sex=1.0, hair=HAIR_COLORS["brown"], freckles=0.2, seed=5)]
    skin_maps(model, r)
    net = []
    for _ in range(repeats):
        t = time.perf_counter()
        skin_maps(model, r)
        net.append(time.perf_counter() - t)
    gen = []
    for _ in range(2):
        t = time.perf_counter()
        procedural_maps(r, stack_noise([noise_for_seed(5)]))
        gen.append(time.perf_counter() - t)
    return {"threads": torch.get_num_threads(), "network_maps_uint8_ms": 1000 * float(np.median(net)),
            "generator_ms": 1000 * float(np.median(gen))}


# ----------------------------------------------------------------------------------------------------- report
def evaluate(weights: Path | None = None, seed: int | None = None, n: int | None = None) -> dict:
    seed = DEFAULT_SEED if seed is None else int(seed)
    n = 500 if n is None else int(n)
    model = TextureDecoder.load(weights)
    t0 = time.perf_counter()
    report = {"seed": seed, "data": data_checks(), "tone": tone_checks(model, seed, n),
              "faithful": faithful_checks(model, seed, max(4, min(24, n // 20))),
              "diversity": diversity_checks(model, seed), "seams": seam_checks(model, seed),
              "attributes": attribute_checks(model, seed, min(100, n)), "speed": speed(model)}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["acceptance"] = acceptance(report)
    return report


def acceptance(r: dict) -> dict:
    f = r["faithful"]

    def within(a: float, b: float, tol: float = 0.25) -> bool:
        return abs(a - b) <= tol * max(abs(b), 1e-9)

    blobs_ok = all(within(f[k]["network"][m], f[k]["generator"][m]) for k in ("small_blobs", "large_blobs")
                   for m in ("count_mean", "radius_p50", "radius_p90"))
    d = r["diversity"]
    return {
        "tone_95pct_within_1deg": r["tone"]["within_1deg"] >= 0.95,
        "tone_dE2000_mean_le_3": r["tone"]["dE2000_mean"] <= 3.0,
        "region_dE2000_le_2": f["region_dE2000_max"] <= 2.0,
        "spectrum_within_25pct": f["octave_ratio_worst"] <= 0.25,
        "blobs_within_25pct": blobs_ok,
        "diversity_at_least_half": all(v["ratio"] >= 0.5 for k, v in d.items() if k.startswith("ita_")),
        "same_seed_same_bytes": bool(d["same_seed_same_bytes"]),
        "spearman_ge_0.8": all(r["attributes"][k] >= 0.8 for k in ("freckles_vs_count", "age_vs_age_spots",
                                                                   "age_vs_forehead_wrinkle_energy")),
        "seams_le_1.5x": r["seams"]["ratio"] <= 1.5,
        "speed_le_150ms": r["speed"]["network_maps_uint8_ms"] <= 150.0,
    }


def print_report(r: dict) -> None:
    d, t, f = r["data"], r["tone"], r["faithful"]
    print(f"texture evaluation, seed {r['seed']} ({r['seconds']} s)")
    print(f"data: ITA range {d['ita_range'][0]:.1f}..{d['ita_range'][1]:.1f}; Han 2006 mean: model "
          f"{d['han2006']['model_lab']} vs {list(d['han2006']['published_lab'])} (dE2000 {d['han2006']['dE2000']:.2f})")
    for k in ("forehead_minus_inner_arm_L", "cheek_minus_inner_arm_a"):
        print(f"  {k}: model {d[k]['model']:+.2f}, published {d[k]['published']:+.2f}")
    p = d["palm_minus_back_of_hand_L"]
    print(f"  palm - back of hand L*: dark skin {p['dark_ita_-40']:+.1f}, light skin {p['light_ita_55']:+.1f}")
    print(f"tone ({t['n']} requests): |ITA error| p50 {t['ita_abs_error_p50']:.2f}, p95 {t['ita_abs_error_p95']:.2f}, "
          f"within 1 deg {100 * t['within_1deg']:.1f} % (flat stand-in {100 * t['flat_standin_within_1deg']:.0f} %);"
          f" dE2000 to the model {t['dE2000_mean']:.2f}")
    print(f"faithful ({f['n']} held out): worst region dE2000 {f['region_dE2000_max']:.2f}; octave power ratios "
          f"{f['octave_power_ratio']} (worst {f['octave_ratio_worst']:.2f}, top excluded)")
    for k in ("small_blobs", "large_blobs"):
        print(f"  {k}: network {f[k]['network']}, generator {f[k]['generator']}")
    dv = r["diversity"]
    print("diversity (network / generator pairwise HF distance): "
          + ", ".join(f"{k} {v['ratio']:.2f}" for k, v in dv.items() if k.startswith("ita_"))
          + f"; same seed same bytes: {dv['same_seed_same_bytes']}")
    a = r["attributes"]
    print(f"attributes (Spearman, {a['n']} each): freckles {a['freckles_vs_count']:.3f}, age spots "
          f"{a['age_vs_age_spots']:.3f} (generator {a['generator_age_vs_age_spots']:.3f} on the first "
          f"{a['generator_n']}), forehead wrinkles "
          f"{a['age_vs_forehead_wrinkle_energy']:.3f}")
    s = r["seams"]
    print(f"seams: network {s['network_dE76']:.3f}, generator {s['generator_dE76']:.3f}, ratio {s['ratio']:.2f}")
    sp = r["speed"]
    print(f"speed ({sp['threads']} threads): network maps {sp['network_maps_uint8_ms']:.0f} ms, generator "
          f"{sp['generator_ms']:.0f} ms")
    for k, v in r["acceptance"].items():
        print(f"  [{'x' if v else ' '}] {k}")


def plot(r: dict, training: dict, out: Path) -> Path:
    fig, ax = figure(2, 3, size=(16, 8.5))
    log = training.get("log", [])
    if log:
        ax[0, 0].semilogy([e["seconds"] / 60 for e in log], [e["loss"] for e in log])
        ax[0, 0].set(xlabel="minutes", ylabel="loss", title="training loss")
    ax[0, 1].hist(r["tone"]["errors"], bins=40)
    ax[0, 1].axvline(1.0, color="r")
    ax[0, 1].set(xlabel="|median skin ITA - request| (deg)", title="tone")
    ax[0, 2].plot(r["faithful"]["octave_power_ratio"], "o-")
    ax[0, 2].axhspan(0.75, 1.25, alpha=0.2)
    ax[0, 2].set(xlabel="octave (low -> high)", ylabel="network / generator power", title="high-frequency band")
    s = r["attributes"]["series"]
    ax[1, 0].scatter(s["freckles"], s["freckle_count"], s=8)
    ax[1, 0].set(xlabel="freckles", ylabel="blobs on the face", title="freckles")
    ax[1, 1].scatter(s["age"], s["age_spots_per_1e4_texels"], s=8)
    ax[1, 1].set(xlabel="age (years)", ylabel="spots / 1e4 sun-exposed texels", title="age spots")
    ax[1, 2].scatter(s["age"], s["forehead_wrinkle_energy"], s=8)
    ax[1, 2].set(xlabel="age (years)", ylabel="low-passed normal x,y energy", title="forehead wrinkles")
    return save_figure(fig, out)


def sample_grid(weights: Path | None, out: Path, seed: int = DEFAULT_SEED) -> Path:
    """Network albedo (top) and normal map (bottom) for tones, ages and sexes, face windows and a full layout."""
    from PIL import Image

    model = TextureDecoder.load(weights)
    rows = [(-45, 30, 1.0, "black"), (-10, 70, 0.0, "grey"), (20, 45, 1.0, "dark_brown"), (40, 8, 0.0, "brown"),
            (55, 25, 0.0, "red"), (65, 85, 1.0, "white")]
    reqs = [SkinRequest(ita=float(i), age=float(a), sex=s, hair=HAIR_COLORS[h],
                        freckles=default_freckles(float(i), float(a)) + (0.5 if h == "red" else 0.0), seed=seed + k)
            for k, (i, a, s, h) in enumerate(rows)]
    out_t = network_output(model, reqs)
    alb = _u8(out_t[:, :3])
    nrm = out_t[:, 3:5]
    nz = (1 - (nrm ** 2).sum(1, keepdim=True)).clamp_min(0).sqrt()
    nimg = _u8(torch.cat([nrm, nz], 1) * 0.5 + 0.5)
    tile = 256
    canvas = Image.new("RGB", (tile * len(reqs), tile * 3), "white")
    for k in range(len(reqs)):
        canvas.paste(Image.fromarray(alb[k]).resize((tile, tile), Image.LANCZOS), (k * tile, 0))
        canvas.paste(Image.fromarray(alb[k][300:750, 700:1000]).resize((tile, tile), Image.LANCZOS), (k * tile, tile))
        canvas.paste(Image.fromarray(nimg[k][300:750, 700:1000]).resize((tile, tile), Image.LANCZOS),
                     (k * tile, 2 * tile))
    canvas.save(out, quality=90)
    return out


def evaluate_and_report(weights: Path | None = None, seed: int | None = None, n: int | None = None,
                        out: Path | None = None) -> dict:
    """Evaluate (default: the shipped weights), print every number beside its baselines and, with ``out``, write
    report.json, report.png and samples.jpg there."""
    weights = Path(weights) if weights else weights_dir(NAME)
    report = evaluate(weights, seed=seed, n=n)
    print_report(report)
    if out is not None:
        out = Path(out)
        training = read_json(weights / "training_log.json") if (weights / "training_log.json").is_file() else {}
        write_json(out / "report.json", {**report, "training": {k: v for k, v in training.items() if k != "log"}})
        plot(report, training, out / "report.png")
        sample_grid(weights, out / "samples.jpg")
    return report

