"""Judge a comic style against the held-out 25 % of its exemplar, beside the real-crop floor, trivial baselines
(noise, blur, patch shuffle) and two weight-free optimisers, every row in the same run
(``avatar evaluate comic --style NAME [--seed S]``).

Rows, each a 256 x 256 texture (or the held-out crop side when the exemplar is small): the GAN's tiles from seeds
drawn from the evaluation seed; the GAN as it was after 5 minutes of training (when its folder has that
snapshot); ``optimisers.gram_texture`` and ``optimisers.sliced_wasserstein_texture`` given ``optimiser_minutes``
of CPU time each, against the training part; noise with the training part's per-channel mean and deviation; the
training part blurred by the style's layout sigma; a training crop cut into 32-pixel patches and shuffled; and
real crops of the training part (as many as GAN tiles): what a perfect sampler of the style would score, the
reference for how far below the floor an optimiser of one statistic gets on that statistic.

Stylised avatars (``stylised_avatars``): tone, regions, flatness and palette of the style on avatars' albedos.

Seed diversity: pixel L1 among the GAN row's tiles against that among the held-out crops, and how that statistic
scatters from draw to draw for real training crops and for GAN tiles (``diversity_spread``).

Seams: at each size of ``seam_sizes``, the seam ratio pooled over 8 tiles beside the same statistic across their
middle lines (a control: no seam can be there), and each tile's own ratio.

Columns: seam ratio (``metrics.seam_ratio``), flat fraction (the held-out part's beside it), palette error to a k = 8
palette of the held-out part, random-filter Gram distance and random-network SIFID to each held-out crop
(metric filters from the evaluation seed), nearest training patch (at every pixel), and synthesis time. The floor
is the same statistic between disjoint held-out crops. Seeds: the GAN tiles and metrics draw from the evaluation
seed, the optimisers from ``seed + 1``; training never used either.
"""

from __future__ import annotations

import hashlib
import json
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from models.comic import optimisers
from models.comic.data import load_exemplar, split
from models.comic.metrics import (
    RandomFeatures,
    flat_fraction,
    nearest_patch,
    palette_error,
    pooled_seam_ratio,
    seam_ratio,
    wraps,
)
from models.comic.model import NAME
from models.comic.style import ComicStyle, available_styles, resolve_style
from models.common.reports import figure, save_figure, write_json
from pipeline.core.comic import gaussian_blur, kmeans_palette

DEFAULT_SEED = 20261204
SEAM_SIZES = (128, 256, 512, 1024)
SEAM_TILES = 8  # tiles per size for the pooled seam ratio


def exemplar_of(folder: Path) -> Path:
    """The exemplar image a style was trained on: a copy in its folder, or the shipped one of the same name, with
    the checksum its config records."""
    from models.comic.train import EXEMPLARS_DIR

    cfg = json.loads((folder / "config.json").read_text())
    rec = cfg["exemplars"][0]
    for p in (folder / "exemplars" / rec["file"], EXEMPLARS_DIR / rec["file"]):
        if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == rec["sha256"]:
            return p
    raise FileNotFoundError(f"the exemplar {rec['file']} of style {folder.name} (sha256 {rec['sha256'][:12]}...) "
                            f"is neither in {folder / 'exemplars'} nor in {EXEMPLARS_DIR}")


def held_out_crops(held: np.ndarray, side: int) -> list[np.ndarray]:
    """Disjoint (side, side) crops of the held-out part, top to bottom (then left to right)."""
    h, w = held.shape[:2]
    return [held[y: y + side, x: x + side] for x in range(0, w - side + 1, side) for y in range(0, h - side + 1, side)]


def _u(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64) / 255.0 if x.dtype == np.uint8 else np.asarray(x, dtype=np.float64)


