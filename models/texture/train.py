"""Train the TextureDecoder on maps painted by the procedural generator (``models.texture.data``).

Each round draws ``batch`` requests over the product's range and their seeds, paints their maps (the data,
never stored) and takes ``crops_per_batch`` optimiser steps on windows of them (``_crop_origin``: around texels of the
small regions, many on the head's UV island and on the hands and feet). The network sees the same seeded noise
the generator used, so the loss can be per texel: L1 on albedo (sRGB), normal x, y (x 2) and roughness, plus L1 on
the albedo's 4 x 4 block means (x 4, the tone), L1 on the normals' 4 x 4 block means (``normal_lowpass``: the
wrinkles, which the pores' grain hides texel by texel), and L1 and squared error on the error's high-frequency
band (the error minus its 5 x 5 mean, x 2 and ``hf_squared``: freckles, moles and pores; the squared part keeps
rare dark spots from being dropped, as L1's median alone does). Texels count more where they are rare but
visible: the albedo's texels by up to ``1 + detail_weight`` where the target has high-frequency detail (spots,
stubble, brow hairs), every channel by up to 6x in small regions (``region_weights``); texels outside UV islands
count x 0.1. The spot units' thresholds are also compared with the generator's (``threshold_loss``, x
``threshold_weight``, per unit ``threshold_units``): through a sharp threshold the texel loss has next to no
gradient away from a spot's edge, so rare spots (age spots on old skin) would be learned only slowly from the maps,
and without it the freckle unit's count stops following ``freckles``; ``spot_colour_loss`` (x
``spot_colour_weight``) compares the units' colour changes with the generator's. Each region's mean colour in
the window is compared too (``region_mean_loss``, x ``region_mean_weight``, every region alike but those named in
``region_boost``, x ``region_boost_factor``; those named in ``lab_regions`` also in CIELAB, x
``lab_region_weight``): texel losses let sparse dark patterns (brow hairs, knuckle creases)
fade towards the skin around them. ``band_power_loss`` (x ``band_power_weight``) compares the albedo luma's
high-frequency power per octave, as the evaluation's spectrum does, and ``ita_loss`` (x ``ita_weight``) the
skin texels' mean ITA, as its tone does. Training runs ``steps`` optimiser steps (the learning-rate schedule
follows them), or until ``minutes`` end if that comes first.

Fine-tuning on a studio's own textures (``--data DIR``): ``finetune`` reads ``DIR/<name>/albedo.png`` (sRGB),
optional ``normal.png`` (tangent space, OpenGL convention: +Y along +v) and ``roughness.png`` (grey), all in the
template's UV layout at 1024 x 1024, and ``DIR/<name>/request.json`` with ``age_years``, ``sex`` (0-1),
optional ``skin_ita`` (measured from the albedo when missing), ``hair_color``, ``freckles``. Without the noise a
scan was made with, the loss compares 8 x 8 block means (colour) and block standard deviations (detail strength)
instead of texels. It runs ``steps`` steps of one texture's window each (at a tenth of the learning rate), or until
``minutes`` end if that comes first.

Seeds: training draws request seeds from ``cfg.seed``; evaluation seeds (``evaluate``) are never drawn here.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.common.reports import write_json
from models.texture.data import (
    SPOT_OFF,
    SkinRequest,
    condition,
    hair_tuple,
    noise_for_seed,
    procedural_maps,
    random_request,
    stack_noise,
    template_tensors,
)
from models.texture.evaluate import OCTAVE_EDGES, skin_mask
from models.texture.model import GRID, TextureConfig, TextureDecoder, latent_for_seed, noise_input, spot_input
from models.texture.template import REGIONS, region_texels
from pipeline.core import colour

TRAIN_SEED_BASE = 1_000_000  # request seeds of training: TRAIN_SEED_BASE + k; evaluation uses seeds below it


@dataclasses.dataclass
class TrainConfig:
    minutes: float = 29.0  # wall-clock cap
    steps: int | None = 7000  # optimiser steps, in whole rounds (the schedule follows them) unless the minutes end
    seed: int = 1234
    batch: int = 4
    crops_per_batch: int = 16
    crop: int = 128  # window side at 512 texels (256 at 1024)
    lr: float = 3e-3
    lr_end: float = 1e-4
    max_rounds: int = 100_000
    data: str | None = None  # a folder of textures to fine-tune on (see the module docstring)
    detail_weight: float = 8.0  # extra albedo weight on texels of the target's high-frequency detail
    normal_lowpass: float = 4.0  # weight of the normals' 4 x 4 block means
    hf_squared: float = 2.0  # weight of the squared high-frequency error (x 10)
    threshold_weight: float = 0.1  # weight of the spot units' threshold error (L1, vs the generator's thresholds)
    threshold_units: tuple[float, ...] = (1.0, 1.0, 3.0)  # its weight per unit (freckles, moles, age spots)
    spot_colour_weight: float = 0.2  # weight of the spot units' colour error (L1 sRGB, where the kind is drawn);
    # without it the age-spot unit drew almost nothing (Spearman of age vs age spots 0.09-0.35)
    region_mean_weight: float = 6.0  # weight of each region's mean-colour error (L1 sRGB, regions alike)
    region_boost: tuple[str, ...] = ()  # regions whose mean-colour error counts region_boost_factor times
    region_boost_factor: float = 1.0
    region_lab: bool = False  # region means of CIELAB (as the evaluation takes them) instead of sRGB
    lab_regions: tuple[str, ...] = ()  # regions whose CIELAB mean is compared too (x lab_region_weight)
    lab_region_weight: float = 0.0
    focus_regions: tuple[str, ...] = ()  # regions given a window of their own every step, in turn (x focus_weight)
    focus_weight: float = 1.0
    free_hair: float = 0.0  # share of requests whose hair colour is drawn apart from their tone and age
    tone_weight: float = 4.0  # weight of the albedo's 4 x 4 block means (L1 sRGB: the tone)
    band_power_weight: float = 0.2  # weight of the luma's high-frequency power per octave (|log ratio|)
    ita_weight: float = 0.02  # weight of the skin texels' mean ITA error (degrees)
    ema: float = 0.998  # decay per step of a bias-corrected moving average of the weights, which is saved (0: off)
    model: TextureConfig = dataclasses.field(default_factory=TextureConfig)


def maps_target(maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """Generator output -> (B, 6, S, S) in the network's channel order."""
    return torch.cat([maps["albedo"], maps["normal"], maps["roughness"]], dim=1)


