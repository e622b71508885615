"""Score the render enhancer on a held-out set rendered in the same run (``avatar evaluate enhancer --seed S --n N``;
``pipeline.jobs.enhancer_renders`` renders, this module scores and reports).

For each view (people, poses, lights and cameras drawn from ``seed``, which training never uses; the shot kinds
cycle full body, upper body, face; every ``COMIC_EVERY``-th person is a comic avatar, whose colour renders with
EEVEE) this process renders, interleaved: our path (half-resolution render, with OIDN in Cycles, and the full-
resolution auxiliary passes, then the network), the full-resolution reference, and the equal-time sweep (full-
resolution Cycles + OIDN at each quality and several sample counts, or EEVEE at several sample counts), every
render's CPU seconds from ``getrusage``. Rows, scored against the reference in display sRGB on the avatar (its mask
dilated by 3 pixels) and on the full frame: bicubic (on the half-resolution colour), demodulated bicubic (bicubic on
colour / low-res albedo, times the full-res albedo), the same network on colour alone, the enhancer, and the best
equal-time full-resolution render of the same engine: among its sweep settings whose mean CPU time is at most our
path's on that engine's views, the best mean PSNR on the avatar. Rows are printed for all views and for each engine.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models.common.colour import linear_to_srgb
from models.common.reports import figure, save_figure, write_json
from models.enhancer.data import RenderProfile, avatar_mask, psnr_on_mask
from models.enhancer.model import RenderEnhancer, upsample
from models.enhancer.train import NET_KEYS, inputs_from_view
from pipeline.core.cpu_time import cpu_seconds

DEFAULT_SEED = 20261205
DEFAULT_N = 12
SWEEP_SAMPLES = (1, 2, 3, 4, 6, 8)
SWEEP_QUALITIES = ("FAST", "BALANCED", "HIGH")
EEVEE_SAMPLES = (1, 2, 3, 4, 6, 8, 16)
COMIC_EVERY = 4  # every fourth person of a held-out set is a comic avatar (its colour rendered by EEVEE)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """SSIM (Wang et al. 2004: Gaussian window sigma 1.5, 11 taps, K1 0.01, K2 0.03) of two display images
    (H, W, 3) in [0, 1], averaged over channels and over ``mask`` (H, W) or the whole frame."""
    x = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[:, None].double()
    y = torch.from_numpy(np.ascontiguousarray(b)).permute(2, 0, 1)[:, None].double()
    g = torch.exp(-0.5 * (torch.arange(11, dtype=torch.float64) - 5) ** 2 / 1.5 ** 2)
    g = g / g.sum()

    def blur(t: torch.Tensor) -> torch.Tensor:
        t = F.conv2d(F.pad(t, (5, 5, 0, 0), mode="replicate"), g.view(1, 1, 1, 11))
        return F.conv2d(F.pad(t, (0, 0, 5, 5), mode="replicate"), g.view(1, 1, 11, 1))

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    s = s.mean(0)[0].numpy()
    return float(s[mask].mean()) if mask is not None else float(s.mean())


def classical_rows(x: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Bicubic and demodulated bicubic display images (H, W, 3) of one view's inputs."""
    from models.enhancer.model import demodulated_bicubic

    size = x["albedo"].shape[-2:]
    bic = linear_to_srgb(upsample(x["low"], size))
    demod = linear_to_srgb(demodulated_bicubic(x["low"], x["low_albedo"], x["low_alpha"], x["albedo"], x["alpha"])[0])
    return {"bicubic": bic[0].permute(1, 2, 0).numpy(), "demodulated bicubic": demod[0].permute(1, 2, 0).numpy()}


def timed_enhance(model: RenderEnhancer, x: dict[str, torch.Tensor]) -> tuple[np.ndarray, float]:
    """The network's display image (H, W, 3) of one view's inputs and the CPU seconds it took."""
    t = cpu_seconds()
    y = model.infer(*(x[k] for k in NET_KEYS))
    return y[0].permute(1, 2, 0).numpy(), cpu_seconds() - t


def scores(img: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    return {"psnr_avatar": psnr_on_mask(img, ref, mask), "ssim_avatar": ssim(img, ref, mask),
            "psnr_frame": psnr_on_mask(img, ref), "ssim_frame": ssim(img, ref)}


def score_view(view: dict[str, np.ndarray], enhancer: RenderEnhancer, colour_only: RenderEnhancer
               ) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray], float]:
    """Every row of one rendered view: ({row: scores}, {row: display image, plus reference and mask}, the
    enhancer's CPU seconds)."""
    x = inputs_from_view(view)
    ref, mask = x["target"][0].permute(1, 2, 0).numpy(), avatar_mask(view["alpha"])
    outs = classical_rows(x)
    outs["colour only"], _ = timed_enhance(colour_only, x)
    outs["enhancer"], t_net = timed_enhance(enhancer, x)
    rows = {name: scores(img, ref, mask) for name, img in outs.items()}
    return rows, {**outs, "reference": ref, "mask": mask}, t_net