def _row(feats: RandomFeatures, images: list[np.ndarray], crops: list[np.ndarray], palette: np.ndarray,
         train_part: np.ndarray, seconds: float | None = None) -> dict:
    """Statistics of a method's images against the held-out crops."""
    return {
        "seam_ratio": float(np.mean([seam_ratio(t) for t in images])),
        "flat_fraction": float(np.mean([flat_fraction(t) for t in images])),
        "palette_error": float(np.mean([palette_error(t, palette) for t in images])),
        "gram": float(np.mean([feats.gram(t, c) for t in images for c in crops])),
        "sifid": float(np.mean([feats.sifid(t, c) for t in images for c in crops])),
        "nearest_patch": float(np.mean([nearest_patch(t, train_part) for t in images])),
        "seconds_per_texture": seconds,
    }


def evaluate(style: str | Path, seed: int | None = None, n: int | None = None, optimiser_minutes: float = 5.0,
             seam_sizes: tuple[int, ...] = SEAM_SIZES, avatars: int = 6) -> dict:
    """Every row and the acceptance checks for one style (``n``: GAN tiles, default 4)."""
    seed = DEFAULT_SEED if seed is None else int(seed)
    n = 4 if n is None else max(2, int(n))
    folder = resolve_style(style)
    model = ComicStyle.load(folder)
    image = load_exemplar(exemplar_of(folder))
    train_part, held = split(image)
    side = int(min(256, held.shape[1], held.shape[0] // 2)) // 4 * 4
    crops = held_out_crops(held, side)
    palette = kmeans_palette(held, k=8, seed=seed)
    feats = RandomFeatures(seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()

    floor_pairs = list(combinations(range(len(crops)), 2))
    floor = {
        "flat_fraction": flat_fraction(held),
        "palette_error": float(np.mean([palette_error(c, palette) for c in crops])),
        "gram": float(np.mean([feats.gram(crops[i], crops[j]) for i, j in floor_pairs])),
        "sifid": float(np.mean([feats.sifid(crops[i], crops[j]) for i, j in floor_pairs])),
        "nearest_patch": float(np.mean([nearest_patch(c, train_part) for c in crops])),
        "pixel_l1": _pixel_l1(crops),
        "crops": len(crops), "side": side,
    }
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=n)]
    t = time.perf_counter()
    tiles = [_u(model.synth(side, s)) for s in seeds]
    gan_s = (time.perf_counter() - t) / n
    rows = {"gan": _row(feats, tiles, crops, palette, train_part, gan_s)}
    snap = folder / "at_5min"
    if (snap / f"{NAME}.safetensors").is_file():
        early = ComicStyle.load(snap)
        rows["gan_5min"] = _row(feats, [_u(early.synth(side, s)) for s in seeds], crops, palette, train_part)
    cpu_s = optimiser_minutes * 60.0
    for name, fn in (("gram_optimiser", optimisers.gram_texture),
                     ("sliced_wasserstein_optimiser", optimisers.sliced_wasserstein_texture)):
        tex, iters = fn(train_part, side, cpu_s, seed + 1)
        rows[name] = {**_row(feats, [tex], crops, palette, train_part, cpu_s), "iterations": iters}
    mean, std = train_part.reshape(-1, 3).mean(0), train_part.reshape(-1, 3).std(0)
    h, w = train_part.shape[:2]
    y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    tcrop = train_part[y: y + side, x: x + side]
    rows["noise"] = _row(feats, [np.clip(mean + std * rng.standard_normal((side, side, 3)), 0, 1)], crops, palette,
                         train_part)
    rows["blur"] = _row(feats, [gaussian_blur(tcrop, model.cfg.sigma, periodic=False)], crops, palette, train_part)
    rows["patch_shuffle"] = _row(feats, [_shuffled(tcrop, 32, rng)], crops, palette, train_part)
    # its own stream: the other rows' draws stay as they were
    real = _random_crops(train_part, side, n, np.random.default_rng([seed, 3]))
    rows["training_crops"] = _row(feats, real, crops, palette, train_part)

    seam_seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=SEAM_TILES)]
    seams, controls, single, wrap_all = {}, {}, {}, True
    for size in seam_sizes:
        sized = [_u(model.synth(size, s)) for s in seam_seeds]
        seams[str(size)] = pooled_seam_ratio(sized)
        controls[str(size)] = pooled_seam_ratio(sized, control=True)
        single[str(size)] = [round(seam_ratio(t), 3) for t in sized]
        wrap_all &= all(wraps(t) for t in sized)
    # the GAN row's tiles, the held-out crops' size
    diversity = _pixel_l1(tiles)
    spread = diversity_spread(model, train_part, side, n, floor["pixel_l1"], seed)
    same = bool(np.array_equal(model.synth(side, seeds[0]), model.synth(side, seeds[0])))
    speed = _speed(model)
    stylised = stylised_avatars(model, seed, avatars) if avatars else None
    report = {"style": folder.name, "seed": seed, "floor": floor, "rows": rows, "seam_ratio_by_size": seams,
              "seam_control_by_size": controls, "seam_ratio_single_tiles": single, "wraps_all_sizes": wrap_all,
              "diversity_pixel_l1": diversity, "diversity_spread": spread, "same_seed_same_bytes": same,
              "speed": speed,
              "stylised_avatars": stylised, "optimiser_cpu_minutes": optimiser_minutes,
              "seconds": round(time.perf_counter() - t0, 1), "threads": torch.get_num_threads()}
    report["acceptance"] = acceptance(report)
    return report