_WEIGHTS = torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0, 1.0])[None, :, None, None]


def texel_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, detail_weight: float = 0.0,
               normal_lowpass: float = 0.0, hf_squared: float = 0.0, tone_weight: float = 4.0) -> torch.Tensor:
    w = mask * 0.9 + 0.1
    wc = _WEIGHTS * w
    if detail_weight:
        a = target[:, :3]
        hp = (a - F.avg_pool2d(a, 5, stride=1, padding=2, count_include_pad=False)).abs().amax(1, keepdim=True)
        wa = w * (1.0 + detail_weight * (hp / 0.03).clamp(max=1.0))
        wc = torch.cat([wa.expand(-1, 3, -1, -1), w.expand(a.shape[0], 3, -1, -1)], 1) * _WEIGHTS
    l1 = ((pred - target).abs() * wc).mean()
    lp = (F.avg_pool2d(pred[:, :3], 4) - F.avg_pool2d(target[:, :3], 4)).abs() * F.avg_pool2d(w, 4)
    # the error's own high-frequency band: freckles, moles and pores are small in texel count, not in look
    d = pred - target
    hf = (d - F.avg_pool2d(d, 5, stride=1, padding=2, count_include_pad=False)).abs() * wc
    ln = (F.avg_pool2d(pred[:, 3:5], 4) - F.avg_pool2d(target[:, 3:5], 4)).abs() * F.avg_pool2d(w, 4)
    hf2 = (hf * hf / wc).mean() * 10.0  # hf carries the weights once: squared error x weights
    return l1 + tone_weight * lp.mean() + 2.0 * hf.mean() + normal_lowpass * ln.mean() + hf_squared * hf2