@dataclasses.dataclass
class Tally:
    """What the held-out loop collects: per-view rows, shot kinds and engines, our path's CPU seconds, and the
    equal-time sweep's (CPU seconds, PSNR on the avatar) per (quality, samples); quality ``EEVEE`` for the EEVEE
    views' sweep, an OIDN quality for the Cycles views'."""

    rows: dict[str, list[dict[str, float]]] = dataclasses.field(default_factory=dict)
    kinds: list[str] = dataclasses.field(default_factory=list)
    engines: list[str] = dataclasses.field(default_factory=list)
    ours_cpu: list[float] = dataclasses.field(default_factory=list)
    sweep: dict[tuple[str, int], list[tuple[float, float]]] = dataclasses.field(default_factory=dict)
    images: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)

    def add(self, kind: str, engine: str, rows: dict[str, dict[str, float]], ours_cpu: float) -> None:
        self.kinds.append(kind)
        self.engines.append(engine)
        self.ours_cpu.append(ours_cpu)
        for k, v in rows.items():
            self.rows.setdefault(k, []).append(v)


def sweep_engine(quality: str) -> str:
    return "eevee" if quality == "EEVEE" else "cycles"


def _mean_rows(rows: dict[str, list[dict[str, float]]], pick: list[bool]) -> dict[str, dict[str, float]]:
    return {k: {m: float(np.mean([r[m] for r, p in zip(v, pick, strict=True) if p])) for m in v[0]}
            for k, v in rows.items()}


def summarise(t: Tally, seed: int, profile: RenderProfile, seconds: float) -> dict[str, Any]:
    """The report: mean rows (all views and per engine), PSNR by shot kind, per engine the sweep with what fits
    our path's mean CPU time on that engine's views and the best equal-time render, and the acceptance figures
    (the equal-time margin: each engine's margin weighted by its share of the views)."""
    engines = sorted(set(t.engines))
    ours = {e: float(np.mean([c for c, ee in zip(t.ours_cpu, t.engines, strict=True) if ee == e])) for e in engines}
    table = []
    for (q, spp), vals in sorted(t.sweep.items()):
        cpu, p = np.asarray(vals).T
        e = sweep_engine(q)
        table.append({"engine": e, "quality": q, "samples": spp, "cpu_s": float(cpu.mean()),
                      "psnr_avatar": float(p.mean()), "fits": bool(cpu.mean() <= ours[e])})
    by_engine = {e: _mean_rows(t.rows, [ee == e for ee in t.engines]) for e in engines}
    best, margin = {}, {}
    for e in engines:
        fitting = [r for r in table if r["fits"] and r["engine"] == e]
        best[e] = max(fitting, key=lambda r: r["psnr_avatar"]) if fitting else None
        margin[e] = None if best[e] is None else by_engine[e]["enhancer"]["psnr_avatar"] - best[e]["psnr_avatar"]
    share = {e: t.engines.count(e) / len(t.engines) for e in engines}
    mean_rows = _mean_rows(t.rows, [True] * len(t.engines))
    per_kind = {k: {kind: float(np.mean([r["psnr_avatar"] for r, kk in zip(v, t.kinds, strict=True)
                                         if kk == kind])) for kind in sorted(set(t.kinds))}
                for k, v in t.rows.items()}
    e, d = mean_rows["enhancer"], mean_rows
    return {"seed": seed, "n": len(t.kinds), "profile": dataclasses.asdict(profile), "rows": mean_rows,
            "rows_by_engine": by_engine, "views_by_engine": {e: t.engines.count(e) for e in engines},
            "psnr_avatar_by_shot": per_kind, "ours_cpu_s": ours, "sweep": table, "equal_time": best,
            "threads": torch.get_num_threads(), "seconds": round(seconds, 1),
            "acceptance": {
                "over_bicubic_db": e["psnr_avatar"] - d["bicubic"]["psnr_avatar"],
                "over_demodulated_db": e["psnr_avatar"] - d["demodulated bicubic"]["psnr_avatar"],
                "over_colour_only_db": e["psnr_avatar"] - d["colour only"]["psnr_avatar"],
                "ssim_above_all": all(e["ssim_avatar"] > d[k]["ssim_avatar"] for k in d if k != "enhancer"),
                "over_equal_time_db": None if None in margin.values() else
                float(sum(margin[k] * share[k] for k in engines)),
                **{f"over_equal_time_{k}_db": margin[k] for k in engines}},
            "_images": t.images}


def _print_rows(rows: dict[str, dict[str, float]]) -> None:
    print(f"{'row':22s} {'PSNR avatar':>11s} {'SSIM avatar':>11s} {'PSNR frame':>10s} {'SSIM frame':>10s}")
    for k, v in rows.items():
        print(f"{k:22s} {v['psnr_avatar']:11.2f} {v['ssim_avatar']:11.4f} {v['psnr_frame']:10.2f} "
              f"{v['ssim_frame']:10.4f}")


