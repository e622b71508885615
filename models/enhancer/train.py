"""Train the render enhancer and its colour-only ablation (``avatar train enhancer [--minutes M]``).

Data: views rendered from ``data_seed`` into the cache (``$XDG_CACHE_HOME/avatar/enhancer/views-<seed>-<size>``)
by ``pipeline.jobs.enhancer_renders``, which renders them first when missing (its own budget, ``render_minutes``,
apart from training). Each step draws ``batch`` crops of ``crop`` pixels, four in five centred on the avatar, and
takes one Adam step on each of the two networks with the same crops: the enhancer (auxiliary passes) and the same
network on colour alone, so the ablation row of the evaluation compares like with like. Loss: L1 in display sRGB,
pixels on the avatar (dilated mask) weighted 1 and the background ``background_weight``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.common.colour import linear_to_srgb
from models.common.reports import figure, plot_curves, save_figure, write_json
from models.common.threads import machine_cores, set_torch_threads
from models.enhancer.data import RenderProfile, avatar_mask, load_view
from models.enhancer.model import EnhancerConfig, RenderEnhancer


@dataclasses.dataclass
class TrainConfig:
    minutes: float = 30.0
    seed: int = 515
    data_seed: int = 1000
    n_views: int = 150
    render_minutes: float = 60.0
    crop: int = 128
    batch: int = 8
    lr: float = 1e-3
    background_weight: float = 0.1
    on_avatar: float = 0.8
    log_every: int = 50
    max_iterations: int = 1_000_000
    threads: int = 0  # torch intra-op threads while training; 0: the machine's cores
    model: EnhancerConfig = dataclasses.field(default_factory=lambda: EnhancerConfig(blend=True))
    profile: RenderProfile = dataclasses.field(default_factory=RenderProfile)


def views_dir(data_seed: int, size: int) -> Path:
    """Where rendered views are cached (outside git)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "avatar" / "enhancer" / f"views-{data_seed}-{size}"