@functools.lru_cache(maxsize=4)
def _band_tools(n: int, sigma: float = 4.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For an n x n window: the high-pass of a Gaussian blur of sigma texels as a transfer function (n, n), the
    2-D Hann window (n, n) and each octave's frequency mask (5, n, n): [1/64, 1/32), ..., [1/4, 1/2) cycles per
    texel."""
    f = torch.fft.fftfreq(n)
    f = torch.hypot(f[:, None], f[None, :])
    highpass = 1.0 - torch.exp(-2.0 * (torch.pi * sigma * f) ** 2)
    h = torch.hann_window(n, periodic=False)
    bands = torch.stack([((f >= a) & (f < b)).float() for a, b in itertools.pairwise(OCTAVE_EDGES)])
    return highpass, h[:, None] * h[None, :], bands


def band_power_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over octaves of |log(network power / generator power)| of the albedo luma's high-frequency band
    (luma minus its Gaussian blur, sigma 4 texels, made in the frequency domain), radially averaged per octave
    over the Hann-windowed windows ``pred`` and ``target`` (B, C >= 3, n, n), summed over the batch: the
    evaluation's spectrum. Texel losses, whose best answer to noise the network cannot predict is the mean, leave
    the grain fainter than the data's."""
    highpass, hann, bands = _band_tools(pred.shape[-1])
    luma = torch.tensor(colour.REC709_LUMA, dtype=torch.float32)[None, :, None, None]

    def power(x: torch.Tensor) -> torch.Tensor:
        y = (x[:, :3] * luma).sum(1)
        hp = torch.fft.ifft2(torch.fft.fft2(y) * highpass).real
        p = torch.fft.fft2(hp * hann).abs().square().sum(0)  # (n, n)
        return (bands * p).sum(dim=(1, 2)) / bands.sum(dim=(1, 2))

    return (torch.log(power(pred) + 1e-12) - torch.log(power(target) + 1e-12)).abs().mean()


# scikit-image's matrix and Lab form (the evaluation's ``rgb2lab``), not ``pipeline.core.colour``'s more precise
# one: where b* is near 0 the two give ITAs up to 0.1 degrees apart
_XYZ_FROM_RGB = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                              [0.019334, 0.119193, 0.950227]])
_WHITE_D65 = torch.tensor(colour.WHITE_D65, dtype=torch.float32)