SPREAD_DRAWS, SPREAD_TILES = 200, 48


def _random_crops(image: np.ndarray, side: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` (side, side, 3) crops of an (H, W, 3) image at places drawn from ``rng`` (the n rows, then the n
    columns)."""
    h, w = image.shape[:2]
    ys, xs = rng.integers(h - side + 1, size=n), rng.integers(w - side + 1, size=n)
    return [image[y: y + side, x: x + side] for y, x in zip(ys, xs, strict=True)]


def _pixel_l1(images: list[np.ndarray]) -> float:
    """Mean absolute difference (sRGB units) over the pairs of equally sized (H, W, 3) images."""
    return float(np.mean([np.abs(images[i] - images[j]).mean() for i, j in combinations(range(len(images)), 2)]))


def diversity_spread(model: ComicStyle, train_part: np.ndarray, side: int, n: int, floor: float, seed: int) -> dict:
    """How the seed-diversity statistic (pixel L1 among ``n`` images) scatters from draw to draw: over
    ``SPREAD_DRAWS`` draws of ``n`` real crops of the training part (what a perfect sampler of the style gives) and
    of ``n`` of ``SPREAD_TILES`` GAN tiles, its mean, deviation and the share of draws at or above the held-out
    crops' value ``floor``. Its own random stream, so the other rows' draws stay as they were."""
    rng = np.random.default_rng([seed, 4])
    real = [_pixel_l1(_random_crops(train_part, side, n, rng)) for _ in range(SPREAD_DRAWS)]
    tiles = [_u(model.synth(side, int(s))) for s in rng.integers(0, 2**31 - 1, size=SPREAD_TILES)]
    gan = [_pixel_l1([tiles[i] for i in rng.choice(SPREAD_TILES, n, replace=False)]) for _ in range(SPREAD_DRAWS)]
    out: dict = {"draws": SPREAD_DRAWS, "n": n}
    for name, v in (("training_crops", np.array(real)), ("gan", np.array(gan))):
        out[name] = {"mean": float(v.mean()), "sd": float(v.std()), "share_ge_floor": float(np.mean(v >= floor))}
    return out


AVATAR_REGIONS = ("lips", "eyebrows", "nails")


def stylised_avatars(model: ComicStyle, seed: int, n: int = 6) -> dict:
    """The style on ``n`` avatars' albedos (the shipped TextureDecoder at 1024, requests over the product's range
    from the evaluation seed): skin tone (ITA of the skin texels) against the realistic albedo's; for lips,
    eyebrows and nails, their colour offset from the skin (CIELAB mean minus the skin's median) before and after,
    kept when it points the same way (cosine >= 0.7) with at least half its length; flat fraction on the skin
    against the exemplar's; palette error of each albedo to its own k = 8 palette (the comic one flatter)."""
    from models.texture.data import random_request
    from models.texture.evaluate import _lab, albedo_skin_ita, skin_mask
    from models.texture.infer import skin_maps
    from models.texture.model import TextureDecoder
    from models.texture.template import REGIONS, own_colour_masks, template_maps

    texture = TextureDecoder.load()
    rng = np.random.default_rng([seed, 7])
    reqs = [random_request(rng, int(s)) for s in rng.integers(0, 1_000_000, size=n)]
    t = template_maps(1024)
    skin = skin_mask(1024)
    masks = {r: (t["regions"][..., REGIONS.index(r)] > 0.5) & (t["inside"] > 0.5) for r in AVATAR_REGIONS}
    rows = []
    for req, maps in zip(reqs, skin_maps(texture, reqs, 1024), strict=True):
        real = maps.albedo
        comic = model.stylise(real, seed=req.seed, keep=own_colour_masks(1024))
        lab_r, lab_c = _lab(real).reshape(1024, 1024, 3), _lab(comic).reshape(1024, 1024, 3)
        row = {"ita_request": round(req.ita, 1), "ita_realistic": albedo_skin_ita(real),
               "ita_comic": albedo_skin_ita(comic)}
        for name, m in masks.items():
            dr = lab_r[m].mean(0) - np.median(lab_r[skin], 0)
            dc = lab_c[m].mean(0) - np.median(lab_c[skin], 0)
            cos = float(dr @ dc / max(np.linalg.norm(dr) * np.linalg.norm(dc), 1e-9))
            row[name] = {"offset_realistic": float(np.linalg.norm(dr)), "offset_comic": float(np.linalg.norm(dc)),
                         "cosine": cos, "kept": bool(cos >= 0.7 and np.linalg.norm(dc) >= 0.5 * np.linalg.norm(dr))}
        inside = t["inside"] > 0.5
        row["flat_fraction_skin"] = flat_fraction(comic / 255.0, mask=skin)
        row["palette_error_comic"] = palette_error((comic / 255.0)[inside][::7],
                                                   kmeans_palette(comic / 255.0, k=8, seed=seed))
        row["palette_error_realistic"] = palette_error((real / 255.0)[inside][::7],
                                                       kmeans_palette(real / 255.0, k=8, seed=seed))
        rows.append(row)
    ita = [abs(r["ita_comic"] - r["ita_realistic"]) for r in rows]
    return {"n": n, "rows": rows, "ita_abs_diff_max": float(max(ita)),
            "regions_kept": all(r[name]["kept"] for r in rows for name in AVATAR_REGIONS),
            "flat_fraction_skin_mean": float(np.mean([r["flat_fraction_skin"] for r in rows])),
            "flatter_palette": all(r["palette_error_comic"] <= r["palette_error_realistic"] for r in rows)}


def _shuffled(img: np.ndarray, p: int, rng: np.random.Generator) -> np.ndarray:
    s = img.shape[0] // p * p
    blocks = img[:s, :s].reshape(s // p, p, s // p, p, 3).transpose(0, 2, 1, 3, 4).reshape(-1, p, p, 3)
    blocks = blocks[rng.permutation(len(blocks))]
    return blocks.reshape(s // p, s // p, p, p, 3).transpose(0, 2, 1, 3, 4).reshape(s, s, 3)


def _speed(model: ComicStyle, size: int = 512, repeats: int = 3) -> dict:
    model.synth(size, 0)
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        model.synth(size, r + 1)
        times.append(time.perf_counter() - t)
    return {"tile": size, "seconds_median": float(np.median(times)), "threads": torch.get_num_threads()}


def acceptance(r: dict) -> dict:
    g, f, rows = r["rows"]["gan"], r["floor"], r["rows"]
    optimisers_ = [rows["gram_optimiser"], rows["sliced_wasserstein_optimiser"]]
    return {
        "seam_ratio_le_1.1_all_sizes": max(r["seam_ratio_by_size"].values()) <= 1.1,
        "flat_fraction_within_0.1": abs(g["flat_fraction"] - f["flat_fraction"]) <= 0.1,
        "palette_error_le_2x_floor": g["palette_error"] <= 2.0 * f["palette_error"],
        "gram_le_1.5x_floor": g["gram"] <= 1.5 * f["gram"],
        "sifid_le_1.5x_floor": g["sifid"] <= 1.5 * f["sifid"],
        "gram_and_sifid_beat_optimisers": all(g["gram"] < o["gram"] and g["sifid"] < o["sifid"] for o in optimisers_),
        "synthesis_under_1s": g["seconds_per_texture"] < 1.0,
        "not_a_copy": g["nearest_patch"] > f["nearest_patch"],
        "seeds_differ_like_crops": r["diversity_pixel_l1"] >= f["pixel_l1"],
        "same_seed_same_bytes": r["same_seed_same_bytes"],
        "512_tile_le_0.35s": r["speed"]["seconds_median"] <= 0.35,
        **({} if not r.get("stylised_avatars") else {
            "avatar_ita_within_5deg": r["stylised_avatars"]["ita_abs_diff_max"] <= 5.0,
            "avatar_regions_kept": r["stylised_avatars"]["regions_kept"],
            "avatar_flat_fraction_within_0.1": abs(r["stylised_avatars"]["flat_fraction_skin_mean"]
                                                   - f["flat_fraction"]) <= 0.1,
            "avatar_palette_flatter_than_realistic": r["stylised_avatars"]["flatter_palette"]}),
    }


COLUMNS = ("seam_ratio", "flat_fraction", "palette_error", "gram", "sifid", "nearest_patch")


def print_report(r: dict) -> None:
    f = r["floor"]
    print(f"comic style {r['style']!r}, evaluation seed {r['seed']} ({r['seconds']} s, {r['threads']} threads); "
          f"{f['crops']} held-out crops of {f['side']} px; optimisers {r['optimiser_cpu_minutes']:g} CPU min each")
    print(f"{'method':30s}" + "".join(f"{c:>15s}" for c in COLUMNS) + f"{'s/texture':>11s}")
    floor_row = {"seam_ratio": float("nan"), **{k: f[k] for k in COLUMNS[1:]}}
    for name, row in [("held-out crops (floor)", floor_row), *r["rows"].items()]:
        sec = row.get("seconds_per_texture")
        print(f"{name:30s}" + "".join(f"{row[c]:15.4f}" for c in COLUMNS) + (f"{sec:11.2f}" if sec else f"{'':11s}"))
    print(f"seam ratio by tile size, pooled over {SEAM_TILES} tiles (control across their middle lines): "
          + ", ".join(f"{k}: {v:.3f} ({r['seam_control_by_size'][k]:.3f})" for k, v in r["seam_ratio_by_size"].items())
          + f"; every tile continues across its wrap edges: {r['wraps_all_sizes']}")
    print("  single tiles: " + "; ".join(f"{k}: {', '.join(map(str, v))}"
                                          for k, v in r["seam_ratio_single_tiles"].items()))
    print(f"seed diversity (pixel L1 between tiles) {r['diversity_pixel_l1']:.4f} vs held-out crops "
          f"{f['pixel_l1']:.4f}; same seed, same bytes: {r['same_seed_same_bytes']}")
    d = r.get("diversity_spread")
    if d:
        print(f"  over {d['draws']} draws of {d['n']}: " + "; ".join(
            f"{k.replace('_', ' ')} {d[k]['mean']:.4f} (sd {d[k]['sd']:.4f}, {d[k]['share_ge_floor']:.0%} of draws "
            f"at or above the held-out crops')" for k in ("training_crops", "gan")))
    s = r["speed"]
    print(f"synthesis of a {s['tile']}^2 tile: {s['seconds_median'] * 1000:.0f} ms median ({s['threads']} threads)")
    a = r.get("stylised_avatars")
    if a:
        print(f"stylised avatars ({a['n']}, albedo 1024): |ITA comic - realistic| max {a['ita_abs_diff_max']:.2f} deg;"
              f" skin flat fraction {a['flat_fraction_skin_mean']:.3f} (exemplar's held-out {f['flat_fraction']:.3f})")
        for row in a["rows"]:
            regions = ", ".join(f"{k} {row[k]['offset_realistic']:.1f}->{row[k]['offset_comic']:.1f} "
                                f"cos {row[k]['cosine']:.2f}" for k in AVATAR_REGIONS)
            print(f"  ITA {row['ita_request']:6.1f}: realistic {row['ita_realistic']:6.2f}, comic "
                  f"{row['ita_comic']:6.2f}; region offsets dE {regions}; palette error "
                  f"{row['palette_error_realistic']:.4f} -> {row['palette_error_comic']:.4f}")
    for k, v in r["acceptance"].items():
        print(f"  [{'x' if v else ' '}] {k}")


def plot(r: dict, style: ComicStyle, held: np.ndarray, out: Path) -> Path:
    """The held-out part, a 2 x 2 tiling of a 256 tile, tiles from three seeds, and the statistics as bars."""
    fig, ax = figure(1, 5, size=(22, 4.6))
    ax[0].imshow(held[:512])
    ax[0].set_title("held-out part of the exemplar")
    tile = style.synth(256, r["seed"])
    ax[1].imshow(np.tile(tile, (2, 2, 1)))
    ax[1].set_title("2 x 2 tiling of one 256 tile")
    ax[2].imshow(np.concatenate([style.synth(128, r["seed"] + k) for k in (1, 2)], 1))
    ax[2].set_title("two more seeds (128 px)")
    names = list(r["rows"])
    for a, key in ((ax[3], "gram"), (ax[4], "sifid")):
        a.barh(names, [r["rows"][m][key] for m in names])
        a.axvline(r["floor"][key], color="k", ls="--", label="held-out floor")
        a.axvline(1.5 * r["floor"][key], color="r", ls=":", label="1.5 x floor")
        a.set_xscale("log")
        a.set_title(f"{key} distance to held-out crops")
        a.legend()
    for a in ax[:3]:
        a.axis("off")
    return save_figure(fig, out, colours=256)  # comic pictures have few colours


def evaluate_and_report(weights: Path | None = None, seed: int | None = None, n: int | None = None,
                        out: Path | None = None, style: str | None = None, optimiser_minutes: float = 5.0,
                        seam_sizes: tuple[int, ...] = SEAM_SIZES, avatars: int = 6) -> dict:
    """Evaluate a style (``style``, or the style folder ``weights``; with neither, every style there is), print
    it and, with ``out``, write report.json and report.png there (``out/<style>`` when there are several)."""
    targets: list[Path]
    if style is not None:
        targets = [resolve_style(style)]
    elif weights is not None and (Path(weights) / f"{NAME}.safetensors").is_file():
        targets = [Path(weights)]
    elif weights is not None:
        targets = [p for p in sorted(Path(weights).iterdir()) if (p / f"{NAME}.safetensors").is_file()]
    else:
        targets = list(available_styles().values())
    if not targets:
        raise ValueError("no comic style to evaluate; train one with `avatar train comic --exemplar IMG`")
    report: dict = {}
    for folder in targets:
        report = evaluate(folder, seed, n, optimiser_minutes, seam_sizes, avatars)
        print_report(report)
        if out is not None:
            dest = Path(out) if len(targets) == 1 else Path(out) / folder.name
            write_json(dest / "report.json", report)
            held = split(load_exemplar(exemplar_of(folder)))[1]
            plot(report, ComicStyle.load(folder), held, dest / "report.png")
    return report
