"""Train a comic style from one or a few exemplar images (``avatar train comic --exemplar IMG... --out DIR``).

Each step draws ``batch`` crops of ``crop`` pixels from the exemplars' training parts (left 75 %) with their
layouts (``data.layout`` on the exemplars' palette). Half of them get a random colour change (hue turned about the
grey axis, saturation and brightness scaled, contrast about the crop's mean colour reduced; applied to the crop,
its palette and its inks alike), so the generator learns to draw in the style whatever colours and contrast the
layout has: that is what keeps an avatar's skin tone when its albedo, a palette of close skin colours, is
stylised. The generator draws in inks (``model.ComicGenerator.ink``): the exemplar's k-means colours, changed with
the crop, plus ``distractors`` colours the crop does not use. Losses: hinge GAN (a conditional discriminator on
image and layout) plus ``low_weight`` x L1 between the 8 x 8 block means of the output and of the crop (colour and
tone follow the layout; the drawing is the discriminator's to judge), plus ``stats_weight`` x the distance between
random-feature statistics (Gram matrices of random filters, a random network's feature mean and covariance) of
the generated and the real crops, pooled over the batch, with random weights drawn from the training seed. A second
branch trains what tiles are made from: the generator draws crops of random periodic layouts
(``data.random_layout``, a bank of ``bank`` 256-pixel layouts redrawn every ``bank_every`` steps) and an
unconditional discriminator compares them with real crops, plus the same block-mean L1 to the random layout's
colour and the same statistics distance (with ``stats_tiles_only``, only there: the avatar branch then keeps the
layout's colours without the exemplar's mean texture pulling them). Adam, lr 2e-4, betas (0.5, 0.999), as in pix2pix.

Without ``--exemplar``, trains every shipped style from ``assets/comic/<style>.png`` into ``<out>/<style>``, each
with its own options (``SHIPPED_OPTIONS``) over the given config.
Seeds: training draws from ``cfg.seed``; evaluation draws from its own seed, never this one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.comic.data import LayoutStats, layout, load_exemplar, random_layout, split
from models.comic.metrics import RandomFeatures
from models.comic.model import ComicConfig, PatchDiscriminator
from models.comic.style import ComicStyle
from models.common.reports import figure, plot_curves, save_figure, write_json
from pipeline.core.comic_styles import user_styles_dir
from pipeline.core.files import atomic_write_bytes

SNAPSHOT_S = 300.0  # a copy of the weights after 5 minutes, for the evaluation's early row
EXEMPLARS_DIR = Path(__file__).resolve().parents[2] / "assets" / "comic"  # in a checkout


@dataclasses.dataclass
class TrainConfig:
    minutes: float = 25.0
    seed: int = 4242
    exemplars: tuple[str, ...] = ()  # image files; empty: every shipped style's exemplar
    name: str | None = None  # style name (default: the first exemplar's file stem)
    crop: int = 64
    batch: int = 8
    lr: float = 2e-4
    low_weight: float = 10.0
    stats_weight: float = 0.0  # weight of the random-feature statistics distance of generated vs real crops
    stats_tiles_only: bool = False  # that distance on the tile (random-layout) branch only, not the avatar one
    colour_jitter: float = 0.5  # fraction of crops with a random colour change
    contrast: tuple[float, float] = (0.15, 1.0)  # range of the colour change's contrast about the crop's mean
    distractors: int = 4  # inks added to each crop's palette that the crop does not use
    max_iterations: int = 1_000_000
    log_every: int = 50
    bank: int = 16
    bank_every: int = 200
    model: ComicConfig = dataclasses.field(default_factory=ComicConfig)


# what a shipped style was trained with beyond the defaults (each measured against the defaults on the same
# evaluation seed: the statistics loss helped halftone, 9 -> 11 of 15 bars, and not ink, 11 -> 10)
SHIPPED_OPTIONS: dict[str, dict] = {"halftone": {"stats_weight": 1.0, "stats_tiles_only": True}}


def shipped_exemplars() -> dict[str, Path]:
    """Style name -> exemplar image of the shipped styles (``assets/comic/*.png``)."""
    return {p.stem: p for p in sorted(EXEMPLARS_DIR.glob("*.png"))}


def _colour_matrix(rng: np.random.Generator) -> np.ndarray:
    """(3, 3) a random hue turn about the grey axis, saturation and brightness change (applied as x @ M.T)."""
    g = np.full((3, 3), 1.0 / 3.0)
    a = rng.uniform(-math.pi, math.pi)
    u = np.ones(3) / math.sqrt(3.0)
    cross = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    rot = math.cos(a) * np.eye(3) + math.sin(a) * cross + (1 - math.cos(a)) * np.outer(u, u)
    sat, gain = rng.uniform(0.6, 1.4), rng.uniform(0.75, 1.15)
    return gain * (g + sat * (rot - g))


def _contrast(turned: np.ndarray, centre: np.ndarray, contrast: float) -> np.ndarray:
    """(..., 3) colours already turned by a crop's colour matrix, with contrast scaled about ``centre`` and clipped
    to [0, 1]: the rest of the crop's colour change, for the crop and its palettes alike."""
    return np.clip(centre + contrast * (turned - centre), 0, 1)


def _with_distractors(inks: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(k + n, 3) ``inks`` and n colours the image does not use, each an ink made lighter or darker by 0.03-0.15
    (every channel alike) or moved 0.05-0.3 in a random direction: with them in the palette the generator must
    draw each pixel in the ink its layout asks for, not one a little lighter or darker (an avatar's palette holds
    close skin colours, and colours, palms or hair, that the skin must not take)."""
    if n <= 0:
        return inks
    d = rng.standard_normal((n, 3))
    d *= rng.uniform(0.05, 0.3, (n, 1)) / np.linalg.norm(d, axis=1, keepdims=True)
    grey = rng.random(n) < 0.5
    d[grey] = rng.choice([-1.0, 1.0], (grey.sum(), 1)) * rng.uniform(0.03, 0.15, (grey.sum(), 1)) * np.ones(3)
    return np.concatenate([inks, np.clip(inks[rng.integers(len(inks), size=n)] + d, 0, 1)]).astype(np.float32)


class _Crops:
    """Random crops of the training parts with their layouts and inks, as (B, 3, c, c), (B, 4, c, c) and (B, k, 3)
    tensors. Each layout is computed on the crop with a margin of context, on the exemplars' palette turned by the
    crop's colour change, so it is what the crop's own layout would be; the inks are turned alike."""

    MARGIN = 12

    def __init__(self, parts: list[np.ndarray], stats: LayoutStats, cfg: TrainConfig) -> None:
        self.parts, self.palette, self.inks, self.cfg = parts, stats.palette, stats.inks, cfg
        m = cfg.model
        self.layouts = [layout(p, self.palette, m.sigma, m.bands, periodic=False) for p in parts]  # unchanged colours
        for p in parts:
            if min(p.shape[:2]) < cfg.crop:
                raise ValueError(f"an exemplar's training part is {p.shape[1]} x {p.shape[0]} pixels, smaller "
                                 f"than the {cfg.crop}-pixel crops (use a larger image or a smaller crop)")

    def draw(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c, m, cfg = self.cfg.crop, self.MARGIN, self.cfg.model
        imgs, lays, inks = [], [], []
        for _ in range(self.cfg.batch):
            i = int(rng.integers(len(self.parts)))
            part = self.parts[i]
            h, w = part.shape[:2]
            y, x = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
            if rng.random() >= self.cfg.colour_jitter:
                imgs.append(part[y: y + c, x: x + c].transpose(2, 0, 1))
                lays.append(self.layouts[i][:, y: y + c, x: x + c])
                inks.append(self.inks)
                continue
            y0, x0 = max(0, y - m), max(0, x - m)
            mat = _colour_matrix(rng).astype(np.float32)
            turned = part[y0: min(h, y + c + m), x0: min(w, x + c + m)] @ mat.T
            centre, contrast = turned.reshape(-1, 3).mean(0), np.float32(rng.uniform(*self.cfg.contrast))
            big = _contrast(turned, centre, contrast)
            lay = layout(big, _contrast(self.palette @ mat.T, centre, contrast), cfg.sigma, cfg.bands,
                         periodic=False)
            imgs.append(big[y - y0: y - y0 + c, x - x0: x - x0 + c].transpose(2, 0, 1))
            lays.append(lay[:, y - y0: y - y0 + c, x - x0: x - x0 + c])
            inks.append(_contrast(self.inks @ mat.T, centre, contrast))
        inks = [_with_distractors(k, self.cfg.distractors, rng) for k in inks]
        return tuple(torch.from_numpy(np.stack(a).astype(np.float32)) for a in (imgs, lays, inks))


class _RandomLayouts:
    """A bank of random periodic layouts of the style (256 pixels, or the crop side if larger), redrawn every
    ``bank_every`` steps; ``draw`` takes random crops of them (wrapping around)."""

    def __init__(self, style: ComicStyle, cfg: TrainConfig, rng: np.random.Generator) -> None:
        self.style, self.cfg, self.size = style, cfg, max(256, cfg.crop) // 4 * 4
        self.layouts = self._fresh(rng)

    def _fresh(self, rng: np.random.Generator) -> np.ndarray:
        m = self.style.cfg
        return np.stack([random_layout(self.style.stats, self.size, rng, m.sigma, m.bands)
                         for _ in range(self.cfg.bank)])

    def draw(self, rng: np.random.Generator, step: int) -> torch.Tensor:
        if step and step % self.cfg.bank_every == 0:
            self.layouts = self._fresh(rng)
        c, n = self.cfg.crop, self.size
        out = []
        for _ in range(self.cfg.batch):
            lay = self.layouts[int(rng.integers(len(self.layouts)))]
            y, x = int(rng.integers(n)), int(rng.integers(n))
            out.append(np.roll(lay, (-y, -x), axis=(1, 2))[:, :c, :c])
        return torch.from_numpy(np.stack(out))


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train(out_dir: Path | None, cfg: TrainConfig | None = None, progress: bool = True) -> dict:
    """Train one style from ``cfg.exemplars`` into ``out_dir`` (default: the user styles folder / name), or with
    no exemplars every shipped style into ``out_dir/<style>``. Returns the training log (of the last style)."""
    cfg = cfg or TrainConfig()
    if not cfg.exemplars:
        if out_dir is None:
            raise ValueError("train comic: give --exemplar IMG (a new style) or --out DIR (the shipped styles)")
        log: dict = {}
        for name, path in shipped_exemplars().items():
            style_cfg = dataclasses.replace(cfg, exemplars=(str(path),), name=name, **SHIPPED_OPTIONS.get(name, {}))
            log = train(Path(out_dir) / name, style_cfg, progress)
        return {**log, "folder": str(out_dir)}
    name = cfg.name or Path(cfg.exemplars[0]).stem
    out = Path(out_dir) if out_dir is not None else user_styles_dir() / name
    return _train_style(out, name, cfg, progress)


def _train_style(out: Path, name: str, cfg: TrainConfig, progress: bool) -> dict:
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    images = [load_exemplar(Path(p)) for p in cfg.exemplars]
    parts = [split(img)[0] for img in images]
    m = cfg.model
    largest = max(parts, key=lambda p: p.shape[0] * p.shape[1])
    stats = LayoutStats.of(largest, m.sigma, spot_size=m.spot, k=m.palette, seed=cfg.seed)
    style = ComicStyle(dataclasses.replace(m, spot=int(stats.spot.shape[-1])), stats)
    g, d, d_free = style.generator, PatchDiscriminator(), PatchDiscriminator(conditional=False)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam([*d.parameters(), *d_free.parameters()], lr=cfg.lr, betas=(0.5, 0.999))
    bank = _RandomLayouts(style, cfg, rng)
    crops = _Crops(parts, stats, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    feats = RandomFeatures(cfg.seed) if cfg.stats_weight else None
    history: dict[str, list[float]] = {"iteration": [], "seconds": [], "d": [], "g_adv": [], "g_low": [],
                                       "d_free": [], "g_free": []}
    acc = np.zeros(5)
    t0, budget, it = time.perf_counter(), cfg.minutes * 60.0, 0
    bar = tqdm(total=int(budget), unit="s", desc=f"train comic {name}", disable=not progress, leave=False)
    shown, snapshot = 0, budget > SNAPSHOT_S
    while it < cfg.max_iterations and time.perf_counter() - t0 < budget:
        real, lay, inks = crops.draw(rng)
        rand_lay = bank.draw(rng, it)
        noise = style.noise(2 * cfg.batch, cfg.crop, cfg.crop, gen)
        free_inks = torch.from_numpy(np.stack([_with_distractors(stats.inks, cfg.distractors, rng)
                                               for _ in range(cfg.batch)]))
        both = g(torch.cat([lay, rand_lay]), torch.cat([inks, free_inks]), *noise)
        fake, free = both[: cfg.batch], both[cfg.batch:]
        loss_d = F.relu(1 - d(real, lay)).mean() + F.relu(1 + d(fake.detach(), lay)).mean()
        loss_free = F.relu(1 - d_free(real)).mean() + F.relu(1 + d_free(free.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        (loss_d + loss_free).backward()
        opt_d.step()
        adv, adv_free = -d(fake, lay).mean(), -d_free(free).mean()
        low = (F.avg_pool2d(fake, 8) - F.avg_pool2d(real, 8)).abs().mean()
        low_free = (F.avg_pool2d(free, 8) - F.avg_pool2d(rand_lay[:, :3], 8)).abs().mean()
        loss_g = adv + adv_free + cfg.low_weight * (low + low_free)
        if feats is not None:
            with torch.no_grad():
                ref = feats.batch_statistics(real)
            distance = feats.statistics_distance(free, ref)
            if not cfg.stats_tiles_only:
                distance = distance + feats.statistics_distance(fake, ref)
            loss_g = loss_g + cfg.stats_weight * distance
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        acc += (loss_d.item(), adv.item(), low.item(), loss_free.item(), adv_free.item())
        it += 1
        if snapshot and time.perf_counter() - t0 >= SNAPSHOT_S:
            style.save(out / "at_5min", name, {"iterations": it})
            snapshot = False
        if it % cfg.log_every == 0:
            elapsed = time.perf_counter() - t0
            for k, v in zip(("d", "g_adv", "g_low", "d_free", "g_free"), acc / cfg.log_every, strict=True):
                history[k].append(round(float(v), 5))
            history["iteration"].append(it)
            history["seconds"].append(round(elapsed, 1))
            acc[:] = 0
            bar.update(int(elapsed) - shown)
            shown = int(elapsed)
            bar.set_postfix(it=it, d=history["d"][-1], low=history["g_low"][-1])
    bar.close()
    seconds = time.perf_counter() - t0
    style.eval()
    extra = {"exemplars": [{"file": Path(p).name, "sha256": _sha256(Path(p))} for p in cfg.exemplars]}
    for p in map(Path, cfg.exemplars):  # a user's exemplar travels with the style, so it can be evaluated
        if p.resolve().parent != EXEMPLARS_DIR:
            atomic_write_bytes(out / "exemplars" / p.name, p.read_bytes())
    style.save(out, name, extra)
    log = {"style": name, "folder": str(out), "iterations": it, "seconds": round(seconds, 1),
           "threads": torch.get_num_threads(), "config": dataclasses.asdict(cfg), "history": history}
    write_json(out / "training_log.json", log)
    _training_figure(out, name, style, images, history)
    print(f"comic style {name!r}: {it} iterations in {seconds / 60:.1f} min -> {out}")
    return log


def _training_figure(out: Path, name: str, style: ComicStyle, images: list[np.ndarray], history: dict) -> None:
    """report_training.png: loss curves, an exemplar crop and tiles from three seeds."""
    fig, ax = figure(1, 5, size=(20, 4.2))
    if history["iteration"]:
        plot_curves(ax[0], history["iteration"], {k: history[k] for k in ("d", "d_free", "g_low")}, "iteration",
                    "loss", f"{name}: discriminators' hinge, colour L1", log=True)
    img = split(images[0])[0]
    ax[1].imshow(img[: min(256, img.shape[0]), : min(256, img.shape[1])])
    ax[1].set_title("exemplar (training part)")
    for j, seed in enumerate((1, 2, 3)):
        ax[2 + j].imshow(style.synth(256, seed))
        ax[2 + j].set_title(f"synthesised tile, seed {seed}")
    for a in ax[1:]:
        a.axis("off")
    save_figure(fig, out / "report_training.png", colours=256)