def print_report(r: dict[str, Any]) -> None:
    print(f"held-out seed {r['seed']}, {r['n']} views ({', '.join(f'{n} {e}' for e, n in r['views_by_engine'].items())}"
          f"), {r['profile']['size']} px, torch threads {r['threads']}")
    _print_rows(r["rows"])
    print("PSNR on the avatar by shot: " + "; ".join(
        f"{k}: " + ", ".join(f"{kind} {p:.2f}" for kind, p in v.items()) for k, v in r["psnr_avatar_by_shot"].items()))
    for engine, rows in r["rows_by_engine"].items():
        colour = "Cycles + OIDN" if engine == "cycles" else "EEVEE, comic avatars"
        print(f"\n{engine} views ({r['views_by_engine'][engine]}; colour: {colour}):")
        _print_rows(rows)
        print(f"our path: {r['ours_cpu_s'][engine]:.2f} CPU s per view (half-res render"
              f"{' + OIDN' if engine == 'cycles' else ''}, Cycles passes, network)")
        print(f"equal-time sweep (full resolution, {'Cycles + OIDN' if engine == 'cycles' else 'EEVEE'}):")
        for s in r["sweep"]:
            if s["engine"] == engine:
                print(f"  {s['quality']:8s} {s['samples']:2d} spp {s['cpu_s']:6.2f} CPU s  PSNR avatar "
                      f"{s['psnr_avatar']:6.2f}{'  fits' if s['fits'] else ''}")
        b = r["equal_time"][engine]
        print("best equal-time render: " + ("none fits" if b is None else
                                             f"{b['quality']} {b['samples']} spp, {b['psnr_avatar']:.2f} dB"))
    print("\nacceptance: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in r["acceptance"].items()))


CROP_PX = 80  # side of the report's crops, output pixels


def _crops(im: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(label, top row, left column) of the face and hand crops of one kept view (the avatar's middle when
    neither is in the frame)."""
    size = im["mask"].shape
    points = dict(im.get("points", {}))
    if not points:
        ys, xs = np.nonzero(im["mask"])
        points = {"avatar": (int(ys.mean()), int(xs.mean())) if len(ys) else (size[0] // 2, size[1] // 2)}
    return [(k, int(np.clip(r - CROP_PX // 2, 0, size[0] - CROP_PX)), int(np.clip(c - CROP_PX // 2, 0,
                                                                                   size[1] - CROP_PX)))
            for k, (r, c) in points.items()]


def plot(r: dict[str, Any], path: Path) -> Path:
    """Face and hand crops of the kept views: bicubic, demodulated bicubic, colour only, enhancer, the best
    equal-time full-resolution render of the view's engine, reference; and the sweeps against our path."""
    cols = ["bicubic", "demodulated bicubic", "colour only", "enhancer", "equal time", "reference"]
    crops = [(im, crop) for im in r["_images"] for crop in _crops(im)]
    fig, axes = figure(len(crops) + 1, len(cols), (2.2 * len(cols), 2.3 * (len(crops) + 1)))
    axes = np.atleast_2d(axes)
    for row, (im, (label, y0, x0)) in enumerate(crops):
        best = r["equal_time"].get(im["engine"])
        equal = None if best is None else (best["quality"], best["samples"])
        for c, name in enumerate(cols):
            ax = axes[row, c]
            ax.axis("off")
            img = im["sweep"].get(equal) if name == "equal time" else im[name]
            if img is None:
                continue
            ax.imshow(np.clip(img[y0: y0 + CROP_PX, x0: x0 + CROP_PX], 0, 1), interpolation="nearest")
            title = f"equal time: {equal[0].lower()} {equal[1]} spp" if name == "equal time" else name
            new_engine = row == 0 or crops[row - 1][0]["engine"] != im["engine"]
            ax.set_title(title if new_engine else "", fontsize=8)
            if c == 0:
                ax.text(2, 10, f"{label} ({im['engine']})", color="w", fontsize=8, backgroundcolor="k")
    for a in axes[-1]:
        a.remove()
    for k, engine in enumerate(r["rows_by_engine"]):  # the sweeps: half the last row each
        ax = fig.add_subplot(len(crops) + 1, 2, 2 * len(crops) + 1 + k)
        for q in (SWEEP_QUALITIES if engine == "cycles" else ("EEVEE",)):
            pts = [(s["cpu_s"], s["psnr_avatar"]) for s in r["sweep"] if s["quality"] == q]
            if pts:
                ax.plot(*np.asarray(pts).T, marker="o",
                        label=f"full res + OIDN {q.lower()}" if engine == "cycles" else "full res EEVEE")
        ax.scatter([r["ours_cpu_s"][engine]], [r["rows_by_engine"][engine]["enhancer"]["psnr_avatar"]], c="k",
                   marker="*", s=120, label="ours")
        ax.axvline(r["ours_cpu_s"][engine], c="k", lw=0.5, ls=":")
        ax.set_xlabel(f"CPU s per view ({engine} views)")
        ax.set_ylabel("PSNR on avatar (dB)")
        ax.legend(fontsize=6)
    return save_figure(fig, path)


def write_report(r: dict[str, Any], out: Path) -> None:
    """report.json (without images) and report.png in ``out``."""
    plot(r, Path(out) / "report.png")
    write_json(Path(out) / "report.json", {k: v for k, v in r.items() if not k.startswith("_")})