def inputs_from_view(view: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """A view's arrays -> the network's inputs (1, C, H, W) float32 and the display reference when present."""
    from models.enhancer.data import BACKGROUND_LINEAR

    bg = torch.from_numpy(BACKGROUND_LINEAR).view(1, 3, 1, 1)

    def chw(a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        return (t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]).contiguous()

    low = chw(view["low"])
    out = {"low": low[:, :3] + (1.0 - low[:, 3:4]) * bg, "low_alpha": low[:, 3:4],
           "low_albedo": chw(view["low_albedo"]), "albedo": chw(view["albedo"]), "normal": chw(view["normal"]),
           "depth": chw(view["depth"]),
           "alpha": chw(view["alpha"])}
    if "ref" in view:
        ref = chw(view["ref"])
        out["target"] = linear_to_srgb(ref[:, :3] + (1.0 - ref[:, 3:4]) * bg)
        out["mask"] = chw(avatar_mask(view["alpha"]).astype(np.float32))
    return out


NET_KEYS = ("low", "low_albedo", "low_alpha", "albedo", "normal", "depth", "alpha")


def run(model: RenderEnhancer, x: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(*(x[k] for k in NET_KEYS))


class Crops:
    """Random aligned crops (full-resolution ``crop``, low-resolution ``crop // 2``) from the loaded views."""

    def __init__(self, views: list[dict[str, torch.Tensor]], crop: int, on_avatar: float, rng: np.random.Generator):
        self.views, self.crop, self.on_avatar, self.rng = views, crop, on_avatar, rng
        self.centres = [np.argwhere(v["mask"][0, 0].numpy() > 0) for v in views]

    def sample(self, batch: int) -> dict[str, torch.Tensor]:
        parts: dict[str, list[torch.Tensor]] = {}
        c = self.crop
        for _ in range(batch):
            i = int(self.rng.integers(len(self.views)))
            v = self.views[i]
            h, w = v["albedo"].shape[-2:]
            pts = self.centres[i]
            if len(pts) and self.rng.random() < self.on_avatar:
                y, x = pts[self.rng.integers(len(pts))]
            else:
                y, x = self.rng.integers(h), self.rng.integers(w)
            y0 = int(np.clip(y - c // 2, 0, h - c)) // 2 * 2
            x0 = int(np.clip(x - c // 2, 0, w - c)) // 2 * 2
            for k, t in v.items():
                full = t.shape[-1] == w
                s, ys, xs = (c, y0, x0) if full else (c // 2, y0 // 2, x0 // 2)
                parts.setdefault(k, []).append(t[..., ys: ys + s, xs: xs + s])
        return {k: torch.cat(v, 0).float() for k, v in parts.items()}


def load_views(folder: Path, limit: int | None = None) -> list[dict[str, torch.Tensor]]:
    files = sorted(Path(folder).glob("view_*.npz"))[:limit]
    return [{k: v.half() for k, v in inputs_from_view(load_view(p)[0]).items()} for p in files]


def train(out_dir: Path, cfg: TrainConfig | None = None, progress: bool = True,
          render_summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train both networks for ``cfg.minutes`` on the rendered views; save weights, log and report.
    ``render_summary``: what rendering the data recorded, kept in the log."""
    cfg = cfg or TrainConfig()
    out_dir = Path(out_dir)
    folder = views_dir(cfg.data_seed, cfg.profile.size)
    views = load_views(folder, cfg.n_views)
    if not views:
        raise RuntimeError(f"no rendered views in {folder}: `avatar train enhancer` renders them")
    # Rendering the data in this process (job thread policy: one torch thread) must not slow training down.
    set_torch_threads(cfg.threads or machine_cores())
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    crops = Crops(views, cfg.crop, cfg.on_avatar, rng)
    nets = {"enhancer": RenderEnhancer(cfg.model),
            "colour_only": RenderEnhancer(dataclasses.replace(cfg.model, aux=False))}
    opts = {k: torch.optim.Adam(m.parameters(), lr=cfg.lr) for k, m in nets.items()}
    budget = cfg.minutes * 60.0
    log: dict[str, list[float]] = {"iteration": [], "seconds": [], "enhancer": [], "colour_only": [], "base": []}
    t0, it = time.monotonic(), 0
    acc = {"enhancer": 0.0, "colour_only": 0.0, "base": 0.0}
    while it < cfg.max_iterations:
        elapsed = time.monotonic() - t0
        if elapsed > budget:
            break
        frac = elapsed / budget
        for o in opts.values():  # cosine decay over the time budget
            for g in o.param_groups:
                g["lr"] = cfg.lr * 0.5 * (1.0 + np.cos(np.pi * min(frac, 1.0)))
        x = crops.sample(cfg.batch)
        w = x["mask"] + cfg.background_weight * (1.0 - x["mask"])
        for k, net in nets.items():
            loss = ((run(net, x) - x["target"]).abs() * w).mean() / w.mean()
            opts[k].zero_grad(set_to_none=True)
            loss.backward()
            opts[k].step()
            acc[k] += float(loss.detach())
        with torch.no_grad():
            base = nets["enhancer"].estimate(x["low"], x["low_albedo"], x["low_alpha"], x["albedo"], x["alpha"])[0]
            acc["base"] += float(((linear_to_srgb(base) - x["target"]).abs() * w).mean() / w.mean())
        it += 1
        if it % cfg.log_every == 0:
            log["iteration"].append(it)
            log["seconds"].append(round(time.monotonic() - t0, 1))
            for k in acc:
                log[k].append(acc[k] / cfg.log_every)
                acc[k] = 0.0
            if progress:
                print(f"it {it} {time.monotonic() - t0:.0f}s L1 enhancer {log['enhancer'][-1]:.4f} colour-only "
                      f"{log['colour_only'][-1]:.4f} demodulated bicubic {log['base'][-1]:.4f}", flush=True)
    extra = {"profile": dataclasses.asdict(cfg.profile), "data_seed": cfg.data_seed, "iterations": it}
    nets["enhancer"].eval().save(out_dir, extra)
    nets["colour_only"].eval().save(out_dir / "colour_only", extra)
    summary = {"config": dataclasses.asdict(cfg), "iterations": it, "seconds": round(time.monotonic() - t0, 1),
               "views": len(views), "threads": torch.get_num_threads(), "render": render_summary, "log": log}
    write_json(out_dir / "training_log.json", summary)
    if log["iteration"]:
        fig, ax = figure(1, 1, (7, 4))
        plot_curves(ax, log["iteration"], {"enhancer": log["enhancer"], "colour only": log["colour_only"],
                                           "demodulated bicubic": log["base"]},
                    "iteration", "L1 (display sRGB, avatar-weighted)", "RenderEnhancer training")
        save_figure(fig, out_dir / "report_training.png")
    return summary