def lab_map(srgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, h, w) sRGB in [0, 1] -> (B, 3, h, w) CIELAB under D65 as ``skimage.color.rgb2lab`` makes it (the
    evaluation's colour conversion)."""
    c = srgb.clamp(1e-4, 1.0)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,bjhw->bihw", _XYZ_FROM_RGB, lin) / _WHITE_D65[None, :, None, None]
    f = torch.where(xyz > 0.008856, xyz.clamp_min(0.008856) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    return torch.stack([116.0 * f[:, 1] - 16.0, 500.0 * (f[:, 0] - f[:, 1]), 200.0 * (f[:, 1] - f[:, 2])], dim=1)


def ita_map(srgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, h, w) sRGB in [0, 1] -> (B, h, w) ITA degrees, atan2(L* - 50, b*) (``lab_map``'s CIELAB)."""
    lab = lab_map(srgb)
    return torch.rad2deg(torch.atan2(lab[:, 0] - 50.0, lab[:, 2]))


def ita_loss(pred: torch.Tensor, target: torch.Tensor, skin: torch.Tensor, least: float = 256.0) -> torch.Tensor:
    """|mean ITA of ``pred`` - mean ITA of ``target``| (degrees) over the skin texels ``skin`` (h, w, 0/1) of
    each window (B, C >= 3, h, w) with more than ``least`` of them, averaged over those windows. The
    evaluation's tone is the median ITA of the skin texels, which block means of sRGB follow only as far as the
    grain and the spots are alike."""
    n = skin.sum()
    if float(n) <= least:
        return pred.new_zeros(())
    mp = (ita_map(pred[:, :3]) * skin).sum(dim=(1, 2)) / n
    mt = (ita_map(target[:, :3]) * skin).sum(dim=(1, 2)) / n
    return (mp - mt).abs().mean()


def _drawn(thresholds: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights (B, U, n, n) where each spot kind is drawn (``thresholds`` at 512, below ``SPOT_OFF``) and the
    island weights ``mask`` (1, 1, 2n, 2n) brought to 512."""
    w = F.avg_pool2d(mask, 2)
    return (thresholds < SPOT_OFF - 1e-3).float() * w, w


def _unit_mean(err: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """(U,) mean of ``err`` (B, U, n, n) per unit, weighted by ``where``."""
    return (err * where).sum(dim=(0, 2, 3)) / where.sum(dim=(0, 2, 3)).clamp_min(1.0)


def threshold_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                   units: tuple[float, ...] | None = None) -> torch.Tensor:
    """L1 between the spot units' thresholds ``pred`` (B, U, n, n) at 512 and the generator's ``target``
    (B, U, 2n, 2n) at 1024 (2 x 2 means), weighted by ``mask`` (1, 1, 2n, 2n). Where the generator draws none of
    a unit's kind (``SPOT_OFF``) any threshold at or above it is right (the unit draws none either). Each unit's
    error is averaged apart where its kind is drawn and where it is not: age spots are drawn on a few per cent of
    the layout and only for old skin, so a mean over every texel would leave them without a signal, and a face
    without freckles must count as much as a freckled one. ``units`` weighs each unit's error (default: all 1)."""
    t = F.avg_pool2d(target, 2)
    on, w = _drawn(t, mask)
    per_unit = _unit_mean((pred - t).abs(), on) + _unit_mean((SPOT_OFF - pred).clamp_min(0.0), w - on)  # (U,)
    if units is not None:
        per_unit = per_unit * torch.tensor(units[:per_unit.shape[0]], dtype=per_unit.dtype)
    return per_unit.sum()


def spot_colour_loss(pred: torch.Tensor, target: torch.Tensor, thresholds: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
    """L1 between the spot units' sRGB colour changes ``pred`` (B, 3U, n, n) at 512 and the generator's
    ``target`` (B, 3U, n, n, also at 512), averaged per unit over the texels where the generator draws that kind
    (``thresholds`` (B, U, 2n, 2n) at 1024 below ``SPOT_OFF``), summed over units. The maps' loss sees a spot's
    colour only on the few texels above its threshold, so faint or grey spots would be learned slowly."""
    on, _ = _drawn(F.avg_pool2d(thresholds, 2), mask)
    b, u = on.shape[:2]
    err = (pred - target).abs().view(b, u, 3, *on.shape[2:]).sum(dim=2)
    return _unit_mean(err, on).sum()


def region_mean_loss(pred: torch.Tensor, target: torch.Tensor, masks: torch.Tensor, least: float = 16.0,
                     weights: torch.Tensor | None = None, lab: bool = False) -> torch.Tensor:
    """L1 (summed over sRGB channels) between the mean albedo of ``pred`` and ``target`` (B, C >= 3, h, w) over
    each region's texels ``masks`` (R, h, w, 0/1), averaged over the regions with more than ``least`` texels in
    the window, each region alike unless ``weights`` (R,) scales its error. Texel losses let a sparse dark pattern
    (brow hairs, knuckle creases) fade towards the skin around it, their median; the evaluation compares region
    means. With ``lab`` the means are of each texel's CIELAB (``lab_map``), divided by 30 (one L* is about 0.01
    in every sRGB channel), as the evaluation averages them: where a region is a texture of two colours (brow hairs
    on skin) the mean of L* and the L* of the mean sRGB differ by a few units."""
    if lab:
        pred, target = lab_map(pred[:, :3]) / 30.0, lab_map(target[:, :3]) / 30.0
    count = masks.sum(dim=(1, 2))  # (R,)
    keep = count > least
    if not bool(keep.any()):
        return pred.new_zeros(())
    m = masks[keep].flatten(1)  # (K, h * w)
    n = count[keep]
    mp = torch.einsum("bcn,kn->bck", pred[:, :3].flatten(2), m) / n
    mt = torch.einsum("bcn,kn->bck", target[:, :3].flatten(2), m) / n
    err = (mp - mt).abs().sum(dim=1)  # (B, K)
    if weights is not None:
        err = err * weights[keep]
    return err.mean()


def lab_region_loss(pred: torch.Tensor, target: torch.Tensor, masks: torch.Tensor,
                    least: float = 16.0) -> torch.Tensor:
    """``region_mean_loss`` in CIELAB / 30 for a few regions ``masks`` (R, h, w, 0/1), converting only the
    texels they cover: where a region is a texture of two colours (brow hairs, stubble on skin) the mean of each
    texel's L* (the evaluation's) and the L* of the mean sRGB differ by a few units, which the sRGB region loss
    does not see."""
    texels = masks.flatten(1).sum(dim=0) > 0  # (h * w,)
    if float(masks.sum()) <= least:
        return pred.new_zeros(())
    idx = torch.nonzero(texels).squeeze(1)
    b = pred.shape[0]

    def lab(x: torch.Tensor) -> torch.Tensor:
        return lab_map(x[:, :3].flatten(2)[:, :, idx].view(b, 3, -1, 1)).view(b, 3, 1, -1) / 30.0

    return region_mean_loss(lab(pred), lab(target), masks.flatten(1)[:, idx].view(masks.shape[0], 1, -1), least)


def region_loss_weights(boost: tuple[str, ...], factor: float, field: str = "region_boost") -> torch.Tensor:
    """(R,) weight of each region of ``REGIONS`` in ``region_mean_loss``: ``factor`` for those named in ``boost``,
    1 elsewhere. Unknown names raise ValueError naming the config ``field`` they came from."""
    unknown = sorted(set(boost) - set(REGIONS))
    if unknown:
        raise ValueError(f"{field}: unknown regions {unknown}; allowed: {', '.join(REGIONS)}")
    return torch.tensor([factor if r in boost else 1.0 for r in REGIONS])


def region_masks(size: int = 1024) -> torch.Tensor:
    """(R, S, S) float 0/1: each region's texels as the evaluation counts them (``region_texels``)."""
    return torch.from_numpy(np.ascontiguousarray(region_texels(size).transpose(2, 0, 1))).float()


def region_weights(size: int = 1024, reference: float = 0.02, most: float = 6.0) -> torch.Tensor:
    """(1, 1, S, S) loss weight per texel: small regions (eyebrows, mouth, lips, nails...) count up to ``most``
    times, as sqrt(reference / the region's share of the islands), so their colour is learned like a large one's."""
    t = template_tensors(size)
    reg, inside = t["regions"], t["inside"]
    share = (reg * inside).sum(dim=(2, 3)) / inside.sum()  # (1, R)
    k = (reference / share.clamp_min(1e-6)).sqrt().clamp(1.0, most)
    return (reg * k[:, :, None, None]).amax(dim=1, keepdim=True).clamp_min(1.0)


def inputs_for(reqs: list[SkinRequest], latent_dim: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
    cond = torch.from_numpy(np.stack([condition(r) for r in reqs]))
    lat = torch.from_numpy(np.stack([latent_for_seed(r.seed, latent_dim) for r in reqs]))
    return cond, lat, stack_noise([noise_for_seed(r.seed) for r in reqs])


@functools.lru_cache(maxsize=1)
def _small_region_texels(reference: float = 0.02) -> list[np.ndarray]:
    """For each region smaller than ``reference`` of the islands: (N, 2) rows and columns at 512 texels where it
    holds (> 0.5) inside the islands."""
    t = template_tensors(GRID)
    reg, inside = t["regions"][0], t["inside"][0, 0] > 0.5
    out = []
    for r in range(reg.shape[0]):
        where = (reg[r] > 0.5) & inside
        if 0 < where.sum() < reference * inside.sum():
            out.append(torch.nonzero(where).numpy())
    return out


def free_hair(rng: np.random.Generator, req: SkinRequest, share: float) -> SkinRequest:
    """``req`` with, at probability ``share``, a hair colour drawn apart from its tone and age: eumelanin uniform
    0-1, red at 15 %, grey uniform 0-1 at half. Half of the product's requests take the default hair, which darkens
    with the tone and greys with age; learned from such requests alone, a network reads grey brows off the age (blond
    brows of the old came out grey, grey ones of the young yellow)."""
    if share <= 0.0 or rng.random() >= share:
        return req
    eumelanin, red = float(rng.uniform(0, 1)), float(rng.random() < 0.15)
    grey = float(rng.uniform(0, 1)) if rng.random() < 0.5 else 0.0
    return dataclasses.replace(req, hair=(eumelanin, red, grey))


def focus_windows(names: tuple[str, ...], margin: int = 4, least: int = 16, smallest: int = 32
                  ) -> list[tuple[int, int, int]]:
    """(row, column, side) at 512 texels of a square window around each part (connected texels, more than
    ``least`` at 1024) of the regions ``names``, with ``margin`` texels about it and at least ``smallest`` on a side
    (the octave power loss needs 64 texels at 1024): a small region far from the face's crops (the mouth's inside
    is a few hundred texels at the top of the layout) is otherwise seen in a few percent of the crops. Unknown
    names raise ValueError naming ``focus_regions``."""
    from scipy import ndimage

    region_loss_weights(names, 2.0, "focus_regions")
    texels = region_texels(1024)
    out = []
    for name in names:
        parts, _ = ndimage.label(texels[..., REGIONS.index(name)])
        for i, (rows, cols) in enumerate(ndimage.find_objects(parts)):
            if (parts[rows, cols] == i + 1).sum() <= least:
                continue
            side = min(GRID, max(smallest, max(rows.stop - rows.start, cols.stop - cols.start) // 2 + 2 * margin + 1))
            cy, cx = (rows.start + rows.stop) // 4, (cols.start + cols.stop) // 4
            out.append((min(max(cy - side // 2, 0), GRID - side), min(max(cx - side // 2, 0), GRID - side), side))
    return out


def _crop_origin(rng: np.random.Generator, n: int) -> tuple[int, int]:
    """(row, column) of a crop's corner at 512 texels: 20 % around a texel of a small region (a region drawn
    first, each alike: the mouth, eyebrows and nails are a few hundred texels, anywhere on the layout), 30 % on
    the head island (right side of the layout, where the face's small regions are), 15 % on the hands and feet
    (bottom), the rest anywhere."""
    u = rng.random()
    if u < 0.2:
        texels = _small_region_texels()
        yx = texels[int(rng.integers(0, len(texels)))]
        y, x = yx[int(rng.integers(0, len(yx)))]
        lo_y, lo_x = max(0, y - n + 1), max(0, x - n + 1)
        return (int(rng.integers(lo_y, min(y, GRID - n) + 1)), int(rng.integers(lo_x, min(x, GRID - n) + 1)))
    if u < 0.5:
        return int(rng.integers(90, max(91, 400 - n + 1))), int(rng.integers(330, 512 - n + 1))
    if u < 0.65:
        return int(rng.integers(512 - n - 16, 512 - n + 1)), int(rng.integers(0, 512 - n + 1))
    return int(rng.integers(0, 512 - n + 1)), int(rng.integers(0, 512 - n + 1))


def train(out_dir: Path, cfg: TrainConfig | None = None, progress: bool = True) -> dict:
    """Train (or fine-tune with ``cfg.data``), save weights, config, training log and return the log."""
    cfg = cfg or TrainConfig()
    if cfg.data:
        return finetune(out_dir, cfg, progress)
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = TextureDecoder(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    inside = template_tensors()["inside"] * region_weights()
    use_lab = bool(cfg.lab_region_weight and cfg.lab_regions)
    all_masks = region_masks() if cfg.region_mean_weight or use_lab else None  # (R, 1024, 1024), 88 MB: once
    masks = all_masks if cfg.region_mean_weight else None
    reg_w = region_loss_weights(tuple(cfg.region_boost), cfg.region_boost_factor)
    # the named regions' masks (region_loss_weights checks the names)
    lab_masks = all_masks[region_loss_weights(tuple(cfg.lab_regions), 2.0, "lab_regions") > 1.5] if use_lab else None
    skin = torch.from_numpy(skin_mask(1024)).float() if cfg.ita_weight else None
    focus = focus_windows(tuple(cfg.focus_regions))
    params = list(model.parameters())
    # the last steps' weights averaged: the tone and the spots of one step's weights wander with its batch;
    # it starts at zero and is divided by 1 - ema^steps at the end, so a short training keeps none of the start
    ema = [torch.zeros_like(p) for p in params] if cfg.ema else None
    t0 = time.perf_counter()
    budget = cfg.minutes * 60.0
    log: list[dict] = []
    seed_counter = TRAIN_SEED_BASE + cfg.seed * 10_000
    bar = tqdm(total=int(budget), unit="s", disable=not progress, desc="texture")
    step = 0

    def progress_fraction() -> float:
        frac = (time.perf_counter() - t0) / budget
        return min(max(frac, step / cfg.steps) if cfg.steps else frac, 1.0)

    def crop_loss(b: dict, y0: int, x0: int, n: int) -> torch.Tensor:
        """Every loss on one round's maps ``b`` in the window of side ``n`` at (``y0``, ``x0``) of the 512 grid."""
        pred, units = model(b["cond"], b["lat"], b["noise"], crop=(y0, x0, n), grid_noise=b["grid"],
                            spot_noise=b["spot"], spot_outputs=True)
        k = model.cfg.spots  # the spot units (the grain units have no target of their own)
        units = units[:, :4 * k]
        thr = units[:, 0::4]
        sl = (slice(None), slice(None), slice(2 * y0, 2 * (y0 + n)), slice(2 * x0, 2 * (x0 + n)))
        loss = texel_loss(pred, b["target"][sl], inside[sl], cfg.detail_weight, cfg.normal_lowpass, cfg.hf_squared,
                          cfg.tone_weight)
        if skin is not None:
            loss = loss + cfg.ita_weight * ita_loss(pred, b["target"][sl], skin[sl[2], sl[3]])
        if cfg.band_power_weight:
            loss = loss + cfg.band_power_weight * band_power_loss(pred, b["target"][sl])
        if masks is not None:
            loss = loss + cfg.region_mean_weight * region_mean_loss(pred, b["target"][sl], masks[:, sl[2], sl[3]],
                                                                    weights=reg_w, lab=cfg.region_lab)
        if lab_masks is not None:
            loss = loss + cfg.lab_region_weight * lab_region_loss(pred, b["target"][sl], lab_masks[:, sl[2], sl[3]])
        if cfg.threshold_weight and k:
            loss = loss + cfg.threshold_weight * threshold_loss(thr, b["thresholds"][sl][:, :k], inside[sl],
                                                              cfg.threshold_units)
        if cfg.spot_colour_weight and k:
            col = units.view(units.shape[0], k, 4, n, n)[:, :, 1:].reshape(units.shape[0], 3 * k, n, n)
            colours = b["colours"][:, :3 * k, y0: y0 + n, x0: x0 + n]
            loss = loss + cfg.spot_colour_weight * spot_colour_loss(col, colours, b["thresholds"][sl][:, :k],
                                                                   inside[sl])
        return loss

    for rnd in range(cfg.max_rounds):
        if progress_fraction() >= 1.0:
            break
        reqs = [free_hair(rng, random_request(rng, seed_counter + k), cfg.free_hair) for k in range(cfg.batch)]
        seed_counter += cfg.batch
        cond, lat, noise = inputs_for(reqs, model.cfg.latent_dim)
        painted = procedural_maps(reqs, noise, spot_colours=cfg.spot_colour_weight > 0)
        # the noise inputs once per round, not once per crop
        b = {"cond": cond, "lat": lat, "noise": noise, "grid": noise_input(noise), "spot": spot_input(noise, model.cfg),
             "target": maps_target(painted), "thresholds": painted["thresholds"],
             "colours": painted.get("spot_colours")}
        losses = []
        for _ in range(cfg.crops_per_batch):
            frac = progress_fraction()
            for g in opt.param_groups:
                g["lr"] = cfg.lr_end + 0.5 * (cfg.lr - cfg.lr_end) * (1 + np.cos(np.pi * frac))
            loss = crop_loss(b, *_crop_origin(rng, cfg.crop), cfg.crop)
            if focus:
                loss = loss + cfg.focus_weight * crop_loss(b, *focus[step % len(focus)])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema, params, 1.0 - cfg.ema)
            losses.append(float(loss.detach()))
            step += 1
        log.append({"round": rnd, "step": step, "seconds": round(time.perf_counter() - t0, 1),
                    "loss": float(np.mean(losses)), "lr": opt.param_groups[0]["lr"]})
        bar.update(int(time.perf_counter() - t0) - bar.n)
        bar.set_postfix(loss=f"{np.mean(losses):.4f}")
    bar.close()
    if ema is not None and step:
        with torch.no_grad():
            for p, e in zip(params, ema, strict=True):
                p.copy_(e / (1.0 - cfg.ema ** step))
    out_dir = Path(out_dir)
    model.save(out_dir)
    summary = {"config": dataclasses.asdict(cfg), "rounds": len(log), "steps": step,
               "seconds": round(time.perf_counter() - t0, 1), "final_loss": log[-1]["loss"] if log else None,
               "threads": torch.get_num_threads(), "log": log}
    write_json(out_dir / "training_log.json", summary)
    return summary


def _read_folder(folder: Path) -> list[tuple[SkinRequest, torch.Tensor]]:
    """(request, (6, 1024, 1024) target) for each sub-folder of ``folder`` (format: module docstring)."""
    from PIL import Image

    from models.texture.evaluate import albedo_skin_ita

    out = []
    for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        meta = json.loads((sub / "request.json").read_text())
        alb = np.asarray(Image.open(sub / "albedo.png").convert("RGB"), dtype=np.float32) / 255.0
        if alb.shape != (1024, 1024, 3):
            raise ValueError(f"{sub / 'albedo.png'}: must be 1024 x 1024 in the template's UV layout")
        nrm = (np.asarray(Image.open(sub / "normal.png").convert("RGB"), dtype=np.float32)[..., :2] / 127.5 - 1.0
               if (sub / "normal.png").is_file() else np.zeros((1024, 1024, 2), np.float32))
        rough = (np.asarray(Image.open(sub / "roughness.png").convert("L"), dtype=np.float32)[..., None] / 255.0
                 if (sub / "roughness.png").is_file() else np.full((1024, 1024, 1), 0.55, np.float32))
        age = float(meta["age_years"])
        ita = float(meta["skin_ita"]) if "skin_ita" in meta else albedo_skin_ita((alb * 255).astype(np.uint8))
        from models.texture.data import default_freckles

        req = SkinRequest(ita=ita, age=age, sex=float(meta.get("sex", 0.5)),
                          hair=hair_tuple(meta.get("hair_color"), ita, age),
                          freckles=float(meta.get("freckles", default_freckles(ita, age))),
                          seed=int(meta.get("seed", 0)))
        out.append((req, torch.from_numpy(np.concatenate([alb, nrm, rough], axis=-1).transpose(2, 0, 1).copy())))
    if not out:
        raise ValueError(f"{folder}: no texture folders (each needs albedo.png and request.json)")
    return out


def statistics_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 of 8 x 8 block means and block standard deviations, inside UV islands."""
    w = F.avg_pool2d(mask, 8)

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = F.avg_pool2d(x, 8)
        return m, (F.avg_pool2d(x * x, 8) - m * m).clamp_min(1e-8).sqrt()

    pm, ps = stats(pred)
    tm, ts = stats(target)
    return (((pm - tm).abs() + (ps - ts).abs()) * _WEIGHTS * w).mean()


def finetune(out_dir: Path, cfg: TrainConfig, progress: bool = True, base: Path | None = None) -> dict:
    """Fine-tune the shipped (or ``base``) weights on ``cfg.data`` for ``cfg.steps`` steps (``cfg.max_rounds`` if
    None) or ``cfg.minutes``, whichever ends first."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    items = _read_folder(Path(cfg.data))
    model = TextureDecoder.load(base)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr * 0.1)
    inside = template_tensors()["inside"]
    t0 = time.perf_counter()
    log: list[dict] = []
    step, steps = 0, min(cfg.steps or cfg.max_rounds, cfg.max_rounds)
    with tqdm(total=steps, disable=not progress, desc="texture fine-tune") as bar:
        while time.perf_counter() - t0 < cfg.minutes * 60.0 and step < steps:
            req, target = items[int(rng.integers(0, len(items)))]
            cond, lat, noise = inputs_for([req], model.cfg.latent_dim)
            y0, x0 = _crop_origin(rng, cfg.crop)
            n = cfg.crop
            sl = (slice(None), slice(None), slice(2 * y0, 2 * (y0 + n)), slice(2 * x0, 2 * (x0 + n)))
            loss = statistics_loss(model(cond, lat, noise, crop=(y0, x0, n)), target[None][sl], inside[sl])
            opt.zero_grad()
            loss.backward()
            opt.step()
            log.append({"step": step, "loss": float(loss.detach())})
            step += 1
            bar.update(1)
    model.save(Path(out_dir))
    summary = {"config": dataclasses.asdict(cfg), "steps": step, "textures": len(items),
               "seconds": round(time.perf_counter() - t0, 1), "log": log}
    write_json(Path(out_dir) / "training_log.json", summary)
    return summary
